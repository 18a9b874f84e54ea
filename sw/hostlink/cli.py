"""delaysnn run --port /dev/ttyUSB0 --image model.json --input sample.npy
   delaysnn run --deployed build/deploy/<run>-<board> --wav-dir DIR (--port P | --sim)
   delaysnn run --deployed FOLDER --split test --learn readout --learn-samples 50 --sim
   delaysnn eval --deployed FOLDER --wav-dir DIR [--engine golden|torch] [--csv FILE]
   delaysnn enrol --deployed FOLDER --wav-dir MY_WORDS      (a speaker-normalised network)
   (python -m hostlink run / eval / info / enrol take the same options)

A deploy folder (`run --deployed`, hostlink.deployed): the audio (a folder of WAV files, or an
FSDD split with --split) goes through the training's cochlea front end, every sample is streamed
to the board (or with --sim to the Verilator model of the board top at the board's clock and
baud rate), and each prediction, the accuracy (labels from FSDD file names or --labels CSV),
latency, throughput and real-time factor are printed and, with --output, written as JSON, with
whether every prediction and readout value equals the golden model's. `eval` does the same
without a board (golden model or PyTorch model), also on a training export folder. A folder
deployed with --host-input-delays: each sample's spikes are delayed on the host first
(deploy.json "host_input_delays"), so the answers are the original network's. A network whose
front end subtracts its speaker's spectrum (speaker_norm, towers) hears the --wav-dir words
against the user's enrolled reference (`enrol`, hostlink.speaker_reference: the folder's
speaker-reference.json, or --reference FILE), else against the reference the words make.

Loads the image (WRITE frames, then verification readback), streams each sample of the input as
EVENTS frames (a CLEAR first) and prints the readout; `--output` saves it as .npy
[samples, steps, n_out]. `--sim` runs against the RTL in amaranth.sim instead of a port.

Input .npy: 1-D int event words (one sample, docs/core.md 3.1), 2-D [steps, n_in] spike counts
(one sample), or 3-D [samples, steps, n_in].

On-chip learning (a device built with the learning engine, docs/learning.md): `--learn-regs
regs.json` writes the engine's registers first ({"enable": 7, "lr_shift_R": 4, ...}, names of
docs/learning.md section 5), and `--labels labels.npy` (one class per sample) sends each sample's
class after it (LABEL): the device learns while it runs. The registers and counters are printed
at the end (labels the device ignored or rejected: a warning, exit 1). `--sim` with either runs
the RTL with the engine.

With --deployed, `--learn PRESET|FILE.json [--learn-samples N]` learns on the board from the
first N samples' labels, then evaluates the rest with learning off, and compares the whole run
with the golden learner (hostlink.deployed.learning_plan / golden_learning; docs/link.md).
"""


import argparse
import sys

import numpy as np

from .driver import CoreLink, LinkError, readout
from .transports import SerialTransport, SimTransport
from .image import load_image_file

SPIKE, EOT = 0, 1


def counts_to_words(counts) -> list[int]:
    """[steps, n_in] spike counts -> event words: each step's spikes (channel order), then EOT."""
    words = []
    for step in np.asarray(counts):
        for ch in np.nonzero(step)[0]:
            words += [SPIKE | (int(ch) << 2)] * int(step[ch])
        words.append(EOT)
    return words


def samples_of(arr, where: str = "input") -> list[list[int]]:
    """The event words of each sample of an --input array (see the module docstring); RunError
    naming `where` for an array of another type, shape or range."""
    from golden_model.events import event_words
    from .deployed import RunError
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise RunError(f"{where}: integer array expected, got {arr.dtype}")
    if arr.ndim == 1:
        try:
            return [event_words(arr.astype(np.int64)).tolist()]
        except ValueError as e:        # golden_model.events.EventError: index and value
            raise RunError(f"{where}: {e}") from None
    if arr.ndim not in (2, 3):
        raise RunError(f"{where}: 1-D words, 2-D [steps, n_in] or 3-D [samples, steps, n_in] "
                       f"expected; got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise RunError(f"{where}: spike counts must be >= 0, found {arr.min()}")
    return [counts_to_words(arr)] if arr.ndim == 2 else [counts_to_words(a) for a in arr]


def load_samples(path) -> list[list[int]]:
    """--input: the samples of a .npy file, or RunError naming the file (missing, not a .npy
    array, or an array samples_of refuses)."""
    from .deployed import RunError
    try:
        arr = np.load(path, allow_pickle=False)
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror or e})") from None
    except ValueError:
        raise RunError(f"{path}: not a .npy array (expected event words or spike counts saved "
                       f"with numpy.save)") from None
    if not isinstance(arr, np.ndarray):          # an .npz (or a params.pt, also a zip archive)
        arr.close()
        raise RunError(f"{path}: a zip archive, not a .npy array (expected event words or spike "
                       f"counts saved with numpy.save)")
    return samples_of(arr, str(path))


