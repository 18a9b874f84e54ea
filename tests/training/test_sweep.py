"""Tests of delay_training.sweep (bit-budget study) and delay_training.bench (training cost).

* the sweep on a tiny delaytask (1 epoch, 3 configurations, 1 worker) writes the JSON with the
  right rows, the Markdown table and the PNG;
* Pareto front on hand-made points;
* equal-parameter sizing arithmetic (checked against DelaySNN's own counts);
* the per-synapse delay kernel's delay gradient equals the exact one-step finite difference;
* the bench on a tiny network returns positive times for every available method.
"""

from __future__ import annotations

import json

import pytest
import torch

from delay_training import DelaySNN, ModelConfig
from delay_training import bench as B
from delay_training import sweep as S


def test_sweep_tiny_delaytask(tmp_path):
    s = S.sweep("delaytask", epochs=1, workers=1, wbits=(1.58,), dbits=(0, 3), seed=0,
                overrides={"sizes": (8,), "n_train": 50}, reports_dir=tmp_path / "reports",
                plots_dir=tmp_path / "plots", out_dir=tmp_path / "sweep", progress=False)
    path = tmp_path / "reports" / "sweep-delaytask.json"
    data = json.loads(path.read_text())
    rows = data["rows"]
    assert [(r["wbits"], r["dbits"], r["kind"]) for r in rows] == \
        [(1.58, 0, "grid"), (1.58, 3, "grid"), (1.58, 0, "eq-params")]
    assert all("error" not in r for r in rows), rows
    # delaytask: 4 -> 8 -> 4; the delay net has 64 weights + 8 delays = 72 parameters, the
    # weights-only twin 4 -> 9 -> 4 = 72 weights.
    assert data["param_target"] == 72
    assert [r["hidden"] for r in rows] == [[8], [8], [9]]
    assert [r["n_params"] for r in rows] == [64, 72, 72]
    for r in rows:
        for k in ("memory_total", "memory_weights", "memory_delays", "val_acc", "test_acc", "epochs",
                  "seed", "wall_s"):
            assert k in r
        assert r["epochs"] == 1 and r["seed"] == 0 and r["wall_s"] > 0
        assert 0 <= r["val_acc"] <= 1 and 0 <= r["test_acc"] <= 1
        assert r["memory_total"] >= r["memory_weights"] + r["memory_delays"]
    assert rows[0]["memory_delays"] == 0 and rows[1]["memory_delays"] == 8 * 3
    assert rows[2]["memory_weights"] == 72 * 2           # ternary stored in 2 bits
    assert any(r["pareto_val"] for r in rows)
    png = tmp_path / "plots" / "sweep-delaytask.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "reports" / "sweep-delaytask.md").read_text()
    assert md.count("\n| 1.58 |") == 3
    assert s["plot"] == str(png)


def test_sweep_resume_continues_from_checkpoints(tmp_path):
    """An interrupted sweep resumed with resume=True reuses each run's checkpoint instead of
    training again: same rows, and the per-epoch history (with its timings) is the stored one."""
    kw = dict(epochs=1, workers=1, wbits=(1.58,), dbits=(3,), seed=0, eq=False,
              overrides={"sizes": (8,), "n_train": 50}, reports_dir=tmp_path / "reports",
              plots_dir=tmp_path / "plots", out_dir=tmp_path / "sweep", progress=False)
    first = S.sweep("delaytask", **kw)
    run_report = tmp_path / "sweep" / "reports" / "train-sweep-delaytask-w1.58-d3-s0.json"
    hist1 = json.loads(run_report.read_text())["history"]
    again = S.sweep("delaytask", resume=True, **kw)
    hist2 = json.loads(run_report.read_text())["history"]
    assert hist2 == hist1                      # a retrained epoch would have another epoch_s
    for a, b in zip(first["rows"], again["rows"]):
        assert (a["val_acc"], a["test_acc"], a["selected_epoch"]) == \
            (b["val_acc"], b["test_acc"], b["selected_epoch"])


