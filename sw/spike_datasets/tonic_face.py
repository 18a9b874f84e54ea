"""tonic's shape for the kit's data sets, and tonic's data sets for the kit's training.

The face: `TonicFace.from_dataset(ds)` (FSDD spikes, Yin-Yang, the generated tasks, a binned SHD
file) or `TonicFace.from_hdf5(path)` (the SHD/SSC file's own spike times) behaves like a tonic
dataset: `face[i]` is `(events, target)` with events in tonic's audio layout (a structured array
with fields t [microseconds], x [channel], p [1], the dtype of `tonic.datasets.SHD`), and
`sensor_size`, `ordering`, `dtype`, `classes`, `transform`, `target_transform` as tonic has them,
so tonic's transforms (`ToFrame`, `Downsample`, ...) and collation apply. The face needs only
numpy; tonic is imported only by the reverse.

The reverse: `from_tonic(dataset)` bins any dataset that yields tonic audio events into a
`SpikeDataset`, and `load_tonic("SHD", "train", root)` opens `tonic.datasets.SHD` (or SSC) over
files the user already has: tonic 1.7.0 downloads at run time, which is impossible here, so a
missing file is an error naming it, never a download. See docs/datasets.md, "tonic".
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from corespec.errors import UserError

from .base import SpikeDataset
from .errors import CorruptDataError, MissingDataError
from .events import AUDIO_DTYPE, ORDERING, bin_steps, raster_to_events, time_steps
from .paths import data_root
from .shd import LAYOUT, read_hdf5

# A step of a task defined in abstract steps (Yin-Yang, the generated tasks) lasts this long in
# the face's microseconds, so that tonic's time-based transforms have a unit to work in.
ABSTRACT_STEP_US = 1000

# The tonic audio sets the training can use: (class, split) -> (constructor keywords, file).
TONIC_FILES = {
    ("SHD", "train"): ({"train": True}, "shd_train.h5"),
    ("SHD", "test"): ({"train": False}, "shd_test.h5"),
    ("SSC", "train"): ({"split": "train"}, "ssc_train.h5"),
    ("SSC", "validation"): ({"split": "valid"}, "ssc_valid.h5"),
    ("SSC", "test"): ({"split": "test"}, "ssc_test.h5"),
}
TONIC_INSTALL = "pip install -c constraints.txt -e '.[tonic]' (docs/datasets.md, tonic)"


class MissingPackageError(UserError, ImportError):
    """An optional package a command needs is not installed."""


class TonicFace:
    """A tonic-style dataset over the kit's spikes: `face[i] -> (events, target)`.

    Built with `from_dataset` or `from_hdf5`; `events_of(i)` gives sample i's events before the
    transform, a fresh array each time (tonic's transforms may write into it).
    """

    dtype = AUDIO_DTYPE
    ordering = ORDERING

    def __init__(self, events_of: Callable[[int], np.ndarray], targets: Sequence[int],
                 n_channels: int, classes: Sequence[str], name: str, step_us: int | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None):
        self.events_of = events_of
        self.targets = [int(t) for t in targets]
        self.sensor_size = (int(n_channels), 1, 1)
        self.classes = list(classes)
        self.name = name
        self.step_us = step_us
        self.transform = transform
        self.target_transform = target_transform

    @classmethod
    def from_dataset(cls, dataset: SpikeDataset, transform: Callable | None = None,
                     target_transform: Callable | None = None,
                     step_us: int | None = None) -> "TonicFace":
        """Each spike of the raster becomes one event at t = step * step_us; step_us defaults
        to the set's dt in microseconds, or ABSTRACT_STEP_US for sets without a dt."""
        step_us = int(step_us) if step_us is not None else _step_us(dataset)
        classes = dataset.class_names or tuple(str(k) for k in range(dataset.n_classes))
        return cls(lambda i: raster_to_events(dataset.spikes[i].numpy(), step_us),
                   dataset.labels.tolist(), dataset.n_channels, classes, dataset.name, step_us,
                   transform, target_transform)

    @classmethod
    def from_hdf5(cls, path: str | Path, n_channels: int = 700, transform: Callable | None = None,
                  target_transform: Callable | None = None) -> "TonicFace":
        """The file's own spike times, converted as tonic.datasets.SHD does (seconds x 1e6,
        truncated to integer microseconds), so both give the same arrays."""
        raw = read_hdf5(path, n_channels)
        bounds = np.concatenate([[0], np.cumsum(raw.counts)])
        t_us = np.trunc(raw.times * 1e6).astype(np.int64)

        def events_of(i: int) -> np.ndarray:
            events = np.empty(int(raw.counts[i]), dtype=AUDIO_DTYPE)
            events["t"] = t_us[bounds[i]:bounds[i + 1]]
            events["x"] = raw.units[bounds[i]:bounds[i + 1]]
            events["p"] = 1
            return events

        n_classes = int(raw.labels.max(initial=-1)) + 1
        classes = _decoded(raw.keys) if raw.keys is not None else [str(k) for k in range(n_classes)]
        return cls(events_of, raw.labels.tolist(), n_channels, classes, Path(path).stem, None,
                   transform, target_transform)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        events, target = self.events_of(index), self.targets[index]
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return events, target

    def __repr__(self) -> str:
        step = f", step {self.step_us} us" if self.step_us else ""
        return f"TonicFace({self.name!r}, {len(self)} samples, sensor_size={self.sensor_size}{step})"


def _step_us(dataset: SpikeDataset) -> int:
    """The data set's step in whole microseconds (tonic's time unit is an integer)."""
    if dataset.dt is None:
        return ABSTRACT_STEP_US
    step = round(dataset.dt * 1e6)
    if step < 1 or abs(step - dataset.dt * 1e6) > 1e-6:
        raise ValueError(f"{dataset.name}: dt = {dataset.dt} s is not a whole number of "
                         f"microseconds; pass step_us")
    return step


def _decoded(keys) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else str(k) for k in keys]


