"""Real time on the iCEBreaker, end to end, measured in the bit-level co-simulation of the board
top: `delaysnn bench board [--samples 20]` (python -m benchmarks.board) ->
build/reports/bench-board.json.

The network is the spiking-FSDD one the demo deploys (700-128-10 ternary, D=32, input delays):
the trained export when there is one (build/train/*/export of task fsdd, 700 inputs), else seeded
random weights. It is packed for the board (8 ternary weights a word) and written as a deploy
folder; the board top is built on Verilator for it at the iCEBreaker's core clock (24 MHz) and
baud rate (3 Mbaud, divider 8), so simulated seconds are the board's. The host driver, unchanged,
loads the image and streams test samples (a seeded random choice, shuffle 0: the split is ordered
by digit; 1 s of audio = 100 steps each) over the UART pins.

Per sample: link seconds (first event out to last output byte back), bytes each way, core-only
seconds from the cycle model (golden_model.schedule: a never-stalled source and an always-ready
sink), and the real-time factors (audio seconds / link seconds, / core seconds). The first few
samples run again stop-and-wait (EVENTS window 1) for comparison with the pipelined default.
"""

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

from verification.runners.cosim import ROOT

CLK_HZ, BAUD, BOARD = 24e6, 3_000_000, "icebreaker"
REPORT = ROOT / "build" / "reports" / "bench-board.json"
FOLDER = ROOT / "build" / "sim" / "bench-deploy-icebreaker"


SHAPE = {"n_in": 700, "sizes": [128], "n_out": 10, "ternary": True, "input_delays": True}


def trained_export() -> Path | None:
    """The newest FSDD export of the iCEBreaker's network shape (SHAPE) under build/train."""
    found = []
    for m in (ROOT / "build" / "train").glob("*/export/manifest.json"):
        d = json.loads(m.read_text())
        cc = d.get("core_config", {})
        if d.get("task") == "fsdd" and all(cc.get(k) == v for k, v in SHAPE.items()):
            found.append((m.stat().st_mtime, m.parent))
    return max(found)[1] if found else None


def network():
    """(NetworkParams packed for the board, manifest, description)."""
    from golden_model import CoreConfig, NetworkParams, random_params
    src = trained_export()
    if src is not None:
        from delay_training.export import load_export
        p = load_export(src)
        manifest = json.loads((src / "manifest.json").read_text())
        what = f"trained export {src.relative_to(ROOT)} (test accuracy {manifest.get('test_acc')})"
    else:
        cfg = CoreConfig(n_in=700, sizes=(128,), n_out=10, weight_bits=2, ternary=True, depth=32,
                         v_bits=16, input_delays=True)
        p, manifest, what = random_params(cfg, 5, threshold_scale=0.3), {}, "seeded random (5)"
    cfg = dataclasses.replace(p.config, weights_per_word=8)      # ternary: 8 to a word
    return NetworkParams(cfg, p.layers, p.input_delay), manifest, what


