"""`make sim` / `delaysnn check rtl` (python -m verification.runners.regression): the Verilator regression of the
core against the golden model.

Every configuration of verification/cases/matrix.py runs twice (cycle-exact without backpressure; random
backpressure with the whole state read back at every timestep). A failing case is run again
with tracing on, and its FST waveform is kept under build/sim/cases/<name>/.
"""

import argparse
import json
import sys
import time

from rich.console import Console
from rich.progress import Progress, BarColumn, TimeElapsedColumn, MofNCompleteColumn
from rich.table import Table

from ..cases.matrix import full_matrix, QUICK, LANES
from .cosim import run as run_case, ROOT


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The regression's options (delaysnn check rtl)."""
    ap.add_argument("--seed", type=int, default=1, help="base seed of the matrix")
    ap.add_argument("--quick", action="store_true", help="only the configurations of make test")
    ap.add_argument("--only", nargs="*", metavar="NAME",
                    help="configuration names to run (verification/cases/matrix.py); None: all")
    ap.add_argument("--lanes", action="store_true", help="only the lanes configurations")


def main(argv=None) -> int:
    """`python -m verification.runners.regression`: the options of `delaysnn check rtl`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Every chosen configuration on Verilator, the table and build/reports/sim.json; 1 if one
    failed."""
    console = Console()
    only = set(args.only) if args.only else (QUICK if args.quick else LANES if args.lanes else None)
    t0 = time.time()
    console.print(f"generating golden references (base seed {args.seed}) ...")
    cases = full_matrix(args.seed, only)
    unknown = sorted(set(args.only or ()) - {c["name"].rsplit("-", 1)[0] for c in cases})
    if unknown:
        from corespec.errors import UserError
        raise UserError(f"--only {' '.join(unknown)}: no such configuration (expected names of "
                        f"verification/cases/matrix.py, e.g. n256)")
    results = []
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("simulating", total=len(cases))
        for case in cases:
            bar.update(task, description=f"{case['name']:<28}")
            r = run_case(case)
            if not r["passed"]:
                bar.console.print(f"[red]FAIL[/] {case['name']} seed {case['seed']}: {r.get('error')}")
                rw = run_case(case, waves=True)
                r["waveform"] = rw.get("waveform")
                bar.console.print(f"     waveform: {r['waveform']}")
            results.append(r)
            bar.advance(task)
    wall = time.time() - t0

    table = Table(title="Verilator regression: RTL vs golden model")
    for col in ("case", "seed", "result", "cycles", "outputs", "build s", "sim s"):
        table.add_column(col, justify="right" if col not in ("case", "result") else "left")
    for r in results:
        table.add_row(r["name"], str(r["seed"]), "[green]pass[/]" if r["passed"] else "[red]FAIL[/]",
                      str(r["cycles"]), str(r.get("outputs_checked", 0)),
                      f"{r['build_seconds']:.1f}", f"{r['sim_seconds']:.1f}")
    console.print(table)
    configs = len({r["name"].rsplit("-", 1)[0] for r in results})
    passed = sum(r["passed"] for r in results)
    failed = len(results) - passed
    report = {"configurations": configs, "cases": len(results), "passed": passed, "failed": failed,
              "cycles": sum(r["cycles"] for r in results), "wall_seconds": round(wall, 1),
              "base_seed": args.seed,
              "failures": [{k: r.get(k) for k in ("name", "seed", "error", "first_mismatch", "waveform")}
                           for r in results if not r["passed"]]}
    out = ROOT / "build" / "reports" / ("sim-lanes.json" if args.lanes else "sim.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(f"{configs} configurations, {len(results)} cases: {passed} passed, {failed} failed; "
                  f"{report['cycles']} cycles in {wall:.0f} s -> {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