def open_link(args, config, learning: bool = False):
    from .deployed import RunError
    if args.sim:
        return CoreLink(SimTransport(config, learning=learning))
    if not args.port:
        raise RunError("--port or --sim is required")
    try:
        return CoreLink(SerialTransport(args.port, args.baud))
    except ImportError:
        raise RunError("the serial transport needs pyserial: pip install pyserial")
    except OSError as e:            # serial.SerialException is an OSError
        raise RunError(f"cannot open {args.port}: {e}")


def image_mode_learning(args, config, n_samples: int):
    """--labels / --learn-regs of the --image mode, checked before the link opens: labels one per
    sample and within the classes, registers by name and width, and no labels together with
    registers that switch learning off (they would be ignored). Returns (labels, registers)."""
    from corespec.files import read_json
    from .deployed import LEARN_REGS_JSON, RunError
    from .image import check_learning_registers
    labels = regs = None
    if args.labels:
        try:
            labels = [int(y) for y in np.asarray(np.load(args.labels, allow_pickle=False)).reshape(-1)]
        except (OSError, ValueError, TypeError) as e:
            raise RunError(f"{args.labels}: not a readable .npy of classes ({e})") from None
        if len(labels) != n_samples:
            raise RunError(f"{args.labels}: {len(labels)} labels for {n_samples} samples")
        bad = [y for y in labels if not 0 <= y < config.n_out]
        if bad:
            raise RunError(f"{args.labels}: label {bad[0]} outside the classes 0..{config.n_out - 1}")
    if args.learn_regs:
        regs = read_json(args.learn_regs, LEARN_REGS_JSON, RunError)
        check_learning_registers(regs, args.learn_regs)
        if labels and "enable" in regs and not regs["enable"] & 1:
            raise RunError(f"{args.learn_regs}: enable = {regs['enable']} has bit 0 (learning on) "
                           f"clear: the device would ignore the {len(labels)} labels")
    return labels, regs


def save_readout(path, results) -> str:
    """--output of the --image mode: the readout [samples, steps, n_out] as .npy, written
    atomically after the run (".npy" appended as numpy.save does); returns the path written,
    RunError naming it when it cannot be written."""
    from corespec.files import atomic_write
    from .deployed import RunError
    readout_array = np.asarray(results, dtype=np.int64)
    path = str(path) if str(path).endswith(".npy") else f"{path}.npy"    # as numpy.save names it
    try:
        atomic_write(path, lambda f: np.save(f, readout_array))
    except OSError as e:
        raise RunError(f"{path}: cannot write the readout ({e.strerror or e})") from None
    return path


