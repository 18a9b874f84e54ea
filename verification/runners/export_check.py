"""A trained, exported network on the RTL: `delaysnn check export --task yinyang` (or
`python -m verification.runners.export_check`, the same options).

Streams the first N test samples of the task (each after a CLEAR) through the Verilator core
with the exported image loaded through the load port, and compares every output item and its
cycle with the golden model; writes build/reports/export-rtl-<task>.json.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from delay_training.data import load_task
from corespec.errors import UserError, run_parsed
from delay_training.export import load_export, read_manifest
from golden_model import GoldenNetwork, schedule, raster_words, SPIKE
from golden_model.params import load_words
from .cosim import run as run_case, ROOT


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn check export`: which export, on which test samples."""
    from delay_training.data import TASKS
    ap.add_argument("--task", default=None, choices=TASKS,
                    help="the task whose test samples are streamed; None: the export's own task "
                         "(its manifest)")
    ap.add_argument("--export", default=None,
                    help="export folder; None: build/train/<task>/export (then --task is needed)")
    ap.add_argument("--samples", type=int, default=50, help="first N test samples to stream")


def main(argv=None):
    """`python -m verification.runners.export_check`: the options of `delaysnn check export`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run_parsed(ap, run, argv)


def run(a: argparse.Namespace) -> int:
    """Stream the samples through the Verilator core and the golden model; 1 if they differ."""
    if a.export is None and a.task is None:
        raise UserError("check export: give --export FOLDER (a training run's export/) or --task")
    export = a.export or str(ROOT / "build" / "train" / a.task / "export")
    # The report is named after the training run (build/train/<name>/export), so that checks of
    # several exports of one task do not overwrite each other.
    name = Path(export).resolve().parent.name if a.export else a.task
    params = load_export(export)
    cfg = params.config
    task = a.task or read_manifest(export)["task"]
    test = load_task(task).test
    x = test.spikes[:a.samples]
    words = [w for i in range(x.shape[0]) for w in raster_words(x[i], clear=True)]
    net = GoldenNetwork(params)
    res = net.run_stream(words)
    sched = schedule(cfg, words, res)
    # The golden model on the whole batch predicts the same as the stream run.
    batch = net.run(x.to(torch.int64))["readout"]
    n_out = cfg.n_out
    per_step = [o[2] for o in res.outputs if o[0] == SPIKE]
    stream_readout = torch.tensor(per_step).view(x.shape[0], x.shape[1], n_out)
    assert torch.equal(stream_readout, batch), "stream and batch golden runs differ"
    case = {
        "name": f"export-{name}", "seed": 0, "mode": "cycle", "valid_p": 1.0, "ready_p": 1.0,
        "config": dataclasses.asdict(cfg), "load": [list(w) for w in load_words(params)],
        "bad_writes": [], "readback": [], "words": words,
        "expect": {"outputs": [list(o) for o in res.outputs], "snapshots": [],
                   "output_cycles": sched.output_cycles,
                   "input_accept_cycles": sched.input_accept_cycles,
                   "step_end_cycles": sched.step_end_cycles, "dropped_kind": 0,
                   "dropped_addr": 0, "dropped_writes": 0, "dropped_excess": res.dropped_excess,
                   "steps": len(sched.step_end_cycles)},
        "max_cycles": 2 * sched.step_end_cycles[-1] + 10_000,
    }
    r = run_case(case)
    preds = batch.sum(1).argmax(-1)
    report = {"task": task, "run": name, "export": export, "samples": int(x.shape[0]),
              "rtl_items_equal_golden": bool(r["passed"]), "error": r.get("error"),
              "items_checked": r.get("outputs_checked"), "cycles": r["cycles"],
              "sim_seconds": round(r["sim_seconds"], 1),
              "golden_accuracy_on_these_samples": float((preds == test.labels[:a.samples]).float().mean())}
    out = ROOT / "build" / "reports" / f"export-rtl-{name}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
