"""What on-chip learning costs: memory bits, logic from a synthesis run, cycles per phase.

`python -m onchip_learning.cost` writes build/reports/onchip-cost.json: the engine's memory for
the demonstration networks and the UP5K network (docs/learning.md, section 7), yosys
`synth_ice40` cells of `Network` against `LearningNetwork` for the same configurations, and the
cycles per STEP and LEARN measured on the RTL where a replay report exists
(build/reports/onchip-rtl-*.json, `python -m verification.runners.learning_replay`).
"""

from __future__ import annotations

import json
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


def synthesis(cfg: CoreConfig, learning: bool) -> dict:
    from delaycore import Network, LearningNetwork
    from delaycore.boards.synth_ice40 import synth_ice40, cell_summary
    name = "learning" if learning else "core"
    top = (LearningNetwork if learning else Network)(cfg)
    cells = synth_ice40(verilog.convert(top, name=name, emit_src=False), name,
                        ROOT / "build" / "synth" / "onchip")
    return cell_summary(cells)


def main() -> int:
    report = {"memory_bits": {}, "synthesis_ice40": {}, "cycles_rtl": {}}
    for name, cfg in NETWORKS.items():
        m = memory_bits(cfg)
        report["memory_bits"][name] = {**m, "core": core_bits(cfg),
                                       "added_percent": round(100 * m["total"] / core_bits(cfg), 1)}
        print(f"{name:<48} engine {m['total']:>9,} bits  (core {core_bits(cfg):>10,} bits)")
    for name in SYNTH:
        cfg = NETWORKS[name]
        report["synthesis_ice40"][name] = {"Network": synthesis(cfg, False),
                                           "LearningNetwork": synthesis(cfg, True)}
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
