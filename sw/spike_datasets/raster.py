"""Command line: save a raster plot of a few samples of any data set.

    python -m spike_datasets.raster --task fsdd --out build/plots/fsdd-raster.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .base import SpikeDataset
from .cochlea import CochleaConfig
from .delay_task import make_delay_task
from .fsdd import load_fsdd
from .paths import repo_root
from .plots import raster
from .sequence import make_sequence_detection
from .shd import load_hdf5
from .yinyang import load_yinyang

TASKS = ("sequence", "delay", "yinyang", "fsdd", "shd")


def build(args: argparse.Namespace) -> SpikeDataset:
    if args.task == "sequence":
        return make_sequence_detection(n_samples=100, seed=args.seed)
    if args.task == "delay":
        return make_delay_task(n_samples=100, seed=args.seed)
    if args.task == "yinyang":
        return load_yinyang(args.split)
    if args.task == "fsdd":
        return load_fsdd(args.split, protocol=args.protocol, test_speaker=args.test_speaker,
                    config=CochleaConfig(n_channels=args.channels))
    if args.hdf5 is None:
        raise SystemExit("--task shd needs --hdf5 PATH")
    return load_hdf5(args.hdf5, dt=args.dt)


def first_of_each_class(dataset: SpikeDataset, n: int) -> list[int]:
    """One sample of each of the first `n` classes present (falls back to the first samples)."""
    labels = dataset.labels.numpy()
    classes = np.unique(labels)[:n]
    picks = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    return picks if len(picks) == min(n, len(dataset)) else list(range(min(n, len(dataset))))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m spike_datasets.raster",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--out", type=Path, help="PNG path (default build/plots/<task>-raster.png)")
    parser.add_argument("--indices", type=int, nargs="+", help="samples to plot (default: one per class)")
    parser.add_argument("-n", type=int, default=4, help="number of samples when --indices is not given")
    parser.add_argument("--split", default="test")
    parser.add_argument("--protocol", default="official", choices=("official", "speaker"))
    parser.add_argument("--test-speaker")
    parser.add_argument("--channels", type=int, default=700, help="FSDD cochlea channels")
    parser.add_argument("--hdf5", type=Path, help="SHD/SSC file for --task shd")
    parser.add_argument("--dt", type=float, default=0.01, help="bin width in s for --task shd")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    dataset = build(args)
    indices = args.indices or first_of_each_class(dataset, args.n)
    out = args.out or (repo_root() or Path.cwd()) / "build" / "plots" / f"{args.task}-raster.png"
    path = raster(dataset, indices, out)
    print(f"{dataset}\nwrote {path}")
    return path


if __name__ == "__main__":
    main()