def cmd_run(args):
    from tqdm import tqdm
    from .deployed import label_warning
    from .driver import LEARN_STATUS
    config, writes = load_image_file(args.image)
    samples = load_samples(args.input)
    labels, regs = image_mode_learning(args, config, len(samples))
    learning = bool(labels or regs)
    link = open_link(args, config, learning)
    info = link.ping()
    if info["n_layers"] != config.n_layers:
        raise SystemExit(f"the device has {info['n_layers']} layers, the image {config.n_layers}")
    if learning:                        # refuse a device without the engine before any write
        link.check_device(config, learning=True)
        before = link.read_learning()   # a board counts since power-up
    with tqdm(total=len(writes), desc="load image", unit="word") as bar:
        rep = link.load_image(writes, verify=args.verify, progress=bar.update)
    print(f"image: {rep['writes']} words written, {rep['checked']} read back and verified")
    if regs:
        link.set_learning(regs)
    results = []
    with tqdm(total=sum(len(s) + 1 for s in samples), desc="run", unit="event") as bar:
        for i, words in enumerate(samples):
            items = link.run_sample(words, n_out=config.n_out, progress=bar.update)
            if labels is not None:
                link.label(labels[i])
            results.append(readout(items, config.n_out))
    for i, steps in enumerate(results):
        last = steps[-1] if steps else []
        total = np.asarray(steps).sum(0) if steps else []
        print(f"sample {i}: {len(steps)} steps, last readout {last}, "
              f"argmax of summed readout {int(np.argmax(total)) if len(total) else None}")
    if args.output:
        print(f"readout saved to {save_readout(args.output, results)}")
    st = link.status()
    print("status: " + ", ".join(f"{k}={v}" for k, v in st.items()))
    if learning:
        after = link.read_learning()
        print("learning: " + ", ".join(f"{k}={v}" for k, v in after.items()))
        warning = label_warning({k: after[k] - before[k] for k in LEARN_STATUS})
        if warning:
            print(warning + ("; write enable with --learn-regs" if not regs else ""),
                  file=sys.stderr)
            return 1
    return 0


def sample_source(args, dep):
    """The samples of a deployed run, checked against the network (hostlink.deployed)."""
    from . import deployed as d, speaker_reference
    if bool(args.wav_dir) == bool(args.split):
        raise d.RunError("give exactly one of --wav-dir DIR and --split test|train|val")
    if args.labels and not args.wav_dir:
        raise d.RunError("--labels goes with --wav-dir (split samples carry their labels)")
    cochlea = d.front_end(dep)
    if args.reference and not args.wav_dir:
        raise d.RunError("--reference goes with --wav-dir (an FSDD split's speakers each have "
                         "their own)")
    if args.wav_dir:
        enrolled = speaker_reference.for_deployment(dep, args.reference)
        if enrolled is not None:
            print(f"speaker reference: {enrolled.path} ({enrolled.words} words enrolled)", flush=True)
        samples = d.wav_samples(args.wav_dir, cochlea, args.labels,
                                reference=None if enrolled is None else enrolled.references)
        if args.shuffle is not None:
            import random
            random.Random(args.shuffle).shuffle(samples)
        samples = samples[:args.limit] if args.limit else samples
    else:
        samples = d.split_samples(args.split, cochlea, args.limit, shuffle=args.shuffle)
    d.check_samples(samples, dep.config)
    return samples


def print_report(rep: dict):
    """A line per sample, then accuracy and timing."""
    for r in rep["samples"]:
        ok = "" if r["label"] is None else ("  ok" if r["prediction"] == r["label"] else "  WRONG")
        ok += {"learn": "  (learned from)", "eval": "  (evaluated)"}.get(r.get("phase"), "")
        lat = f"  {r['link_seconds'] * 1e3:8.2f} ms" if "link_seconds" in r else ""
        label = "-" if r["label"] is None else r["label"]
        print(f"{r['name']:<28} label {label:>2}  prediction {r['prediction']:>2}{lat}{ok}")
    if rep["accuracy"] is not None:
        print(f"accuracy: {rep['accuracy']:.4f} ({rep['labelled']} labelled samples)")
    if "latency_seconds" in rep:
        lat = rep["latency_seconds"]
        print(f"latency per sample: mean {lat['mean'] * 1e3:.2f} ms, max {lat['max'] * 1e3:.2f} ms; "
              f"throughput {rep['throughput_samples_per_s']:.1f} samples/s; real-time factor end "
              f"to end {rep['realtime_factor_end_to_end']:.1f}x (worst sample "
              f"{rep['realtime_factor_worst_sample']:.1f}x)")
    print(f"predictions_equal_golden: {str(rep['predictions_equal_golden']).lower()}")
    if "learning" in rep:
        print_learning(rep)


