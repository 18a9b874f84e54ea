"""onchip_learning.towers_adapt_study: two adapted members merged into one towers network and
scored on the golden model, before (the runs' exports) and after (the adapt reports' images)."""
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from delay_training.export import write_export
from delay_training.loso_ensemble import golden_predictions
from delay_training.towers import merge_params
from golden_model import CoreConfig, random_params
from hostlink.image import save_image
from onchip_learning import towers_adapt_study as study


def _net(n_in, n, seed, like=None):
    p = random_params(CoreConfig(n_in=n_in, sizes=(n,), n_out=10, weight_bits=2, ternary=True, depth=8,
                                 input_delays=True), seed)
    if like is not None:
        p.layers = [dataclasses.replace(lb, **{k: getattr(la, k) for k in ("threshold", "leak", "weight_shift",
                                                                          "reset_mode")})
                    for la, lb in zip(like.layers, p.layers)]
    return p


def test_fold_figures_merge_the_runs_before_and_the_images_after(tmp_path):
    a0 = _net(3, 4, 0)
    b0 = _net(2, 3, 1, like=a0)
    a1, b1 = _net(3, 4, 2, like=a0), _net(2, 3, 3, like=a0)      # "adapted": other weights
    reports = []
    for name, before, after, fe in (("A", a0, a1, {"n_channels": 3, "tilt_degree": 1}),
                                    ("B", b0, b1, {"n_channels": 2, "speaker_norm": 1})):
        run = tmp_path / name
        write_export(before, run / "export", {}, {"task": "fsdd-loso", "front_end": fe})
        save_image(tmp_path / f"{name}-image.json", after)
        reports.append({"name": f"{name}-george-k1", "speaker": "george", "run": str(run),
                        "bptt": {"image": str(tmp_path / f"{name}-image.json"), "speaker_accuracy": 0.5,
                                 "others_accuracy": 0.9}})
    g = np.random.default_rng(0)
    x = (g.random((30, 12, 5)) < 0.4).astype(np.uint8)
    y = np.arange(30) % 10
    fold = SimpleNamespace(test_x=x[:20], test_y=y[:20], other_x=x[20:], other_y=y[20:])
    row = study.fold_figures(reports, 1, fold)
    acc = lambda p, xs, ys: float((golden_predictions(p, xs) == ys).mean())
    assert row["before"] == acc(merge_params(a0, b0), x[:20], y[:20])
    assert row["after"] == acc(merge_params(a1, b1), x[:20], y[:20])
    assert row["others_after"] == acc(merge_params(a1, b1), x[20:], y[20:])
    assert row["forgotten_points"] == pytest.approx(100 * (row["others_before"] - row["others_after"]))
    assert row["members"] == ["A-george-k1", "B-george-k1"] and row["members_after"] == [0.5, 0.5]


def test_a_missing_or_on_chip_only_report_is_one_line(tmp_path):
    with pytest.raises(study.StudyError, match="adapt-t2-george-k1.json"):
        study.member_reports(["t2", "sn"], "george", 1, tmp_path)
    (tmp_path / "adapt-t2-george-k1.json").write_text(json.dumps({"name": "t2-george-k1"}))
    with pytest.raises(study.StudyError, match="no host-side image .run delaysnn adapt with --bptt."):
        study.member_reports(["t2", "sn"], "george", 1, tmp_path)
    for name, seed, k in (("t2", 0, 1), ("sn", 1, 1)):
        run = tmp_path / f"run-{name}"
        run.mkdir()
        (run / "loso-result.json").write_text(json.dumps({"seed": seed}))
        (tmp_path / f"adapt-{name}-george-k1.json").write_text(json.dumps(
            {"name": f"{name}-george-k1", "speaker": "george", "k": k, "run": str(run),
             "bptt": {"image": "x.json"}}))
    with pytest.raises(study.StudyError, match=r"the members differ in training seed \(0 and 1\)"):
        study.member_reports(["t2", "sn"], "george", 1, tmp_path)
    with pytest.raises(SystemExit) as e:
        study.main(["--members", "t2"])
    assert e.value.code == 2
