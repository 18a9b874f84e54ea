"""Yin-Yang (Kriener et al. 2021), published split, as single-spike time-to-first-spike inputs.

Each of the four coordinates (x, y, 1-x, 1-y) becomes one spike at step
`round(value * (n_steps - 1))` (halves round up), so 0 fires first and 1 fires last; an optional
bias channel fires at step 0 of every sample and gives the network a time reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import SpikeDataset
from .errors import CorruptDataError
from .paths import dataset_dir, require_file

SPLITS = ("train", "validation", "test")
CLASS_NAMES = ("yin", "yang", "dot")


def _load_npy(path: Path, expected: str) -> np.ndarray:
    require_file(path, expected)
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise CorruptDataError(path, f"not a .npy file (no NUMPY header); expected {expected}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises ValueError, OSError, EOFError... for broken files
        raise CorruptDataError(path, f"not a readable .npy file ({str(err) or type(err).__name__}); "
                                     f"expected {expected}") from err


def load_split(split: str, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw `(samples [n, 4] float64, labels [n] int64)` of one published split, validated."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    folder = dataset_dir("yinyang", root)
    samples_path = folder / f"{split}_samples.npy"
    labels_path = folder / f"{split}_labels.npy"
    samples = _load_npy(samples_path, "float array of shape (n, 4) with values in [0, 1]")
    labels = _load_npy(labels_path, "integer array of shape (n,) with values 0, 1, 2")
    if samples.ndim != 2 or samples.shape[1] != 4 or samples.dtype.kind != "f":
        raise CorruptDataError(samples_path, f"expected a float array of shape (n, 4), "
                                             f"got {samples.dtype} {samples.shape}")
    if not np.all(np.isfinite(samples)) or samples.min() < 0 or samples.max() > 1:
        raise CorruptDataError(samples_path, "expected values in [0, 1]")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise CorruptDataError(labels_path, f"expected an integer array of shape (n,), "
                                            f"got {labels.dtype} {labels.shape}")
    if labels.shape[0] != samples.shape[0]:
        raise CorruptDataError(labels_path, f"{labels.shape[0]} labels for {samples.shape[0]} samples "
                                            f"in {samples_path.name}")
    if labels.size and (labels.min() < 0 or labels.max() > 2):
        raise CorruptDataError(labels_path, "expected labels 0 (yin), 1 (yang), 2 (dot)")
    return samples.astype(np.float64), labels.astype(np.int64)


def spike_steps(values: np.ndarray, n_steps: int) -> np.ndarray:
    """The encoding: value v in [0, 1] -> step floor(v * (n_steps - 1) + 0.5)."""
    return np.floor(np.asarray(values) * (n_steps - 1) + 0.5).astype(np.int64)


def load_yinyang(split: str = "train", n_steps: int = 32, bias: bool = True,
            root: str | Path | None = None) -> SpikeDataset:
    """One published split: 4 channels (x, y, 1-x, 1-y) plus channel 4 = bias if `bias`."""
    if n_steps < 2:
        raise ValueError("need at least 2 steps")
    samples, labels = load_split(split, root)
    n = samples.shape[0]
    steps = spike_steps(samples, n_steps)
    n_channels = 5 if bias else 4
    spikes = np.zeros((n, n_steps, n_channels), dtype=np.uint8)
    spikes[np.arange(n)[:, None], steps, np.arange(4)[None, :]] = 1
    if bias:
        spikes[:, 0, 4] = 1
    return SpikeDataset(
        name=f"yinyang/{split}", spikes=spikes, labels=labels, n_classes=3, class_names=CLASS_NAMES,
        meta={"values": samples},
        info={"split": split, "encoding": "t = floor(v * (T - 1) + 0.5)",
              "bias_channel": 4 if bias else None},
    )
