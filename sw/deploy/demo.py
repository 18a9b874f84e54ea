"""`make demo`: the whole flow on the embedded default, train -> deploy -> run, in one command.

1. **train** the default spoken-digit network (spiking FSDD, official split): 700-128-10 ternary,
   5-bit delays on the hidden neurons and on the 700 input channels (DEMO_RECIPE). A finished run
   with the same settings is reused (delete its folder to retrain).
2. **deploy** it for the iCEBreaker (`delaysnn deploy`): configuration, fit check, image, and,
   unless BITSTREAM=0, the bitstream with its utilisation and fmax.
3. **run** test samples (a seeded random choice: the split is ordered by digit) through the Verilator model of that board top, UART at bit level on its
   pins, with the unchanged host driver (`delaysnn run --sim`), every prediction and
   readout compared with the golden model's.

Prints a summary and writes build/reports/demo.json (samples, accuracy, predictions_equal_golden,
realtime_factor_end_to_end, board, memory, utilisation, fmax, seconds per stage). Exits non-zero
if a stage fails or a target is missed (accuracy, golden equality, real time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "build" / "reports" / "demo.json"
# The recipe: 20 epochs, about 1-2 minutes on 2 cores (docs/training.md, "input delays").
DEMO_RECIPE = dict(task="fsdd", wbits=1.58, dbits=5, input_delays=True, sizes=(128,), leak=(3, 4),
                   init_gain=(2.0, 1.0), epochs=20, seed=0)
TARGETS = {"accuracy": 0.95, "realtime_factor_end_to_end": 10.0}


def stage(name: str):
    print(f"\n== {name} " + "=" * max(0, 70 - len(name)), flush=True)


def train_default(threads: int) -> tuple[Path, dict]:
    """Train the recipe, or reuse a finished run of exactly it (its report names the run)."""
    from delay_training.train import make_config, train
    kw = dict(DEMO_RECIPE)
    cfg = make_config(kw.pop("task"), threads=threads, **kw)
    run, report_path = Path(cfg.out), Path(cfg.report)
    if (run / "export" / "manifest.json").exists() and report_path.exists():
        rep = json.loads(report_path.read_text())
        # The run's name carries every option that changes the model (delay_training.train.run_name).
        if rep.get("name") == cfg.name and "test_acc" in rep:
            print(f"reusing {run} (test {rep['test_acc']:.4f}); delete it to train again")
            return run, rep
    return run, train(cfg, progress=True)


def call(cmd: list[str]) -> float:
    """Run a stage's command with its own progress on the terminal; seconds it took."""
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.time()
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    if rc:
        sys.exit(f"demo: stage failed ({' '.join(cmd[2:4])} exited {rc})")
    return time.time() - t0


def summary(train_rep: dict, deploy_rep: dict, run_rep: dict, seconds: dict, board: str) -> dict:
    util = {k: v for k, v in (deploy_rep.get("utilisation") or {}).items()}
    return {
        "board": board,
        "network": deploy_rep.get("network") or deploy_rep.get("core_config"),
        "samples": run_rep["n_samples"],
        "accuracy": run_rep["accuracy"],
        "predictions_equal_golden": bool(run_rep["predictions_equal_golden"]),
        "realtime_factor_end_to_end": run_rep.get("realtime_factor_end_to_end"),
        "realtime_factor_worst_sample": run_rep.get("realtime_factor_worst_sample"),
        "latency_seconds": run_rep.get("latency_seconds"),
        "test_accuracy_full_split": train_rep.get("test_acc"),
        "memory_bits": train_rep.get("memory_bits"),
        "learning_engine": deploy_rep.get("learning"),
        "baud": deploy_rep.get("baud"),
        "utilisation": util,
        "estimate": deploy_rep.get("fit"),
        "achieved_fmax_mhz": deploy_rep.get("achieved_fmax_mhz"),
        "target_fmax_mhz": deploy_rep.get("target_fmax_mhz"),
        "placed": deploy_rep.get("placed"),
        "identity_hash": deploy_rep.get("identity_hash"),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "targets": TARGETS,
    }


