"""Spiking Free Spoken Digit Dataset: real speech through the cochlea front end, cached on disk.

The front end takes about half a minute for all 2500 recordings at 700 channels, so the spikes
are cached under the cache directory, keyed by a hash of every front-end setting and of the
names and contents of the input files: changing either recomputes, nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .base import SpikeDataset
from .cochlea import CochleaConfig, Views, cochlea_spikes
from .errors import CorruptDataError, MissingDataError
from .paths import cache_dir, dataset_dir
from .voices import Perturbation

FILE_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
SPLITS = ("train", "validation", "test", "all")
PROTOCOLS = ("official", "speaker")
CACHE_VERSION = 1
WAV_FORMAT = "mono 16-bit PCM WAV"


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    index: int


def list_recordings(root: str | Path | None = None) -> list[Recording]:
    """All `<root>/fsdd/recordings/{digit}_{speaker}_{index}.wav`, sorted by speaker, digit, index."""
    folder = dataset_dir("fsdd", root) / "recordings"
    if not folder.is_dir():
        raise MissingDataError(folder, "expected a directory of {digit}_{speaker}_{index}.wav files")
    recordings = []
    for path in folder.glob("*.wav"):
        match = FILE_NAME.match(path.name)
        if match is None:
            raise CorruptDataError(path, "file name does not match {digit}_{speaker}_{index}.wav")
        recordings.append(Recording(path, int(match[1]), match[2], int(match[3])))
    if not recordings:
        raise MissingDataError(folder, "no .wav recordings found")
    return sorted(recordings, key=lambda r: (r.speaker, r.digit, r.index))


def read_wav(path: str | Path, sample_rate: int = 8000) -> np.ndarray:
    """The samples of a mono 16-bit PCM WAV at `sample_rate`, as int16; anything else raises."""
    path = Path(path)
    expected = f"{sample_rate} Hz {WAV_FORMAT}"
    if not path.is_file():
        raise MissingDataError(path, f"missing recording; expected {expected}")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            n = wav.getnframes()
            data = wav.readframes(n)
    except (wave.Error, EOFError, OSError) as err:
        reason = str(err) or type(err).__name__
        raise CorruptDataError(path, f"not a readable WAV file ({reason}); expected {expected}") from err
    if (channels, width, rate) != (1, 2, sample_rate):
        raise CorruptDataError(path, f"expected {expected}, got {rate} Hz, {channels} channel(s), "
                                     f"{8 * width}-bit")
    if len(data) != 2 * n:
        raise CorruptDataError(path, f"truncated WAV: header announces {n} samples, "
                                     f"data holds {len(data) // 2}")
    if n == 0:
        raise CorruptDataError(path, f"WAV holds no samples; expected {expected}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def split_indices(recordings: Sequence[Recording], split: str, protocol: str = "official",
                  test_speaker: str | None = None) -> np.ndarray:
    """Positions (into `recordings`) of one split.

    official: index 0-4 test (FSDD's own split), 5-9 validation, 10-49 train.
    speaker (leave one speaker out): all of `test_speaker` is test; of the other speakers,
    index 0-4 is validation and 5-49 train.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    index = np.array([r.index for r in recordings])
    speakers = np.array([r.speaker for r in recordings])
    if protocol == "official":
        if test_speaker is not None:
            raise ValueError("test_speaker only applies to protocol='speaker'")
        held_out = np.zeros(len(recordings), dtype=bool)
        groups = {"test": index < 5, "validation": (index >= 5) & (index < 10), "train": index >= 10}
    else:
        if test_speaker not in set(speakers):
            raise ValueError(f"test_speaker must be one of {sorted(set(speakers))}, got {test_speaker!r}")
        held_out = speakers == test_speaker
        groups = {"test": held_out, "validation": ~held_out & (index < 5), "train": ~held_out & (index >= 5)}
    mask = np.ones(len(recordings), dtype=bool) if split == "all" else groups[split]
    return np.flatnonzero(mask)


def cache_key(recordings: Sequence[Recording], config: CochleaConfig,
              perturbation: Perturbation | None = None, enrol: Sequence[bool] | None = None,
              reference: np.ndarray | None = None) -> str:
    """sha256 of the front-end settings, the perturbation (if any) and of every input file's
    name and bytes; with `speaker_norm`, also of each recording's speaker and of which ones
    count for his reference (`enrol`), or of the fixed `reference` (its float64 bytes)."""
    digest = hashlib.sha256()
    settings = {"version": CACHE_VERSION, "config": config.as_dict()}
    if perturbation is not None:
        settings["perturbation"] = perturbation.as_dict()
    if config.speaker_norm and reference is not None:
        settings["reference"] = hashlib.sha256(np.asarray(reference, dtype=np.float64).tobytes()).hexdigest()
    elif config.speaker_norm:
        settings["speakers"] = [r.speaker for r in recordings]
        settings["enrol"] = None if enrol is None else [bool(e) for e in enrol]
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for rec in recordings:
        try:
            content = rec.path.read_bytes()
        except FileNotFoundError as err:
            raise MissingDataError(rec.path, f"missing recording; expected {WAV_FORMAT}") from err
        digest.update(f"\0{rec.path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz with an embedded checksum, atomically and readable by others (a cache may be
    shared; corespec.files.atomic_write)."""
    from corespec.files import atomic_write
    checksum = np.array(_checksum(arrays))
    atomic_write(path, lambda f: np.savez_compressed(f, checksum=checksum, **arrays))


def load_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None (with a warning) if it is unreadable or fails its checksum."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        stored = str(arrays.pop("checksum"))
        if stored != _checksum(arrays):
            raise ValueError("checksum mismatch")
    except Exception as err:
        warnings.warn(f"{path}: corrupt cache file ({type(err).__name__}: {err}); recomputing", stacklevel=3)
        return None
    return arrays


def _read_cached(path: Path, key: str, n: int, config: CochleaConfig):
    """(spikes, n_audio, seconds) from a valid cache file for this key, else None."""
    arrays = load_cache(path)
    if arrays is None:
        return None
    try:
        if str(arrays["key"]) != key:
            raise ValueError("key mismatch")
        spikes = np.unpackbits(arrays["spikes"], axis=-1, count=config.n_channels)
        if spikes.shape != (n, config.n_steps, config.n_channels) or arrays["n_audio"].shape != (n,):
            raise ValueError(f"shape {spikes.shape}")
        return spikes, arrays["n_audio"], float(arrays["seconds"])
    except (KeyError, ValueError) as err:
        warnings.warn(f"{path}: unusable cache file ({err}); recomputing", stacklevel=3)
        return None


def encode_recordings(recordings: Sequence[Recording], config: CochleaConfig | Views | None = None,
                      cache: bool = True, progress: bool = True,
                      perturbation: Perturbation | None = None,
                      enrol: Sequence[bool] | None = None,
                      reference: Sequence | None = None) -> SpikeDataset:
    """Spikes for the given recordings, in their order, from the cache when possible;
    `perturbation` (voices.Perturbation) changes every recording before the cochlea. With
    `speaker_norm`, each speaker's reference comes from his recordings marked in `enrol` (None:
    all of them; cochlea.speaker_reference), or, with `reference` (one entry per view, each a
    `[C]` array from `cochlea.enrolment_reference` or None for a view without `speaker_norm`),
    every recording is one enrolled speaker's. `Views`: each cochlea's spikes (cached apiece),
    side by side."""
    config = config or CochleaConfig()
    if not recordings:
        raise ValueError("no recordings given")
    if isinstance(config, Views):
        refs = reference if reference is not None else [None] * len(config.configs)
        return side_by_side([encode_recordings(recordings, c, cache, progress, perturbation, enrol,
                                               None if r is None else [r])
                             for c, r in zip(config.configs, refs)], config)
    reference = None if reference is None or not config.speaker_norm else reference[0]
    speakers = tuple(sorted({r.speaker for r in recordings}))
    key = cache_key(recordings, config, perturbation, enrol, reference)
    path = cache_dir() / f"fsdd-{key[:24]}.npz" if cache else None
    cached = _read_cached(path, key, len(recordings), config) if path is not None and path.exists() else None
    if cached is not None:
        spikes, n_audio, seconds = cached
        hit = True
    else:
        start = time.perf_counter()
        waves = [read_wav(r.path, config.sample_rate) for r in recordings]
        if perturbation is not None:
            waves = [perturbation.apply(w, i) for i, w in enumerate(waves)]
        spikes = cochlea_spikes(waves, config, speakers=[r.speaker for r in recordings], enrol=enrol,
                                reference=reference, progress=progress)
        seconds, hit = time.perf_counter() - start, False
        n_audio = np.array([w.size for w in waves], dtype=np.int64)
        if path is not None:
            save_cache(path, {"key": np.array(key), "spikes": np.packbits(spikes, axis=-1),
                              "n_audio": n_audio,
                              "seconds": np.array(seconds)})
    return SpikeDataset(
        name="fsdd", spikes=spikes, labels=np.array([r.digit for r in recordings]), n_classes=10,
        dt=config.dt, class_names=tuple(str(d) for d in range(10)),
        meta={"speaker": np.array([speakers.index(r.speaker) for r in recordings]),
              "index": np.array([r.index for r in recordings]),
              "n_audio": n_audio},
        info={"config": config.as_dict(), "speakers": speakers, "cache_file": path, "cache_hit": hit,
              "perturbation": None if perturbation is None else perturbation.as_dict(),
              "front_end_seconds": seconds,
              "cropped": int((n_audio > config.n_samples).sum())},
    )


def side_by_side(views: Sequence[SpikeDataset], config: Views) -> SpikeDataset:
    """The same recordings through two cochleas (`Views`): each sample's channels view A's, then
    view B's; labels, meta and the time grid are view A's (the same)."""
    first = views[0]
    return SpikeDataset(name=first.name, spikes=np.concatenate([np.asarray(v.spikes) for v in views], axis=2),
                        labels=first.labels, n_classes=first.n_classes, dt=first.dt,
                        class_names=first.class_names, meta=first.meta,
                        info={**first.info, "config": config.as_dict(),
                              "cache_file": [v.info["cache_file"] for v in views],
                              "cache_hit": all(v.info["cache_hit"] for v in views),
                              "front_end_seconds": sum(v.info["front_end_seconds"] for v in views)})


def load_fsdd(split: str = "train", protocol: str = "official", test_speaker: str | None = None,
         config: CochleaConfig | Views | None = None, root: str | Path | None = None,
         cache: bool = True, progress: bool = True) -> SpikeDataset:
    """One split of spiking FSDD (see `split_indices`); labels are the digits 0-9.

    `meta['speaker']` indexes `info['speakers']`; `meta['index']` is the FSDD take number, so the
    source file of sample i is `{label}_{speakers[speaker]}_{index}.wav`.
    """
    recordings = list_recordings(root)
    positions = split_indices(recordings, split, protocol, test_speaker)
    full = encode_recordings(recordings, config, cache=cache, progress=progress)
    return full.subset(positions, name=f"fsdd/{protocol}/{split}", split=split, protocol=protocol,
                       test_speaker=test_speaker)
