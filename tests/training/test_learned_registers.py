"""Learned threshold and leak registers (`--learn-threshold`, `--learn-leak`, docs/training.md
sections 1-3): gradients of the hand-written BPTT against autograd and against an independent
plain-autograd reference, clamping, export of the learned registers bit-exact against the golden
model, checkpoints carrying them, and defaults unchanged."""

from __future__ import annotations

import json
import time

import pytest
import torch
import torch.nn.functional as F

from delay_training import DelaySNN, ModelConfig, compare, to_params
from delay_training.autograd import _LayerArith, _LIFLoop, surrogate
from delay_training.train import make_config, train
from golden_model import GoldenNetwork


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def small_splits():
    """The training runs here use the delay task with 100 validation / test samples (the task's
    400 would only cost time)."""
    import delay_training.train as tr
    real = tr.load_task

    def load(task, **kw):
        s = real(task, **kw)
        s.val, s.test = s.val.subset(range(100)), s.test.subset(range(100))
        return s
    with pytest.MonkeyPatch.context() as m:
        m.setattr(tr, "load_task", load)
        yield


def random_input(seed, B, T, n_in, p=0.4, max_count=2):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, T, n_in, generator=g) < p).to(torch.int64)
    return x * torch.randint(1, max_count + 1, (B, T, n_in), generator=g)


def learned(**kw) -> dict:
    base = dict(n_in=6, sizes=(7,), n_out=3, wbits=4, dbits=3, v_bits=16, leak_mode="mul",
                leak=(200, 230), theta_target=256, init_gain=(3.0, 2.0), learn_threshold=True,
                learn_leak=True)
    base.update(kw)
    return base


# ---------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("reset", [0, 1])
def test_fused_backward_equals_stepwise_autograd_for_registers(reset):
    """The feed-forward layer (hand-written _LIFLoop backward) and the same layer run through the
    recurrent step loop with zero recurrent weights (autograd through _Spike, _LeakClamp and the
    reset) give identical threshold and leak gradients (and weight / delay gradients)."""
    common = learned(reset_mode=reset)
    ff = DelaySNN(ModelConfig(**common, recurrent=(False,)), seed=1)
    rc = DelaySNN(ModelConfig(**common, recurrent=(True,)), seed=1)
    with torch.no_grad():
        rc.weights[0].zero_()
        rc.weights[0][:6] = ff.weights[0]
        rc.weights[1].copy_(ff.weights[1])
        rc.delays[0].copy_(ff.delays[0])
        rc.registers.copy_(ff.registers)
        ff.threshold_latent[0].fill_(float(ff.threshold(0)) + 0.3)   # rounds to the same register
        rc.threshold_latent[0].copy_(ff.threshold_latent[0])
    rc.weights[0].register_hook(lambda g: g * torch.cat([torch.ones(6, 7), torch.zeros(7, 7)]))
    x = random_input(3, 4, 25, 6)
    y = torch.tensor([0, 1, 2, 1])
    grads = []
    for m in (ff, rc):
        out = m(x)
        F.cross_entropy(out["logits"], y).backward()
        grads.append((out["readout"].detach(), m.threshold_latent[0].grad.clone(),
                      m.leak_latent[0].grad.clone(), m.leak_latent[1].grad.clone(),
                      m.weights[0].grad[:6].clone(), m.delays[0].grad.clone()))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert all(float(g.abs()) > 0 for g in grads[0][1:4])
    assert 0 < float(grads[0][0].ne(0).float().mean()) and 0 < float(ff(x)["spikes"][0].detach().mean()) < 0.9


def reference_loop(current, theta, leak, ar: _LayerArith):
    """Independent plain-autograd LIF loop (mul leak, integer forward) with the documented
    gradients: floor and saturation straight-through, spike surrogate at
    x = (v1 - theta)/theta, reset detached in the spike but not in theta."""
    B, T, n = current.shape
    v = current.new_zeros(B, n)
    outs = []
    for t in range(T):
        exact = v * leak / 256.0
        v1 = exact + (torch.floor(exact) - exact).detach() + current[:, t]
        v1 = v1 + (v1.clamp(ar.v_min, ar.v_max) - v1).detach()
        x = (v1 - theta) / theta
        sg = surrogate(x.detach(), ar.surrogate, ar.slope)
        hard = (v1 >= theta).to(v1.dtype).detach()
        # value: the hard spike; gradient: sg * dx (w.r.t. v1 and theta)
        s = hard + sg * (x - x.detach())
        outs.append(s)
        v = v1 - theta * hard if ar.reset_mode == 0 else v1 * (1.0 - hard)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("reset", [0, 1])