def test_pareto_front():
    pts = [(100, 0.5), (200, 0.7), (150, 0.4), (300, 0.7), (50, 0.3), (400, 0.9), (200, 0.7)]
    # (150, .4) is beaten by (100, .5); (300, .7) by (200, .7); both (200, .7) stay
    assert S.pareto_front(pts) == [4, 0, 1, 6, 5]
    assert S.pareto_front([]) == []
    assert S.pareto_front([(1, 0.1)]) == [0]
    # more memory and less accuracy than another point: never on the front
    assert 1 not in S.pareto_front([(10, 0.9), (20, 0.8)])


def test_equal_param_sizing():
    # FSDD network: 700-256-128-10 with 384 delays
    nw = 700 * 256 + 256 * 128 + 128 * 10
    assert S.n_weights(700, (256, 128), 10) == nw == 213248
    assert S.n_params(700, (256, 128), 10, 5) == nw + 384
    assert S.n_params(700, (256, 128), 10, 0) == nw
    target = nw + 384
    sizes = S.equal_param_sizes(700, (256, 128), 10, target)
    # one more neuron in the first layer adds 700 + 128 = 828 >= 384 weights
    assert sizes == (257, 128)
    assert S.n_weights(700, sizes, 10) >= target > S.n_weights(700, (256, 128), 10)
    # bigger deficits grow the layers in proportion (ratio 2:1 kept)
    sizes = S.equal_param_sizes(10, (20, 10), 2, S.n_weights(10, (40, 20), 2))
    assert sizes == (40, 20)
    # recurrent layers count n * n recurrent weights, as DelaySNN holds them
    mc = ModelConfig(n_in=5, sizes=(6, 4), n_out=3, recurrent=(True, False), dbits=3)
    m = DelaySNN(mc, seed=0)
    assert S.n_params(5, (6, 4), 3, 3, (True, False)) == m.memory_bits()["n_weights"] + m.memory_bits()["n_delays"]
    assert S.equal_param_sizes(5, (6, 4), 3, 10, (True, False)) == (6, 4)


def test_synaptic_kernel_delay_gradient_is_finite_difference():
    torch.manual_seed(0)
    D = 5
    w = torch.randn(3, 2, requires_grad=True)
    d = torch.tensor([[0., 1.], [2., 1.], [3., 0.]], requires_grad=True)
    x, gy = torch.rand(1, 10, 3), torch.randn(1, 10, 2)

    def loss(dd):
        K = B._SynapseKernel.apply(w, dd, D)
        return (B.shifted(x, D) @ K.reshape(-1, 2) * gy).sum()

    loss(d).backward()
    with torch.no_grad():
        for i in range(3):
            for j in range(2):
                d2 = d.detach().clone()
                d2[i, j] += 1
                assert float(loss(d2) - loss(d.detach())) == pytest.approx(float(d.grad[i, j]), abs=1e-5)
    K = torch.randn(3, D, 2)
    assert torch.allclose(B.delayed_matmul(x, K), B.shifted(x, D) @ K.reshape(-1, 2), atol=1e-6)
    assert torch.allclose(B.delayed_matmul(x, K[:, :1]), x @ K[:, 0], atol=1e-6)
    s = B.shifted(x, D).view(1, 10, 3, D)
    assert torch.equal(s[..., 0], x) and torch.equal(s[:, 3:, :, 3], x[:, :7]) and (s[:, :3, :, 3] == 0).all()


def test_bench_tiny():
    r = B.bench(n_in=12, hidden=6, n_out=3, steps=12, batch=4, dbits=2, iters=2, warmup=1, n_train=8)
    expected = ({"axonal", "axonal-ternary", "axonal-in", "synaptic", "synaptic-out"}
                | ({"dcls"} if B.dcls_status()[0] else set()))
    assert set(r["results"]) == expected
    assert r["results"]["axonal-in"]["delay_params"] == 12 + 6     # input channels + hidden
    assert set(r["skipped"]) == {"dcls"} - expected
    for m, v in r["results"].items():
        assert v["step_s_median"] > 0 and v["epoch_s_extrapolated"] == pytest.approx(2 * v["step_s_median"])
        assert v["ratio_to_axonal"] > 0
    assert r["results"]["axonal"]["delay_params"] == 6
    assert r["results"]["synaptic"]["delay_params"] == 12 * 6 + 6 * 3
    assert r["results"]["synaptic-out"]["delay_params"] == 6 * 3
    assert r["delay_range"] == [0, 3]