def print_learning(rep: dict):
    """The learning run's lines: what learned, the counters, the registers, golden agreement."""
    lr = rep["learning"]
    if rep.get("online_accuracy") is not None:
        print(f"online accuracy while learning: {rep['online_accuracy']:.4f} "
              f"({lr['learn_samples']} samples, each predicted before its update)")
    print(f"learning ({lr['source']}): " + ", ".join(f"{k}={v}" for k, v in lr["counters"].items())
          + f"; {lr['parameters_changed']} of {lr['parameters_read']} learned parameter words "
          f"changed")
    print("registers: " + ", ".join(f"{k}={v}" for k, v in lr["registers"].items()))
    print(f"parameters_equal_golden: {str(lr['parameters_equal_golden']).lower()}")


def write_report(rep: dict, path):
    """--output: the report as JSON, written atomically (corespec.files) so that a failed write
    never leaves half a report; RunError naming the path when it cannot be written."""
    if path:
        from corespec.files import atomic_write_json
        from .deployed import RunError
        try:
            atomic_write_json(path, rep, indent=1)
        except OSError as e:
            raise RunError(f"{path}: cannot write the report ({e.strerror or e})") from None
        print(f"report written to {path}")


def write_csv(rep: dict, path):
    """The predictions as a table a spreadsheet or script reads: file, prediction, label (empty
    when unknown), golden prediction; one row per sample, in the printed order."""
    if not path:
        return
    import csv
    from .deployed import RunError
    try:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file", "prediction", "label", "golden_prediction"])
            for r in rep["samples"]:
                w.writerow([r["name"], r["prediction"], "" if r["label"] is None else r["label"],
                            r["golden_prediction"]])
    except OSError as e:
        raise RunError(f"{path}: cannot write the predictions CSV ({e.strerror or e})") from None
    print(f"predictions written to {path}")


def cmd_run_deployed(args):
    from . import deployed as d
    if args.image or args.input:
        raise d.RunError("--deployed takes its image from the folder: drop --image / --input")
    if not (args.sim or args.port):
        raise d.RunError("--port or --sim is required")
    if args.learn_regs:
        raise d.RunError("--deployed takes the learning registers with --learn PRESET|FILE.json")
    if args.learn_samples is not None and not args.learn:
        raise d.RunError("--learn-samples goes with --learn PRESET")
    dep = d.load_deployment(args.deployed)
    if args.learn:                               # before the audio is even read
        d.check_learning_engine(dep)
        d.learning_registers(dep, args.learn)
    samples = d.streamed(dep, sample_source(args, dep))      # host input delays applied
    print_host_delays(dep)
    plan = d.learning_plan(dep, args.learn, samples, args.learn_samples) if args.learn else None
    if plan is not None:
        print(f"learning: {plan.source}: learn from the first {plan.learn_samples} of "
              f"{len(samples)} samples, then evaluate the rest with learning off", flush=True)
    words = [d.event_words(s) for s in samples]
    if args.sim:
        run = d.run_on_sim(dep, words, plan=plan)
    else:
        run = d.run_on_port(dep, words, args.port, args.baud or dep.baud, args.verify, plan=plan)
    if plan is None:
        golden, learner = d.golden_items(dep.params, words), None
    else:
        golden, learner = d.golden_learning(dep.params, plan, samples)
    readouts = [d.readout_of(items, dep.config.n_out) for items in run.items]
    rep = d.summarize(dep, samples, readouts, golden, engine="sim" if args.sim else "board",
                      seconds=run.seconds, bytes_out=run.bytes_out, bytes_in=run.bytes_in,
                      identity=run.identity)
    rep["link"] = {k: v for k, v in run.extra.items() if k != "learning"}
    if plan is not None:
        d.learning_report(dep, plan, samples, rep, run, golden, learner)
    print_report(rep)
    write_report(rep, args.output)
    write_csv(rep, args.csv)
    warning = d.label_warning(rep["learning"]["counters"]) if plan is not None else None
    if warning:
        print(warning, file=sys.stderr)
        return 1
    return 0


def print_host_delays(dep):
    """One line when the folder's host applies the input delays (deploy --host-input-delays)."""
    if dep.host_input_delays is not None:
        print(f"input delays: applied on the host ({len(dep.host_input_delays)} channels, "
              f"deploy.json host_input_delays; the device has no input delay stage)", flush=True)


