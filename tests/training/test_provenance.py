"""Tests of what a run records about the data and code it was made from (delay_training.provenance,
`SpikeDataset.fingerprint`), of the resume guard that uses it, and of LOSO's line for a rerun that
does not repeat a figure.

* the fingerprint changes with one spike, one label, one meta value, the shape and the class
  count, and not with the cache or file the same bits came from;
* a training report names the split fingerprints and the commit; --resume refuses a checkpoint
  made on other training data, in one line naming the checkpoint;
* `loso.differences` names the cause: other training data, other code, uncommitted code, the
  same data and code, or an earlier report without fingerprints; the exact screen line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import spike_datasets as sd
from delay_training import loso as L
from delay_training.provenance import code_version, why_different
from delay_training.train import TrainError, make_config, train


def small_set(**change) -> sd.SpikeDataset:
    g = torch.Generator().manual_seed(0)
    kw = dict(name="x", spikes=(torch.rand(6, 5, 9, generator=g) < 0.3).to(torch.uint8),
              labels=torch.tensor([0, 1, 2, 0, 1, 2]), n_classes=3,
              meta={"speaker": torch.tensor([0, 0, 1, 1, 2, 2])})
    kw.update(change)
    return sd.SpikeDataset(**kw)


def test_fingerprint_sees_every_bit_a_network_sees():
    base = small_set()
    assert base.fingerprint() == small_set().fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", base.fingerprint())
    one_spike = base.spikes.clone()
    one_spike[5, 4, 8] ^= 1                               # the last bit of the last sample
    label = base.labels.clone()
    label[0] = 1
    changed = [small_set(spikes=one_spike), small_set(labels=label),
               small_set(meta={"speaker": torch.tensor([0, 0, 1, 1, 2, 1])}),
               small_set(meta={}), small_set(n_classes=4),
               small_set(spikes=base.spikes.reshape(6, 9, 5))]
    prints = {s.fingerprint() for s in changed}
    assert len(prints) == len(changed) and base.fingerprint() not in prints
    # a subset in the same order is the same bits whatever it was cut from
    assert base.subset([1, 2]).fingerprint() == small_set().subset([1, 2]).fingerprint()
    assert base.subset([2, 1]).fingerprint() != base.subset([1, 2]).fingerprint()


def test_a_report_names_its_data_and_code_and_resume_refuses_other_data(tmp_path):
    out = tmp_path / "run"
    cfg = make_config("seqdet", epochs=2, seed=0, n_train=60, out=str(out), report=str(out / "r.json"))
    report = train(cfg, progress=False)
    made = report["provenance"]
    assert set(made["data_sha256"]) == {"train", "val", "test"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in made["data_sha256"].values())
    assert len(set(made["data_sha256"].values())) == 3
    assert made["code"] == code_version() and re.fullmatch(r"[0-9a-f]{40}", made["code"]["commit"])
    # the same checkpoint with the data it was made from resumes (nothing left to train) ...
    again = train(cfg, resume=True, progress=False)
    assert again["test_acc"] == report["test_acc"]
    # ... with other training data it is refused before anything is written
    ckpt = out / "checkpoint.pt"
    ck = torch.load(ckpt, weights_only=False)
    assert ck["data_sha256"] == made["data_sha256"]
    ck["data_sha256"] = dict(ck["data_sha256"], train="0" * 64)
    torch.save(ck, ckpt)
    before = (out / "r.json").read_bytes()
    with pytest.raises(TrainError) as err:
        train(cfg, resume=True, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and str(ckpt) in msg and "train data differ" in msg
    assert "000000000000..." in msg and "without --resume" in msg
    assert (out / "r.json").read_bytes() == before


def _prov(train="a" * 64, commit="1" * 40, diff=None):
    return {"code": {"commit": commit, "dirty": diff is not None, "diff_sha256": diff},
            "data_sha256": {"train": train, "val": "b" * 64, "test": "c" * 64}}


@pytest.mark.parametrize("then, now, says", [
    (_prov(), _prov(train="d" * 64), "train data differ (aaaaaaaaaaaa then, dddddddddddd now)"),
    (_prov(), _prov(commit="2" * 40), "the code differs (commit 1111111111 then, 2222222222 now)"),
    (_prov(), _prov(diff="e" * 64), "the code's uncommitted changes differ"),
    (_prov(diff="e" * 64), _prov(diff="f" * 64), "the code's uncommitted changes differ"),
    (_prov(diff="e" * 64), _prov(diff="e" * 64), "same data and code"),
    (_prov(), _prov(), "same data and code: the training itself did not repeat"),
    (None, _prov(), "the earlier run recorded no data fingerprint"),
    (_prov(), None, "the new run recorded no data fingerprint"),
    ({"code": {}}, _prov(), "train data differ (None then, aaaaaaaaaaaa now)"),
])
def test_why_a_rerun_differs(then, now, says):
    assert says in why_different(then, now)


def _report(acc, prov, recipe=None):
    row = {"protocol": "speaker", "speaker": "george", "seed": 0, "test_acc": acc, "provenance": prov}
    return {"date": "2026-12-05", "recipe": recipe or {"epochs": 10}, "runs": [row], "official": None}


def test_loso_names_a_figure_a_rerun_did_not_repeat():
    same = L.differences(_report(0.904, _prov()), _report(0.904, _prov()))
    assert same == []
    other_recipe = L.differences(_report(0.904, _prov(), {"epochs": 20}), _report(0.892, _prov()))
    assert other_recipe == []
    [d] = L.differences(_report(0.904, None), _report(0.892, _prov()))
    assert (d["speaker"], d["seed"], d["test_acc_before"], d["test_acc_now"]) == ("george", 0, 0.904, 0.892)
    assert L.difference_line(d) == (
        "not repeated: george held out, seed 0: 89.2 % now, 90.4 % in the report this replaces "
        "(2026-12-05): the earlier run recorded no data fingerprint (made before runs kept them), "
        "so the cause cannot be told")


def test_a_loso_rerun_records_and_compares(tmp_path, capfd):
    """A real (tiny) LOSO: its rows carry their provenance; run again it repeats every figure and
    says nothing; against a report whose figure was changed it prints the line and keeps it."""
    kw = dict(recipe={"epochs": 1, "sizes": (8,), "n_train": 40}, seeds=(0,), speakers="lucas",
              workers=1, train_dir=tmp_path / "train", reports_dir=tmp_path / "reports")
    first = L.loso(**kw, progress=False)
    [row] = first["runs"]
    assert row["provenance"]["data_sha256"]["train"] and first["not_repeated"] == []
    again = L.loso(**kw, progress=False)                 # trained again from scratch
    assert again["not_repeated"] == [] and again["runs"][0]["test_acc"] == row["test_acc"]
    report = Path(first["report"])
    doc = json.loads(report.read_text())
    doc["runs"][0]["test_acc"] = row["test_acc"] + 0.5
    report.write_text(json.dumps(doc))
    capfd.readouterr()
    third = L.loso(**kw, resume=True)
    out = capfd.readouterr().out
    assert [d["speaker"] for d in third["not_repeated"]] == ["lucas"]
    assert "not repeated: lucas held out, seed 0:" in out and "same data and code" in out
    assert json.loads(report.read_text())["not_repeated"] == third["not_repeated"]
