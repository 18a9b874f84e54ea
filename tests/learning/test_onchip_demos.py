"""On-chip learning demonstrations (docs/learning.md) with real assertions, on reduced runs.

`make learn-demo` runs the full versions and writes build/reports/onchip-*.json.
"""


import pytest
import torch

import spike_datasets as sd
from golden_model import GoldenNetwork
from golden_model.learning import LearnRegisters
from onchip_learning.demos import sequence_demo, sequence_network, SEQUENCE_REGS
from onchip_learning.float_rule import FloatLearner, FloatRule
from onchip_learning.online import accuracy, learn_online


def test_sequence_delays_learn_from_zero_to_perfect():
    rep, extra = sequence_demo(seed=0, epochs=1, n_train=60)
    assert rep["test_accuracy_start"] == 0.5
    assert rep["test_accuracy"] == 1.0, rep["curve"]["eval_acc"]
    d = rep["delays_layer1"]
    # class 0 needs d(a) = d(c) + 10, class 1 needs d(d) = d(b) + 10 (relays a, b, c, d per pair)
    for i in range(4):
        a, b, c, dd = d[4 * i:4 * i + 4]
        assert a - c == 10 and dd - b == 10, d


def test_sequence_learning_is_reproducible():
    kw = dict(n_steps=32, lag=10, jitter=4)
    train, val = sd.make_sequence_detection(40, seed=0, **kw), sd.make_sequence_detection(20, seed=1, **kw)
    runs = [learn_online(sequence_network(), LearnRegisters(**SEQUENCE_REGS), (train.spikes, train.labels),
                         (val.spikes, val.labels), epochs=1, seed=s, trajectory=True)[2] for s in (0, 0)]
    assert len(runs[0]) == 40
    assert all(torch.equal(a, b) for x, y in zip(*runs) for a, b in zip(x, y))


def test_delay_sign_matters():
    """Flipping the sign of the delay step (a one-bit change of the rule) breaks the demo."""
    import golden_model.learning as gl
    real = gl.step_delay
    try:
        gl.step_delay = lambda d, G, th, D: real(d, -G, th, D)
        rep, _ = sequence_demo(seed=0, epochs=1, n_train=60)
    finally:
        gl.step_delay = real
    assert rep["test_accuracy"] < 0.9


def test_float_rule_solves_the_sequence_task():
    kw = dict(n_steps=32, lag=10, jitter=4)
    train, test = sd.make_sequence_detection(80, seed=0, **kw), sd.make_sequence_detection(100, seed=2, **kw)
    net = GoldenNetwork(sequence_network())
    rule = FloatRule.from_registers(LearnRegisters(**SEQUENCE_REGS))
    learner = FloatLearner(net, rule)
    for i in range(0, 80, 4):
        learner.run_batch(train.spikes[i:i + 4], train.labels[i:i + 4])
    assert accuracy(net, test.spikes, test.labels) == 1.0


@pytest.mark.parametrize("bias,hidden", [(False, "uniform"), (True, "uniform"), (True, "pair")])
def test_fsdd_study_replica_equals_golden_learner(bias, hidden):
    """The fast pair-R replica used to run demo c (onchip_learning.fast_pair_r) ends with the
    golden learner's readout weights, delays and LFSR, on random input with a low hidden
    threshold (many hidden spikes, so weights and delays move); also on demo c's hidden layer
    (spectral-contrast bands, reset to zero; a fixed gain instead of the calibration)."""
    from golden_model.learning import LearnRegisters
    from onchip_learning import fast_pair_r as FS
    from onchip_learning.fsdd_network import FSDD_HIDDEN, fsdd_network, with_bias_channel
    from onchip_learning.presets import FSDD_REGS
    from onchip_learning.hidden_layers import build_network
    if hidden == "pair":
        kw = {k: v for k, v in FSDD_HIDDEN.items() if k != "rate"}
        params = build_network(seed=0, gain=0.8, **dict(kw, threshold=300))
    else:
        params = fsdd_network(threshold_scale=0.0625, bias=bias)
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(10, 100, 700, generator=g) < 0.03).to(torch.int64)
    x = (with_bias_channel(x) if bias else x).numpy()
    labels = torch.randint(0, 10, (10,), generator=g).tolist()
    regs = LearnRegisters(**dict(FSDD_REGS, delay_thresh_R=4))
    assert FS.check(params, regs, x, labels, n=10)


