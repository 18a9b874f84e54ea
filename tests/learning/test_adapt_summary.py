"""delaysnn adapt-summary (sw/onchip_learning/adapt_summary.py): adaptation reports over folds and
seeds, means on chip and host-side, and one line for every report or option it cannot use."""

import json
import re

import pytest

from onchip_learning import adapt_summary as S


def report(folder, name, speaker, k, before, chip, o_before, o_chip, host=None, o_host=None):
    doc = {"name": name, "speaker": speaker, "k": k,
           "speaker_accuracy": {"before": before, "after": chip},
           "others_accuracy": {"before": o_before, "after": o_chip}}
    if host is not None:
        doc["bptt"] = {"speaker_accuracy": host, "others_accuracy": o_host}
    (folder / f"adapt-{name}.json").write_text(json.dumps(doc))


def test_means_per_k_seed_and_fold(tmp_path, capsys):
    figures = {("a", 0): (0.80, 0.90, 0.98, 0.97, 0.95, 0.96), ("b", 0): (0.70, 0.70, 0.99, 0.99, 0.85, 0.99),
               ("a", 1): (0.60, 0.80, 0.98, 0.95, 0.90, 0.98), ("b", 1): (0.90, 1.00, 1.00, 0.99, 0.93, 0.97)}
    for (spk, seed), f in figures.items():
        report(tmp_path, f"t-{spk}-k1-s{seed}", spk, 1, *f)
    assert S.main(["--reports", "t-{speaker}-k{k}-s{seed}", "--k", "1", "--seeds", "0,1",
                   "--speakers", "a,b", "--reports-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "adapt-summary-t-k-s-k1-s0.1.json").read_text())
    m = doc["per_k"]["1"]
    assert m["mean"]["before"] == pytest.approx(75.0) and m["mean"]["chip"] == pytest.approx(85.0)
    assert m["mean"]["host"] == pytest.approx(90.75)
    assert m["mean"]["chip_forgotten"] == pytest.approx((1 + 0 + 3 + 1) / 4)
    assert m["mean"]["host_forgotten"] == pytest.approx((2 + 0 + 0 + 3) / 4)
    assert m["mean"]["worst_chip_forgotten"] == pytest.approx(3)
    assert m["mean"]["worst_host_forgotten"] == pytest.approx(3)
    assert m["per_seed"]["1"]["chip"] == pytest.approx(90.0) and m["per_speaker"]["b"]["host"] == pytest.approx(89.0)
    assert re.search(r"\n\s+mean\s+75.0\s+85.0 /\s+1.[23]\s+90.8 /", capsys.readouterr().out)


def test_reports_without_a_reference_have_no_host_side_mean(tmp_path):
    report(tmp_path, "c-a", "a", 5, 0.5, 0.6, 0.9, 0.9)
    doc = S.summarise("c-{speaker}", [5], [0], ["a"], tmp_path)
    assert doc["per_k"]["5"]["mean"]["host"] is None and doc["per_k"]["5"]["mean"]["chip"] == pytest.approx(60)


@pytest.mark.parametrize("template, message", [
    ("tw", "needs {speaker}"),
    ("tw-{speaker}-{fold}", "only {speaker}, {k} and {seed} may stand in braces"),
    ("tw-{speaker}", "several k or seeds give one name"),
])
def test_a_wrong_template_is_one_line(template, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        S.main(["--reports", template, "--k", "1,5", "--speakers", "a", "--reports-dir", str(tmp_path)])
    assert e.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_missing_or_mismatched_report_is_one_line_naming_it(tmp_path):
    with pytest.raises(S.SummaryError, match=r"adapt-t-a-k1.json: no such report .`delaysnn adapt ... --name t-a-k1`"):
        S.summarise("t-{speaker}-k{k}", [1], [0], ["a"], tmp_path)
    report(tmp_path, "t-a-k1", "b", 1, 0.5, 0.6, 0.9, 0.9)
    with pytest.raises(S.SummaryError, match="a report of b at k = 1, not a at k = 1"):
        S.summarise("t-{speaker}-k{k}", [1], [0], ["a"], tmp_path)
    with pytest.raises(S.SummaryError, match="--k '1,x': expected whole numbers"):
        S._ints("1,x", "--k")


def test_default_name_drops_the_braces_and_names_the_selection():
    assert S.default_name("tw-{speaker}-k{k}-s{seed}", [1, 5], [0, 1, 2]) == "tw-k-s-k1.5-s0.1.2"
    assert S.default_name("{speaker}", [5], [0]) == "adapt-k5-s0"


@pytest.mark.parametrize("content", ['[1, 2]', '{"name": "x", "speaker": "a", "k": 1}',
                                     '{"speaker": "a", "k": 1, "speaker_accuracy": 0.5, "others_accuracy": {}}'])
def test_a_file_that_is_not_an_adapt_report_is_one_line(tmp_path, content):
    (tmp_path / "adapt-t-a.json").write_text(content)
    with pytest.raises(S.SummaryError, match="adapt-t-a.json: not a report of `delaysnn adapt`"):
        S.summarise("t-{speaker}", [1], [0], ["a"], tmp_path)
