"""The training tasks: train / validation / test splits of each data set, and per-task defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

import spike_datasets as sd
from spike_datasets import SpikeDataset

TASKS = ("seqdet", "delaytask", "yinyang", "fsdd", "fsdd-loso")


@dataclass
class Splits:
    train: SpikeDataset
    val: SpikeDataset
    test: SpikeDataset
    info: dict = field(default_factory=dict)


def load_task(task: str, n_train: int | None = None, test_speaker: str | None = None,
              progress: bool = False) -> Splits:
    """The three splits of a task. Generated tasks draw train / validation / test with seeds
    0 / 1 / 2 (same classes, independent samples); Yin-Yang and FSDD use their published or
    fixed splits. Missing data raises the data set's own error (spike_datasets.MissingDataError).
    `n_train` truncates the training set (for quick runs and tests)."""
    if task == "seqdet":
        kw = dict(n_steps=48, lag=10, jitter=4)
        s = Splits(sd.make_sequence_detection(n_samples=n_train or 1000, seed=0, **kw),
                   sd.make_sequence_detection(n_samples=200, seed=1, **kw),
                   sd.make_sequence_detection(n_samples=200, seed=2, **kw), {"generator": kw})
    elif task == "delaytask":
        kw = dict(n_classes=4, n_channels=4, n_steps=100)
        s = Splits(sd.make_delay_task(n_samples=n_train or 2000, seed=0, **kw),
                   sd.make_delay_task(n_samples=400, seed=1, **kw),
                   sd.make_delay_task(n_samples=400, seed=2, **kw), {"generator": kw})
    elif task == "yinyang":
        s = Splits(sd.load_yinyang("train"), sd.load_yinyang("validation"), sd.load_yinyang("test"))
    elif task == "fsdd":
        s = Splits(*(sd.load_fsdd(split, progress=progress) for split in ("train", "validation", "test")),
                   {"protocol": "official"})
    elif task == "fsdd-loso":
        if test_speaker is None:
            speakers = sorted({r.speaker for r in sd.list_recordings()})
            test_speaker = speakers[0]
        s = Splits(*(sd.load_fsdd(split, protocol="speaker", test_speaker=test_speaker, progress=progress)
                     for split in ("train", "validation", "test")),
                   {"protocol": "speaker", "test_speaker": test_speaker})
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if n_train is not None and s.train.n_samples > n_train:
        s.train = s.train.subset(range(n_train))
    s.info.update({"n_train": s.train.n_samples, "n_val": s.val.n_samples, "n_test": s.test.n_samples,
                   "n_steps": s.train.n_steps, "n_channels": s.train.n_channels,
                   "n_classes": s.train.n_classes, "names": [s.train.name, s.val.name, s.test.name]})
    return s
