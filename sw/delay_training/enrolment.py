"""How many of a new speaker's words speaker normalisation needs (`--front-end speaker_norm=1`).

    python -m delay_training.enrolment <loso name> [--words 5,10,20] [--draws 5]

A LOSO run with `speaker_norm=1` (or a towers network, `delaysnn loso --ensemble`, with such a
member: its report's runs) tests each held-out speaker with his reference spectrum taken
from all 500 of his recordings (unlabelled, but all of them: more than a device hears before it
must answer). Here each fold's network is tested again with the reference taken from N of his
recordings drawn at random (seeded: draw d uses seed d), unlabelled, as a device would hear them
when it meets its user; the test is on his other 500 - N recordings. `all` (every recording, the
LOSO figure) is recomputed too, and must equal the LOSO report's, or the script is not testing
the same thing.

Writes build/reports/enrol-<name>.json: per fold, per N, the accuracy of each draw and their mean.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


_SPIKES: dict = {}


def speaker_spikes(speaker: str, config, chosen: np.ndarray):
    """(spikes [500, T, C], digits) of one FSDD speaker, his reference from the `chosen`
    positions only (not cached on disk: one set per draw; kept in memory for the other seeds'
    networks of the same fold)."""
    from spike_datasets.fsdd import encode_recordings, list_recordings
    key = (speaker, config, tuple(int(i) for i in chosen))
    if any(k[0] != speaker for k in _SPIKES):       # one speaker's sets at a time: 70 MB each for towers
        _SPIKES.clear()
    if key not in _SPIKES:
        recs = [r for r in list_recordings() if r.speaker == speaker]
        enrol = np.zeros(len(recs), bool)
        enrol[chosen] = True
        data = encode_recordings(recs, config, cache=False, progress=False, enrol=enrol)
        _SPIKES[key] = (data.spikes, data.labels)
    return _SPIKES[key]


def trained_network(run: dict, recipe: dict):
    """(front end, predictions of spikes [N, T, C]) of a LOSO training run: its selected epoch's
    model, as the LOSO report tested it."""
    import torch

    from spike_datasets import SpikeDataset
    from spike_datasets.cochlea import front_end_config
    from .data import load_task
    from .loso import TASK, run_spec
    from .train import build_model, evaluate, make_config, read_checkpoint
    spec = run_spec(TASK, recipe, run["seed"], run["speaker"], None, None, False)
    cfg = make_config(TASK, **{**spec["overrides"], "out": run["folder"]})
    splits = load_task(TASK, n_train=16, test_speaker=run["speaker"], front_end=cfg.front_end)
    model = build_model(cfg, splits)
    model.load_state_dict(read_checkpoint(Path(run["folder"]) / "checkpoint.pt", map_location="cpu")["best"]["state"])
    model.eval()

    def predictions(spikes, labels):
        ds = SpikeDataset(name="enrol", spikes=spikes, labels=labels, n_classes=10, dt=0.01)
        with torch.no_grad():
            return evaluate(model, ds)["pred"].numpy()
    return front_end_config(cfg.front_end), predictions


def towers_network(run: dict):
    """(front ends, predictions) of a towers network (`delaysnn loso --ensemble`) on the golden
    model, as its report tested it."""
    from spike_datasets.cochlea import front_end_from_record
    from .export import load_export, read_manifest
    from .loso_ensemble import golden_predictions
    params = load_export(run["folder"])
    return (front_end_from_record(read_manifest(run["folder"])["front_end"]),
            lambda spikes, labels: golden_predictions(params, np.asarray(spikes)))


def fold_accuracy(run: dict, report: dict, words: list[int], draws: int) -> dict:
    config, predictions = towers_network(run) if "ensemble_of" in report \
        else trained_network(run, report["recipe"])
    if not config.speaker_norm:
        raise SystemExit(f"{run['folder']}: trained without speaker_norm; nothing to enrol")

    def accuracy(chosen, test):
        spikes, labels = speaker_spikes(run["speaker"], config, chosen)
        spikes, labels = spikes[test], labels[test]
        return float((predictions(spikes, labels) == np.asarray(labels)).mean())

    every = np.arange(500)
    out = {"speaker": run["speaker"], "seed": run["seed"], "loso_test_acc": run["test_acc"],
           "all": accuracy(every, every)}
    if abs(out["all"] - run["test_acc"]) > 1e-9:
        raise SystemExit(f"{run['folder']}: reference from every recording gives {out['all']:.4f}, "
                         f"the LOSO report {run['test_acc']:.4f}: not the same test")
    for n in words:
        accs = []
        for d in range(draws):
            chosen = np.sort(np.random.default_rng(d).choice(len(every), n, replace=False))
            accs.append(accuracy(chosen, np.setdiff1d(every, chosen)))
        out[str(n)] = {"draws": accs, "mean": float(np.mean(accs))}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m delay_training.enrolment", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("name", help="the LOSO report's name (build/reports/loso-<name>.json)")
    p.add_argument("--words", default="5,10,20", help="enrolment sizes N, comma-separated")
    p.add_argument("--draws", type=int, default=5, help="random draws of N recordings per fold (seeds 0..)")
    p.add_argument("--seeds", help="only the runs of these training seeds, comma-separated; None: all")
    a = p.parse_args(argv)
    from .loso import REPO
    reports = REPO / "build" / "reports"
    path = reports / f"loso-{a.name}.json"
    try:
        words = [int(w) for w in a.words.split(",")]
    except ValueError:
        raise SystemExit(f"--words {a.words!r}: expected sizes 1..499, comma-separated") from None
    if not words or not all(1 <= n < 500 for n in words) or a.draws < 1:
        raise SystemExit(f"--words {a.words} --draws {a.draws}: expected sizes 1..499 and at least one draw")
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: {e}") from None
    try:
        seeds = None if a.seeds is None else {int(x) for x in a.seeds.split(",")}
    except ValueError:
        raise SystemExit(f"--seeds {a.seeds!r}: expected training seeds, comma-separated") from None
    runs = sorted((run for run in report["runs"] if run.get("protocol", "speaker") == "speaker"
                   and "error" not in run and (seeds is None or run["seed"] in seeds)),
                  key=lambda run: (run["speaker"], run["seed"]))     # one speaker's draws at a time
    if not runs:
        raise SystemExit(f"{path}: no run of seeds {a.seeds}")
    folds = [fold_accuracy(run, report, words, a.draws) for run in runs]
    summary = {"name": a.name, "words": words, "draws": a.draws, "seeds": a.seeds, "folds": folds,
               "mean": {"all": float(np.mean([f["all"] for f in folds])),
                        **{str(n): float(np.mean([f[str(n)]["mean"] for f in folds])) for n in words}}}
    out = reports / f"enrol-{a.name}{'' if seeds is None else '-s' + '.'.join(map(str, sorted(seeds)))}.json"
    from corespec.files import atomic_write_json
    atomic_write_json(out, summary, indent=1)
    cols = ["all"] + [str(n) for n in words]
    print("speaker    " + "  ".join(f"{c:>6}" for c in cols))
    for f in folds:
        print(f"{f['speaker']:<10} " + "  ".join(f"{100 * (f[c] if c == 'all' else f[c]['mean']):6.1f}" for c in cols))
    print(f"{'mean':<10} " + "  ".join(f"{100 * summary['mean'][c]:6.1f}" for c in cols))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
