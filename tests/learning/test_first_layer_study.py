"""The first-layer rule study (onchip_learning.first_layer_study, a candidate "pair I"): its forward
pass is the golden layer's, its traces and surrogate meet their rails, and one labelled sample
moves the input weights along L_k * E[j, k] and leaves them alone when the margin is met."""

import copy

import pytest
import torch

from golden_model import CoreConfig, GoldenNetwork, random_params
from onchip_learning import first_layer_study as S
from onchip_learning.fast_pair_r import fast_hidden_spikes


def small(seed=3):
    cfg = CoreConfig(n_in=12, sizes=(8,), n_out=3, weight_bits=2, ternary=True, depth=8,
                     v_bits=12, input_delays=True)
    return random_params(cfg, seed, threshold_scale=0.3)


def raster(seed=1, n=1, T=20, n_in=12, p=0.3):
    return (torch.rand(n, T, n_in, generator=torch.Generator().manual_seed(seed)) < p).to(torch.int64)


def test_forward_is_the_golden_layer():
    params = small()
    x = raster(n=3)
    for i in range(3):
        s, v = S.hidden_forward(params, x[i])
        assert torch.equal(s, fast_hidden_spikes(params, x[i:i + 1])[0])
        assert (v[s] >= params.layers[0].threshold).all() and (v[~s] < params.layers[0].threshold).all()
    golden = GoldenNetwork(params).run(x)["readout"]          # the layer drives the golden readout
    assert golden.shape[0] == 3


def test_input_traces_decay_and_saturate_at_1023():
    x = torch.zeros(40, 2, dtype=torch.int64)
    x[0, 0] = 1
    x[:, 1] = 1
    tr = S.input_traces(x, shift=3, inc=64)
    assert tr[0, 0] == 64 and tr[1, 0] == 64 - 8 and tr[2, 0] == 56 - 7      # floor of trace >> 3
    big = S.input_traces(x, shift=3, inc=1000)
    assert big[:, 1].max() == 1023 and big[1, 1] == 1023                     # rail, not wrap


@pytest.mark.parametrize("v, spike, psi", [
    (1000, True, 15),                 # a spike is the peak
    (999, False, 15 - 0),             # 1 under the threshold: (1 >> 5) = 0
    (1000 - 32, False, 14),           # 32 under: one step
    (1000 - 15 * 32, False, 0),       # at the half-width: 0
    (1000 - 16 * 32, False, 0),       # beyond it: clamped at 0, never negative
])
def test_surrogate_triangle_at_its_edges(v, spike, psi):
    got = S.surrogate(torch.tensor([[spike]]), torch.tensor([[float(v)]]), 1000, 5)
    assert int(got) == psi


def test_one_sample_steps_along_the_gradient_and_stops_at_the_margin():
    params = small()
    x = raster(seed=4)[0]
    rule = S.PairI(copy.deepcopy(params), lr_shift=0, margin=1 << 30, latent=True)
    xd = rule.delayed_input(x)
    s, v = S.hidden_forward(rule.params, xd)
    from golden_model.learning import hinge_error
    from onchip_learning.fast_pair_r import delayed, readout_scores
    score = readout_scores(delayed(s.unsqueeze(0), rule.params.layers[0].delay.to(torch.int64)), rule.params)[0]
    label = int(score.argmin())
    e = hinge_error(score, label, 1 << 30)
    L = (rule.params.layers[-1].weight[:8].to(torch.int64) * e).sum(1)
    E = S.input_traces(xd, 3, 64).T @ S.surrogate(s, v, rule.params.layers[0].threshold, 6)
    g = E * L
    rule.learn(x, label)
    W0, W1 = params.layers[0].weight.to(torch.int64), rule.params.layers[0].weight.to(torch.int64)
    moved = W1 != W0
    assert moved.any() and rule.changed == int(moved.sum())
    assert ((W1 - W0)[moved].sign() == g[moved].sign()).all()                # along L_k * E[j, k]
    assert (W1[g > 0] >= W0[g > 0]).all() and (W1[g < 0] <= W0[g < 0]).all()
    assert torch.equal(W1[g == 0], W0[g == 0])
    assert torch.equal(rule.params.layers[-1].weight, params.layers[-1].weight)   # readout untouched
    met = S.PairI(copy.deepcopy(params), lr_shift=0, margin=-(1 << 30))      # every margin met
    met.learn(x, label)
    assert met.changed == 0 and torch.equal(met.params.layers[0].weight, params.layers[0].weight)


