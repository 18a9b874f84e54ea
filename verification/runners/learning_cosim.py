"""Build LearningNetwork for one configuration with Verilator and run verification/benches/learning_tb.py on a case
(verification/cases/learning.py). `delaysnn check learning` (python -m verification.runners.learning_cosim) runs the
learning part of `make sim`: every
configuration of MATRIX with `--seeds` seeds, random backpressure on every stream, everything
read back after every phase; a failing case is run again with waves (FST, or VCD without lz4)."""

import argparse
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from golden_model import CoreConfig
from delaycore import LearningNetwork

from .cosim import config_key, verilate, run_testbench, ROOT
from ..cases.learning import make_learning_case, config_from

BUILD = ROOT / "build" / "sim" / "learning"
TOP = "learning_top"


def build(cfg: CoreConfig, waves: bool = False) -> Path:
    """Verilog from Amaranth, then a Verilator model; reused while the configuration is unchanged."""
    return verilate(verilog.convert(LearningNetwork(cfg), name=TOP, emit_src=False), TOP,
                    BUILD / config_key(cfg, waves), waves)


def run(case: dict, waves: bool = False) -> dict:
    """Run one case; returns the testbench's result (passed, first mismatch, cycles, times)."""
    cfg = config_from(case)
    case.setdefault("max_cycles", 2_000_000)
    t0 = time.time()
    build_dir = build(cfg, waves)
    return run_testbench(case, build_dir, BUILD / "cases" / case["name"], TOP, "learning_tb",
                         "LEARNING", time.time() - t0, waves)


def _cfg(**kw) -> CoreConfig:
    return CoreConfig(**kw)


# name, config, stochastic, samples, steps; the first two are the quick ones of `make test`.
MATRIX = [
    ("learn-tern-P4-2layer", _cfg(n_in=6, sizes=(8, 5), n_out=3, weight_bits=2, ternary=True,
                                  weights_per_word=4, depth=8), True, 4, 8),
    ("learn-w4-P1-1layer-rec", _cfg(n_in=5, sizes=(6,), n_out=4, weight_bits=4, depth=4,
                                    recurrent=(True,)), False, 4, 8),
    ("learn-w8-P2-3layer", _cfg(n_in=7, sizes=(6, 7, 5), n_out=3, weight_bits=8, depth=16,
                                weights_per_word=2, recurrent=(False, True, False)), True, 4, 10),
    ("learn-w3-P16-D1", _cfg(n_in=4, sizes=(5, 4), n_out=2, weight_bits=3, depth=1,
                             weights_per_word=16), True, 3, 6),
    ("learn-w4-P8-mul-D64", _cfg(n_in=8, sizes=(9, 6), n_out=5, weight_bits=4, depth=64,
                                 weights_per_word=8, leak_mode="mul"), False, 4, 12),
    ("learn-nout1", _cfg(n_in=3, sizes=(4, 3), n_out=1, weight_bits=4, depth=8), True, 3, 6),
]
QUICK = ("learn-tern-P4-2layer", "learn-w4-P1-1layer-rec")


def matrix_cases(base_seed: int = 1, only=None) -> list[dict]:
    """One case per configuration: the first seed from `base_seed * 1000 + 20 * k` whose samples
    change weights and delays (where the rule can: n_out > 1, D > 1)."""
    cases = []
    for k, (name, cfg, stochastic, samples, steps) in enumerate(MATRIX):
        if only is not None and name not in only:
            continue
        for seed in range(base_seed * 1000 + 20 * k, base_seed * 1000 + 20 * k + 20):
            case = make_learning_case(f"{name}-s{seed}", cfg, seed, samples=samples, steps=steps,
                                      stochastic=stochastic, valid_p=0.6, ready_p=0.6,
                                      core_every_step=True, threshold_scale=0.15, rate=0.6)
            ch = case["weights_changed"]
            if cfg.n_out == 1 or (ch["weights"] > 0 and (ch["delays"] > 0 or cfg.depth == 1)):
                break
        cases.append(case)
    return cases


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The learning regression's options (delaysnn check learning)."""
    ap.add_argument("--seed", type=int, default=1, help="first base seed")
    ap.add_argument("--seeds", type=int, default=2, help="base seeds per configuration")
    ap.add_argument("--only", nargs="*", metavar="NAME",
                    help="configuration names to run (MATRIX); None: all")


def main(argv=None) -> int:
    """`python -m verification.runners.learning_cosim`: the options of `delaysnn check learning`."""
    ap = argparse.ArgumentParser(description="Verilator regression of the learning engine",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run_matrix(ap.parse_args(argv))


def run_matrix(args: argparse.Namespace) -> int:
    """Every chosen configuration and seed on Verilator (`run` is one case); 1 if one failed."""
    t0 = time.time()
    failed = 0
    only = set(args.only) if args.only else None
    unknown = sorted(only - {name for name, *_ in MATRIX}) if only else []
    if unknown:
        from corespec.errors import UserError
        raise UserError(f"--only {' '.join(unknown)}: no such configuration (expected names of "
                        f"MATRIX in verification/runners/learning_cosim.py, e.g. {MATRIX[0][0]})")
    cases = [c for s in range(args.seed, args.seed + args.seeds) for c in matrix_cases(s, only)]
    for case in cases:
        r = run(case)
        status = "pass" if r["passed"] else "FAIL"
        print(f"{status} {case['name']:<32} seed {case['seed']}: {r.get('compared', 0)} values, "
              f"{r['cycles']} cycles, build {r['build_seconds']:.1f} s, sim {r['sim_seconds']:.1f} s"
              + ("" if r["passed"] else f"\n     {r.get('error')}"), flush=True)
        if not r["passed"]:
            failed += 1
            rw = run(case, waves=True)
            print(f"     waveform: {rw.get('waveform')}", flush=True)
    print(f"learning: {len(cases)} cases, {failed} failed; {time.time() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