def cmd_eval(args):
    """No board: the golden model (or the PyTorch model) on the same front end and report. The
    golden model runs the folder's image, so it takes the samples as the device would
    (`streamed`: host input delays applied); the PyTorch model is the trained network, input
    delays and all, and takes them as they come."""
    from . import deployed as d
    dep = d.load_deployment(args.deployed)
    samples = sample_source(args, dep)
    print_host_delays(dep)
    golden = d.golden_items(dep.params, [d.event_words(s) for s in d.streamed(dep, samples)])
    if args.engine == "torch":
        readouts = d.torch_readouts(dep, samples)
    else:
        readouts = [d.readout_of(g, dep.config.n_out) for g in golden]
    rep = d.summarize(dep, samples, readouts, golden, engine=args.engine)
    print_report(rep)
    write_report(rep, args.output)
    write_csv(rep, args.csv)
    return 0


def cmd_enrol(args):
    """The speaker reference of the user whose words are in --wav-dir, kept where `eval` and
    `run` find it (hostlink.speaker_reference)."""
    from . import deployed as d, speaker_reference
    dep = d.load_deployment(args.deployed)
    paths = [p for p, _ in d.labelled_wavs(args.wav_dir)]
    record = speaker_reference.enrol(d.front_end(dep), paths, dep.folder)
    out = speaker_reference.write(record, args.out or dep.folder / speaker_reference.FILE_NAME)
    note = "" if len(paths) >= d.SPEAKER_NORM_WORDS else (
        f"; with fewer than {d.SPEAKER_NORM_WORDS} words the network may hear him less well "
        f"(docs/results.md, speaker normalisation)")
    print(f"speaker reference: {len(paths)} words of {args.wav_dir} -> {out}{note}")
    if args.out is None:
        print(f"`delaysnn eval|run --deployed {dep.folder} --wav-dir ...` now hear every word against it")
    return 0


def cmd_info(args):
    config = load_image_file(args.image)[0] if args.image else None
    if args.sim and config is None:
        from .deployed import RunError
        raise RunError("--sim needs --image FILE (the simulated core is built from its "
                       "configuration)")
    link = open_link(args, config)
    print(link.ping())
    print(link.status())
    return 0


def add_deployed_options(s, *, engine: bool):
    s.add_argument("--deployed", metavar="FOLDER", required=engine,
                   help="deploy folder (build/deploy/<run>-<board>: image.json, manifest.json, "
                        "deploy.json)" + (" or a training export folder" if engine else ""))
    s.add_argument("--wav-dir", metavar="DIR", help="folder of mono 16-bit WAV files at the "
                   "front end's rate (8 kHz); names <digit>_....wav (FSDD's) carry labels")
    s.add_argument("--split", choices=sorted(SPLIT_CHOICES), help="an FSDD split (official "
                   "protocol) from ../shared/data instead of --wav-dir")
    s.add_argument("--limit", type=int, metavar="N", help="only the first N samples; None: all")
    s.add_argument("--shuffle", type=int, metavar="SEED", default=None,
                   help="take the samples in a seeded random order (before --limit); the FSDD "
                        "splits are ordered by digit. None: file / split order")
    s.add_argument("--output", metavar="OUT", help="JSON report" + ("" if engine else
                   "; with --image, .npy readout [samples, steps, n_out]"))
    s.add_argument("--csv", metavar="FILE", help="the predictions as CSV: file, prediction, "
                   "label (empty without one), golden_prediction")
    s.add_argument("--reference", metavar="FILE", help="with --wav-dir and a speaker-normalised "
                   "front end: the enrolled speaker's reference (`delaysnn enrol`); None: the "
                   "deploy folder's speaker-reference.json if it has one, else the reference "
                   "the --wav-dir words make")


SPLIT_CHOICES = ("test", "train", "val")


