"""Adapting a towers network (`delaysnn loso --ensemble`): the training runs behind it.

A towers folder is an export of two training runs merged into one network
(delay_training.towers: inputs A's then B's, block-diagonal hidden layer, one readout). The
engine adapts it as any network of one LIF layer: pair R learns the shared readout and the
hidden delays of both towers. The BPTT reference fine-tunes a training run from its checkpoint,
so for towers it fine-tunes each member on its own channels of the same samples (A's first
n_in, then B's), with the same options and seed, and merges the two results as the towers
network was merged. Each member changes only its own block, so the merged image keeps the
zeros between the towers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corespec.errors import UserError
from corespec.files import read_json

REPO = Path(__file__).resolve().parents[2]


class TowersError(UserError, ValueError):
    """A towers folder whose members cannot be used (missing, of different speakers, of other
    widths than the samples): one line naming it."""


def is_towers(folder: Path) -> bool:
    """A towers export folder: its manifest names the members (`towers_of`)."""
    return members(folder, must_exist=False) is not None


def members(folder: Path, must_exist: bool = True) -> list[Path] | None:
    """The member training runs of a towers export folder (its manifest's `towers_of`, each an
    export folder inside its run; a relative entry is taken from the repository root), in the
    towers' order; None for any other folder. With `must_exist` a member that is not there is one
    line (the engine adapts the towers folder alone; the BPTT reference needs the members)."""
    manifest = Path(folder) / "manifest.json"
    if not manifest.is_file():
        return None
    doc = read_json(manifest, "an export manifest", TowersError)
    of = doc.get("towers_of") if isinstance(doc, dict) else None
    if of is None:
        return None
    if not isinstance(of, list) or len(of) != 2 or not all(isinstance(p, str) for p in of):
        raise TowersError(f"{manifest}: towers_of should name two export folders, got {of!r}")
    runs = []
    for entry in of:
        export = Path(entry) if Path(entry).is_absolute() else REPO / entry
        if must_exist and not (export / "manifest.json").is_file():
            raise TowersError(f"{manifest}: towers_of names {entry}, which is not there (the "
                              f"member's training run moved or was removed)")
        runs.append(export.parent if export.name == "export" else export)
    return runs


def member_inputs(runs: list[Path]) -> list[int]:
    """Each member's input channels (its export manifest's core_config n_in)."""
    widths = []
    for run in runs:
        doc = read_json(run / "export" / "manifest.json",
                        "a towers member's export manifest (the BPTT reference fine-tunes the "
                        "members' training runs)", TowersError)
        widths.append(int(doc["core_config"]["n_in"]))
    return widths


def split_inputs(x, widths: list[int]) -> list[np.ndarray]:
    """The towers' input rasters [N, T, sum(widths)] as each member's [N, T, width], in order."""
    x = np.asarray(x)
    if x.shape[-1] != sum(widths):
        raise TowersError(f"the towers' members take {' + '.join(map(str, widths))} channels, the "
                         f"samples have {x.shape[-1]}")
    return np.split(x, np.cumsum(widths)[:-1], axis=-1)


def reference(runs: list[Path], x, y, fine_tune, **options):
    """The BPTT reference of the towers network: `fine_tune(run, x_member, y, **options)` (adapt's
    `bptt_reference`) for each member on its own channels, the two results merged."""
    from delay_training.towers import TowerError, merge_params
    parts = split_inputs(x, member_inputs(runs))
    nets = [fine_tune(run, xi, y, **options) for run, xi in zip(runs, parts)]
    try:
        return merge_params(*nets, names=tuple(str(r) for r in runs))
    except TowerError as e:
        raise TowersError(str(e)) from None


def held_out_speaker(runs: list[Path], speaker_of) -> str | None:
    """The speaker the members were trained without (`speaker_of(run)`, adapt's reading of a run's
    loso-result.json); one line when they were trained without different speakers."""
    held = [speaker_of(r) for r in runs]
    if len(set(held)) > 1:
        raise TowersError(f"the towers' members were trained without different speakers "
                         f"({' and '.join(map(str, held))}): {', '.join(map(str, runs))}")
    return held[0]
