"""Side by side: several leave-one-speaker-out reports as one ablation table and one plot.

    delaysnn loso --compare base,tilt1,tilt1vox [--labels "baseline,tilt removed,+ voices"]

Each name is a report `build/reports/loso-<name>.json` (or a path to one). Prints a Markdown table:
per fold the mean over the report's seeds, the mean ± standard deviation over folds, the change
against the first report, the seeds and the memory bits; then the per-digit accuracy (mean over
folds). Writes build/plots/loso-compare-<names>.png: grouped per-fold bars and the per-digit
lines. Reads only; nothing is trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corespec.files import read_json

REPO = Path(__file__).resolve().parents[2]


def report_path(name: str, reports_dir: Path | None = None) -> Path:
    """A report name (loso-<name>.json in the reports folder) or a path to one."""
    path = Path(name)
    if path.suffix == ".json" or path.is_file():
        return path
    return (reports_dir or REPO / "build" / "reports") / f"loso-{name}.json"


def load_reports(names: list[str], reports_dir: Path | None = None) -> list[dict]:
    """The reports in order; a missing or malformed one is corespec.files' one-line error."""
    from .loso import LosoError
    if len(names) < 1:
        raise LosoError("--compare: expected one or more report names, comma-separated")
    reports = []
    for name in names:
        doc = read_json(report_path(name, reports_dir), what="LOSO report (delaysnn loso writes it)")
        if "folds" not in doc or "mean_test_acc" not in doc:
            raise LosoError(f"{report_path(name, reports_dir)}: not a LOSO report (no folds)")
        reports.append(doc)
    return reports


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown(reports: list[dict], labels: list[str]) -> str:
    """The ablation table (per fold, mean ± std, change against the first) and the per-digit
    table, as Markdown."""
    speakers = [f["speaker"] for f in reports[0]["folds"]]
    head = "| recipe | " + " | ".join(speakers) + " | mean ± std | change | seeds | bits |"
    lines = [head, "|" + "---|" * (len(speakers) + 5)]
    base = reports[0]["mean_test_acc"]
    for label, rep in zip(labels, reports):
        folds = {f["speaker"]: f["test_acc_mean"] for f in rep["folds"]}
        std = rep.get("std_test_acc_over_folds")
        change = "" if rep is reports[0] or base is None or rep["mean_test_acc"] is None \
            else f"{100 * (rep['mean_test_acc'] - base):+.1f}"
        bits = (rep.get("memory_bits") or {}).get("total")
        lines.append(f"| {label} | " + " | ".join(_pct(folds.get(s)) for s in speakers)
                     + f" | {_pct(rep['mean_test_acc'])} ± {_pct(std)} | {change} | "
                     + ",".join(map(str, rep["seeds"])) + (f" | {bits:,} |" if bits else " | - |"))
    lines += ["", "| recipe | " + " | ".join(str(d) for d in range(10)) + " |", "|" + "---|" * 11]
    for label, rep in zip(labels, reports):
        lines.append(f"| {label} | " + " | ".join(_pct(v) for v in digit_means(rep)) + " |")
    return "\n".join(lines)


def digit_means(rep: dict) -> list[float | None]:
    """Per digit, the mean over folds of the folds' per-digit accuracies."""
    out = []
    for d in range(10):
        values = [f["per_digit_acc_mean"][d] for f in rep["folds"] if f["per_digit_acc_mean"][d] is not None]
        out.append(float(np.mean(values)) if values else None)
    return out


def plot(reports: list[dict], labels: list[str], path: Path) -> Path:
    """Grouped per-fold bars (mean over seeds) and per-digit lines, one colour per report."""
    from .plots import _fig
    fig = _fig(12, 4.2)
    ax, ax_d = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    speakers = [f["speaker"] for f in reports[0]["folds"]]
    width = 0.8 / len(reports)
    for i, (label, rep) in enumerate(zip(labels, reports)):
        folds = {f["speaker"]: f["test_acc_mean"] for f in rep["folds"]}
        values = [np.nan if folds.get(s) is None else 100 * folds[s] for s in speakers]
        ax.bar(np.arange(len(speakers)) + (i - (len(reports) - 1) / 2) * width, values, width,
               label=f"{label}: {_pct(rep['mean_test_acc'])} %", color=f"C{i}")
        ax_d.plot(range(10), [np.nan if v is None else 100 * v for v in digit_means(rep)], "o-",
                  color=f"C{i}", label=label)
    ax.set_xticks(range(len(speakers)), speakers)
    ax.set_xlabel("held-out speaker")
    ax.set_ylabel("test accuracy (%), mean over seeds")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    ax_d.set_xticks(range(10))
    ax_d.set_xlabel("digit")
    ax_d.set_ylabel("accuracy (%), mean over folds")
    ax_d.set_ylim(0, 100)
    ax_d.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"leave one speaker out: {len(labels)} recipes (first: {labels[0]})")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def compare(names: list[str], labels: list[str] | None = None, reports_dir: Path | None = None,
            plots_dir: Path | None = None) -> tuple[str, Path]:
    """(Markdown tables, plot path) of the named reports."""
    from .loso import LosoError
    reports = load_reports(names, reports_dir)
    labels = labels or names
    if len(labels) != len(names):
        raise LosoError(f"--labels: {len(labels)} labels for {len(names)} reports")
    slug = "-".join((Path(n).stem if n.endswith(".json") else n).removeprefix("loso-") for n in names)[:80]
    path = plot(reports, labels, (plots_dir or REPO / "build" / "plots") / f"loso-compare-{slug}.png")
    return markdown(reports, labels), path
