"""Spiking Heidelberg Digits / Spiking Speech Commands from the user's own HDF5 files.

These sets are not shipped with the project; point `load_hdf5` at a downloaded `shd_train.h5`,
`ssc_test.h5`, ... The files hold ragged per-sample spike lists, which are binned onto the same
dense `[N, T, C]` grid as every other data set here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .base import SpikeDataset
from .errors import CorruptDataError, MissingDataError
from .events import bin_steps, time_steps

LAYOUT = "HDF5 with spikes/times (ragged float, s), spikes/units (ragged int) and labels (int)"


def _read(f: h5py.File, path: Path, key: str) -> np.ndarray:
    if key not in f:
        raise CorruptDataError(path, f"missing dataset {key!r}; expected {LAYOUT}")
    try:
        return f[key][()]
    except Exception as err:
        raise CorruptDataError(path, f"cannot read {key!r} ({err}); expected {LAYOUT}") from err


def _flatten(path: Path, key: str, ragged: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate a ragged (object) array; return (values, per-sample lengths)."""
    if ragged.ndim != 1:
        raise CorruptDataError(path, f"{key!r} has shape {ragged.shape}; expected one entry per sample")
    rows = [np.asarray(r) for r in ragged]
    if any(r.ndim != 1 or r.dtype.kind not in kind for r in rows):
        wanted = "float" if kind == "f" else "integer"
        raise CorruptDataError(path, f"{key!r} entries must be 1-d {wanted} arrays")
    lengths = np.array([r.size for r in rows], dtype=np.int64)
    values = np.concatenate(rows) if rows else np.zeros(0)
    return values, lengths


@dataclass
class Hdf5Spikes:
    """The checked content of an SHD/SSC-style file, every spike of every sample in one flat
    array (the binned loader and the tonic face both start from it)."""
    path: Path
    times: np.ndarray             # float64 seconds, samples one after the other
    units: np.ndarray             # int64 channels
    counts: np.ndarray            # spikes per sample
    labels: np.ndarray            # int64
    speaker: np.ndarray | None
    keys: np.ndarray | None

    @property
    def n_samples(self) -> int:
        return self.labels.shape[0]

    def sample_of_spike(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_samples), self.counts)


def read_hdf5(path: str | Path, n_channels: int = 700) -> Hdf5Spikes:
    """Read and check an SHD/SSC-style file (layout above); every problem names the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(path, f"missing file; expected {LAYOUT}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise CorruptDataError(path, f"not a readable HDF5 file ({err}); expected {LAYOUT}") from err
    with f:
        times_r = _read(f, path, "spikes/times")
        units_r = _read(f, path, "spikes/units")
        labels = _read(f, path, "labels")
        speaker = f["extra/speaker"][()] if "extra/speaker" in f else None
        keys = f["extra/keys"][()] if "extra/keys" in f else None

    times, n_times = _flatten(path, "spikes/times", times_r, "f")
    units, n_units = _flatten(path, "spikes/units", units_r, "iu")
    n = labels.shape[0] if labels.ndim == 1 else -1
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise CorruptDataError(path, f"'labels' must be a 1-d integer array, "
                                     f"got {labels.dtype} {labels.shape}")
    if len(n_times) != n or len(n_units) != n:
        raise CorruptDataError(path, f"{len(n_times)} spike-time rows, {len(n_units)} unit rows and "
                                     f"{n} labels; expected one of each per sample")
    if not np.array_equal(n_times, n_units):
        bad = int(np.flatnonzero(n_times != n_units)[0])
        raise CorruptDataError(path, f"sample {bad}: {n_times[bad]} spike times but {n_units[bad]} units")
    if units.size and (units.min() < 0 or units.max() >= n_channels):
        bad = int(np.flatnonzero((units < 0) | (units >= n_channels))[0])
        sample = int(np.searchsorted(np.cumsum(n_units), bad, side="right"))
        raise CorruptDataError(path, f"sample {sample}: unit {int(units[bad])} out of range "
                                     f"0..{n_channels - 1} (n_channels={n_channels})")
    times = times.astype(np.float64)
    if times.size and (not np.all(np.isfinite(times)) or times.min() < 0):
        raise CorruptDataError(path, "spike times must be finite and >= 0 (seconds)")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise CorruptDataError(path, "labels must be >= 0")
    if speaker is not None and np.shape(speaker) != (n,):
        raise CorruptDataError(path, f"'extra/speaker' has shape {np.shape(speaker)}; expected ({n},)")
    return Hdf5Spikes(path, times, units.astype(np.int64), n_times, labels, speaker, keys)


def load_hdf5(
    path: str | Path,
    dt: float = 0.01,
    n_steps: int | None = None,
    max_time: float | None = None,
    n_channels: int = 700,
    n_classes: int | None = None,
    name: str | None = None,
) -> SpikeDataset:
    """Bin an SHD/SSC-style file: step k holds spikes with k*dt <= t < (k+1)*dt.

    The window is `n_steps` steps, or `ceil(max_time / dt)` steps, or 100 steps when neither is
    given; `max_time=math.inf` makes it just long enough for the latest spike. Spikes past the
    window are dropped and counted in `meta['dropped']` (per sample) and `info['dropped']` (total);
    several spikes of one channel in one step become one spike, counted in `meta['merged']` and
    `info['merged']`.
    `n_classes` defaults to the largest label + 1 (pass 20 for SHD, 35 for SSC on small subsets).
    """
    path = Path(path)
    if dt <= 0:
        raise ValueError("dt must be positive")
    if n_steps is not None and max_time is not None:
        raise ValueError("give n_steps or max_time, not both")
    if (n_steps is not None and n_steps < 1) or (max_time is not None and max_time <= 0):
        raise ValueError("n_steps and max_time must be positive")
    raw = read_hdf5(path, n_channels)
    labels, keys, speaker, n = raw.labels, raw.keys, raw.speaker, raw.n_samples
    steps = time_steps(raw.times, dt)
    if max_time == math.inf:
        n_steps = max(int(steps.max(initial=0)) + 1, 1)
    elif max_time is not None:
        n_steps = math.ceil(max_time / dt - 1e-9)
    n_steps = int(n_steps if n_steps is not None else 100)
    spikes, dropped, merged = bin_steps(raw.sample_of_spike(), steps, raw.units, n, n_steps, n_channels)

    n_classes = n_classes if n_classes is not None else int(labels.max(initial=-1)) + 1
    if labels.size and labels.max() >= n_classes:
        raise CorruptDataError(path, f"label {int(labels.max())} out of range for n_classes={n_classes}")
    class_names = None
    if keys is not None and len(keys) == n_classes:
        class_names = tuple(k.decode() if isinstance(k, bytes) else str(k) for k in keys)
    meta = {"dropped": dropped, "merged": merged}
    if speaker is not None:
        meta["speaker"] = np.asarray(speaker).astype(np.int64)
    return SpikeDataset(
        name=name or path.stem, spikes=spikes, labels=labels, n_classes=n_classes, dt=dt,
        class_names=class_names, meta=meta,
        info={"source": path, "dropped": int(dropped.sum()), "merged": int(merged.sum()),
              "window_s": n_steps * dt},
    )
