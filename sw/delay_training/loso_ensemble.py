"""Leave one speaker out with two networks as one: towers (delay_training.towers), per fold and seed.

    delaysnn loso --ensemble fl200-takes2,takes2-spknorm-notilt [--name NAME]

Each name is a LOSO report (`build/reports/loso-<name>.json`, or a path to one). For every
(held-out speaker, seed) that both reports trained, the two exported networks are merged into one
towers network (inputs A's then B's, block-diagonal hidden layer, one readout that sums both:
their vote) and written as an export folder, `build/towers/<name>/<name>-<speaker>-s<seed>/`,
which `delaysnn deploy` takes like any other. The towers network runs on the golden model
(bit-exact to the core) over the held-out speaker's 500 recordings, each member's channels
encoded with the front end that member was trained with, and so does each member alone. Nothing is trained and
nothing is selected on the held-out speaker: the members are fixed.

When both reports hold runs of FSDD's official split (`delaysnn loso --official`), their networks
are merged seed by seed too (`<name>-official-s<seed>/`) and tested on the official test set: the
report's `official`, the second figure a LOSO report gives.

Writes `build/reports/loso-<name>.json` in the shape of a LOSO report (so `--compare` reads it),
with each member's own accuracy on the same folds beside the towers network's, and the towers
network's memory as the core stores it (dense: the zero blocks count).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from corespec.files import atomic_write_json, read_json

from .loso_compare import load_reports

REPO = Path(__file__).resolve().parents[2]


def held_out_set(run: dict, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(spikes [N, steps, channels], labels [N]) of a LOSO run's test set, through the front end
    its export records: the held-out speaker's 500 recordings, or, for a run of the official
    split, its test set (every speaker's takes 0-4, 250)."""
    import spike_datasets as sd
    from spike_datasets.cochlea import front_end_from_record
    from .export import read_manifest
    front_end = front_end_from_record(read_manifest(Path(run["folder"]) / "export").get("front_end") or {})
    protocol = run.get("protocol", "speaker")
    data = sd.load_fsdd("test", protocol=protocol, config=front_end, progress=progress,
                        test_speaker=run["speaker"] if protocol == "speaker" else None)
    return data.spikes.numpy(), data.labels.numpy()


def golden_scores(params, spikes: np.ndarray, batch: int = 100) -> np.ndarray:
    """The core's readout summed over the steps, `[N, classes]` int64, on the golden model."""
    import torch
    from golden_model import GoldenNetwork
    net = GoldenNetwork(params)
    x = torch.as_tensor(spikes).to(torch.int64)
    return torch.cat([net.run(x[i:i + batch])["readout"].to(torch.int64).sum(1)
                      for i in range(0, x.shape[0], batch)]).numpy()


def golden_predictions(params, spikes: np.ndarray, batch: int = 100) -> np.ndarray:
    """The core's prediction for every sample (readout summed over the steps, argmax, the first
    class on ties as `model.predict`) on the golden model."""
    return golden_scores(params, spikes, batch).argmax(axis=1)


def _runs_by_key(report: dict) -> dict:
    return {(r["speaker"], r["seed"]): r for r in report["runs"]
            if r.get("protocol", "speaker") == "speaker" and "error" not in r}


def _official_by_seed(report: dict) -> dict:
    """A LOSO report's official-split runs (`--official`: under `official`, not `runs`) by seed."""
    return {r["seed"]: r for r in (report.get("official") or {}).get("runs", []) if "error" not in r}


def _towers_row(runs: list[dict], out: Path, held_out) -> tuple:
    """(params, row): the two runs' networks merged into `out` and tested, with each member alone,
    on the golden model on their test set (each member's channels through its own front end)."""
    from .export import load_export
    from .loso import LosoError, per_digit_accuracy, _mean
    from .towers import write_towers
    exports = [Path(r["folder"]) / "export" for r in runs]
    params, _ = write_towers(exports[0], exports[1], out)
    sets = [held_out(r) for r in runs]
    labels = sets[0][1]
    if any(not np.array_equal(y, labels) for _, y in sets):
        raise LosoError(f"{runs[0]['speaker'] or 'official split'} seed {runs[0]['seed']}: the members' "
                        f"test recordings differ")
    members = [golden_predictions(load_export(e), x) for e, (x, _) in zip(exports, sets)]
    pred = golden_predictions(params, np.concatenate([x for x, _ in sets], axis=2))
    return params, {"protocol": runs[0].get("protocol", "speaker"), "speaker": runs[0]["speaker"],
                    "seed": runs[0]["seed"], "folder": str(out),
                    "test_acc": float((pred == labels).mean()),
                    "per_digit_acc": per_digit_accuracy(labels, pred),
                    "val_acc": _mean([r["val_acc"] for r in runs]),
                    "members_test_acc": [float((m == labels).mean()) for m in members],
                    "members": [str(e) for e in exports]}


