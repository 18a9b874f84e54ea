"""Train one network in the core's integer arithmetic, select its epoch on validation, test it,
export it (build/train/<name>/export), plot and report (build/reports/train-<name>.json).

    delaysnn train --task fsdd [--wbits 1.58] [--dbits 5] [--epochs 30] [--resume]
    python -m delay_training train ...      (the same options)

An option left at None takes the task's default (delay_training.train.TASK_DEFAULTS, then
TrainConfig); the run is named after the task and every option that differs from its defaults.
"""

from __future__ import annotations

import argparse
import sys

from corespec.errors import run_parsed

from .data import TASKS
from .quant import check_wbits


def _ints(s: str) -> tuple[int, ...]:
    return tuple(int(v) for v in s.split(",") if v.strip())


def _floats(s: str) -> tuple[float, ...]:
    return tuple(float(v) for v in s.split(",") if v.strip())


def _bools(s: str) -> tuple[bool, ...]:
    return tuple(v.strip().lower() in ("1", "true", "yes", "y") for v in s.split(",") if v.strip())


def _wbits(s: str) -> float:
    try:
        return check_wbits(float(s))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _dbits(s: str) -> int:
    v = int(s)
    if not 0 <= v <= 6:
        raise argparse.ArgumentTypeError("dbits must be 0 (no delays) or 1..6 (D = 2^dbits <= 64)")
    return v


def _epochs(s: str) -> int:
    """--epochs: a whole number >= 1, refused before anything is written (train.check_epochs)."""
    from .train import check_epochs
    try:
        return check_epochs(int(s))
    except ValueError:         # not a whole number, or below 1 (TrainError is a ValueError)
        raise argparse.ArgumentTypeError(f"{s!r} is not a number of epochs (expected a whole "
                                         f"number of at least 1)") from None