def test_fsdd_bias_unit_fires_alone_at_a_fixed_rate():
    """Demo c's bias unit: the last hidden neuron fires on the bias channel alone, at the same
    steps whatever the speech input, and the bias channel reaches no other hidden neuron."""
    from onchip_learning.fsdd_network import fsdd_network, with_bias_channel
    params = fsdd_network(seed=0, threshold_scale=0.0625, bias=True)
    assert (params.config.n_in, params.config.sizes) == (701, (129,))
    net = GoldenNetwork(params)
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 40, 700, generator=g) < 0.05).to(torch.int64)
    on = net.run(with_bias_channel(x))["spikes"][0]
    off = net.run(torch.cat([x, torch.zeros(3, 40, 1, dtype=torch.int64)], -1))["spikes"][0]
    assert torch.equal(on[..., :128], off[..., :128])       # the channel feeds nobody else
    assert int(off[..., 128].sum()) == 0                    # and the unit nothing but the channel
    rate = on[..., 128].sum(1)
    assert int(rate.min()) == int(rate.max()) >= 10         # same train for every input, firing


def test_fsdd_search_pair_hidden_layer():
    """The hidden layer of demo c (onchip_learning.hidden_layers, kind "pair":
    an excitatory band and an inhibitory band of neighbouring channels per neuron) is a valid,
    seeded image, and its bias unit still fires alone at a fixed rate."""
    from onchip_learning.hidden_layers import build_network
    from onchip_learning.fsdd_network import with_bias_channel
    kw = dict(kind="pair", width=(20, 80), density=0.5, gain=0.6, threshold=600)
    a, b = build_network(seed=0, **kw), build_network(seed=0, **kw)
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert not torch.equal(a.layers[0].weight, build_network(seed=1, **kw).layers[0].weight)
    w = a.layers[0].weight[:700, :128]
    assert int((w > 0).sum()) > 0 and int((w < 0).sum()) > 0
    span = [(torch.nonzero(w[:, j] > 0).flatten(), torch.nonzero(w[:, j] < 0).flatten()) for j in range(128)]
    assert all(len(p) == 0 or int(p.max() - p.min()) < 80 for p, _ in span)   # one local band
    net = GoldenNetwork(a)
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 40, 700, generator=g) < 0.05).to(torch.int64)
    on = net.run(with_bias_channel(x))["spikes"][0]
    off = net.run(torch.cat([x, torch.zeros(3, 40, 1, dtype=torch.int64)], -1))["spikes"][0]
    assert torch.equal(on[..., :128], off[..., :128]) and int(off[..., 128].sum()) == 0
    rate = on[..., 128].sum(1)
    assert int(rate.min()) == int(rate.max()) >= 10


# Offline BPTT of the same network, seed 0 (`demos.BPTT_COMMAND`, rerun on the current code: 93.6 %
# test); the target for demo c is on-chip learning within 5 points of it.
BPTT_SEED0_TEST = 0.936


def test_fsdd_demo_within_five_points_of_bptt():
    """Demo c as `make learn-demo` runs it (seed 0, 12 epochs, the fast pair-R replica; the image
    is selected on validation and scored by GoldenNetwork): within 5 points of BPTT on test, with
    readout weights and hidden delays both learned."""
    from onchip_learning.demos import fsdd_demo
    rep, extra = fsdd_demo(seed=0)
    assert rep["test_accuracy"] >= BPTT_SEED0_TEST - 0.05, rep["test_accuracy"]
    learned = extra["learned"]
    assert int((learned.layers[0].delay != 0).sum()) > 10
    assert int((learned.layers[-1].weight != 0).sum()) > 100
