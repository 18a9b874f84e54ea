"""The training tasks: train / validation / test splits of each data set, and per-task defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

import spike_datasets as sd
from corespec.errors import UserError
from spike_datasets import SpikeDataset
from spike_datasets.cochlea import front_end_config
from spike_datasets.tonic_face import TONIC_FILES

# tonic:<set> reads the set through tonic.datasets.<set> from --tonic-root (spike_datasets.tonic_face)
TONIC_TASKS = ("tonic:SHD", "tonic:SSC")
TASKS = ("seqdet", "delaytask", "yinyang", "fsdd", "fsdd-loso") + TONIC_TASKS
# the tasks made from our own recordings through the cochlea (--front-end, --voices apply)
AUDIO_TASKS = ("fsdd", "fsdd-loso")
# SHD publishes no validation split: this share of its training file, drawn with this seed
HELD_OUT_FRACTION, HELD_OUT_SEED = 0.1, 0


class TaskError(UserError, ValueError):
    """A data option that the data found cannot meet (more real speakers than a fold has)."""


@dataclass
class Splits:
    train: SpikeDataset
    val: SpikeDataset
    test: SpikeDataset
    info: dict = field(default_factory=dict)


def task_slug(task: str) -> str:
    """The task as a file-name part: `tonic:SHD` -> `tonic-SHD` (no colon in folder names)."""
    return task.replace(":", "-")


def held_out(dataset: SpikeDataset) -> tuple[SpikeDataset, SpikeDataset]:
    """(train, validation) of a set published without a validation split: a seeded
    HELD_OUT_FRACTION of it (at least one sample) for validation, both kept in file order."""
    order = np.random.default_rng(HELD_OUT_SEED).permutation(dataset.n_samples)
    n_val = max(1, round(HELD_OUT_FRACTION * dataset.n_samples))
    return (dataset.subset(np.sort(order[n_val:]), name=dataset.name),
            dataset.subset(np.sort(order[:n_val]), name=dataset.name.replace("/train", "/validation")))


def tonic_splits(task: str, root: str | None, progress: bool) -> Splits:
    """A tonic audio set's splits, each read through tonic.datasets (files under `root`, else
    the data root; spike_datasets.tonic_face.open_tonic), binned at the FSDD front end's 10 ms x
    100 steps."""
    name = task.split(":", 1)[1]
    train = sd.load_tonic(name, "train", root, progress=progress)     # a missing root names it
    if (name, "validation") in TONIC_FILES:
        val = sd.load_tonic(name, "validation", root, progress=progress)
        held = {"validation": "the published validation split"}
    else:
        train, val = held_out(train)
        held = {"validation": f"{HELD_OUT_FRACTION:.0%} of the training file "
                              f"(seed {HELD_OUT_SEED})"}
    test = sd.load_tonic(name, "test", root, progress=progress)
    return Splits(train, val, test, {"source": "tonic", "tonic_set": name, "tonic_root": root,
                                     "dt": train.dt, **held})


def with_voices(train: SpikeDataset, copies, config, protocol: str, test_speaker: str | None,
                progress: bool) -> SpikeDataset:
    """The training split followed by one perturbed copy of its recordings per entry of `copies`
    (spike_datasets.voices), in the same order with the same labels and meta; validation and
    test are never copied."""
    from spike_datasets.fsdd import encode_recordings, list_recordings, split_indices
    import torch
    recordings = list_recordings()
    chosen = [recordings[i] for i in split_indices(recordings, "train", protocol, test_speaker)]
    spikes = [train.spikes] + [encode_recordings(chosen, config, progress=progress, perturbation=c).spikes
                               for c in copies]
    n = len(spikes)
    return SpikeDataset(name=train.name, spikes=torch.cat(spikes), labels=train.labels.repeat(n),
                        n_classes=train.n_classes, dt=train.dt, class_names=train.class_names,
                        meta={k: torch.as_tensor(v).repeat(n) for k, v in train.meta.items()},
                        info={**train.info, "voices": [c.as_dict() for c in copies]})


def with_tts(train: SpikeDataset, spec, config, progress: bool) -> SpikeDataset:
    """The training split followed by the synthetic speakers' recordings (spike_datasets.tts);
    they all count as one more speaker, "tts", in meta['speaker'] and info['speakers']."""
    from spike_datasets.fsdd import Recording, encode_recordings
    from spike_datasets.paths import cache_dir
    from spike_datasets.tts import (accented_cache_key, cache_key, check_engines, festival_cache_key,
                                    flite_cache_key, generate)
    import torch
    check_engines(spec)
    paths = generate(spec, cache_dir() / "tts" / cache_key(spec), progress=progress) if spec.voices else []
    if spec.flite:
        paths += generate(spec, cache_dir() / "tts" / flite_cache_key(spec), progress, engine="flite")
    if spec.accented:
        paths += generate(spec, cache_dir() / "tts" / accented_cache_key(spec), progress, engine="accented")
    if spec.festival:
        paths += generate(spec, cache_dir() / "tts" / festival_cache_key(spec), progress, engine="festival")
    recordings = [Recording(p, int(p.name.split("_")[0]), p.name.split("_")[1],
                            int(p.stem.split("_")[2])) for p in paths]
    tts = encode_recordings(recordings, config, progress=progress, perturbation=spec.noise())
    speakers = tuple(train.info["speakers"]) + ("tts",)
    meta = {k: torch.cat([torch.as_tensor(v), torch.as_tensor(tts.meta[k])]) for k, v in train.meta.items()}
    meta["speaker"][train.n_samples:] = len(speakers) - 1
    return SpikeDataset(name=train.name, spikes=torch.cat([train.spikes, tts.spikes]),
                        labels=torch.cat([train.labels, tts.labels]), n_classes=train.n_classes,
                        dt=train.dt, class_names=train.class_names, meta=meta,
                        info={**train.info, "speakers": speakers, "tts": spec.as_dict()})


def fsdd_speakers() -> list[str]:
    """The speakers of the FSDD recordings in the data root, by name (a missing data root is the
    data set's own one-line error)."""
    return sorted({r.speaker for r in sd.list_recordings()})


def real_speaker_subset(speakers: Sequence[str], test_speaker: str, n: int) -> list[str]:
    """The `n` real speakers a fold trains and validates on (`--real-speakers N`): those that follow
    the held-out one in alphabetical order, wrapping round, so that over the folds every speaker
    is used equally often. FSDD with george held out and n = 2: jackson, lucas; with yweweler
    held out: george, jackson."""
    ordered = sorted(speakers)
    if test_speaker not in ordered:
        raise ValueError(f"test_speaker must be one of {ordered}, got {test_speaker!r}")
    others = len(ordered) - 1
    if not 1 <= n <= others:
        raise TaskError(f"--real-speakers {n}: expected 1 to {others} (the speakers left when one "
                         f"of the {len(ordered)} is held out), or 0 for all of them")
    i = ordered.index(test_speaker)
    return sorted(ordered[(i + k) % len(ordered)] for k in range(1, n + 1))


def only_speakers(dataset: SpikeDataset, keep: Sequence[str]) -> SpikeDataset:
    """The samples of `dataset` whose speaker (meta['speaker'] indexing info['speakers']) is in
    `keep` or is the synthetic one ("tts"); file order kept."""
    names = dataset.info["speakers"]
    wanted = [names.index(k) for k in (*keep, "tts") if k in names]
    mask = np.isin(dataset.meta["speaker"].numpy(), wanted)
    return dataset.subset(np.flatnonzero(mask), real_speakers=list(keep))


def load_task(task: str, n_train: int | None = None, test_speaker: str | None = None,
              progress: bool = False, tonic_root: str | None = None, front_end: str = "",
              voices: str = "", tts: str = "", real_speakers: int = 0) -> Splits:
    """The three splits of a task. Generated tasks draw train / validation / test with seeds
    0 / 1 / 2 (same classes, independent samples); Yin-Yang and FSDD use their published or
    fixed splits; tonic tasks read files under `tonic_root` (default: the data root) through
    tonic. Missing data raises the data set's own error (spike_datasets.MissingDataError).
    `n_train` truncates the training set (for quick runs and tests). `front_end`: the spoken-digit
    tasks' cochlea settings that differ from the defaults (`CochleaConfig.with_overrides`; `A+B`:
    two cochleas side by side, spike_datasets.cochlea.Views); `voices`: perturbed copies of their
    training recordings (`spike_datasets.voices`); `tts`: synthetic speakers added to their
    training split (`spike_datasets.tts`); `real_speakers` (fsdd-loso): train and validate on only
    that many of the real training speakers (`real_speaker_subset`; 0: all), the synthetic ones
    kept, for a learning curve over the number of voices."""
    cochlea = front_end_config(front_end) if task in AUDIO_TASKS else None   # one cochlea, or Views
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
        s = Splits(*(sd.load_fsdd(split, config=cochlea, progress=progress)
                     for split in ("train", "validation", "test")),
                   {"protocol": "official"})
    elif task == "fsdd-loso":
        if test_speaker is None:
            test_speaker = fsdd_speakers()[0]
        s = Splits(*(sd.load_fsdd(split, protocol="speaker", test_speaker=test_speaker, config=cochlea,
                                  progress=progress)
                     for split in ("train", "validation", "test")),
                   {"protocol": "speaker", "test_speaker": test_speaker})
    elif task in TONIC_TASKS:
        s = tonic_splits(task, tonic_root, progress)
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if voices and task in AUDIO_TASKS:
        from spike_datasets.voices import parse_voices
        s.train = with_voices(s.train, parse_voices(voices), cochlea, s.info["protocol"],
                              s.info.get("test_speaker"), progress)
    if tts and task in AUDIO_TASKS:
        from spike_datasets.tts import parse_tts
        s.train = with_tts(s.train, parse_tts(tts), cochlea, progress)
    if real_speakers and task == "fsdd-loso":
        keep = real_speaker_subset(fsdd_speakers(), s.info["test_speaker"], real_speakers)
        s.train, s.val = only_speakers(s.train, keep), only_speakers(s.val, keep)
        s.info["real_speakers"] = keep
    if n_train is not None and s.train.n_samples > n_train:
        s.train = s.train.subset(range(n_train))
    s.info.update({"n_train": s.train.n_samples, "n_val": s.val.n_samples, "n_test": s.test.n_samples,
                   "n_steps": s.train.n_steps, "n_channels": s.train.n_channels,
                   "n_classes": s.train.n_classes, "names": [s.train.name, s.val.name, s.test.name]})
    return s