def print_summary(d: dict) -> None:
    stage("demo summary")
    acc = d["accuracy"]
    print(f"board                  {d['board']} (identity {d['identity_hash']}, {d['baud']:,} baud)")
    print(f"samples                {d['samples']} test samples through the board model + host driver")
    print(f"accuracy               {100 * acc:.1f} % (whole test split, golden model: "
          f"{100 * d['test_accuracy_full_split']:.1f} %)")
    print(f"equal to golden        {d['predictions_equal_golden']} (every prediction and readout)")
    print(f"real time, end to end  {d['realtime_factor_end_to_end']:.1f}x (mean over the samples; "
          f"worst sample {d['realtime_factor_worst_sample']:.1f}x)")
    mem = d.get("memory_bits") or {}
    if mem:
        print(f"memory                 {mem['total']:,} bits of parameters ({mem['weights']:,} "
              f"weights, {mem['delays']:,} delays, {mem['other']:,} registers and other)")
    if d["placed"]:
        print("utilisation            " + ", ".join(f"{k} {v['used']:,}/{v['available']:,}"
                                                    for k, v in d["utilisation"].items()
                                                    if isinstance(v, dict) and "used" in v))
        print(f"fmax                   {d['achieved_fmax_mhz']} MHz (target {d['target_fmax_mhz']} MHz)")
    else:
        print("bitstream              not built (BITSTREAM=0)")
    print("seconds                " + ", ".join(f"{k} {v:.0f}" for k, v in d["seconds"].items()))
    print(f"report                 {REPORT.relative_to(ROOT)}")


def missed_targets(d: dict) -> list[str]:
    """The targets the run missed (TARGETS, and equality with the golden model)."""
    missed = [k for k, v in TARGETS.items() if (d.get(k) or 0) < v]
    if not d["predictions_equal_golden"]:
        missed.append("predictions_equal_golden")
    return missed


def at_least_one(s: str) -> int:
    """--samples: a whole number of at least 1."""
    try:
        n = int(s)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{s!r}: expected a whole number of at least 1")
    return n


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The demo's options (delaysnn demo)."""
    ap.add_argument("--board", default="icebreaker", choices=("icebreaker", "ulx3s"),
                    help="board to deploy to")
    ap.add_argument("--samples", type=at_least_one, default=50,
                    help="test samples through the board model")
    ap.add_argument("--no-bitstream", action="store_true",
                    help="skip synthesis and place-and-route (BITSTREAM=0)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training")


def main(argv=None) -> int:
    """`python -m deploy.demo`: the options of `delaysnn demo`."""
    ap = argparse.ArgumentParser(prog="python -m deploy.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(a: argparse.Namespace) -> int:
    """The three stages, the summary and demo.json; 1 if a target is missed."""
    cli = [sys.executable, "-m", "delaysnn"]
    seconds = {}
    t0 = time.time()

    stage("1/3 train the default spoken-digit network")
    run_folder, train_rep = train_default(a.threads)
    seconds["train"] = time.time() - t0

    stage(f"2/3 deploy for the {a.board}")
    seconds["deploy"] = call(cli + ["deploy", str(run_folder), "--board", a.board]
                             + (["--no-bitstream"] if a.no_bitstream else []))
    folders = sorted((ROOT / "build" / "deploy").glob(f"{run_folder.name}-{a.board}*/deploy.json"),
                     key=lambda p: p.stat().st_mtime)
    deploy_rep = json.loads(folders[-1].read_text())
    folder = folders[-1].parent

    stage(f"3/3 run {a.samples} test samples on the {a.board} model (Verilator, UART bit level)")
    out = ROOT / "build" / "reports" / "demo-run.json"
    seconds["run"] = call(cli + ["run", "--deployed", str(folder), "--split", "test",
                           "--shuffle", "0",
                           "--limit", str(a.samples), "--sim", "--output", str(out)])
    run_rep = json.loads(out.read_text())
    seconds["total"] = time.time() - t0

    d = summary(train_rep, deploy_rep, run_rep, seconds, a.board)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(d, indent=2) + "\n")
    print_summary(d)
    missed = missed_targets(d)
    if missed:
        print(f"demo: targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
