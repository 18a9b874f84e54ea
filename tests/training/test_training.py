"""Tests of delay_training: the trained network is the network the core runs.

* integer exactness: the hardware-mode forward equals GoldenNetwork on random networks and
  inputs (ternary and k-bit weights, shift and mul leak, both resets, recurrence, saturation,
  many different delays);
* gradients: the hand-written BPTT of feed-forward layers equals autograd through the
  step-by-step loop, and the finite-difference delay gradient points the right way;
* sequence detection with fixed weights learns to 100 % through delays alone;
* export round trip (manifest, checksums, bit-equal readouts, 100 % prediction agreement);
* kill -9 in the middle of a run, --resume, same result as an uninterrupted run;
* bad input: missing data propagates the data set's error, a float model refuses to export.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import spike_datasets as sd
from delay_training import DelaySNN, ModelConfig, compare, export, load_export, predict, to_params
from delay_training.__main__ import main as cli_main
from delay_training.data import load_task
from delay_training.autograd import _DelayGather, _DelayShift
from delay_training.train import make_config, seqdet_network, train
from golden_model import GoldenNetwork

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small ops are fastest (and not at the mercy of a busy second core) on one thread; the
    training runs set the same. Restored afterwards for the other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_input(seed, B, T, n_in, p=0.3, max_count=3):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, T, n_in, generator=g) < p).to(torch.int64)
    return x * torch.randint(1, max_count + 1, (B, T, n_in), generator=g)


# ---------------------------------------------------------------------------------------------
# integer exactness


CASES = [
    # wbits, leak_mode, leak, recurrent, reset, v_bits, dbits, gain
    (1.58, "shift", (2, 3, 1), (False, False), 0, 12, 3, 3.0),
    (1.58, "mul", (200, 230, 250), (True, False), 1, 12, 4, 3.0),
    (2, "shift", (1, 4, 2), (False, True), 1, 10, 2, 4.0),
    (4, "mul", (256, 128, 240), (True, True), 0, 16, 5, 3.0),
    (8, "shift", (0, 5, 3), (False, False), 0, 9, 6, 6.0),
    (8, "mul", (255, 0, 256), (False, True), 1, 24, 3, 3.0),
]


@pytest.mark.parametrize("case", CASES, ids=[f"w{c[0]}-{c[1]}-rec{int(any(c[3]))}-v{c[5]}" for c in CASES])
def test_hardware_forward_equals_golden(case):
    wbits, mode, leak, rec, reset, v_bits, dbits, gain = case
    cfg = ModelConfig(n_in=12, sizes=(10, 8), n_out=4, recurrent=rec, wbits=wbits, dbits=dbits,
                      v_bits=v_bits, leak_mode=mode, leak=leak, reset_mode=reset,
                      theta_target=min(256, (1 << (v_bits - 1)) // 4), init_gain=(gain,) * 3)
    for seed in range(3):
        model = DelaySNN(cfg, seed=seed)
        with torch.no_grad():   # every delay value, including 0 and D - 1
            for d in model.delays:
                d.copy_(torch.arange(d.numel()) % cfg.depth)
                d.copy_(d[torch.randperm(d.numel(), generator=torch.Generator().manual_seed(seed))])
            x = random_input(seed, 6, 40, 12)
            out = model(x)
        params = to_params(model)
        ref = GoldenNetwork(params).run(x)
        assert torch.equal(out["readout"].to(torch.int64), ref["readout"])
        assert torch.equal(out["readout"], out["readout"].round())
        for y, yg in zip(out["spikes"], ref["spikes"]):
            assert torch.equal(y.to(torch.bool), yg)
        assert torch.equal(predict(out["readout"]), predict(ref["readout"]))
        assert len(set(params.layers[0].delay.tolist())) == min(10, cfg.depth)
        assert any(float(y.mean()) > 0.01 for y in out["spikes"])   # not a silent network


def test_saturation_is_exact():
    """Huge inputs, a small membrane and a threshold near the top: membranes sit at both
    saturation bounds, and model and golden model still agree bit for bit."""
    cfg = ModelConfig(n_in=8, sizes=(6,), n_out=3, wbits=4, dbits=3, v_bits=8, leak_mode="shift",
                      leak=(3, 5), theta_target=100, init_gain=(8.0, 8.0))
    model = DelaySNN(cfg, seed=5)
    with torch.no_grad():
        model.registers[:, 0] = 7                       # weight_shift 7: one level = 128 units
        model.registers[0, 1] = 120                     # threshold close to v_max = 127
    x = random_input(1, 5, 30, 8, p=0.6, max_count=5)
    out = model(x)
    params = to_params(model)
    golden = GoldenNetwork(params)
    ref = golden.run(x)
    assert torch.equal(out["readout"].to(torch.int64), ref["readout"])
    # replay step by step to see the LIF membranes hit both bounds
    state, seen = golden.init_state(x.shape[0]), set()
    for t in range(x.shape[1]):
        golden.step(state, x[:, t])
        seen |= {int(state.layers[0].v.min()), int(state.layers[-1].v.max()), int(state.layers[-1].v.min())}
    assert cfg.v_min in seen
    assert cfg.v_max in seen or int(ref["readout"].max()) == cfg.v_max


def test_large_sums_switch_to_float64_and_stay_exact():
    """Partial sums beyond 2^24 (8-bit weights << 7, hundreds of events a step) are computed in
    float64, so the forward pass stays exact."""
    cfg = ModelConfig(n_in=300, sizes=(5,), n_out=2, wbits=8, dbits=2, v_bits=24,
                      theta_target=1 << 20, init_gain=(1.0, 1.0))
    model = DelaySNN(cfg, seed=0)
    with torch.no_grad():
        model.registers[:, 0] = 7
    x = random_input(2, 3, 10, 300, p=0.9, max_count=10)
    out = model(x)
    assert out["spikes"][0].dtype == torch.float64        # layer 1 ran in float64
    ref = GoldenNetwork(to_params(model)).run(x)
    assert torch.equal(out["readout"].to(torch.int64), ref["readout"])
    assert torch.equal(out["spikes"][0].to(torch.bool), ref["spikes"][0])
    assert 0 < float(out["spikes"][0].detach().mean()) < 1


# ---------------------------------------------------------------------------------------------
# gradients


def test_fused_backward_equals_stepwise_autograd():
    """A feed-forward layer (hand-written BPTT) and the same layer run as a recurrent one with
    zero recurrent weights (autograd through the step loop) give identical outputs and gradients
    for weights and delays."""
    torch.manual_seed(0)
    common = dict(n_in=6, sizes=(7,), n_out=3, wbits=4, dbits=3, v_bits=16, leak=(2, 3),
                  theta_target=256, init_gain=(3.0, 2.0))
    ff = DelaySNN(ModelConfig(**common, recurrent=(False,)), seed=1)
    rc = DelaySNN(ModelConfig(**common, recurrent=(True,)), seed=1)
    with torch.no_grad():
        rc.weights[0].zero_()
        rc.weights[0][:6] = ff.weights[0]
        rc.weights[1].copy_(ff.weights[1])
        rc.delays[0].copy_(ff.delays[0])
        rc.registers.copy_(ff.registers)
    rc.weights[0].register_hook(lambda g: g * torch.cat([torch.ones(6, 7), torch.zeros(7, 7)]))
    x = random_input(3, 4, 25, 6, p=0.4, max_count=2)
    y = torch.tensor([0, 1, 2, 1])
    grads = []
    for m in (ff, rc):
        out = m(x)
        F.cross_entropy(out["logits"], y).backward()
        grads.append((out["readout"].detach(), m.weights[0].grad[:6].clone(), m.weights[1].grad.clone(),
                      m.delays[0].grad.clone()))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert grads[0][1].abs().sum() > 0 and grads[0][3].abs().sum() > 0


def test_delay_shift_and_gather_finite_difference():
    """y[t] = s[t - d]; d loss/d d = sum_t g[t] (s[t-d-1] - s[t-d]); both implementations agree."""
    s = torch.zeros(1, 12, 1)
    s[0, 3, 0] = 1.0
    reward = torch.arange(12.0).view(1, 12, 1)          # loss = -sum_t t * y[t] = -(3 + d)
    d = torch.tensor([2.3], requires_grad=True)         # rounds to 2
    y = _DelayShift.apply(s, d, 8)
    assert int(y[0, :, 0].argmax()) == 5
    (-(y * reward).sum()).backward()
    assert float(d.grad) == pytest.approx(-1.0)         # a larger delay lowers the loss
    # the history-based version used in recurrent layers
    d2 = torch.tensor([2.3], requires_grad=True)
    hist = torch.zeros(1, 1, 9)
    loss = 0
    for t in range(12):
        hist = torch.cat([s[:, t].unsqueeze(-1), hist[..., :8]], -1)
        loss = loss - reward[0, t, 0] * _DelayGather.apply(hist, d2, 8)
    loss.sum().backward()
    assert float(d2.grad) == pytest.approx(-1.0)


def test_delay_gradient_sign_on_a_coincidence_toy():
    """One detector pair of the sequence task: coincidence (and the loss dropping) needs
    d(a) = d(c) + lag. Below that delay the gradient is negative (gradient descent raises the
    delay) and the loss at the right delay is clearly lower; a few optimiser steps get there."""
    splits = load_task("seqdet", n_train=200)
    cfg = make_config("seqdet", sizes=(4, 2))
    model = seqdet_network(cfg.model_config(2, 2))
    x, y = splits.train.spikes, splits.train.labels
    lag = splits.train.info["lag"]
    with torch.no_grad():
        for d in model.delays:
            d.zero_()
        model.delays[0][2] = 3.0                      # relay c
    target = 3 + lag

    def loss_grad(da):
        with torch.no_grad():
            model.delays[0][0] = float(da)            # relay a
        model.zero_grad()
        loss = F.cross_entropy(model(x)["logits"], y)
        loss.backward()
        return float(loss.detach()), float(model.delays[0].grad[0])

    losses = {}
    for da in range(0, target + 1):
        losses[da], grad = loss_grad(da)
        if da < target:
            assert grad < 0, (da, grad)
    assert losses[target] < losses[target - 1] - 0.2
    # optimise d(a) alone from 6
    with torch.no_grad():
        model.delays[0][0] = 6.0
    opt = torch.optim.Adam([model.delays[0]], lr=0.5)
    mask = torch.tensor([1.0, 0, 0, 0])
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(model(x)["logits"], y).backward()
        model.delays[0].grad *= mask
        opt.step()
        model.clamp_delays_()
    assert abs(float(model.delays[0][0].detach()) - target) <= 1.0


# ---------------------------------------------------------------------------------------------
# training, export, resume


@pytest.fixture(scope="module")
def seqdet_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seqdet")
    cfg = make_config("seqdet", epochs=5, seed=1, n_train=600, out=str(out), report=str(out / "r.json"))
    t0 = time.perf_counter()
    report = train(cfg, progress=False)
    return cfg, report, time.perf_counter() - t0


def test_seqdet_learns_with_delays_only(seqdet_run):
    cfg, report, _seconds = seqdet_run    # speed is a benchmark (README), not a timed test
    assert report["test_acc"] == 1.0 and report["val_acc"] == 1.0
    # the weights did not move: the exported levels are the hand-built ones
    params = load_export(Path(cfg.out) / "export")
    ref = to_params(seqdet_network(cfg.model_config(2, 2)))
    for p, r in zip(params.layers, ref.layers):
        assert torch.equal(p.weight, r.weight)
    assert any(not torch.equal(p.delay, r.delay) for p, r in zip(params.layers[:-1], ref.layers[:-1]))


def test_report_contents(seqdet_run):
    cfg, report, _ = seqdet_run
    on_disk = json.loads(Path(cfg.report).read_text())
    assert on_disk["test_acc"] == report["test_acc"]
    for key in ("val_acc", "selected_epoch", "memory_bits", "train_config", "seed", "wall_s", "export"):
        assert key in on_disk
    mem = on_disk["memory_bits"]
    assert mem["weights"] == (2 * 16 + 16 * 8 + 8 * 2) * 2          # ternary: 2 bits stored
    assert mem["delays"] == (16 + 8) * 4
    assert mem["total"] == mem["weights"] + mem["delays"] + mem["other"]
    ex = on_disk["export"]
    assert ex["possible"] and ex["test_prediction_agreement"] == 1.0
    assert ex["test_readout_bit_equal_samples"] == ex["test_samples"] == 200
    assert len(on_disk["history"]) == cfg.epochs
    best = max(on_disk["history"], key=lambda h: (h["val_acc"], -h["epoch"]))
    assert on_disk["selected_epoch"] == best["epoch"]
    for name in ("curves.png", "raster.png", "delays.png"):
        assert (Path(cfg.out) / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_round_trip(seqdet_run, tmp_path):
    cfg, _, _ = seqdet_run
    splits = load_task("seqdet", n_train=10)
    params = load_export(Path(cfg.out) / "export")
    model = seqdet_network(cfg.model_config(2, 2))
    # put the exported delays back into a fresh model: the image fully determines the network
    with torch.no_grad():
        for l, d in enumerate(model.delays):
            d.copy_(params.layers[l].delay.float())
    model.eval()
    for x in (splits.test.spikes, random_input(7, 50, 48, 2, p=0.2, max_count=4)):
        res = compare(model, params, x)
        assert res["prediction_agreement"] == 1.0
        assert res["readout_bit_equal_samples"] == x.shape[0]
        assert res["readout_max_abs_diff"] == 0
    # a second export of the same model is byte-identical in its image checksum
    p2, manifest = export(model, tmp_path / "again")
    m1 = json.loads((Path(cfg.out) / "export" / "manifest.json").read_text())
    m2 = json.loads(manifest.read_text())
    assert m1["sha256"] == m2["sha256"]
    assert m2["core_config"]["depth"] == 16 and m2["core_config"]["ternary"] is True
    assert [l["weight_shape"] for l in m2["layers"]] == [[2, 16], [16, 8], [8, 2]]
    # tampering is detected
    blob = bytearray((tmp_path / "again" / "params.pt").read_bytes())
    blob[-20] ^= 0xFF
    (tmp_path / "again" / "params.pt").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="checksum"):
        load_export(tmp_path / "again")
    # The host image beside it is the same network, packed as the manifest says.
    from hostlink.image import read_image
    cfg_i, writes, params_i = read_image(Path(cfg.out) / "export" / "image.json")
    assert cfg_i == params_i.config and m1["image_sha256"] == json.loads(
        (Path(cfg.out) / "export" / "image.json").read_text())["sha256"]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(params_i.layers, p2.layers))
    # A manifest that describes another network is refused, naming the first difference.
    import shutil
    shutil.copytree(Path(cfg.out) / "export", tmp_path / "edited")
    m = json.loads((tmp_path / "edited" / "manifest.json").read_text())
    m["layers"][1]["threshold"] += 1
    (tmp_path / "edited" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"layer 1 threshold: \d+ != \d+ \(manifest != parameters\)"):
        load_export(tmp_path / "edited")
    m["layers"][1]["threshold"] -= 1
    m["core_config"]["depth"] = 32
    (tmp_path / "edited" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"core_config.depth: 32 != 16"):
        load_export(tmp_path / "edited")
    with pytest.raises(ValueError, match=r"nowhere/manifest.json: no such file"):
        load_export(tmp_path / "nowhere")


def test_run_names_differ_for_every_option_that_changes_the_model():
    """make train TASK=fsdd and make train TASK=fsdd TRAIN_ARGS=--input-delays used to share
    build/train/fsdd; every option that changes the model is in the name now."""
    names = {make_config("fsdd").name, make_config("fsdd", input_delays=True).name,
             make_config("fsdd", seed=1).name, make_config("fsdd", epochs=5).name,
             make_config("fsdd", sizes=(128,)).name, make_config("fsdd", wbits=4).name,
             make_config("fsdd", lr=1e-3).name, make_config("fsdd", learn_threshold=True).name}
    assert len(names) == 8
    assert make_config("fsdd").name == "fsdd"
    assert make_config("fsdd", input_delays=True, sizes=(128,)).name == "fsdd-h128-leak3.4-gain2.1-in"
    # Options that do not change the model do not rename it; --name wins.
    assert make_config("fsdd", threads=2, device="cpu").name == "fsdd"
    assert make_config("fsdd", input_delays=True, name="mine").out.endswith("build/train/mine")
    assert make_config("fsdd", seed=3).out.endswith("build/train/fsdd-s3")


def test_trained_ternary_kbit_model_exports_exactly():
    """A briefly trained (weights and delays) model on the delay task: golden == model."""
    splits = load_task("delaytask", n_train=100)
    cfg = make_config("delaytask", sizes=(16, 8), wbits=4, epochs=1)
    mc = cfg.model_config(4, 4)
    model = DelaySNN(mc, seed=0)
    opt = torch.optim.Adam(model.param_groups(1e-2, 0.5))
    x, y = splits.train.tensors
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x)["logits"], y).backward()
        opt.step()
        model.clamp_delays_()
    res = compare(model, to_params(model), splits.test.spikes[:100])
    assert res["prediction_agreement"] == 1.0 and res["readout_max_abs_diff"] == 0


def _cli(out: Path, *extra):
    return [PY, "-m", "delay_training", "train", "--task", "seqdet", "--epochs", "4", "--seed", "2",
            "--n-train", "200", "--out", str(out), "--report", str(out / "r.json"), "--quiet", *extra]


def test_kill_and_resume_gives_the_same_result(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # reference: uninterrupted, in this process
    ref_out = tmp_path / "ref"
    ref = train(make_config("seqdet", epochs=4, seed=2, n_train=200, out=str(ref_out),
                            report=str(ref_out / "r.json")), progress=False)
    # interrupted: kill -9 once the first checkpoint is on disk (the run sleeps after each one)
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(out, "--throttle", "2"), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = out / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = torch.load(ckpt, weights_only=False)["epoch"]
    assert 1 <= done < 4
    assert not (out / "r.json").exists()
    assert not list(out.glob(".*.tmp"))                # no half-written files left behind
    # resume
    res = subprocess.run(_cli(out, "--resume"), env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"after epoch {done}" in res.stderr
    got = json.loads((out / "r.json").read_text())
    strip = lambda hist: [{k: v for k, v in h.items() if k != "epoch_s"} for h in hist]
    assert strip(got["history"]) == strip(ref["history"])
    assert got["test_acc"] == ref["test_acc"] and got["selected_epoch"] == ref["selected_epoch"]
    m_ref = json.loads((ref_out / "export" / "manifest.json").read_text())
    m_got = json.loads((out / "export" / "manifest.json").read_text())
    assert m_got["sha256"] == m_ref["sha256"]
    # a checkpoint made with other settings is refused
    with pytest.raises(ValueError, match="different settings"):
        train(make_config("seqdet", epochs=4, seed=3, n_train=200, out=str(out),
                          report=str(out / "r2.json")), resume=True, progress=False)


# ---------------------------------------------------------------------------------------------
# bad input


def test_missing_dataset_propagates_named_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DELAYSNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(sd.MissingDataError, match="nowhere"):
        train(make_config("yinyang", epochs=1, out=str(tmp_path / "o")), progress=False)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("DELAYSNN_DATA", str(tmp_path / "empty"))
    with pytest.raises(sd.MissingDataError, match="fsdd"):
        load_task("fsdd")


def test_float_model_cannot_be_exported():
    cfg = ModelConfig(n_in=4, sizes=(5,), n_out=2, wbits=32, dbits=0)
    model = DelaySNN(cfg, seed=0)
    out = model(random_input(0, 2, 10, 4))          # it runs (float mode) ...
    assert out["readout"].dtype == torch.float32
    with pytest.raises(ValueError, match="float-weight model"):
        to_params(model)                           # ... but has no integer image
    mem = model.memory_bits()
    assert mem["weights"] == (4 * 5 + 5 * 2) * 32 and mem["delays"] == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="wbits"):
        ModelConfig(n_in=2, sizes=(3,), n_out=2, wbits=3.5)
    with pytest.raises(ValueError, match="dbits"):
        ModelConfig(n_in=2, sizes=(3,), n_out=2, dbits=7)
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--task", "seqdet", "--wbits", "12"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        cli_main(["train", "--task", "nosuchtask"])
    with pytest.raises(ValueError, match="input"):
        DelaySNN(ModelConfig(n_in=2, sizes=(3,), n_out=2), seed=0)(torch.zeros(1, 5, 3))


# ---------------------------------------------------------------------------------------------
# input delays (one axonal delay per input channel: the core's input delay stage)


@pytest.mark.parametrize("wbits,rec", [(1.58, (False, False)), (4, (True, False))])
def test_input_delays_forward_equals_golden(wbits, rec, tmp_path):
    """Counts become spikes, then each channel's delay: golden (with the stage) == model, bit
    for bit, and through an export round trip."""
    cfg = ModelConfig(n_in=12, sizes=(10, 8), n_out=4, recurrent=rec, wbits=wbits, dbits=3,
                      leak=(2, 3, 1), init_gain=(3.0, 3.0, 3.0), theta_target=256, input_delays=True)
    for seed in range(3):
        model = DelaySNN(cfg, seed=seed)
        with torch.no_grad():     # every delay value 0 .. D-1 on the input channels
            model.input_delay.copy_(torch.randperm(12, generator=torch.Generator().manual_seed(seed)) % 8)
        x = random_input(seed, 6, 30, 12)                 # counts up to 3: the stage makes them 0/1
        out = model(x)
        params = to_params(model)
        assert params.config.input_delays and params.input_delay.tolist() == model.int_input_delays().tolist()
        ref = GoldenNetwork(params).run(x)
        assert torch.equal(out["readout"].to(torch.int64), ref["readout"]), f"seed={seed}"
        assert any(float(y.mean()) > 0.01 for y in out["spikes"]), f"seed={seed}: silent"
        export(model, tmp_path / str(seed))
        back = load_export(tmp_path / str(seed))
        assert torch.equal(back.input_delay, params.input_delay), f"seed={seed}"


def test_input_delays_gradient_and_bookkeeping(tmp_path):
    """Input delays get the finite-difference gradient, sit in the delay group, are clamped, are
    counted in memory; without the option the model and its random stream are unchanged."""
    base = dict(n_in=6, sizes=(5,), n_out=3, wbits=4, dbits=3, init_gain=(4.0, 2.0))
    plain, with_in = DelaySNN(ModelConfig(**base), seed=1), DelaySNN(ModelConfig(**base, input_delays=True), seed=1)
    assert "input_delay" not in plain.state_dict()
    sd = with_in.state_dict()
    assert set(sd) - set(plain.state_dict()) == {"input_delay"}
    for k, v in plain.state_dict().items():
        assert torch.equal(v, sd[k]), k
    x = random_input(4, 8, 20, 6, p=0.4, max_count=1).float()
    with_in(x)["logits"].sum().backward()
    g = with_in.input_delay.grad
    assert g is not None and g.abs().sum() > 0
    groups = {grp["name"]: grp for grp in with_in.param_groups(1e-3, 0.5)}
    assert any(p is with_in.input_delay for p in groups["delays"]["params"])
    with torch.no_grad():
        with_in.input_delay.fill_(9.0)
    with_in.clamp_delays_()
    assert float(with_in.input_delay.max()) == 7.0
    mb, mb0 = with_in.memory_bits(), plain.memory_bits()
    assert mb["delays"] - mb0["delays"] == 6 * 3 and mb["other"] - mb0["other"] == 6 * (8 + 1)
    from delay_training import plots
    assert plots.delay_histogram(with_in, tmp_path / "delays.png", "t").stat().st_size > 0


def test_weight_decay_shrinks_the_weights_only():
    """--weight-decay: AdamW on the weights group alone; with zero gradients one step multiplies
    every latent weight by exactly 1 - lr * decay and leaves the delays where they are; off, the
    optimiser is plain Adam (old runs train as before) and the option is not in the run's name."""
    from delay_training.train import TrainConfig, make_optimizer
    cfg = make_config("delaytask", sizes=(16, 8), epochs=1, weight_decay=0.25, lr=0.01)
    assert cfg.identity()["weight_decay"] == 0.25 and "wd0.25" in cfg.name
    assert "weight_decay" not in make_config("delaytask").identity() and "wd" not in make_config("delaytask").name
    model = DelaySNN(cfg.model_config(2, 3), seed=0)
    opt = make_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.AdamW)
    assert {g["name"]: g["weight_decay"] for g in opt.param_groups} == {"weights": 0.25, "delays": 0.0}
    weights = [w.detach().clone() for w in model.weights]
    delays = [d.detach().clone() for d in model.delay_latents()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for before, after in zip(weights, model.weights):
        assert torch.equal(after.detach(), before * (1 - 0.01 * 0.25))
    for before, after in zip(delays, model.delay_latents()):
        assert torch.equal(after.detach(), before)
    assert type(make_optimizer(model, make_config("delaytask", sizes=(16, 8)))) is torch.optim.Adam
    with pytest.raises(ValueError, match="--weight-decay -1: expected a decay in"):
        TrainConfig(task="delaytask", weight_decay=-1)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_label_smoothing_moves_that_share_of_the_target_onto_every_class(eps):
    """--label-smoothing e: the training loss is (1 - e) x cross-entropy + e x the mean over the
    classes of -log p (computed here by hand, not by torch's option); 0 is plain cross-entropy,
    so old runs train as before, and the option is in the name and identity only when set."""
    from delay_training.train import training_loss
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = torch.tensor([2, 1])
    logp = torch.log_softmax(logits, 1)
    by_hand = ((1 - eps) * -logp[torch.arange(2), labels] + eps * -logp.mean(1)).mean()
    cfg = make_config("delaytask", label_smoothing=eps)
    assert torch.allclose(training_loss(logits, labels, cfg), by_hand, atol=1e-6, rtol=0)
    if eps:
        assert cfg.identity()["label_smoothing"] == eps and f"ls{eps:g}" in cfg.name
        assert not torch.allclose(training_loss(logits, labels, cfg),
                                  training_loss(logits, labels, make_config("delaytask")))
    else:
        assert "label_smoothing" not in cfg.identity() and "-ls" not in cfg.name


@pytest.mark.parametrize("eps", [-0.1, 1.0])
def test_label_smoothing_outside_its_range_is_refused(eps):
    from delay_training.train import TrainConfig
    with pytest.raises(ValueError, match=f"--label-smoothing {eps:g}: expected a share in \\[0, 1\\)"):
        TrainConfig(task="delaytask", label_smoothing=eps)
