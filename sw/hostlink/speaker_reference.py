"""A device's user, enrolled: the speaker reference a speaker-normalised front end subtracts.

A network trained with `--front-end speaker_norm=1` (alone or as the second half of a towers
network) hears each word less its speaker's long-term spectrum (spike_datasets.cochlea,
`speaker_reference`). Given a folder of one speaker's words, `eval` and `run` take that spectrum
from the folder's words themselves; a device that hears one word at a time cannot. Enrolment
computes the spectrum once from the user's words and keeps it in the deploy folder
(`speaker-reference.json`, written by `delaysnn enrol` and by `delaysnn adapt` from the words it
learns from); `eval` and `run` then hear every word, one or many, against it.

File (JSON): {"kind": KIND, "front_end": the network's front-end record (one dict, or a list of
two for views side by side), "words": number of words, "files": their names, "reference": one
entry per view, a list of channel values in dB or null for a view without speaker_norm}.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .deployed import RunError

KIND = "delaysnn speaker reference"
FILE_NAME = "speaker-reference.json"
WHAT = f"a speaker reference JSON (written by `delaysnn enrol`; {FILE_NAME} of a deploy folder)"


def views_of(cochlea) -> tuple:
    """The cochleas side by side (a Views' configs) or the one cochlea."""
    return tuple(getattr(cochlea, "configs", (cochlea,)))


def enrol(cochlea, paths, network="the network") -> dict:
    """The reference record of the speaker whose words are `paths` (WAV files at the front end's
    rate), for every view of `cochlea` (the front end of `network`, named in a refusal) with
    speaker_norm."""
    from spike_datasets import DatasetError
    from spike_datasets.cochlea import enrolment_reference
    from spike_datasets.fsdd import read_wav
    if not cochlea.speaker_norm:
        raise RunError(f"{network}: the network's front end has no speaker_norm: it needs no "
                       f"speaker reference")
    paths = [Path(p) for p in paths]
    if not paths:
        raise RunError("no words to enrol from")
    try:
        waves = [read_wav(p, cochlea.sample_rate) for p in paths]
    except DatasetError as e:
        raise RunError(str(e)) from None
    if not any(np.any(w) for w in waves):
        raise RunError(f"{paths[0].parent}: every recording is silent; enrolment needs the speaker's voice")
    refs = [enrolment_reference(waves, c).tolist() if c.speaker_norm else None for c in views_of(cochlea)]
    return {"kind": KIND, "front_end": cochlea.as_dict(), "words": len(paths),
            "files": [p.name for p in paths], "reference": refs}


def write(record: dict, path) -> Path:
    """Write the record atomically (a failed write leaves the old file)."""
    from corespec.files import atomic_write_json
    path = Path(path)
    atomic_write_json(path, record)
    return path


@dataclass(frozen=True)
class Enrolled:
    """A reference file, checked against the network's front end."""
    references: list             # per view: [C] float64, or None for a view without speaker_norm
    path: Path
    words: int                   # how many words made it


def load(path, cochlea) -> Enrolled:
    """The per-view references of a reference file made for this front end; a file of another
    front end, or not a reference, is one line."""
    from corespec.files import read_json
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no such file (expected {WHAT})")
    record = read_json(path, WHAT, RunError)
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise RunError(f"{path}: not {WHAT}")
    if record.get("front_end") != cochlea.as_dict():
        raise RunError(f"{path}: made for another front end than this network's "
                       f"(enrol again with `delaysnn enrol --deployed <folder> --wav-dir <words>`)")
    refs = record.get("reference")
    views = views_of(cochlea)
    if not isinstance(refs, list) or len(refs) != len(views):
        raise RunError(f"{path}: \"reference\" must list one entry per view ({len(views)})")
    out = []
    for i, (ref, view) in enumerate(zip(refs, views)):
        if not view.speaker_norm:
            out.append(None)
            continue
        try:
            arr = np.asarray(ref, dtype=np.float64)
        except (TypeError, ValueError):
            arr = np.zeros(0)
        if arr.shape != (view.n_channels,) or not np.isfinite(arr).all():
            raise RunError(f"{path}: reference of view {i} must be {view.n_channels} finite numbers")
        out.append(arr)
    words = record.get("words")
    return Enrolled(out, path, words if isinstance(words, int) else 0)


def for_deployment(dep, explicit=None) -> Enrolled | None:
    """The reference `eval` / `run --wav-dir` hear the words against: `explicit`
    (--reference FILE), else the deploy folder's speaker-reference.json when it has one; None
    (the reference from the folder's own words) when neither is given."""
    from .deployed import front_end
    cochlea = front_end(dep)
    path = Path(explicit) if explicit else dep.folder / FILE_NAME
    if explicit is None and not path.is_file():
        return None
    if not cochlea.speaker_norm:
        if explicit is None:
            return None
        raise RunError(f"--reference {explicit}: the network's front end has no speaker_norm")
    return load(path, cochlea)