def core_seconds(params, words_per_sample) -> list[float]:
    """Core-only time per sample from the cycle model."""
    from golden_model import CLEAR, GoldenNetwork, encode_event, schedule
    net = GoldenNetwork(params)
    out = []
    for w in words_per_sample:
        w = [encode_event(CLEAR)] + w
        out.append((schedule(params.config, w, net.run_stream(w)).step_end_cycles[-1] + 1) / CLK_HZ)
    return out


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn bench board`."""
    ap.add_argument("--samples", type=int, default=20, help="FSDD test samples to stream")
    ap.add_argument("--compare", type=int, default=3,
                    help="of those, how many to run again stop-and-wait (0: none)")


def main(argv=None):
    """`python -m benchmarks.board`: the options of `delaysnn bench board`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Stream the samples through the board model; the report; 1 if one differs from golden."""
    from hostlink import deployed as d
    from verification.runners.deploy_folder import make_deploy_folder
    t0 = time.time()
    params, manifest, what = network()
    make_deploy_folder(FOLDER, params, manifest, board=BOARD, baud=BAUD, clk_hz=CLK_HZ)
    dep = d.load_deployment(FOLDER)
    samples = d.streamed(dep, d.split_samples("test", d.front_end(dep), args.samples, shuffle=0))  # seeded mix
    words = [d.event_words(s) for s in samples]
    run = d.run_on_sim(dep, words, name="bench-board",
                       compare_window={"window": 1, "samples": args.compare} if args.compare else None)
    golden = d.golden_items(dep.params, words)
    readouts = [d.readout_of(items, dep.config.n_out) for items in run.items]
    rep = d.summarize(dep, samples, readouts, golden, engine="sim", seconds=run.seconds,
                      bytes_out=run.bytes_out, bytes_in=run.bytes_in, identity=run.identity)
    core = core_seconds(dep.params, words)
    audio = [s.audio_seconds for s in samples]
    per = [{"name": s.name, "events": len(w) + 1, "link_seconds": round(ls, 6),
            "core_seconds": round(cs, 6), "bytes_to_device": bo, "bytes_from_device": bi,
            "realtime_factor": round(a / ls, 2), "sim_wall_seconds": ws}
           for s, w, ls, cs, bo, bi, a, ws in zip(samples, words, run.seconds, core, run.bytes_out,
                                                   run.bytes_in, audio,
                                                   run.extra["sim_wall_per_sample"])]
    cmp_ = run.extra.get("compare")
    report = {
        "board": BOARD, "core_clock_hz": CLK_HZ, "baud": BAUD, "uart_divider": run.extra["divider"],
        "network": f"{dep.config.n_in}-{'-'.join(map(str, dep.config.sizes))}-{dep.config.n_out} "
                   f"ternary, D={dep.config.depth}, input delays; {what}",
        "input": f"spiking FSDD official test split, first {len(samples)} samples, "
                 f"{audio[0]:g} s of audio = 100 steps each",
        "method": "bit-level co-simulation of the board top (Verilator + cocotb, UART pins), "
                  "unchanged host driver, EVENTS pipelined (window 2, 165 events = 502 bytes a "
                  "frame, within the 512-byte rx FIFO)",
        "samples": len(samples),
        "realtime_factor_end_to_end": round(rep["realtime_factor_end_to_end"], 2),
        "realtime_factor_worst_sample": round(rep["realtime_factor_worst_sample"], 2),
        "realtime_factor_core_only": round(sum(audio) / sum(core), 2),
        "link_seconds_per_sample": {k: round(v, 6) for k, v in rep["latency_seconds"].items()},
        "core_seconds_per_sample_mean": round(statistics.mean(core), 6),
        "bytes_to_device_per_sample": rep["bytes_to_device_per_sample"],
        "bytes_from_device_per_sample": rep["bytes_from_device_per_sample"],
        "line_seconds_per_sample": {"to_device": rep["bytes_to_device_per_sample"] * 10 / BAUD,
                                    "from_device": rep["bytes_from_device_per_sample"] * 10 / BAUD},
        "stop_and_wait": None if not cmp_ else {
            "samples": len(cmp_["seconds"]), "link_seconds": [round(x, 6) for x in cmp_["seconds"]],
            "pipelined_link_seconds": [round(x, 6) for x in run.seconds[:len(cmp_["seconds"])]],
            "realtime_factor": round(sum(audio[:len(cmp_["seconds"])]) / sum(cmp_["seconds"]), 2)},
        "accuracy": rep["accuracy"], "predictions_equal_golden": rep["predictions_equal_golden"],
        "image_load_seconds": run.extra["load_seconds"],
        "device_status": run.extra["status"], "uart_frame_errors": run.extra["uart_frame_errors"],
        "sim_wall_seconds": round(run.extra["sim_wall_seconds"], 1),
        "sim_wall_seconds_per_sample_mean": round(statistics.mean(run.extra["sim_wall_per_sample"]), 2),
        "bench_wall_seconds": round(time.time() - t0, 1),
        "per_sample": per}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "per_sample"}, indent=1))
    return 0 if report["predictions_equal_golden"] else 1


if __name__ == "__main__":
    sys.exit(main())