def parser() -> argparse.ArgumentParser:
    """`python -m delay_training train ...`: the options of `delaysnn train` under `train`."""
    p = argparse.ArgumentParser(prog="python -m delay_training",
                                description="Train delay SNNs that run bit-exactly on the core.")
    sub = p.add_subparsers(dest="command", required=True)
    add_arguments(sub.add_parser("train", help="train, select on validation, test, export, plot, "
                                 "report", formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    return p


def add_arguments(t: argparse.ArgumentParser) -> None:
    """The training options (delaysnn train); None: the task's default."""
    t.add_argument("--task", required=True, choices=TASKS,
                   help="data set and its defaults (docs/training.md)")
    t.add_argument("--wbits", type=_wbits, help="1.58 (ternary), 2..8, or 32 (float, no export)")
    t.add_argument("--dbits", type=_dbits, help="delay bits: D = 2^dbits; 0 = no delays")
    t.add_argument("--epochs", type=_epochs, help="passes over the training data")
    t.add_argument("--seed", type=int, help="seed of the initial parameters and the batch order")
    t.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    t.add_argument("--out", help="output folder; None: build/train/<name>")
    t.add_argument("--name", help="run name; None: the task and every option that differs from "
                                  "its defaults, e.g. fsdd-in-h128")
    t.add_argument("--report", help="report path; None: build/reports/train-<name>.json")
    t.add_argument("--batch-size", type=int, help="training samples per optimiser step")
    t.add_argument("--lr", type=float, help="learning rate of the weights")
    t.add_argument("--lr-delay", type=float, help="learning rate of the delays (own param group)")
    t.add_argument("--delay-l2", type=float, help="L2 penalty on the delays (mean squared steps)")
    t.add_argument("--sizes", type=_ints, help="LIF layer sizes, e.g. 128 or 64,32")
    t.add_argument("--recurrent", type=_bools, help="per LIF layer, e.g. 0,1")
    t.add_argument("--leak", type=_ints, help="per layer incl. readout (shift k or mul 0..256)")
    t.add_argument("--leak-mode", choices=("shift", "mul"),
                   help="shift: v - (v >> leak); mul: (v * leak) >> 8 (docs/core.md 2.2)")
    t.add_argument("--v-bits", type=int, help="membrane register width in bits (8..24)")
    t.add_argument("--reset-mode", type=int, choices=(0, 1),
                   help="after a spike: 0 subtract the threshold, 1 reset to zero")
    t.add_argument("--theta-target", type=int,
                   help="wanted threshold in integer units (chooses each layer's weight_shift)")
    t.add_argument("--init-gain", type=_floats,
                   help="initial weight gain per layer incl. readout, e.g. 2,1")
    t.add_argument("--surrogate", choices=("fast_sigmoid", "gaussian"),
                   help="surrogate gradient of the spike")
    t.add_argument("--surrogate-slope", type=float, help="sharpness of the surrogate gradient")
    t.add_argument("--delay-init", choices=("uniform", "zero", "half"),
                   help="initial delays: uniform over 0..D-1, all zero, or all (D-1)/2")
    t.add_argument("--learn-threshold", action="store_true", default=None,
                   help="learn each LIF layer's threshold register (LSQ-style level step; "
                        "weight_shift stays fixed)")
    t.add_argument("--learn-leak", action="store_true", default=None,
                   help="learn each layer's leak multiplier (needs --leak-mode mul)")
    t.add_argument("--lr-threshold", type=float,
                   help="relative learning rate of the thresholds (x initial threshold); "
                        "None: 2e-3")
    t.add_argument("--lr-leak", type=float,
                   help="learning rate of the leak multipliers; None: 0.1")
    t.add_argument("--weight-decay", type=float,
                   help="decoupled weight decay (AdamW) of the latent weights, e.g. 1: weights "
                        "no gradient holds up shrink against those it does, so fall under the "
                        "ternary cut (0.7 x mean |w|); None: 0")
    t.add_argument("--label-smoothing", type=float, metavar="E",
                   help="training loss: cross-entropy against 1 - E on the label and E / classes "
                        "on every class, e.g. 0.1; None: 0 (plain cross-entropy)")
    t.add_argument("--mixup", type=float, metavar="ALPHA",
                   help="train on blends of two recordings of a batch against the blend of their "
                        "labels: each spike from the sample with probability lam ~ Beta(ALPHA, "
                        "ALPHA), else from its partner, e.g. 0.4; None: 0 (off)")
    t.add_argument("--input-delays", action="store_true", default=None,
                   help="one learned axonal delay per input channel too (the core's input delay "
                        "stage; input counts become 0/1 spikes)")
    t.add_argument("--augment", metavar="SPEC",
                   help="spike-level augmentation of training batches, any of shift=S (channels), "
                        "stretch=A (time factor 1 +- A), time=S (steps), mask=W (channel band), "
                        "drop=P (spike deletion), e.g. shift=24,stretch=0.15 (docs/training.md)")
    t.add_argument("--front-end", metavar="SPEC",
                   help="spoken digits: cochlea settings other than the defaults, NAME=VALUE,... "
                        "with NAME one of n_channels, f_min, f_max, dt, n_steps, dynamic_range_db, "
                        "max_rate, tilt_degree (0-3), span_steps, smooth_erb (0-4 ERB), "
                        "speaker_norm (0/1: each speaker's reference spectrum subtracted), "
                        "adapt_ms, adapt_gain (adaptation: onsets stand out), denoise_pct (0-50), "
                        "denoise_over_db (noise floor: a steady hiss goes), e.g. "
                        "tilt_degree=1,smooth_erb=1; A+B: two cochleas side by side, e.g. "
                        "tilt_degree=1+speaker_norm=1 (docs/datasets.md; recorded in the export)")
    t.add_argument("--voices", metavar="SPEC",
                   help="spoken digits: N perturbed copies of the training recordings, each "
                        "recording drawing speed 1 +- S, microphone tilt +- A and noise SNR in "
                        "[LO, HI] dB, e.g. copies=2,speed=0.1,tilt=0.6,snr=10:40 (docs/training.md)")
    t.add_argument("--tts", metavar="SPEC",
                   help="spoken digits: synthetic speakers added to the training split: N espeak-ng "
                        "voices (accent, variant, speed, pitch drawn per speaker) and M flite voices "
                        "(voice, vocal-tract length, pitch, duration), A foreign-accented espeak-ng "
                        "voices (first language, accent strength) and F festival voices (drawn like "
                        "flite's) saying every digit `takes` times, e.g. "
                        "voices=200,flite=200,festival=200,takes=2,snr=10:40 (make install installs "
                        "all three engines)")
    t.add_argument("--speaker-adversary", type=float, metavar="S",
                   help="spoken digits: a speaker classifier reads the real speakers from the hidden "
                        "spike rates and its gradient into the network is reversed, scaled up to S "
                        "over the run, so that the network hides who is speaking, e.g. 0.3; "
                        "None: 0 (off) (docs/training.md)")
    t.add_argument("--real-speakers", type=int, metavar="N",
                   help="leave one speaker out: train and validate on only N of the real training "
                        "speakers (those after the held-out one by name, wrapping round; synthetic "
                        "ones kept), for a learning curve over the number of voices; None: all")
    t.add_argument("--n-train", type=int, help="use only the first N training samples")
    t.add_argument("--test-speaker", help="fsdd-loso: held-out speaker; None: the first by name")
    t.add_argument("--tonic-root", metavar="DIR", help="tonic:SHD / tonic:SSC: the folder tonic "
                   "reads, holding SHD/shd_train.h5 ...; never downloads; None: the data root")
    t.add_argument("--device", help="cpu or cuda; None: cuda if available")
    t.add_argument("--threads", type=int, help="torch CPU threads (0: torch's default); None: 1")
    t.add_argument("--throttle", type=float, help=argparse.SUPPRESS)
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    """`python -m delay_training`: a user's mistake is argparse's usage line and message, exit 2."""
    p = parser()
    return run_parsed(p, run, argv)


def run(args: argparse.Namespace) -> int:
    """Train with the options (delaysnn train); a setting that cannot be is a TrainError."""
    from .train import TrainError, make_config, train
    keys = ("wbits", "dbits", "epochs", "seed", "out", "name", "report", "batch_size", "lr", "lr_delay",
            "delay_l2", "sizes", "recurrent", "leak", "leak_mode", "v_bits", "reset_mode",
            "theta_target", "init_gain", "surrogate", "surrogate_slope", "delay_init", "n_train",
            "test_speaker", "tonic_root", "device", "throttle", "threads", "learn_threshold", "learn_leak",
            "lr_threshold", "lr_leak", "weight_decay", "label_smoothing", "mixup", "input_delays", "augment", "front_end", "voices", "tts",
            "speaker_adversary", "real_speakers")
    try:
        cfg = make_config(args.task, **{k: getattr(args, k) for k in keys})
    except ValueError as e:        # e.g. --learn-leak with the shift leak: a usage error
        raise TrainError(str(e)) from None
    report = train(cfg, resume=args.resume, progress=not args.quiet)
    print(f"{cfg.name}: test accuracy {report['test_acc']:.4f} (selected epoch "
          f"{report['selected_epoch']}, validation {report['val_acc']:.4f}); report {cfg.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