def ensemble(names: list[str], name: str | None = None, reports_dir: Path | None = None,
             towers_dir: Path | None = None, progress: bool = True, held_out=held_out_set) -> dict:
    """The towers report (written to reports_dir/loso-<name>.json); one towers export per fold
    and seed under towers_dir/<name>/."""
    from tqdm import tqdm

    from .export import load_export
    from .loso import LosoError, fold_summary, _mean, _stdev
    from .towers import memory_bits, merge_params
    if len(names) != 2:
        raise LosoError(f"--ensemble: expected two report names, comma-separated (towers of two "
                        f"networks), got {len(names)}")
    reports = load_reports(names, reports_dir)
    name = name or "ens-" + "+".join(Path(n).stem.removeprefix("loso-") if n.endswith(".json") else n
                                     for n in names)
    out_root = (towers_dir or REPO / "build" / "towers") / name
    report = (reports_dir or REPO / "build" / "reports") / f"loso-{name}.json"
    if name in names or (report.exists() and "ensemble_of" not in read_json(report, "LOSO report", LosoError)):
        raise LosoError(f"--name {name}: {report} is a trained LOSO report; give the towers another name")
    keyed = [_runs_by_key(r) for r in reports]
    keys = sorted(set.intersection(*(set(k) for k in keyed)), key=lambda k: (k[0], k[1]))
    if not keys:
        raise LosoError(f"--ensemble {','.join(names)}: the reports share no (held-out speaker, seed)")
    officials = [_official_by_seed(r) for r in reports]     # `delaysnn loso --official` runs, if both have them
    official_seeds = sorted(set.intersection(*(set(o) for o in officials)))
    pairs = ([[k[key] for k in keyed] for key in keys]
             + [[o[seed] for o in officials] for seed in official_seeds])
    for runs in pairs:                  # every pair checked before anything is written
        merge_params(*(load_export(Path(r["folder"]) / "export") for r in runs),
                     names=tuple(str(Path(r["folder"]) / "export") for r in runs))
    rows, params = [], None
    for runs in tqdm(pairs, desc="towers", unit="network", disable=not progress):
        where = runs[0]["speaker"] or "official"          # the deploy folder is named after it
        params, row = _towers_row(runs, out_root / f"{name}-{where}-s{runs[0]['seed']}", held_out)
        rows.append(row)
    rows, official_rows = rows[:len(keys)], rows[len(keys):]
    speakers = sorted({s for s, _ in keys})
    folds = [fold_summary(s, [r for r in rows if r["speaker"] == s]) for s in speakers]
    means = [f["test_acc_mean"] for f in folds]
    dbits = (params.config.depth - 1).bit_length()      # clog2(D) bits per stored delay
    path = (reports_dir or REPO / "build" / "reports") / f"loso-{name}.json"
    doc = {"name": name, "date": datetime.date.today().isoformat(), "ensemble_of": names,
           "rule": "towers: one network, the members' hidden layers side by side, one readout summing both",
           "towers": str(out_root),
           "seeds": sorted({seed for _, seed in keys}), "speakers": speakers,
           "memory_bits": memory_bits(params, dbits), "core_config": _core(params),
           "mean_test_acc": _mean(means), "std_test_acc_over_folds": _stdev(means),
           "members_mean_test_acc": [_mean([_mean([r["members_test_acc"][i] for r in rows if r["speaker"] == s])
                                            for s in speakers]) for i in range(len(names))],
           "mean_val_acc": _mean([f["val_acc_mean"] for f in folds]),
           "folds": folds, "runs": rows, "official": _official(official_rows, len(names)),
           "report": str(path)}
    atomic_write_json(path, doc, indent=1)
    return doc


def _official(rows: list[dict], n_members: int) -> dict | None:
    """The towers network on the official split (both members' `--official` runs, seed by seed),
    with each member's own figure; None when the reports share no official run."""
    from .loso import official_summary, _mean
    summary = official_summary(rows)
    if summary is not None:
        summary["members_test_acc_mean"] = [_mean([r["members_test_acc"][i] for r in rows])
                                            for i in range(n_members)]
    return summary


def _core(params) -> str:
    c = params.config
    return f"{c.n_in}-{'-'.join(map(str, c.sizes))}-{c.n_out}"


def table(doc: dict) -> str:
    """Per fold: the members' accuracies (mean over the seeds) and the towers network's."""
    names = doc["ensemble_of"]
    lines = ["held out   " + "  ".join(f"{n[:18]:>18}" for n in names) + "     towers"]
    for fold in doc["folds"]:
        mine = [r for r in doc["runs"] if r["speaker"] == fold["speaker"]]
        members = [100 * float(np.mean([r["members_test_acc"][i] for r in mine])) for i in range(len(names))]
        lines.append(f"{fold['speaker']:<10} " + "  ".join(f"{m:18.1f}" for m in members)
                     + f"   {100 * fold['test_acc_mean']:8.1f}")
    member_means = "  ".join(f"{100 * m:18.1f}" for m in doc["members_mean_test_acc"])
    lines.append(f"{'mean':<10} {member_means}   {100 * doc['mean_test_acc']:8.1f} "
                 f"(std {100 * (doc['std_test_acc_over_folds'] or 0):.1f}; seeds "
                 f"{','.join(map(str, doc['seeds']))})")
    if official := doc.get("official"):
        seeds = ",".join(str(r["seed"]) for r in official["runs"])
        members = "  ".join(f"{100 * m:18.1f}" for m in official["members_test_acc_mean"])
        lines.append(f"{'official':<10} {members}   {100 * official['test_acc_mean']:8.1f} (seeds {seeds})")
    return "\n".join(lines)