def test_lifloop_register_gradients_match_plain_autograd(reset):
    """d loss / d threshold and d loss / d leak of _LIFLoop equal those of a separately written
    plain autograd loop (catches an error made identically in both model implementations,
    e.g. a leak gradient without the 1/256)."""
    g = torch.Generator().manual_seed(4)
    B, T, n = 3, 30, 5
    current = torch.randint(-60, 300, (B, T, n), generator=g).to(torch.float32)
    weights = torch.randn(B, T, n, generator=g)
    th0, lk0 = 700.0, 231.0
    ar = _LayerArith(hardware=True, spiking=True, leak_mode="mul", leak=int(lk0), threshold=int(th0),
                     reset_mode=reset, v_min=-(1 << 15), v_max=(1 << 15) - 1)
    th_a = torch.tensor(th0, requires_grad=True)
    lk_a = torch.tensor(lk0, requires_grad=True)
    cur_a = current.clone().requires_grad_(True)
    s_a = _LIFLoop.apply(cur_a, ar, th_a, lk_a)
    (s_a * weights).sum().backward()
    th_b = torch.tensor(th0, requires_grad=True)
    lk_b = torch.tensor(lk0, requires_grad=True)
    cur_b = current.clone().requires_grad_(True)
    s_b = reference_loop(cur_b, th_b, lk_b, ar)
    (s_b * weights).sum().backward()
    assert torch.equal(s_a, s_b.detach())
    assert 0.05 < float(s_a.detach().mean()) < 0.8
    torch.testing.assert_close(cur_a.grad, cur_b.grad, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(th_a.grad, th_b.grad, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(lk_a.grad, lk_b.grad, rtol=1e-4, atol=1e-8)
    assert float(th_a.grad.abs()) > 0 and float(lk_a.grad.abs()) > 0


def test_readout_leak_gradient_matches_plain_autograd():
    g = torch.Generator().manual_seed(5)
    current = torch.randint(-200, 200, (2, 20, 3), generator=g).to(torch.float32)
    weights = torch.randn(2, 20, 3, generator=g)
    ar = _LayerArith(hardware=True, spiking=False, leak_mode="mul", leak=250, threshold=1,
                     reset_mode=0, v_min=-(1 << 15), v_max=(1 << 15) - 1)
    lk_a = torch.tensor(250.0, requires_grad=True)
    (_LIFLoop.apply(current, ar, None, lk_a) * weights).sum().backward()
    lk_b = torch.tensor(250.0, requires_grad=True)
    v, outs = torch.zeros(2, 3), []
    for t in range(20):
        exact = v * lk_b / 256.0
        v = exact + (torch.floor(exact) - exact).detach() + current[:, t]
        outs.append(v)
    (torch.stack(outs, 1) * weights).sum().backward()
    torch.testing.assert_close(lk_a.grad, lk_b.grad, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# options, clamping, defaults


def test_learn_leak_in_shift_mode_is_refused_with_reason():
    with pytest.raises(ValueError, match=r"leak_mode 'mul'.*discrete"):
        ModelConfig(n_in=2, sizes=(3,), n_out=2, leak_mode="shift", learn_leak=True)
    with pytest.raises(ValueError, match=r"--learn-leak.*shift"):
        make_config("fsdd", leak_mode="shift", learn_leak=True)
    with pytest.raises(ValueError, match="float"):
        ModelConfig(n_in=2, sizes=(3,), n_out=2, wbits=32, learn_threshold=True)
    ModelConfig(n_in=2, sizes=(3,), n_out=2, leak_mode="shift", learn_threshold=True)   # fine
    from delay_training.__main__ import main as cli_main
    with pytest.raises(SystemExit) as e:          # the CLI: a usage error (exit 2), no run
        cli_main(["train", "--task", "fsdd", "--learn-leak", "--out", "/nonexistent/x"])
    assert e.value.code == 2


def test_out_of_range_latents_are_clamped():
    cfg = ModelConfig(**learned(sizes=(7, 5), n_out=3, v_bits=12, leak=(200, 230, 240),
                                init_gain=(3.0, 3.0, 2.0)))
    model = DelaySNN(cfg, seed=0)
    x = random_input(0, 3, 30, 6)
    # in range: round to nearest (half to even), in the forward pass and in the exported image
    with torch.no_grad():
        model.threshold_latent[0].fill_(300.6)
        model.threshold_latent[1].fill_(120.5)
        model.leak_latent[0].fill_(200.7)
        model.leak_latent[1].fill_(231.2)
        model.leak_latent[2].fill_(10.5)
    assert [model.threshold(0), model.threshold(1)] == [301, 120]
    assert [model.leak_register(l) for l in range(3)] == [201, 231, 10]
    params = to_params(model)
    assert [p.threshold for p in params.layers[:2]] == [301, 120]
    assert [p.leak for p in params.layers] == [201, 231, 10]
    assert torch.equal(model(x)["readout"].to(torch.int64), GoldenNetwork(params).run(x)["readout"])
    # out of range: clamped
    with torch.no_grad():
        model.threshold_latent[0].fill_(-5.0)
        model.threshold_latent[1].fill_(1e6)
        model.leak_latent[0].fill_(-3.4)
        model.leak_latent[1].fill_(300.0)
        model.leak_latent[2].fill_(255.6)
    assert [model.threshold(0), model.threshold(1)] == [1, (1 << 11) - 1]
    assert [model.leak_register(l) for l in range(3)] == [0, 256, 256]
    params = to_params(model)
    assert [p.threshold for p in params.layers[:2]] == [1, 2047]
    assert [p.leak for p in params.layers] == [0, 256, 256]
    assert torch.equal(model(x)["readout"].to(torch.int64), GoldenNetwork(params).run(x)["readout"])
    model.clamp_latents_()
    assert float(model.threshold_latent[0].detach()) == 1
    assert float(model.threshold_latent[1].detach()) == 2047
    assert float(model.leak_latent[0].detach()) == 0 and float(model.leak_latent[1].detach()) == 256
    assert float(model.leak_latent[2].detach()) == pytest.approx(255.6)


def test_defaults_add_no_parameters():
    common = dict(n_in=6, sizes=(7, 4), n_out=3, wbits=4, leak_mode="mul", leak=(200, 230, 240))
    plain = DelaySNN(ModelConfig(**common), seed=0)
    names = {n for n, _ in plain.named_parameters()}
    assert names == {"weights.0", "weights.1", "weights.2", "delays.0", "delays.1"}
    assert set(plain.state_dict()) == names | {"registers"}
    assert [g["name"] for g in plain.param_groups(1e-3, 0.1)] == ["weights", "delays"]
    assert plain.threshold_t(0) is None and plain.leak_t(0) is None
    cfg = make_config("delaytask")
    assert not any(k in cfg.identity() for k in ("learn_threshold", "learn_leak", "lr_threshold",
                                                  "lr_leak"))
    # the same seed with the options gives the same initial network (latents = registers)
    both = DelaySNN(ModelConfig(**common, learn_threshold=True, learn_leak=True), seed=0)
    x = random_input(1, 2, 20, 6)
    assert torch.equal(plain(x)["readout"], both(x)["readout"])
    assert both.current_registers() == plain.current_registers() == plain.initial_registers()
    assert [g["name"] for g in both.param_groups(1e-3, 0.1)] == \
        ["weights", "delays", "threshold0", "threshold1", "leak"]


# ---------------------------------------------------------------------------------------------
# training, export, checkpoints


def _cfg(tmp, name, **kw):
    base = dict(sizes=(16, 8), wbits=4, leak_mode="mul", leak=(200, 200, 240), epochs=2,
                n_train=100, learn_threshold=True, learn_leak=True, lr_threshold=0.03,
                lr_leak=2.0, plots=False, out=str(tmp / name), report=str(tmp / name / "r.json"))
    base.update(kw)
    return make_config("delaytask", **base)


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("learned")
    cfg = _cfg(tmp, "ref")
    return tmp, cfg, train(cfg, progress=False)


def test_training_moves_registers_and_export_is_bit_exact(learned_run):
    _, cfg, report = learned_run
    regs, init = report["registers"], report["initial_registers"]
    assert [r["threshold"] for r in regs[:2]] != [r["threshold"] for r in init[:2]]
    assert [r["leak"] for r in regs] != [r["leak"] for r in init]
    assert regs[-1]["threshold"] == init[-1]["threshold"]            # readout unit stays fixed
    ex = report["export"]
    assert ex["test_prediction_agreement"] == 1.0
    assert ex["test_readout_bit_equal_samples"] == ex["test_samples"]
    manifest = json.loads(open(ex["manifest"]).read())
    assert [(m["threshold"], m["leak"]) for m in manifest["layers"][:2]] == \
        [(r["threshold"], r["leak"]) for r in regs[:2]]
    assert manifest["layers"][2]["leak"] == regs[2]["leak"]
    assert "thresholds" in report["history"][0] and "leaks" in report["history"][0]


def test_learned_model_equals_golden_including_a_moved_threshold():
    """Adam steps on the registers only, large enough to move every threshold and leak; the
    exported image (learned registers) runs bit-equal in GoldenNetwork, ternary and 4-bit."""
    for wbits in (1.58, 4):
        cfg = ModelConfig(**learned(sizes=(10, 8), n_out=4, n_in=12, wbits=wbits, v_bits=14,
                                    leak=(210, 230, 245), init_gain=(3.0, 3.0, 1.0)))
        model = DelaySNN(cfg, seed=2)
        init = model.current_registers()
        opt = torch.optim.Adam(model.param_groups(0.0, 0.0, lr_threshold=0.05, lr_leak=3.0))
        x = random_input(7, 8, 40, 12, p=0.3, max_count=3)
        y = torch.arange(8) % 4
        for _ in range(6):
            opt.zero_grad()
            F.cross_entropy(model(x)["logits"], y).backward()
            opt.step()
            model.clamp_latents_()
        now = model.current_registers()
        assert all(now[l]["threshold"] != init[l]["threshold"] for l in range(2)), (init, now)
        assert all(now[l]["leak"] != init[l]["leak"] for l in range(3)), (init, now)
        params = to_params(model)
        assert [p.threshold for p in params.layers[:2]] == [now[0]["threshold"], now[1]["threshold"]]
        ref = GoldenNetwork(params).run(x)
        out = model(x)
        assert torch.equal(out["readout"].to(torch.int64), ref["readout"])
        for s, sg in zip(out["spikes"], ref["spikes"]):
            assert torch.equal(s.to(torch.bool), sg)
        res = compare(model, params, random_input(8, 16, 40, 12, p=0.3, max_count=3))
        assert res["prediction_agreement"] == 1.0 and res["readout_bit_equal_samples"] == 16


def test_checkpoint_carries_learned_registers(learned_run, monkeypatch):
    tmp, cfg, ref = learned_run
    interrupted = _cfg(tmp, "cut", throttle=0.001)

    def stop(_s):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:           # stop right after the first checkpoint
        m.setattr(time, "sleep", stop)
        with pytest.raises(KeyboardInterrupt):
            train(interrupted, progress=False)
    ck = torch.load(tmp / "cut" / "checkpoint.pt", weights_only=False)
    assert ck["epoch"] == 1
    assert {"threshold_latent.0", "threshold_latent.1", "leak_latent.2"} <= set(ck["model"])
    got = train(_cfg(tmp, "cut"), resume=True, progress=False)
    strip = lambda hist: [{k: v for k, v in h.items() if k != "epoch_s"} for h in hist]
    assert strip(got["history"]) == strip(ref["history"])
    assert got["registers"] == ref["registers"]
    # a run without the learned registers refuses the checkpoint
    with pytest.raises(ValueError, match="different settings.*learn_leak"):
        train(_cfg(tmp, "cut", learn_leak=False), resume=True, progress=False)
