"""python -m hostlink run --port /dev/ttyUSB0 --image model.json --input sample.npy

Loads the image (WRITE frames, then verification readback), streams each sample of the input as
EVENTS frames (a CLEAR first) and prints the readout; `--output` saves it as .npy
[samples, steps, n_out]. `--sim` runs against the RTL in amaranth.sim instead of a port.

Input .npy: 1-D int event words (one sample, docs/core.md 3.1), 2-D [steps, n_in] spike counts
(one sample), or 3-D [samples, steps, n_in].

On-chip learning (a device built with the learning engine, docs/learning.md): `--learn-regs
regs.json` writes the engine's registers first ({"enable": 7, "lr_shift_R": 4, ...}, names of
docs/learning.md section 5), and `--labels labels.npy` (one class per sample) sends each sample's
class after it (LABEL): the device learns while it runs. The registers and counters are printed
at the end. `--sim` with either runs the RTL with the engine.
"""

import json

import argparse
import sys

import numpy as np

from .driver import CoreLink, LinkError, SerialTransport, SimTransport, readout
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


def samples_of(arr) -> list[list[int]]:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"input: integer array expected, got {arr.dtype}")
    if arr.ndim == 1:
        return [[int(w) for w in arr]]
    if arr.ndim == 2:
        return [counts_to_words(arr)]
    if arr.ndim == 3:
        return [counts_to_words(a) for a in arr]
    raise ValueError(f"input: 1-D words, 2-D [steps, n_in] or 3-D [samples, steps, n_in]; "
                     f"got shape {arr.shape}")


def open_link(args, config, learning: bool = False):
    if args.sim:
        return CoreLink(SimTransport(config, learning=learning))
    if not args.port:
        raise SystemExit("--port or --sim is required")
    try:
        return CoreLink(SerialTransport(args.port, args.baud))
    except ImportError:
        raise SystemExit("the serial transport needs pyserial: pip install pyserial")
    except OSError as e:            # serial.SerialException is an OSError
        raise SystemExit(f"cannot open {args.port}: {e}")


def cmd_run(args):
    from tqdm import tqdm
    config, writes = load_image_file(args.image)
    samples = samples_of(np.load(args.input))
    labels = None
    if args.labels:
        labels = [int(y) for y in np.asarray(np.load(args.labels)).reshape(-1)]
        if len(labels) != len(samples):
            raise SystemExit(f"{len(labels)} labels for {len(samples)} samples")
    learning = bool(args.labels or args.learn_regs)
    link = open_link(args, config, learning)
    info = link.ping()
    if info["n_layers"] != config.n_layers:
        raise SystemExit(f"the device has {info['n_layers']} layers, the image {config.n_layers}")
    with tqdm(total=len(writes), desc="load image", unit="word") as bar:
        rep = link.load_image(writes, verify=args.verify, progress=bar.update)
    print(f"image: {rep['writes']} words written, {rep['checked']} read back and verified")
    if args.learn_regs:
        with open(args.learn_regs) as f:
            link.set_learning(json.load(f))
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
        np.save(args.output, np.asarray(results, dtype=np.int64))
        print(f"readout saved to {args.output}")
    st = link.status()
    print("status: " + ", ".join(f"{k}={v}" for k, v in st.items()))
    if learning:
        print("learning: " + ", ".join(f"{k}={v}" for k, v in link.read_learning().items()))
    return 0


def cmd_info(args):
    config = load_image_file(args.image)[0] if args.image else None
    if args.sim and config is None:
        raise SystemExit("--sim needs --image (for the configuration)")
    link = open_link(args, config)
    print(link.ping())
    print(link.status())
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m hostlink", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("run", "info"):
        s = sub.add_parser(name)
        s.add_argument("--port", help="serial port, e.g. /dev/ttyUSB0")
        s.add_argument("--baud", type=int, default=115200)
        s.add_argument("--sim", action="store_true", help="the RTL in amaranth.sim instead of a port")
        s.add_argument("--image", required=(name == "run"), help="image JSON (hostlink.image)")
        if name == "run":
            s.add_argument("--input", required=True, help=".npy input (see above)")
            s.add_argument("--output", help=".npy file for the readout [samples, steps, n_out]")
            s.add_argument("--verify", choices=("sample", "full", "none"), default="sample")
            s.add_argument("--labels", help=".npy classes, one per sample: learn on the device")
            s.add_argument("--learn-regs", help="JSON {register name: value} for the learning engine")
    args = p.parse_args(argv)
    try:
        return cmd_run(args) if args.command == "run" else cmd_info(args)
    except (LinkError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