# -- the reverse: tonic data sets into the kit ---------------------------------------------------

def from_tonic(dataset, dt: float = 0.01, n_steps: int = 100, n_channels: int | None = None,
               n_classes: int | None = None, name: str | None = None,
               progress: bool = False) -> SpikeDataset:
    """Every sample of a dataset yielding `(events, target)` with tonic audio events, binned into
    `n_steps` steps of `dt` seconds (step k holds k*dt <= t < (k+1)*dt; t in microseconds).

    `n_channels` defaults to `sensor_size[0]`, `n_classes` to `len(classes)` (else the largest
    target + 1). Spikes past the window are dropped, two in one bin merged; both are counted in
    `meta` / `info` as `load_hdf5` counts them. A sample that is not audio events (a transform
    that made frames, a camera's x/y events) or a channel outside the sensor raises
    CorruptDataError naming the data set and the sample.
    """
    from tqdm import tqdm
    where = _where(dataset)
    if dt <= 0 or n_steps < 1:
        raise ValueError("dt and n_steps must be positive")
    n_channels = int(n_channels) if n_channels is not None else _sensor_channels(dataset, where)
    times, channels, counts, targets = [], [], [], []
    for i in tqdm(range(len(dataset)), desc=f"{where.name} events", unit="sample",
                  disable=not progress):
        events, target = dataset[i]
        t, x = _audio_events(events, where, i, n_channels)
        times.append(t), channels.append(x), counts.append(t.size)
        targets.append(_target(target, where, i))
    n = len(targets)
    sample = np.repeat(np.arange(n), counts)
    t_all = np.concatenate(times) if times else np.zeros(0)
    x_all = np.concatenate(channels) if channels else np.zeros(0, np.int64)
    steps = time_steps(t_all, dt * 1e6)
    spikes, dropped, merged = bin_steps(sample, steps, x_all, n, n_steps, n_channels)
    class_names = _class_names(dataset)
    labels = np.asarray(targets, dtype=np.int64)
    n_classes = n_classes or max(len(class_names or ()), int(labels.max(initial=-1)) + 1)
    if class_names is not None and len(class_names) != n_classes:
        class_names = None
    return SpikeDataset(
        name=name or where.name, spikes=spikes, labels=labels, n_classes=n_classes, dt=dt,
        class_names=class_names, meta={"dropped": dropped, "merged": merged},
        info={"source": str(where), "from": "tonic audio events", "dropped": int(dropped.sum()),
              "merged": int(merged.sum()), "window_s": n_steps * dt},
    )


def _where(dataset) -> Path:
    """What an error names: a tonic dataset's file when it has one, else its class name."""
    location, filename = getattr(dataset, "location_on_system", None), getattr(dataset, "data_filename", None)
    if location and filename:
        return Path(location) / filename
    return Path(getattr(dataset, "name", None) or type(dataset).__name__)


