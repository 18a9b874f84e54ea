"""Does a new voice sit elsewhere on the cochlea's channel axis? Test-time channel shifts.

    python -m delay_training.shift_study <loso name> [--shifts=-30,-20,-12,-6,0,6,12,20,30] [--seeds 0]

A longer or shorter vocal tract moves a speaker's formants; on the ERB-spaced cochlea that is
roughly a shift along the channel axis (the `shift` augmentation trains against it). Here each
fold's fixed network hears its held-out speaker's 500 recordings shifted by s channels (each
front end's block of channels on its own, zero fill; s > 0 moves them up in frequency) on the
golden model, and three uses of the shift are scored:

* `margin`: per speaker, the shift whose median normalised margin (best score less the runner-up,
  over the standard deviation of the sample's ten scores) over his recordings is largest. This is
  vocal tract length normalisation from his unlabelled words, taken from all 500 as speaker_norm
  takes his reference;
* `oracle`: per speaker, the shift that is best by his labels (a bound, not a method);
* `average`: each shift's scores standardised per sample and summed over the shifts (test-time
  augmentation: one run of the core per shift).

Nothing is trained. Writes build/reports/shift-<name>[-s<seeds>].json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_SHIFTS = "-30,-20,-12,-6,0,6,12,20,30"


def shift_channels(spikes: np.ndarray, shift: int, widths: list[int]) -> np.ndarray:
    """Spikes `[N, T, C]` with each block of `widths` channels (one per front end, in order)
    moved by `shift` channels within its block (to higher indices for shift > 0), zero fill."""
    if sum(widths) != spikes.shape[2]:
        raise ValueError(f"blocks of {widths} channels do not cover {spikes.shape[2]}")
    out = np.zeros_like(spikes)
    start = 0
    for w in widths:
        s = max(-w, min(w, shift))
        src = spikes[:, :, start:start + w]
        if s >= 0:
            out[:, :, start + s:start + w] = src[:, :, :w - s]
        else:
            out[:, :, start:start + w + s] = src[:, :, -s:]
        start += w
    return out


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each sample's scores less their mean, over their standard deviation (1 where all equal)."""
    s = np.asarray(scores, dtype=np.float64)
    sd = s.std(axis=1, keepdims=True)
    return (s - s.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def normalised_margin(scores: np.ndarray) -> np.ndarray:
    """Per sample: the best standardised score less the runner-up's."""
    top = np.sort(standardised(scores), axis=1)
    return top[:, -1] - top[:, -2]


def summarise(scores: dict[int, np.ndarray], labels: np.ndarray) -> dict:
    """One fold's figures from its scores `[N, 10]` per shift: accuracy and median margin per
    shift, and the `margin`, `oracle` and `average` uses (module docstring). Ties between shifts
    go to the smallest |shift|, then the lower one."""
    labels = np.asarray(labels)
    order = sorted(scores, key=lambda s: (abs(s), s))
    per = {s: {"acc": float((scores[s].argmax(axis=1) == labels).mean()),
               "median_margin": float(np.median(normalised_margin(scores[s])))} for s in order}
    by_margin = max(order, key=lambda s: per[s]["median_margin"])         # first of the ties wins
    oracle = max(order, key=lambda s: per[s]["acc"])
    average = sum(standardised(scores[s]) for s in order)
    return {"per_shift": {str(s): per[s] for s in sorted(scores)},
            "unshifted": per[0]["acc"] if 0 in per else None,
            "margin": {"shift": by_margin, "acc": per[by_margin]["acc"]},
            "oracle": {"shift": oracle, "acc": per[oracle]["acc"]},
            "average": {"acc": float((average.argmax(axis=1) == labels).mean())}}


def fold_inputs(run: dict) -> tuple[Path, np.ndarray, np.ndarray, list[int]]:
    """(export folder, held-out spikes, labels, channel blocks) of a LOSO or towers run: a towers
    network's blocks are its members' front ends, a two-front-end network's its two views."""
    from spike_datasets.cochlea import Views, front_end_from_record
    from .export import read_manifest
    from .loso_ensemble import held_out_set
    if "members" in run:                            # towers: each member's channels, its front end
        sets = [held_out_set({"folder": str(Path(m).parent), "speaker": run["speaker"]})
                for m in run["members"]]
        widths = [x.shape[2] for x, _ in sets]
        return Path(run["folder"]), np.concatenate([x for x, _ in sets], axis=2), sets[0][1], widths
    export = Path(run["folder"]) / "export"
    config = front_end_from_record(read_manifest(export).get("front_end") or {})
    x, y = held_out_set(run)
    widths = [c.n_channels for c in config.configs] if isinstance(config, Views) else [x.shape[2]]
    return export, x, y, widths


def fold(run: dict, shifts: list[int]) -> dict:
    from .export import load_export
    from .loso_ensemble import golden_scores
    export, x, y, widths = fold_inputs(run)
    params = load_export(export)
    scores = {s: golden_scores(params, shift_channels(x, s, widths)) for s in shifts}
    out = {"speaker": run["speaker"], "seed": run["seed"], "blocks": widths, **summarise(scores, y)}
    if 0 in shifts and abs(out["unshifted"] - run["test_acc"]) > 1e-9:
        raise SystemExit(f"{run['folder']}: unshifted {out['unshifted']:.4f}, the LOSO report "
                         f"{run['test_acc']:.4f}: not the same test")
    return out


def _mean(xs) -> float:
    return float(np.mean(list(xs)))


def parse_shifts(text: str) -> list[int]:
    try:
        shifts = sorted({int(s) for s in text.split(",")})
    except ValueError:
        raise SystemExit(f"--shifts {text!r}: expected channel shifts, comma-separated, with 0 "
                         f"among them") from None
    if 0 not in shifts:
        raise SystemExit(f"--shifts {text!r}: expected channel shifts, comma-separated, with 0 "
                         f"among them (the unshifted figure checks the report)")
    return shifts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m delay_training.shift_study",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("name", help="the LOSO or towers report's name (build/reports/loso-<name>.json)")
    p.add_argument("--shifts", default=DEFAULT_SHIFTS, help="channel shifts, comma-separated, 0 among them (--shifts=-6,0,6: with =, as the list starts with a minus)")
    p.add_argument("--seeds", default="0", help="the runs of these training seeds, comma-separated")
    a = p.parse_args(argv)
    from corespec.files import atomic_write_json
    from .loso import REPO
    shifts = parse_shifts(a.shifts)
    try:
        seeds = sorted({int(x) for x in a.seeds.split(",")})
    except ValueError:
        raise SystemExit(f"--seeds {a.seeds!r}: expected training seeds, comma-separated") from None
    path = REPO / "build" / "reports" / f"loso-{a.name}.json"
    try:
        import json
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: {e}") from None
    runs = sorted((r for r in report["runs"] if r.get("protocol", "speaker") == "speaker"
                   and "error" not in r and r["seed"] in seeds), key=lambda r: (r["seed"], r["speaker"]))
    if not runs:
        raise SystemExit(f"{path}: no run of seeds {a.seeds}")
    folds = []
    for run in runs:
        folds.append(fold(run, shifts))
        f = folds[-1]
        print(f"{f['speaker']:<9} s{f['seed']}  " + " ".join(f"{s:+d}:{100 * f['per_shift'][str(s)]['acc']:.1f}"
                                                         for s in shifts), flush=True)
    uses = ("margin", "oracle", "average")
    summary = {"name": a.name, "shifts": shifts, "seeds": seeds, "folds": folds,
               "mean": {"unshifted": _mean(f["unshifted"] for f in folds),
                        **{u: _mean(f[u]["acc"] for f in folds) for u in uses}}}
    out = path.parent / f"shift-{a.name}-s{'.'.join(map(str, seeds))}.json"
    atomic_write_json(out, summary, indent=1)
    print(f"mean over {len(folds)} runs: unshifted {100 * summary['mean']['unshifted']:.1f}  "
          + "  ".join(f"{u} {100 * summary['mean'][u]:.1f}" for u in uses))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