def test_stochastic_steps_are_seeded_and_ternary():
    params = small()
    x = raster(seed=5)[0]
    a, b = S.PairI(copy.deepcopy(params), 8, margin=1 << 30, seed=1), S.PairI(copy.deepcopy(params), 8, margin=1 << 30, seed=1)
    a.learn(x, 0)
    b.learn(x, 0)
    assert torch.equal(a.params.layers[0].weight, b.params.layers[0].weight)
    assert set(a.params.layers[0].weight.unique().tolist()) <= {-1, 0, 1}


@pytest.mark.parametrize("margin, expected", [(3, [2, -1, -1, 0]), (0, [1, -1, 0, 0]), (-5, [0, 0, 0, 0]),
                                              (6, [3, -1, -1, -1])])
def test_error_on_every_class_within_the_margin(margin, expected):
    """Scores 10 (the label), 12, 9, 5: a class counts when its score exceeds label - margin."""
    e = S.all_error(torch.tensor([10, 12, 9, 5]), 0, margin)
    assert e.tolist() == expected and int(e.sum()) == 0


def test_readout_steps_with_the_error_when_asked():
    params = small()
    x = raster(seed=4)[0]
    plain = S.PairI(copy.deepcopy(params), lr_shift=30, margin=1 << 30)
    both = S.PairI(copy.deepcopy(params), lr_shift=30, margin=1 << 30, readout_lr=0)
    plain.learn(x, 2)
    both.learn(x, 2)
    assert torch.equal(plain.params.layers[-1].weight, params.layers[-1].weight)
    W0, W1 = params.layers[-1].weight[:8].to(torch.int64), both.params.layers[-1].weight[:8].to(torch.int64)
    assert not torch.equal(W0, W1)
    assert (W1[:, 2] >= W0[:, 2]).all()                  # the label's column only rises


def test_a_missing_report_or_fold_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        S.main(["--loso", "nothing"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "no build/reports/loso-nothing.json" in err and err.count("\n") == 1
    (tmp_path / "build" / "reports").mkdir(parents=True)
    (tmp_path / "build" / "reports" / "loso-x.json").write_text(
        '{"runs": [{"seed": 0, "protocol": "loso", "speaker": "george", "run": "r1"},'
        ' {"seed": 1, "protocol": "loso", "speaker": "lucas", "run": "r2"}]}')
    assert S.loso_runs("x") == [("george", S.Path("build/train/r1"))]
    with pytest.raises(S.StudyError, match="--speakers lucas: not a seed-0 fold .* \\(folds: george\\)"):
        S.loso_runs("x", "george,lucas")


def test_online_bptt_moves_every_layer_and_is_seeded(george_run):
    """The diagnostic beside the rule: exact BPTT one sample at a time changes the input
    weights (what pair R cannot), gives a network of the same shape, the same for one seed."""
    from hostlink.deployed import front_end, load_deployment
    from onchip_learning.adapt import fsdd_recordings
    dep = load_deployment(george_run / "export")
    x, y, spk, take = fsdd_recordings(front_end(dep), progress=False)
    pick = [int(i) for i in (spk == "george").nonzero()[0][:6]]
    xs, ys = [x[i] for i in pick], [int(y[i]) for i in pick]
    a = S.online_bptt(george_run, xs, ys, [0, 1, 2, 3, 4, 5, 0], 5e-2, seed=0)
    b = S.online_bptt(george_run, xs, ys, [0, 1, 2, 3, 4, 5, 0], 5e-2, seed=0)
    W0, W1 = dep.params.layers[0].weight, a.layers[0].weight
    assert W1.shape == W0.shape and not torch.equal(W1, W0)
    assert torch.equal(a.layers[0].weight, b.layers[0].weight) and torch.equal(a.layers[-1].weight, b.layers[-1].weight)


def test_study_of_one_short_fold(george_run, monkeypatch):
    """study_fold end to end on the tiny run: before is the network's own accuracy, the row
    counts what was learned and the weights that moved."""
    from hostlink.deployed import front_end, load_deployment
    from onchip_learning.adapt import accuracy, fsdd_fold, hidden_spikes
    regs = {"trace_shift": 3, "psi_shift": 6, "margin": 1 << 30, "latent": False, "error": "rival",
            "readout_lr": None}
    row = S.study_fold(george_run, "george", 1, 10, 12, 1, 0, regs, progress=False)
    dep = load_deployment(george_run / "export")
    fold = fsdd_fold(front_end(dep), "george", 1, progress=False)
    assert row["speaker"] == "george" and row["samples_learned"] == 10 + 10
    assert row["speaker_before"] == accuracy(dep.params, hidden_spikes(dep.params, fold.test_x), fold.test_y)
    assert row["weights_changed"] > 0
    assert row["forgotten_points"] == round(100 * (row["others_before"] - row["others_after"]), 2)