def _sensor_channels(dataset, where: Path) -> int:
    size = getattr(dataset, "sensor_size", None)
    if not size or any(int(s) != 1 for s in tuple(size)[1:2]):
        raise CorruptDataError(where, f"sensor_size {size!r}; expected an audio sensor "
                                      f"(channels, 1, 1), or pass n_channels")
    return int(size[0])


def _audio_events(events, where: Path, i: int, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(t, x) of one sample, checked to be tonic audio events within the sensor."""
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    if "t" not in names or "x" not in names:
        got = f"fields {names}" if names else f"{type(events).__name__} {getattr(events, 'shape', '')}"
        raise CorruptDataError(where, f"sample {i}: {got}; expected tonic audio events (a "
                                      f"structured array with fields t [us] and x [channel])")
    if "y" in names and np.any(events["y"] != 0):
        raise CorruptDataError(where, f"sample {i}: events with x and y (a 2-D sensor); "
                                      f"expected audio events (channel x only)")
    t, x = np.asarray(events["t"], dtype=np.float64), np.asarray(events["x"])
    if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
        raise CorruptDataError(where, f"sample {i}: event times must be finite and >= 0 (us)")
    if x.size and (x.min() < 0 or x.max() >= n_channels):
        bad = int(x[(x < 0) | (x >= n_channels)][0])
        raise CorruptDataError(where, f"sample {i}: channel x = {bad} outside 0..{n_channels - 1}")
    return t, x.astype(np.int64)


def _target(target, where: Path, i: int) -> int:
    value = np.asarray(target)
    if value.size != 1 or value.dtype.kind not in "iu" or int(value.reshape(-1)[0]) < 0:
        raise CorruptDataError(where, f"sample {i}: target {target!r}; expected one class "
                                      f"number >= 0")
    return int(value.reshape(-1)[0])


def _class_names(dataset) -> tuple[str, ...] | None:
    classes = getattr(dataset, "classes", None)
    if classes is None or isinstance(classes, (str, bytes)):
        return None
    return tuple(_decoded(classes))


def _tonic_datasets():
    """tonic.datasets, or one line saying how to install it."""
    try:
        import tonic.datasets
    except ImportError as err:
        raise MissingPackageError(f"tonic: cannot import it ({err}); expected the tonic package "
                                  f"(1.7.0): {TONIC_INSTALL}") from None
    return tonic.datasets


@functools.lru_cache(maxsize=None)
def _offline(cls):
    """`cls` with a download() that only checks the file is there. tonic 1.7.0 downloads whenever
    its archive (e.g. shd_train.h5.zip) is not beside the .h5, which is so for every copy
    unpacked by hand; nothing can be downloaded here. Same class name, because tonic's folder is
    `save_to/<class name>`."""
    def download(self):
        path = Path(self.location_on_system) / self.data_filename
        if not path.is_file():
            raise MissingDataError(path, f"missing file; tonic cannot download here: put the "
                                         f"{cls.__name__} file there")
    return type(cls.__name__, (cls,), {"download": download, "__doc__": cls.__doc__,
                                       "__module__": __name__})


def open_tonic(name: str, split: str, root: str | Path | None = None):
    """`tonic.datasets.<name>` over `<root>/<name>/<file>` (root: the data root by default),
    the file checked first so that tonic never tries to download it."""
    if (name, split) not in TONIC_FILES:
        known = sorted({f"{n}/{s}" for n, s in TONIC_FILES})
        raise ValueError(f"no tonic set {name}/{split}; expected one of {known}")
    kwargs, filename = TONIC_FILES[name, split]
    root = Path(root).expanduser() if root else data_root()
    path = root / name / filename
    if not path.is_file():
        raise MissingDataError(path, f"missing file; expected the {name} {split} file ({LAYOUT}) "
                                     f"in tonic's folder <root>/{name}/ (pass --tonic-root DIR)")
    cls = _offline(getattr(_tonic_datasets(), name))
    try:
        return cls(save_to=str(root), **kwargs)
    except (KeyError, OSError) as err:
        raise CorruptDataError(path, f"tonic.datasets.{name} cannot read it ({err}); expected "
                                     f"{LAYOUT}, extra/keys and extra/speaker") from None


def load_tonic(name: str, split: str, root: str | Path | None = None, dt: float = 0.01,
               n_steps: int = 100, progress: bool = False) -> SpikeDataset:
    """One split of a tonic audio set (SHD, SSC) read through tonic itself, binned."""
    return from_tonic(open_tonic(name, split, root), dt=dt, n_steps=n_steps,
                      name=f"tonic:{name}/{split}", progress=progress)