def main(argv=None):
    """`python -m hostlink run|info|eval`: a user's mistake is one line `error: ...`, exit 2."""
    from corespec.errors import UserError
    p = argparse.ArgumentParser(prog="python -m hostlink", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    add_run_arguments(sub.add_parser("run", formatter_class=fmt,
                                     help="a network on a device or its simulation"))
    add_info_arguments(sub.add_parser("info", formatter_class=fmt,
                                      help="a device's identity and status"))
    add_eval_arguments(sub.add_parser("eval", formatter_class=fmt,
                                      help="a deployed network without a board"))
    add_enrol_arguments(sub.add_parser("enrol", formatter_class=fmt,
                                       help="a speaker's reference for a speaker-normalised network"))
    args = p.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def add_link_arguments(s: argparse.ArgumentParser) -> None:
    """The options of `run` and `info` that reach a device."""
    s.add_argument("--port", help="serial port, e.g. /dev/ttyUSB0; None: --sim is needed")
    s.add_argument("--baud", type=int, default=None,
                   help="UART rate; None: deploy.json's with --deployed, else 115200")
    s.add_argument("--sim", action="store_true", help="the RTL in amaranth.sim instead of a "
                   "port; with --deployed the Verilator model of the board top")
    s.add_argument("--image", help="image JSON (hostlink.image), e.g. an export's image.json")


def add_run_arguments(s: argparse.ArgumentParser) -> None:
    """The options of `run` (delaysnn run): a deploy folder, or an image and an input file."""
    add_link_arguments(s)
    s.add_argument("--input", help="with --image: .npy input, 1-D event words, 2-D [steps, n_in] "
                   "or 3-D [samples, steps, n_in] spike counts")
    add_deployed_options(s, engine=False)
    s.add_argument("--verify", choices=("sample", "full", "none"), default="sample",
                   help="readback after loading the image")
    s.add_argument("--labels", help="with --image: .npy classes, one per sample (learn on "
                   "the device); with --deployed: CSV file,label (before labels from <digit>_ names)")
    s.add_argument("--learn-regs", metavar="FILE", help="with --image: JSON {register "
                   "name: value} written to the learning engine before the samples; "
                   "None: the registers stay as the device has them")
    s.add_argument("--learn", metavar="PRESET", help="with --deployed: learn on the "
                   "device from the samples' labels, with a preset of the folder's "
                   "learning.json (e.g. readout) or a JSON file {register name: value} "
                   "(the others at their reset values); None: inference only")
    s.add_argument("--learn-samples", type=int, metavar="N", help="with --learn: learn "
                   "from the first N samples, then evaluate the rest with learning off "
                   "(accuracy over those); None: learn from every sample")


def add_info_arguments(s: argparse.ArgumentParser) -> None:
    """The options of `info` (delaysnn info): which device to ask."""
    add_link_arguments(s)


def add_enrol_arguments(s: argparse.ArgumentParser) -> None:
    """The options of `enrol` (delaysnn enrol): a network and one speaker's words."""
    s.add_argument("--deployed", metavar="FOLDER", required=True,
                   help="deploy folder or training export of a speaker-normalised network "
                        "(--front-end speaker_norm=1, or a towers network)")
    s.add_argument("--wav-dir", metavar="DIR", required=True,
                   help="folder of the user's words (mono 16-bit WAV at the front end's rate); "
                        "the more the better, 50 or more")
    s.add_argument("--out", metavar="FILE", help="where the reference goes; None: the folder's "
                   "speaker-reference.json, which eval and run then use")


def add_eval_arguments(s: argparse.ArgumentParser) -> None:
    """The options of `eval` (delaysnn eval): a network and audio, no device."""
    add_deployed_options(s, engine=True)
    s.add_argument("--labels", help="CSV file,label (before labels from <digit>_ names)")
    s.add_argument("--engine", choices=("golden", "torch"), default="golden",
                   help="bit-exact golden model, or the trained PyTorch model (needs its checkpoint)")


def run(args) -> int:
    """Run args.command (run, info or eval). A user's mistake propagates as a UserError; a link
    failure is one line and exit 1 (a device whose readback differs from the image: 2)."""
    from corespec.errors import UserError
    from .deployed import RunError
    from .driver import ImageMismatch
    try:
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "enrol":
            return cmd_enrol(args)
        if args.command == "run" and args.deployed:
            return cmd_run_deployed(args)
        if args.command == "run" and (args.learn or args.learn_samples is not None):
            raise RunError("--learn / --learn-samples go with --deployed; with --image use "
                           "--learn-regs FILE and --labels")
        if args.command == "run" and not (args.image and args.input):
            raise RunError("run needs --deployed FOLDER, or --image and --input")
        if args.baud is None:
            args.baud = 115200
        return cmd_run(args) if args.command == "run" else cmd_info(args)
    except UserError:
        raise
    except ImageMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (LinkError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
