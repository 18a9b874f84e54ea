"""`make learn-demo` / `delaysnn learn`: the on-chip learning demonstrations on the bit-exact
golden learner. (Learning on a deployed board: `delaysnn run --deployed FOLDER --learn PRESET`.)

Writes build/reports/onchip-<demo>.json and build/plots/onchip-<demo>-*.png (learning curves,
delay histograms). `--only sequence lag fsdd` picks demos; `--seed` reseeds them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .demos import sequence_demo, lag_demo, fsdd_demo

ROOT = Path(__file__).resolve().parents[2]


def _fig(w, h):
    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_curves(curves: dict, path: Path, title: str) -> Path:
    fig = _fig(6, 3.5)
    ax = fig.add_subplot()
    for name, c in curves.items():
        ax.plot(c["samples"], [100 * a for a in c["eval_acc"]], marker=".", label=name)
    ax.set_xlabel("training samples presented (one LEARN each)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(0, 102)
    ax.legend()
    ax.set_title(title)
    fig.savefig(path)
    return path


def plot_delays(delays: dict, depth: int, path: Path, title: str) -> Path:
    fig = _fig(6, 3.2)
    ax = fig.add_subplot()
    bins = np.arange(depth + 1) - 0.5
    for name, d in delays.items():
        ax.hist(np.asarray(d), bins=bins, alpha=0.6, label=name)
    ax.set_xlabel("delay (steps)")
    ax.set_ylabel("neurons")
    ax.legend()
    ax.set_title(title)
    fig.savefig(path)
    return path


DEMOS = ("sequence", "lag", "fsdd")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The demonstrations' options (delaysnn learn)."""
    ap.add_argument("--only", nargs="*", choices=DEMOS, default=list(DEMOS), metavar="DEMO",
                    help="the demonstrations to run: " + ", ".join(DEMOS))
    ap.add_argument("--seed", type=int, default=0, help="seed of every demonstration")
    ap.add_argument("--fsdd-epochs", type=int, default=12,
                    help="fsdd: passes over the training samples")
    ap.add_argument("--fsdd-engine", choices=("fast", "golden"), default="fast",
                    help="fast: the vectorised pair-R replica (tested equal to the golden learner)")


def main(argv=None) -> int:
    """`python -m onchip_learning`: the options of `delaysnn learn`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the chosen demonstrations; reports and plots under build/."""
    torch.set_num_threads(1)
    reports, plots = ROOT / "build" / "reports", ROOT / "build" / "plots"
    reports.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        if name == "sequence":
            rep, extra = sequence_demo(seed=args.seed)
            plot_curves({"delays learn": rep["curve"]}, plots / "onchip-sequence-curve.png",
                        "a. sequence detection, on-chip delay learning")
            plot_delays({"start": extra["params"].layers[0].delay.tolist(),
                         "learned": rep["delays_layer1"]}, 16, plots / "onchip-sequence-delays.png",
                        "a. delays of the relay layer")
            print(f"a. sequence detection: test {100 * rep['test_accuracy_start']:.1f} % -> "
                  f"{100 * rep['test_accuracy']:.1f} %")
        elif name == "lag":
            rep, extra = lag_demo(seed=args.seed)
            plot_curves({m: r["curve"] for m, r in rep["runs"].items()}, plots / "onchip-lag-curve.png",
                        "b. lag classes: on-chip learning")
            plot_delays({m: r["delays_layer1"] for m, r in rep["runs"].items()}, 32,
                        plots / "onchip-lag-delays.png", "b. delays of the relay layer")
            print("b. lag classes: " + ", ".join(f"{m} {100 * r['test_accuracy']:.1f} %"
                                                  for m, r in rep["runs"].items())
                  + f" (gain {rep['gain_points']:.1f} points)")
        elif name == "fsdd":
            rep, extra = fsdd_demo(seed=args.seed, epochs=args.fsdd_epochs, engine=args.fsdd_engine)
            plot_curves({"on-chip": rep["curve"]}, plots / "onchip-fsdd-curve.png",
                        "c. spiking FSDD, on-chip learning")
            plot_delays({"learned": rep["delays_hidden"]}, 32, plots / "onchip-fsdd-delays.png",
                        "c. delays of the hidden layer")
            print(f"c. FSDD: test {100 * rep['test_accuracy']:.1f} %")
        else:
            print(f"unknown demo {name!r}; expected sequence, lag or fsdd", file=sys.stderr)
            return 2
        rep["plots"] = sorted(str(p.relative_to(ROOT)) for p in plots.glob(f"onchip-{name}-*.png"))
        out = reports / f"onchip-{name}.json"
        out.write_text(json.dumps(rep, indent=2, default=float))
        print(f"   -> {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
