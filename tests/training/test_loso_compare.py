"""delaysnn loso --compare: reports side by side (tables, change against the first, plot) and its
one-line errors; nothing is trained."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from delay_training.loso import LosoError
from delay_training.loso_compare import compare, digit_means


def report(folder, name, fold_accs, digit=0.5, seeds=(0,)):
    folds = [{"speaker": s, "test_acc_mean": a, "per_digit_acc_mean": [digit] * 9 + [None]}
             for s, a in fold_accs.items()]
    means = list(fold_accs.values())
    doc = {"name": name, "folds": folds, "mean_test_acc": sum(means) / len(means),
           "std_test_acc_over_folds": 0.1, "seeds": list(seeds), "memory_bits": {"total": 215352}}
    (folder / f"loso-{name}.json").write_text(json.dumps(doc))


def test_table_has_each_fold_the_mean_and_the_change(tmp_path):
    report(tmp_path, "a", {"george": 0.40, "lucas": 0.80}, seeds=(0, 1, 2))
    report(tmp_path, "b", {"george": 0.70, "lucas": 0.70}, digit=0.9)
    text, plot = compare(["a", "b"], ["base", "tilt"], tmp_path, tmp_path)
    folds_table = text.split("\n\n")[0]
    rows = {line.split("|")[1].strip(): line for line in folds_table.splitlines() if line.startswith("| ")}
    assert "| 40.0 | 80.0 | 60.0 ± 10.0 |  | 0,1,2 | 215,352 |" in rows["base"]
    assert "| 70.0 | 70.0 | 70.0 ± 10.0 | +10.0 | 0 |" in rows["tilt"]
    assert text.count("| 90.0 ") == 9 and "| - |" in text          # digit 9 missing: a dash
    assert plot.is_file() and plot.name == "loso-compare-a-b.png"


def test_digit_means_skip_missing_folds():
    rep = {"folds": [{"per_digit_acc_mean": [0.2] + [None] * 9},
                     {"per_digit_acc_mean": [0.6] + [None] * 9}]}
    assert digit_means(rep)[0] == pytest.approx(0.4) and digit_means(rep)[1] is None


def test_wrong_label_count_and_not_a_report(tmp_path):
    report(tmp_path, "a", {"george": 0.4})
    with pytest.raises(LosoError, match="2 labels for 1 reports"):
        compare(["a"], ["x", "y"], tmp_path, tmp_path)
    (tmp_path / "loso-bad.json").write_text(json.dumps({"name": "bad"}))
    with pytest.raises(LosoError, match="not a LOSO report"):
        compare(["bad"], None, tmp_path, tmp_path)


def test_missing_report_is_one_line_from_the_command(tmp_path):
    script = Path(sys.executable).parent / "delaysnn"
    out = subprocess.run([str(script), "loso", "--compare", "nope", "--reports-dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "loso-nope.json" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
