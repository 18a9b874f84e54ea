"""Host-side adaptation of a towers network: each member adapted alone, the two results merged.

    python -m onchip_learning.towers_adapt_study --members t2-bpttall,sn [--k 1,5] [--name NAME]

A study, not an engine path. A towers network (delaysnn loso --ensemble, delay_training.towers)
is two training runs merged; `delaysnn adapt` starts from one run. So each member is adapted by
its own `delaysnn adapt --run <member run> --speaker X --k K --bptt --bptt-params all
--bptt-rehearse 200 --bptt-epochs 30 --name <prefix>-X-kK` (reports
`build/reports/adapt-<prefix>-<speaker>-k<K>.json`, one prefix per member), and here the two
adapted images (the reports' `bptt.image`) are merged into one towers network, as are the two
members before adaptation (their runs' exports). Both run on the golden model over the adapt
fold of `delaysnn adapt` (onchip_learning.adapt.fsdd_fold with both front ends: the speaker's
takes 5-49, the speaker-normalised member's reference from his k x 10 labelled words; the other
speakers' takes 0-4 for forgetting).

Writes build/reports/towers-adapt-<name>.json: per speaker and k, accuracy before and after on
the speaker and on the others, the points forgotten, each member's own figures from its report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from corespec.errors import UserError, run_parsed

REPO = Path(__file__).resolve().parents[2]
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "yweweler")


class StudyError(UserError, ValueError):
    """A member report that is missing or does not match the other (speaker, k, training seed)."""


def member_reports(prefixes: list[str], speaker: str, k: int, reports: Path) -> list[dict]:
    from corespec.files import read_json
    out = []
    for prefix in prefixes:
        path = reports / f"adapt-{prefix}-{speaker}-k{k}.json"
        doc = read_json(path, "adaptation report (delaysnn adapt writes it)", StudyError)
        if not (doc.get("bptt") or {}).get("image"):
            raise StudyError(f"{path}: no host-side image (run delaysnn adapt with --bptt)")
        out.append(doc)
    seeds = [_run_seed(Path(doc["run"])) for doc in out]
    for key, values in (("speaker", [d.get("speaker") for d in out]), ("k", [d.get("k") for d in out]),
                        ("training seed", seeds)):
        if len(set(values)) > 1:
            raise StudyError(f"{', '.join(f'adapt-{x}-{speaker}-k{k}.json' for x in prefixes)}: "
                             f"the members differ in {key} ({' and '.join(map(str, values))})")
    return out


def _run_seed(run: Path):
    """The training seed of a LOSO run (its loso-result.json), None where not recorded."""
    import json
    try:
        return json.loads((run / "loso-result.json").read_text()).get("seed")
    except (OSError, ValueError):
        return None


def fold_figures(reports: list[dict], k: int, fold=None) -> dict:
    """Before and after, on the speaker and on the others, of the two members merged."""
    from delay_training.export import load_export, read_manifest
    from delay_training.loso_ensemble import golden_predictions
    from delay_training.towers import merge_params
    from hostlink.image import read_image
    from spike_datasets.cochlea import Views, front_end_from_record
    from .adapt import fsdd_fold
    speaker = reports[0]["speaker"]
    exports = [Path(r["run"]) / "export" for r in reports]
    views = Views(tuple(front_end_from_record(read_manifest(e)["front_end"]) for e in exports))
    fold = fold or fsdd_fold(views, speaker, k, progress=False)
    before = merge_params(*(load_export(e) for e in exports))
    after = merge_params(*(read_image(r["bptt"]["image"])[2] for r in reports))

    def acc(params, x, y):
        return float((golden_predictions(params, x) == np.asarray(y)).mean())
    row = {"speaker": speaker, "k": k, "members": [r["name"] for r in reports],
           "before": acc(before, fold.test_x, fold.test_y), "after": acc(after, fold.test_x, fold.test_y),
           "others_before": acc(before, fold.other_x, fold.other_y),
           "others_after": acc(after, fold.other_x, fold.other_y),
           "members_after": [r["bptt"]["speaker_accuracy"] for r in reports],
           "members_others_after": [r["bptt"]["others_accuracy"] for r in reports]}
    row["forgotten_points"] = 100 * (row["others_before"] - row["others_after"])
    return row


def study(prefixes: list[str], ks: list[int], name: str, reports: Path | None = None,
          progress: bool = True) -> dict:
    reports = reports or REPO / "build" / "reports"
    rows = []
    for k in ks:
        for speaker in SPEAKERS:
            rows.append(fold_figures(member_reports(prefixes, speaker, k, reports), k))
            if progress:
                r = rows[-1]
                print(f"{speaker:<9} k={k}: {100 * r['before']:.1f} -> {100 * r['after']:.1f} % "
                      f"(members {', '.join(f'{100 * a:.1f}' for a in r['members_after'])}), "
                      f"forgot {r['forgotten_points']:.1f} points", flush=True)
    mean = {str(k): {key: float(np.mean([r[key] for r in rows if r["k"] == k]))
                     for key in ("before", "after", "others_before", "others_after", "forgotten_points")}
            for k in ks}
    doc = {"name": name, "members": prefixes, "k": ks, "rows": rows, "mean": mean,
           "report": str(reports / f"towers-adapt-{name}.json")}
    from corespec.files import atomic_write_json
    atomic_write_json(reports / f"towers-adapt-{name}.json", doc, indent=1)
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m onchip_learning.towers_adapt_study",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--members", required=True,
                   help="the two members' adapt report prefixes (adapt-<prefix>-<speaker>-k<K>.json), "
                        "comma-separated, in the towers' order (e.g. t2-bpttall,sn)")
    p.add_argument("--k", default="1,5", help="labelled recordings per digit, comma-separated")
    p.add_argument("--name", help="report name (towers-adapt-<name>.json); None: the prefixes joined by +")
    p.add_argument("--reports-dir", type=Path, help="where the adapt reports are; None: build/reports")
    return run_parsed(p, run, argv)


def run(a) -> int:
    prefixes = [x.strip() for x in a.members.split(",") if x.strip()]
    if len(prefixes) != 2:
        raise StudyError(f"--members {a.members!r}: expected two report prefixes, comma-separated")
    try:
        ks = [int(k) for k in a.k.split(",")]
    except ValueError:
        raise StudyError(f"--k {a.k!r}: expected whole numbers, comma-separated") from None
    doc = study(prefixes, ks, a.name or "+".join(prefixes), a.reports_dir)
    for k, m in doc["mean"].items():
        print(f"mean k={k}: {100 * m['before']:.1f} -> {100 * m['after']:.1f} % on the speaker, "
              f"forgot {m['forgotten_points']:.1f} points")
    print(doc["report"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
