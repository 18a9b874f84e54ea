"""Golden model (sw/golden_model) against an independent scalar reference of docs/core.md.

The reference below is written from the spec only: plain Python ints, one neuron and one event at
a time, Python's `>>` (floor) for the arithmetic shift, one clamp after the exact sum.
Every randomised test is seeded; the seed is in every assertion message.
"""

import copy
import random

import pytest
import torch

from golden_model import (CLEAR, EOT, RESERVED, SPIKE, CoreConfig, GoldenNetwork, LayerParams,
                          NetworkParams, check_events, encode_event, load_words, random_params,
                          raster_words, schedule, validate)


# ----------------------------------------------------------------------------------------------
# Independent scalar reference (docs/core.md, sections 2 and 3.3)
# ----------------------------------------------------------------------------------------------

class RefCore:
    """Event-at-a-time interpreter of the spec. Feed it event words; it returns output items."""

    def __init__(self, params: NetworkParams):
        cfg = params.config
        self.n_in = cfg.n_in
        self.sizes = list(cfg.sizes) + [cfg.n_out]
        self.srcs = [cfg.n_in] + list(cfg.sizes)
        self.L = len(cfg.sizes)                       # LIF layers; index L is the readout
        self.rec = list(cfg.recurrent) + [False]
        self.D = cfg.depth
        self.vmax = (1 << (cfg.v_bits - 1)) - 1
        self.vmin = -(1 << (cfg.v_bits - 1))
        self.mode = cfg.leak_mode
        self.W = [[[int(x) for x in row] for row in p.weight.tolist()] for p in params.layers]
        self.delay = [[int(d) for d in p.delay.tolist()] for p in params.layers]
        self.thr = [p.threshold for p in params.layers]
        self.leak = [p.leak for p in params.layers]
        self.wsh = [p.weight_shift for p in params.layers]
        self.reset = [p.reset_mode for p in params.layers]
        self.dropped_kind = 0
        self.dropped_addr = 0
        # The input delay stage (docs/core.md 2.7), or None.
        self.in_delay = ([int(d) for d in params.input_delay.tolist()] if cfg.input_delays else None)
        self.clear()

    def clear(self):
        self.in_hist = [0] * self.n_in
        self.arrived = set()
        self.v = [[0] * n for n in self.sizes]
        self.acc = [[0] * n for n in self.sizes]
        self.hist = [[0] * n for n in self.sizes]
        self.queue = [[] for _ in self.sizes]        # neurons whose y(t-1) feeds back at step t

    def _deliver(self, l, src_row):
        for j in range(self.sizes[l]):
            self.acc[l][j] += self.W[l][src_row][j] << self.wsh[l]

    def _leak(self, v, l):
        if self.mode == "shift":
            return v - (v >> self.leak[l])
        return (v * self.leak[l]) >> 8

    def feed(self, word):
        """Returns (output items, step record or None)."""
        kind, addr = word & 3, (word >> 2) & 0xFFFF
        if kind == RESERVED:
            self.dropped_kind += 1
            return [], None
        if kind == SPIKE:
            if addr >= self.n_in:
                self.dropped_addr += 1
                return [], None
            if self.in_delay is not None:
                self.arrived.add(addr)
            else:
                self._deliver(0, addr)
            return [], None
        if kind == CLEAR:
            self.clear()
            return [(CLEAR, 0, 0)], ("CLEAR",)
        return self.eot()

    def eot(self):
        staged = []
        if self.in_delay is not None:
            for c in range(self.n_in):
                h = ((self.in_hist[c] << 1) | (c in self.arrived)) & ((1 << self.D) - 1)
                self.in_hist[c] = h
                if (h >> self.in_delay[c]) & 1:
                    staged.append(c)
                    self._deliver(0, c)
            self.arrived = set()
        out, rec = self._eot_layers()
        return out, rec + ((staged,) if self.in_delay is not None else ())

    def _eot_layers(self):
        out, s_all, y_all, recs = [], [], [], []
        for l, n in enumerate(self.sizes):
            spiking = l < self.L
            recs.append(len(self.queue[l]) if self.rec[l] else 0)
            if self.rec[l]:
                for k in self.queue[l]:
                    self._deliver(l, self.srcs[l] + k)
                self.queue[l] = []
            s_l, y_l = [], []
            for j in range(n):
                leaked = self._leak(self.v[l][j], l)
                exact = leaked + self.acc[l][j]
                v1 = self.vmax if exact > self.vmax else self.vmin if exact < self.vmin else exact
                self.acc[l][j] = 0
                if not spiking:
                    self.v[l][j] = v1
                    out.append((SPIKE, j, v1))
                    continue
                s = 1 if v1 >= self.thr[l] else 0
                if s:
                    v1 = v1 - self.thr[l] if self.reset[l] == 0 else 0
                self.v[l][j] = v1
                h = ((self.hist[l][j] << 1) | s) & ((1 << self.D) - 1)
                self.hist[l][j] = h
                y = (h >> self.delay[l][j]) & 1
                if s:
                    s_l.append(j)
                if y:
                    y_l.append(j)
                    self._deliver(l + 1, j)          # feed-forward: same step
                    if self.rec[l]:
                        self.queue[l].append(j)      # recurrent: next step
            if spiking:
                s_all.append(s_l)
                y_all.append(y_l)
        out.append((EOT, 0, 0))
        return out, ("EOT", s_all, y_all, recs)

    def snapshot(self):
        return [{"membrane": list(self.v[l]), "history": list(self.hist[l])}
                for l in range(len(self.sizes))]


def ref_stream(params, words):
    core = RefCore(params)
    res = {"outputs": [], "snapshots": [], "steps": [], "units": []}
    pending = []
    for w in words:
        kind, addr = w & 3, (w >> 2) & 0xFFFF
        out, rec = core.feed(w)
        res["outputs"] += out
        if kind == SPIKE and addr < params.config.n_in:
            pending.append(addr)
        if rec is not None:
            if rec[0] == "EOT":
                res["snapshots"].append(core.snapshot())
                res["steps"].append(rec)
                res["units"].append(("EOT", pending, rec[2], rec[3]) + tuple(rec[4:]))
            else:
                res["units"].append(("CLEAR", pending))
            pending = []
    res["trailing"] = pending
    res["dropped_kind"] = core.dropped_kind
    res["dropped_addr"] = core.dropped_addr
    return res


def ref_run(params, x):
    """x: [T][n_in] spike counts for one sample. Returns readout [T][n_out] and y per LIF layer."""
    core = RefCore(params)
    readout, ys = [], [[] for _ in params.config.sizes]
    for counts in x:
        for i, c in enumerate(counts):
            for _ in range(c):
                core.feed(encode_event(SPIKE, i))
        out, rec = core.eot()
        readout.append([v for (_, _, v) in out[:-1]])
        for l, y_l in enumerate(rec[2]):
            ys[l].append([1 if j in y_l else 0 for j in range(params.config.sizes[l])])
    return readout, ys


# ----------------------------------------------------------------------------------------------
# Random configurations, parameters and streams
# ----------------------------------------------------------------------------------------------

WEIGHT_MODES = {"ternary": dict(weight_bits=2, ternary=True), "w4": dict(weight_bits=4),
                "w8": dict(weight_bits=8)}


def random_case(seed, n_layers=None, depth=None, delays=None, wmode=None, leak_mode=None):
    rng = random.Random(seed)
    wmode = wmode or rng.choice(sorted(WEIGHT_MODES))
    L = n_layers or rng.randint(1, 3)
    cfg = CoreConfig(
        n_in=rng.randint(1, 8), sizes=tuple(rng.randint(1, 6) for _ in range(L)),
        n_out=rng.randint(1, 4), recurrent=tuple(rng.random() < 0.5 for _ in range(L)),
        depth=depth or rng.choice([1, 8, 64]), v_bits=rng.choice([8, 10, 16, 24]),
        leak_mode=leak_mode or rng.choice(["shift", "mul"]), **WEIGHT_MODES[wmode])
    delays = delays or rng.choice(["zero", "max", "random"])
    params = random_params(cfg, seed, delays, threshold_scale=rng.choice([0.1, 0.2, 0.4]))
    return rng, cfg, params


def random_words(rng, cfg, steps, *, bad=False, clear=False, p=0.5, dup=True):
    words = []
    for t in range(steps):
        ev = []
        for i in range(cfg.n_in):
            if rng.random() < p:
                ev.append(encode_event(SPIKE, i))
                if dup and rng.random() < 0.15:
                    ev.append(encode_event(SPIKE, i))
        if bad:
            for _ in range(rng.randint(0, 2)):
                ev.append(rng.choice([encode_event(RESERVED, rng.randrange(1 << 16)),
                                      encode_event(SPIKE, rng.randint(cfg.n_in, 0xFFFF))]))
        rng.shuffle(ev)
        words += ev
        words.append(encode_event(CLEAR) if clear and t > 0 and rng.random() < 0.15
                     else encode_event(EOT))
    return words


def total_spikes(steps):
    """Spikes s_j(t) per LIF layer over a list of reference step records."""
    n = len(steps[0][1]) if steps else 0
    return [sum(len(st[1][l]) for st in steps) for l in range(n)]


def golden_units_as_lists(units):
    return [tuple(u) for u in units]


# ----------------------------------------------------------------------------------------------
# Randomised comparisons
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(40))
def test_run_stream_matches_reference(seed):
    rng, cfg, params = random_case(seed)
    words = random_words(rng, cfg, steps=rng.randint(8, 24), bad=True, clear=True,
                         p=rng.choice([0.3, 0.6, 1.0]))
    g = GoldenNetwork(params).run_stream(words)
    r = ref_stream(params, words)
    msg = f"seed={seed} cfg={cfg}"
    assert g.outputs == r["outputs"], msg
    assert g.snapshots == r["snapshots"], msg
    assert (g.dropped_kind, g.dropped_addr) == (r["dropped_kind"], r["dropped_addr"]), msg
    assert golden_units_as_lists(g.units) == r["units"], msg
    assert g.trailing == r["trailing"], msg


@pytest.mark.parametrize("wmode", sorted(WEIGHT_MODES))
@pytest.mark.parametrize("depth,delays", [(1, "zero"), (8, "zero"), (8, "max"), (8, "random"),
                                          (64, "max"), (64, "random")])
@pytest.mark.parametrize("leak_mode", ["shift", "mul"])
def test_run_stream_matrix_spikes_in_every_layer(wmode, depth, delays, leak_mode):
    """Full matrix of weight modes / depths / delay kinds / leak modes; every LIF layer spikes."""
    base = sum(map(ord, f"{wmode}{depth}{delays}{leak_mode}")) * 7
    for attempt in range(30):
        seed = base + attempt
        rng, cfg, params = random_case(seed, depth=depth, delays=delays, wmode=wmode,
                                       leak_mode=leak_mode)
        steps = depth + 12 if delays == "max" else 16
        words = random_words(rng, cfg, steps=steps, p=0.7)
        r = ref_stream(params, words)
        spikes = total_spikes(r["steps"])
        ys = [sum(len(st[2][l]) for st in r["steps"]) for l in range(len(cfg.sizes))]
        if all(spikes) and all(ys):
            break
    msg = f"seed={seed} cfg={cfg}"
    assert all(spikes) and all(ys), f"no seed in 30 makes every layer spike; {msg} {spikes} {ys}"
    g = GoldenNetwork(params).run_stream(words)
    assert g.outputs == r["outputs"], msg
    assert g.snapshots == r["snapshots"], msg
    assert golden_units_as_lists(g.units) == r["units"], msg


@pytest.mark.parametrize("seed", range(20))
def test_run_batch_matches_reference(seed):
    rng, cfg, params = random_case(1000 + seed)
    B, T = rng.randint(2, 4), rng.randint(5, 16)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, T, cfg.n_in, generator=g) < 0.6).to(torch.int64)
    x = x * torch.randint(1, 3, x.shape, generator=g)          # some channels fire twice
    net = GoldenNetwork(params)
    out = net.run(x)
    msg = f"seed={seed} cfg={cfg}"
    assert out["readout"].shape == (B, T, cfg.n_out), msg
    for b in range(B):
        readout, ys = ref_run(params, x[b].tolist())
        assert out["readout"][b].tolist() == readout, f"{msg} batch row {b}"
        for l in range(len(cfg.sizes)):
            assert out["spikes"][l][b].to(torch.int64).tolist() == ys[l], f"{msg} row {b} layer {l}"
        # each batch row equals a separate run
        single = net.run(x[b:b + 1])
        assert torch.equal(single["readout"][0], out["readout"][b]), f"{msg} row {b}"
        for l in range(len(cfg.sizes)):
            assert torch.equal(single["spikes"][l][0], out["spikes"][l][b]), f"{msg} row {b}"
    # run() and run_stream() agree on the same input
    words = []
    for t in range(T):
        for i in range(cfg.n_in):
            words += [encode_event(SPIKE, i)] * int(x[0, t, i])
        words.append(encode_event(EOT))
    st = net.run_stream(words)
    vals = [v for (k, _, v) in st.outputs if k == SPIKE]
    assert vals == out["readout"][0].reshape(-1).tolist(), msg


def test_run_batch_spikes_somewhere():
    """The batch comparison above is not vacuous: most seeds make the LIF layers emit."""
    emitted = 0
    for seed in range(20):
        rng, cfg, params = random_case(1000 + seed)
        B, T = rng.randint(2, 4), rng.randint(5, 16)
        g = torch.Generator().manual_seed(seed)
        x = (torch.rand(B, T, cfg.n_in, generator=g) < 0.6).to(torch.int64)
        out = GoldenNetwork(params).run(x)
        emitted += sum(1 for s in out["spikes"] if s.any())
    assert emitted >= 24, f"seeds 0..19: only {emitted} of 42 LIF layers emitted a spike"


# ----------------------------------------------------------------------------------------------
# Hand-made networks for the corner cases
# ----------------------------------------------------------------------------------------------

def lp(weight, delay, threshold=1, leak=4, weight_shift=0, reset_mode=0):
    return LayerParams(weight=torch.tensor(weight, dtype=torch.int64),
                       delay=torch.tensor(delay, dtype=torch.int64), threshold=threshold,
                       leak=leak, weight_shift=weight_shift, reset_mode=reset_mode)


def stream(steps):
    """steps: list of lists of input addresses; each step ends in an EOT."""
    words = []
    for s in steps:
        words += [encode_event(SPIKE, a) for a in s] + [encode_event(EOT)]
    return words


def readout_values(res, n_out):
    vals = [v for (k, _, v) in res.outputs if k == SPIKE]
    return [vals[i:i + n_out] for i in range(0, len(vals), n_out)]


def check_both(params, words):
    """Golden run_stream equals the reference; returns the golden result."""
    g = GoldenNetwork(params).run_stream(words)
    r = ref_stream(params, words)
    assert g.outputs == r["outputs"]
    assert g.snapshots == r["snapshots"]
    return g


@pytest.mark.parametrize("v_bits", [8, 16, 24])
def test_readout_saturates_at_both_rails(v_bits):
    vmax, vmin = (1 << (v_bits - 1)) - 1, -(1 << (v_bits - 1))
    cfg = CoreConfig(n_in=1, sizes=(2,), n_out=2, weight_bits=8, v_bits=v_bits, depth=1)
    # LIF: both neurons fire on every input (threshold 1, weight 1, leak 0 clears each step).
    # Readout neuron 0 gets 2 * (127 << 7) per step, neuron 1 gets 2 * (-128 << 7).
    params = NetworkParams(cfg, [lp([[1, 1]], [0, 0], threshold=1, leak=0),
                                 lp([[127, -128], [127, -128]], [0, 0], leak=v_bits - 1,
                                    weight_shift=7)])
    steps = 2 + (1 << max(0, v_bits - 15)) * 2     # enough steps to reach the rail at 24 bits
    steps = min(steps, 600)
    g = check_both(params, stream([[0]] * steps))
    vals = readout_values(g, 2)
    per = 2 * (127 << 7)
    # Integrator (leak = v_bits - 1 is nearly perfect): climbs, then sticks at the rails.
    assert vals[0][0] == min(vmax, per), f"v_bits={v_bits} {vals[0]}"
    assert vals[-1] == [vmax, vmin], f"v_bits={v_bits}: expected rails {vmax},{vmin}, got {vals[-1]}"
    assert all(vmin <= v <= vmax for row in vals for v in row)
    for a, b in zip(vals, vals[1:]):           # monotone approach, no wrap-around
        assert b[0] >= a[0] or a[0] == vmax, f"v_bits={v_bits} {a} -> {b}"
        assert b[1] <= a[1] or a[1] == vmin, f"v_bits={v_bits} {a} -> {b}"


def test_lif_membrane_saturates_not_wraps():
    """v_bits=8: a large negative input pins v at -128; a large positive one saturates at 127,
    fires, and subtract-reset leaves 127 - threshold (a wrapped value would not fire)."""
    cfg = CoreConfig(n_in=2, sizes=(1,), n_out=1, weight_bits=8, v_bits=8, depth=1,
                     leak_mode="mul")
    params = NetworkParams(cfg, [lp([[-128], [127]], [0], threshold=5, leak=256, weight_shift=3),
                                 lp([[1]], [0], leak=0)])
    g = check_both(params, stream([[0], [0], [1], [1]]))
    mem = [s[0]["membrane"][0] for s in g.snapshots]
    hist = [s[0]["history"][0] for s in g.snapshots]
    # -1024 -> -128; -128 - 1024 -> -128; -128 + 1016 = 888 -> 127 fires -> 122; 122 + 1016 -> 127 -> 122
    assert mem == [-128, -128, 122, 122], mem
    assert [h & 1 for h in hist] == [0, 0, 1, 1], hist


def test_one_saturation_after_exact_sum():
    """Order of events inside a step must not matter: the clamp is applied once, to the exact sum."""
    cfg = CoreConfig(n_in=3, sizes=(1,), n_out=1, weight_bits=8, v_bits=8, depth=1, leak_mode="mul")
    params = NetworkParams(cfg, [lp([[50], [127], [-128]], [0], threshold=127, leak=256),
                                 lp([[1]], [0], leak=0)])
    # 50, 100, then +127 and -128 in one step (positive first): exact 99 (per-event clamp: -1).
    g = check_both(params, stream([[0], [0], [1, 2]]))
    assert [s[0]["membrane"][0] for s in g.snapshots] == [50, 100, 99]
    # negative side: -128, then -128 + 50 - 128 + 127 = -79 (per-event clamping: -1)
    g = check_both(params, stream([[2], [0, 2, 1]]))
    assert [s[0]["membrane"][0] for s in g.snapshots] == [-128, -79]
    # both rails inside one step's partial sums, exact sum inside the range
    g = check_both(params, stream([[1, 1, 1, 2, 2, 2, 0]]))
    assert [s[0]["membrane"][0] for s in g.snapshots] == [-3 + 50]


@pytest.mark.parametrize("leak_mode,leak", [("shift", 0), ("shift", 1), ("shift", 3),
                                            ("mul", 0), ("mul", 128), ("mul", 200), ("mul", 256)])
def test_silent_input_keeps_decaying(leak_mode, leak):
    cfg = CoreConfig(n_in=2, sizes=(2,), n_out=1, weight_bits=8, v_bits=16, depth=8,
                     leak_mode=leak_mode)
    big = 30000
    params = NetworkParams(cfg, [lp([[100, -100], [20, -5]], [0, 0], threshold=big, leak=leak,
                                    weight_shift=2),
                                 lp([[1], [1]], [0], leak=leak)])
    T = 80
    g = check_both(params, stream([[0, 0, 1], [0]] + [[]] * T))
    mem = [s[0]["membrane"] for s in g.snapshots]

    def lk(v):
        return v - (v >> leak) if leak_mode == "shift" else (v * leak) >> 8
    v = [0, 0]
    for step, inputs in enumerate([[0, 0, 1], [0]]):
        acc = [sum(params.layers[0].weight[i, j].item() << 2 for i in inputs) for j in range(2)]
        v = [lk(v[j]) + acc[j] for j in range(2)]
        assert mem[step] == v, f"{leak_mode} leak={leak} step {step}"
    for t in range(T):
        v = [lk(x) for x in v]
        assert mem[2 + t] == v, f"{leak_mode} leak={leak} silent step {t}"
    final = mem[-1]
    if leak_mode == "mul" and leak == 128:
        assert final == [0, -1], f"mul leak=128: floor makes a negative membrane settle at -1: {final}"
    if leak_mode == "shift" and leak > 0:
        # v - (v >> k): a negative membrane climbs to 0, a positive one stops below 2^k
        assert final[1] == 0 and 0 <= final[0] < (1 << leak), f"shift leak={leak}: {final}"
    if leak_mode == "mul" and leak == 256:
        assert final == mem[1], "leak 256 is a perfect integrator"
    if leak == 0:
        assert all(m == [0, 0] for m in mem[2:]), "leak 0 clears the membrane every step"
    assert all(h == [0, 0] for h in (s[0]["history"] for s in g.snapshots)), "nobody fires"


@pytest.mark.parametrize("seed", range(6))
def test_saturated_input(seed):
    """Every channel every step."""
    rng, cfg, params = random_case(500 + seed)
    words = stream([list(range(cfg.n_in))] * 20)
    g = GoldenNetwork(params).run_stream(words)
    r = ref_stream(params, words)
    assert g.outputs == r["outputs"], f"seed={seed}"
    assert g.snapshots == r["snapshots"], f"seed={seed}"
    assert g.units[0][1] == list(range(cfg.n_in)), f"seed={seed}"


def delay_chain(depth, d0, d1, recurrent=False):
    """in -> L0 (1 neuron, delay d0) -> L1 (1 neuron, delay d1) -> readout (1).
    leak 0 clears every membrane each step so every neuron fires exactly when it receives one event."""
    cfg = CoreConfig(n_in=1, sizes=(1, 1), n_out=1, weight_bits=4, depth=depth, v_bits=12,
                     recurrent=(recurrent, False))
    w0 = [[3], [3]] if recurrent else [[3]]
    return NetworkParams(cfg, [lp(w0, [d0], threshold=3, leak=0),
                               lp([[2]], [d1], threshold=2, leak=0, reset_mode=1),
                               lp([[5]], [0], leak=0)])


@pytest.mark.parametrize("depth,d0,d1", [(1, 0, 0), (8, 0, 0), (8, 3, 0), (8, 0, 7), (8, 2, 5),
                                         (64, 63, 0), (64, 17, 40), (5, 4, 2)])
def test_feed_forward_delay(depth, d0, d1):
    params = delay_chain(depth, d0, d1)
    t0, T = 2, 2 + d0 + d1 + 4
    steps = [[0] if t == t0 else [] for t in range(T)]
    g = check_both(params, stream(steps))
    out = [v[0] for v in readout_values(g, 1)]
    assert out == [5 if t == t0 + d0 + d1 else 0 for t in range(T)], (depth, d0, d1, out)
    # layer 0 fires at t0 only (history bit 0), layer 1 fires at t0 + d0 (it sees y0 at t0 + d0)
    s0 = [s[0]["history"][0] & 1 for s in g.snapshots]
    s1 = [s[1]["history"][0] & 1 for s in g.snapshots]
    assert s0 == [int(t == t0) for t in range(T)]
    assert s1 == [int(t == t0 + d0) for t in range(T)]
    # run() gives the delayed spikes y directly
    x = torch.zeros(1, T, 1, dtype=torch.int64)
    x[0, t0, 0] = 1
    res = GoldenNetwork(params).run(x)
    assert res["spikes"][0][0, :, 0].tolist() == [t == t0 + d0 for t in range(T)]
    assert res["spikes"][1][0, :, 0].tolist() == [t == t0 + d0 + d1 for t in range(T)]


@pytest.mark.parametrize("depth,d", [(1, 0), (8, 0), (8, 1), (8, 7), (64, 63), (64, 10)])
def test_recurrent_delay(depth, d):
    """A self-exciting neuron with delay d fires at t0, t0 + d + 1, t0 + 2(d + 1), ..."""
    params = delay_chain(depth, d, 0, recurrent=True)
    t0 = 1
    T = t0 + 3 * (d + 1) + 2
    steps = [[0] if t == t0 else [] for t in range(T)]
    g = check_both(params, stream(steps))
    s0 = [s[0]["history"][0] & 1 for s in g.snapshots]
    assert s0 == [int(t >= t0 and (t - t0) % (d + 1) == 0) for t in range(T)], (depth, d, s0)
    # feed-forward path to layer 1 still sees each spike after d
    s1 = [s[1]["history"][0] & 1 for s in g.snapshots]
    assert s1 == [int(t >= t0 + d and (t - t0 - d) % (d + 1) == 0) for t in range(T)]
    # the recurrent queue length per step is what units report
    recs = [u[3][0] for u in g.units]
    assert recs == [int(t >= t0 + d + 1 and (t - t0 - d - 1) % (d + 1) == 0) for t in range(T)], recs


def test_recurrent_never_sees_own_step():
    """d = 0 recurrent: the spike at t is integrated at t + 1, never at t (no same-step loop)."""
    cfg = CoreConfig(n_in=1, sizes=(2,), n_out=1, weight_bits=4, depth=4, recurrent=(True,))
    # neuron 0 driven by input; neuron 1 only by neuron 0's recurrent output (threshold 1)
    params = NetworkParams(cfg, [lp([[1, 0], [0, 7], [0, 0]], [0, 0], threshold=1, leak=0),
                                 lp([[1], [1]], [0], leak=0)])
    g = check_both(params, stream([[0], [], [], [0], []]))
    s = [[s[0]["history"][j] & 1 for j in range(2)] for s in g.snapshots]
    assert s == [[1, 0], [0, 1], [0, 0], [1, 0], [0, 1]], s


def test_clear_resets_state_but_keeps_params():
    rng, cfg, params = random_case(77, n_layers=2)
    a = stream([list(range(cfg.n_in))] * 5)
    b = stream([[0], [], list(range(cfg.n_in))])
    net = GoldenNetwork(params)
    ref_b = net.run_stream(b)
    both = net.run_stream(a + [encode_event(CLEAR)] + b)
    n_a = len(net.run_stream(a).outputs)
    assert both.outputs[n_a] == (CLEAR, 0, 0)
    assert both.outputs[n_a + 1:] == ref_b.outputs
    assert both.snapshots[5:] == ref_b.snapshots
    # pending spikes before a CLEAR are discarded with the accumulators
    c = net.run_stream([encode_event(SPIKE, 0)] * 3 + [encode_event(CLEAR)] + b)
    assert c.outputs[1:] == ref_b.outputs


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

def test_check_events_names_the_event():
    n_in = 5
    good = [encode_event(SPIKE, 4), encode_event(EOT), encode_event(CLEAR), encode_event(SPIKE, 0)]
    check_events(good, n_in)                              # no exception
    check_events([], n_in)
    for idx in range(len(good) + 1):
        w = good[:idx] + [encode_event(RESERVED, 0)] + good[idx:]
        with pytest.raises(ValueError, match=rf"\bevent {idx}\b"):
            check_events(w, n_in)
        w = good[:idx] + [encode_event(SPIKE, n_in)] + good[idx:]
        with pytest.raises(ValueError, match=rf"\bevent {idx}\b") as ei:
            check_events(w, n_in)
        assert str(n_in) in str(ei.value)
        w = good[:idx] + [encode_event(SPIKE, 0xFFFF)] + good[idx:] + [encode_event(RESERVED)]
        with pytest.raises(ValueError, match=rf"\bevent {idx}\b"):   # the first bad one
            check_events(w, n_in)
    # an EOT / CLEAR with a non-zero addr is fine (addr ignored)
    check_events([encode_event(EOT, 0xFFFF), encode_event(CLEAR, 9999)], n_in)


@pytest.mark.parametrize("seed", range(15))
def test_run_stream_bad_events_are_dropped_and_counted(seed):
    rng, cfg, params = random_case(2000 + seed)
    clean = random_words(rng, cfg, steps=12, clear=True)
    words, nk, na = [], 0, 0
    for w in clean:
        while rng.random() < 0.3:
            if rng.random() < 0.5:
                words.append(encode_event(RESERVED, rng.randrange(1 << 16)))
                nk += 1
            else:
                words.append(encode_event(SPIKE, rng.randint(cfg.n_in, 0xFFFF)))
                na += 1
        words.append(w)
    net = GoldenNetwork(params)
    a, b = net.run_stream(words), net.run_stream(clean)
    msg = f"seed={seed}"
    assert (a.dropped_kind, a.dropped_addr) == (nk, na), msg
    assert (b.dropped_kind, b.dropped_addr) == (0, 0), msg
    assert a.outputs == b.outputs, msg
    assert a.snapshots == b.snapshots, msg
    assert a.units == b.units, msg
    r = ref_stream(params, words)
    assert (r["dropped_kind"], r["dropped_addr"]) == (nk, na), msg
    assert a.outputs == r["outputs"], msg


def snapshot_params(p: NetworkParams):
    return (p.config, [(l.weight.clone(), l.weight.dtype, l.delay.clone(), l.delay.dtype,
                        l.threshold, l.leak, l.weight_shift, l.reset_mode)
                       if isinstance(l.weight, torch.Tensor) and isinstance(l.delay, torch.Tensor)
                       else copy.deepcopy(l.__dict__) for l in p.layers])


def same_params(a, b):
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    for x, y in zip(a[1], b[1]):
        if isinstance(x, dict) or isinstance(y, dict):
            if type(x) is not type(y) or repr(x) != repr(y):
                return False
            continue
        if x[1] != y[1] or x[3] != y[3] or x[0].shape != y[0].shape or x[2].shape != y[2].shape:
            return False
        if not (torch.equal(x[0], y[0]) and torch.equal(x[2], y[2]) and x[4:] == y[4:]):
            return False
    return True


def mutations(cfg):
    lo, hi = cfg.weight_range
    vmax = (1 << (cfg.v_bits - 1)) - 1
    leak_hi = cfg.leak_range[1]

    def setw(l, fn):
        return lambda p: setattr(p.layers[l], "weight", fn(p.layers[l].weight))

    def setd(l, fn):
        return lambda p: setattr(p.layers[l], "delay", fn(p.layers[l].delay))

    def seta(l, name, v):
        return lambda p: setattr(p.layers[l], name, v)

    def poke(t, v):
        t = t.clone()
        t.view(-1)[-1] = v
        return t

    m = []
    for l in (0, len(cfg.sizes)):
        lif = l < len(cfg.sizes)
        m += [
            ("weight", l, setw(l, lambda w: torch.zeros(w.shape[0] + 1, w.shape[1], dtype=w.dtype))),
            ("weight", l, setw(l, lambda w: w.t().contiguous() if w.shape[0] != w.shape[1]
                               else torch.zeros(w.shape[0], w.shape[1] + 1, dtype=w.dtype))),
            ("weight", l, setw(l, lambda w: w.reshape(-1))),
            ("weight", l, setw(l, lambda w: poke(w, hi + 1))),
            ("weight", l, setw(l, lambda w: poke(w, lo - 1))),
            ("weight", l, setw(l, lambda w: w.to(torch.float32))),
            ("weight", l, setw(l, lambda w: w.tolist())),
            ("weight", l, setw(l, lambda w: w != 0)),
        ] + ([
            ("delay", l, setd(l, lambda d: torch.zeros(d.shape[0] + 1, dtype=d.dtype))),
            ("delay", l, setd(l, lambda d: poke(d, cfg.depth))),
            ("delay", l, setd(l, lambda d: poke(d, -1))),
            ("delay", l, setd(l, lambda d: d.to(torch.float64))),
        ] if lif else []) + [
            ("threshold", l, seta(l, "threshold", 0)),
            ("threshold", l, seta(l, "threshold", vmax + 1)),
            ("threshold", l, seta(l, "threshold", -3)),
            ("threshold", l, seta(l, "threshold", 2.0)),
            ("leak", l, seta(l, "leak", leak_hi + 1)),
            ("leak", l, seta(l, "leak", -1)),
            ("leak", l, seta(l, "leak", 1.5)),
            ("weight_shift", l, seta(l, "weight_shift", 8)),
            ("weight_shift", l, seta(l, "weight_shift", -1)),
            ("reset_mode", l, seta(l, "reset_mode", 2)),
        ]
    return m


@pytest.mark.parametrize("wmode,leak_mode,v_bits", [("ternary", "shift", 8), ("w4", "mul", 16),
                                                    ("w8", "shift", 24)])
def test_validate_rejects_bad_images(wmode, leak_mode, v_bits):
    cfg = CoreConfig(n_in=3, sizes=(4, 2), n_out=3, recurrent=(True, False), depth=8,
                     v_bits=v_bits, leak_mode=leak_mode, **WEIGHT_MODES[wmode])
    base = random_params(cfg, 5)
    validate(base)
    assert len(load_words(base)) > 0
    cases = mutations(cfg)
    if wmode == "ternary":
        cases.append(("weight", 0, lambda p: setattr(
            p.layers[0], "weight", torch.full_like(p.layers[0].weight, -2))))
        cases.append(("weight", 1, lambda p: setattr(
            p.layers[1], "weight", torch.full_like(p.layers[1].weight, 2))))
    for k, (field, layer, mutate) in enumerate(cases):
        p = copy.deepcopy(base)
        mutate(p)
        before = snapshot_params(p)
        for fn in (validate, load_words, GoldenNetwork):
            with pytest.raises(ValueError) as ei:
                fn(p)
            msg = str(ei.value)
            assert f"'{field}'" in msg, f"case {k} ({field}, layer {layer}) via {fn.__name__}: {msg}"
            assert f"layer {layer}" in msg, f"case {k} ({field}, layer {layer}): {msg}"
            assert same_params(before, snapshot_params(p)), f"case {k}: params changed by {fn}"


def test_validate_rejects_wrong_layer_count():
    cfg = CoreConfig(n_in=3, sizes=(4, 2), n_out=3)
    base = random_params(cfg, 6)
    for layers in (base.layers[:-1], base.layers + [base.layers[-1]], []):
        p = NetworkParams(cfg, list(layers))
        n = len(p.layers)
        for fn in (validate, load_words):
            with pytest.raises(ValueError, match="layers") as ei:
                fn(p)
            assert len(p.layers) == n, str(ei.value)
    # an image built for another config (different shapes) is rejected too
    other = random_params(CoreConfig(n_in=3, sizes=(5, 2), n_out=3), 6)
    with pytest.raises(ValueError, match="'weight'"):
        validate(NetworkParams(cfg, other.layers))


def test_validate_accepts_boundary_values():
    for leak_mode in ("shift", "mul"):
        cfg = CoreConfig(n_in=2, sizes=(3,), n_out=2, weight_bits=2, ternary=True, depth=64,
                         v_bits=10, leak_mode=leak_mode)
        p = random_params(cfg, 1)
        p.layers[0].weight = torch.full_like(p.layers[0].weight, -1)
        p.layers[0].delay = torch.full_like(p.layers[0].delay, 63)
        p.layers[0].threshold = 511
        p.layers[0].leak = cfg.leak_range[1]
        p.layers[0].weight_shift = 7
        p.layers[1].threshold = 1
        p.layers[1].leak = 0
        validate(p)
        words = load_words(p)
        assert (0, 1, 2, 63) in words and (0, 2, 0, 511) in words


BAD_CONFIGS = [
    ("n_in", dict(n_in=0)), ("n_in", dict(n_in=65536)), ("n_in", dict(n_in=2.0)),
    ("n_out", dict(n_out=0)), ("n_out", dict(n_out=70000)),
    ("sizes", dict(sizes=())), ("sizes", dict(sizes=(3, 0))), ("sizes", dict(sizes=(65536,))),
    ("recurrent", dict(recurrent=(True, False))),
    ("weight_bits", dict(weight_bits=1)), ("weight_bits", dict(weight_bits=9)),
    ("ternary", dict(ternary=True, weight_bits=4)),
    ("depth", dict(depth=0)), ("depth", dict(depth=65)),
    ("v_bits", dict(v_bits=7)), ("v_bits", dict(v_bits=25)),
    ("leak_mode", dict(leak_mode="exp")),
]


@pytest.mark.parametrize("field,kw", BAD_CONFIGS, ids=[f"{f}-{i}" for i, (f, _) in
                                                     enumerate(BAD_CONFIGS)])
def test_config_rejects_bad_values(field, kw):
    args = dict(n_in=4, sizes=(3,), n_out=2)
    args.update(kw)
    with pytest.raises(ValueError) as ei:
        CoreConfig(**args)
    assert field in str(ei.value), f"{kw}: {ei.value}"


@pytest.mark.parametrize("sizes", [(2.7,), (3, 1.5)])
def test_config_rejects_non_integer_sizes(sizes):
    """docs/core.md: sizes are integers 1..65535; a float or string must not be silently converted."""
    with pytest.raises(ValueError, match="sizes"):
        CoreConfig(n_in=4, sizes=sizes, n_out=2)


# ----------------------------------------------------------------------------------------------
# schedule(): the performance model (docs/core.md, section 6)
# ----------------------------------------------------------------------------------------------

def silent_params(cfg):
    layers = []
    for l, s in enumerate(cfg.layers):
        w = torch.zeros(s.n_rows, s.n, dtype=torch.int64)
        if not s.spiking:
            w = torch.ones_like(w)
        layers.append(lp(w.tolist(), [0] * s.n, threshold=3))
    return NetworkParams(cfg, layers)


@pytest.mark.parametrize("seed", range(12))
def test_schedule_silent_network_closed_form(seed):
    """No LIF neuron ever fires, sizes non-increasing (so no layer waits for the next one):
    layer 0 takes n0*(E+1)+6 cycles per step and each marker crosses layer l in n_l+5 cycles
    (docs/core.md section 6: update results leave 4 cycles after their issue)."""
    rng = random.Random(seed)
    sizes = sorted((rng.randint(1, 6) for _ in range(rng.randint(1, 3))), reverse=True)
    cfg = CoreConfig(n_in=rng.randint(1, 8), sizes=tuple(sizes),
                     n_out=rng.randint(1, sizes[-1]), recurrent=tuple(rng.random() < 0.5
                                                                     for _ in sizes))
    params = silent_params(cfg)
    E = [rng.randint(0, 2 * cfg.n_in) for _ in range(rng.randint(3, 10))]
    M = [CLEAR if t > 0 and rng.random() < 0.3 else EOT for t in range(len(E))]
    words = []
    for e, m in zip(E, M):
        words += [encode_event(SPIKE, rng.randrange(cfg.n_in)) for _ in range(e)]
        words.append(encode_event(m))
    res = GoldenNetwork(params).run_stream(words)
    sch = schedule(cfg, words, res)
    n0, n_out = sizes[0], cfg.n_out
    cross = sum(n + 5 for n in sizes)
    start = 0
    exp_accept, exp_out, exp_end = [], [], []
    for e, m in zip(E, M):
        exp_accept += [start + i * n0 for i in range(e)]
        c = start + e * n0                      # marker accepted by layer 0
        exp_accept.append(c)
        cr = c + cross                          # marker accepted by the readout
        if m == EOT:
            exp_out += [cr + 5 + j for j in range(n_out)] + [cr + n_out + 5]
            exp_end.append(cr + n_out + 5)
        else:                                   # CLEAR presented at c + n + 5 in every layer
            exp_out.append(cr + n_out + 5)
        start = start + n0 * (e + 0 + 1) + 6    # n*(E + r + 1) + 6, r = 0
    msg = f"seed={seed} cfg={cfg} E={E} markers={M}"
    assert sch.input_accept_cycles == exp_accept, msg
    assert sch.output_cycles == exp_out, msg
    assert sch.step_end_cycles == exp_end, msg
    assert sch.accumulates == sum(E) * n0, msg
    # steady state: n0*(E+r+1)+6 cycles per step, so more input spikes never make a step shorter
    if CLEAR not in M:
        cps = sch.cycles_per_step
        assert cps[1:] == [n0 * (e + 1) + 6 for e in E[1:]], msg


@pytest.mark.parametrize("seed", range(10))
def test_schedule_single_layer_per_step_cycles(seed):
    """One recurrent LIF layer, n_out = 1 and at least one input spike per step: the readout
    never stalls the layer, so layer 0 spends exactly n*(E + r + 1) + 6 cycles per step."""
    rng = random.Random(seed)
    n = rng.randint(1, 6)
    cfg = CoreConfig(n_in=rng.randint(1, 8), sizes=(n,), n_out=1, recurrent=(True,),
                     weight_bits=4, depth=rng.choice([1, 4, 8]))
    params = random_params(cfg, seed, threshold_scale=0.15)
    T = 16
    steps = [[rng.randrange(cfg.n_in) for _ in range(rng.randint(1, 2 * cfg.n_in))]
             for _ in range(T)]
    words = stream(steps)
    res = GoldenNetwork(params).run_stream(words)
    ref = ref_stream(params, words)
    r = [st[3][0] for st in ref["steps"]]
    assert sum(r) > 0, f"seed={seed}: no recurrent events, test proves little"
    sch = schedule(cfg, words, res)
    first = [0]
    for s in steps[:-1]:
        first.append(first[-1] + len(s) + 1)
    starts = [sch.input_accept_cycles[i] for i in first]
    for t in range(T - 1):
        assert starts[t + 1] - starts[t] == n * (len(steps[t]) + r[t] + 1) + 6, \
            f"seed={seed} step {t}: E={len(steps[t])} r={r[t]}"


@pytest.mark.parametrize("seed", range(12))
def test_schedule_properties_random(seed):
    rng, cfg, params = random_case(3000 + seed)
    words = random_words(rng, cfg, steps=12, bad=True, clear=True, p=0.6)
    res = GoldenNetwork(params).run_stream(words)
    ref = ref_stream(params, words)
    sch = schedule(cfg, words, res)
    msg = f"seed={seed} cfg={cfg}"
    kinds = [k for (k, _, _) in res.outputs]
    assert len(sch.output_cycles) == len(res.outputs), msg
    assert all(b > a for a, b in zip(sch.output_cycles, sch.output_cycles[1:])), msg
    # per step: n_out values then the EOT on consecutive cycles (the sink never stalls)
    i = 0
    while i < len(kinds):
        if kinds[i] == CLEAR:
            i += 1
            continue
        block = sch.output_cycles[i:i + cfg.n_out + 1]
        assert kinds[i:i + cfg.n_out + 1] == [SPIKE] * cfg.n_out + [EOT], msg
        assert block == list(range(block[0], block[0] + cfg.n_out + 1)), msg
        i += cfg.n_out + 1
    assert sch.step_end_cycles == [c for c, k in zip(sch.output_cycles, kinds) if k == EOT], msg
    # accumulates == events x fan-out
    sizes = list(cfg.sizes) + [cfg.n_out]
    good_spikes = sum(1 for w in words if w & 3 == SPIKE and (w >> 2) < cfg.n_in)
    acc = good_spikes * sizes[0]
    for st in ref["steps"]:
        acc += sum(st[3][l] * sizes[l] for l in range(len(sizes)))
        acc += sum(len(st[2][l]) * sizes[l + 1] for l in range(len(cfg.sizes)))
    assert sch.accumulates == acc, msg
    # the guard takes a bad event in the cycle it is presented
    acc_c = sch.input_accept_cycles
    assert len(acc_c) == len(words) and acc_c[0] == 0, msg
    for k in range(1, len(words)):
        w = words[k]
        bad = (w & 3) == RESERVED or ((w & 3) == SPIKE and (w >> 2) >= cfg.n_in)
        assert acc_c[k] >= acc_c[k - 1] + 1, msg
        if bad:
            assert acc_c[k] == acc_c[k - 1] + 1, f"{msg} event {k}"


def test_random_streams_are_not_silent():
    """The 40 random stream comparisons above exercise spiking: most seeds fire in layer 1,
    and many fire in every LIF layer."""
    first, every = 0, 0
    for seed in range(40):
        rng, cfg, params = random_case(seed)
        words = random_words(rng, cfg, steps=rng.randint(8, 24), bad=True, clear=True,
                             p=rng.choice([0.3, 0.6, 1.0]))
        sp = total_spikes(ref_stream(params, words)["steps"])
        first += sp[0] > 0
        every += all(sp)
    assert first >= 34 and every >= 20, f"seeds 0..39: layer 1 fired in {first}, all in {every}"


def test_raster_words_counts_and_markers():
    """A count of k gives k SPIKE events; each step ends in EOT; clear=True starts with CLEAR;
    run_stream on the words equals run() on the raster."""
    raster = torch.tensor([[0, 2, 1], [0, 0, 0], [1, 0, 3]])
    words = raster_words(raster, clear=True)
    kinds = [w & 3 for w in words]
    assert kinds[0] == CLEAR and kinds.count(EOT) == 3
    assert sum(1 for w in words if w & 3 == SPIKE) == int(raster.sum())
    cfg = CoreConfig(n_in=3, sizes=(4,), n_out=2, weight_bits=4, depth=4)
    net = GoldenNetwork(random_params(cfg, 1, threshold_scale=0.2))
    values = [o[2] for o in net.run_stream(words).outputs if o[0] == SPIKE]
    assert torch.equal(torch.tensor(values).view(1, 3, 2), net.run(raster.unsqueeze(0))["readout"])


# ----------------------------------------------------------------------------------------------
# Input delay stage (docs/core.md 2.7)
# ----------------------------------------------------------------------------------------------

def random_stage_case(seed, delays=None):
    """random_case with the input delay stage and a random in_delay."""
    import dataclasses
    rng, cfg, _ = random_case(seed, delays=delays)
    cfg = dataclasses.replace(cfg, input_delays=True)
    params = random_params(cfg, seed, delays or rng.choice(["zero", "max", "random"]),
                           threshold_scale=rng.choice([0.1, 0.2, 0.4]))
    return rng, cfg, params


@pytest.mark.parametrize("seed", range(40))
def test_input_stage_run_stream_matches_reference(seed):
    rng, cfg, params = random_stage_case(seed)
    words = random_words(rng, cfg, steps=rng.randint(8, 24), bad=True, clear=True,
                         p=rng.choice([0.3, 0.6, 1.0]))
    g = GoldenNetwork(params).run_stream(words)
    r = ref_stream(params, words)
    msg = f"seed={seed} cfg={cfg} in_delay={params.input_delay.tolist()}"
    assert g.outputs == r["outputs"], msg
    assert g.snapshots == r["snapshots"], msg
    assert golden_units_as_lists(g.units) == r["units"], msg
    # and batch mode (run) gives the same readout as the stream, sample by sample
    x = torch.randint(0, 3, (3, 10, cfg.n_in))
    ro = GoldenNetwork(params).run(x)["readout"]
    for b in range(3):
        want, _ = ref_run(params, x[b].tolist())
        assert ro[b].tolist() == want, msg


@pytest.mark.parametrize("seed", range(8))
def test_input_stage_delays_each_channel(seed):
    """One spike on channel c at step t reaches layer 1 at step t + in_delay[c], once; repeats in
    one step count once; zero delays on 0/1 input change nothing against no stage."""
    import dataclasses
    rng, cfg, params = random_stage_case(seed, delays="random")
    T = cfg.depth + 4
    for c in range(cfg.n_in):
        t0 = rng.randrange(4)
        steps = [[c, c] if t == t0 else [] for t in range(T)]
        g = GoldenNetwork(params).run_stream(stream(steps))
        got = [t for t, u in enumerate(g.units) if u[4]]
        assert got == [t0 + int(params.input_delay[c])], f"seed={seed} c={c} {got}"
        assert all(u[4] in ([], [c]) for u in g.units), f"seed={seed} c={c}"
    params.input_delay.zero_()
    plain = NetworkParams(dataclasses.replace(cfg, input_delays=False), params.layers)
    x = torch.randint(0, 2, (2, 12, cfg.n_in))
    assert torch.equal(GoldenNetwork(params).run(x)["readout"],
                       GoldenNetwork(plain).run(x)["readout"]), f"seed={seed}"


def test_input_stage_image_validation_and_load_words():
    import dataclasses
    cfg = CoreConfig(n_in=4, sizes=(3,), n_out=2, depth=8, weight_bits=4, input_delays=True)
    params = random_params(cfg, 1)
    words = load_words(params)
    assert words[-4:] == [(15, 1, c, int(d)) for c, d in enumerate(params.input_delay.tolist())]
    for bad, why in [(None, "expected an integer tensor"), (torch.zeros(3, dtype=torch.int64), "shape"),
                     (torch.tensor([0, 1, 8, 0]), "out of range"), (torch.zeros(4), "integer tensor")]:
        p = copy.deepcopy(params)
        p.input_delay = bad
        with pytest.raises(ValueError, match=why):
            validate(p)
    plain = NetworkParams(dataclasses.replace(cfg, input_delays=False), params.layers, params.input_delay)
    with pytest.raises(ValueError, match="no input delay stage"):
        validate(plain)
    assert cfg.layers[0].max_src_events == cfg.n_in     # the stage emits each channel once a step


@pytest.mark.parametrize("seed", range(6))
def test_schedule_input_stage_closed_form(seed):
    """Silent layers behind the stage. Every channel emitted (0/1 input, zero delays): layer 1
    accepts channel c's spike at m + 3 + c*n0 after the EOT accepted at m; none emitted: the EOT
    reaches layer 1 at m + 3 + n_in (docs/core.md section 6)."""
    rng = random.Random(seed)
    n0 = rng.randint(1, 5)
    cfg = CoreConfig(n_in=rng.randint(1, 7), sizes=(n0,), n_out=1, depth=4, input_delays=True)
    params = silent_params(cfg)
    params.input_delay = torch.zeros(cfg.n_in, dtype=torch.int64)
    E = cfg.n_in
    words = [encode_event(SPIKE, c) for c in range(E)] + [encode_event(EOT)] + [encode_event(EOT)]
    res = GoldenNetwork(params).run_stream(words)
    sch = schedule(cfg, words, res)
    msg = f"seed={seed} cfg={cfg}"
    assert sch.input_accept_cycles[:E + 1] == list(range(E + 1)), msg
    m = E                                   # first EOT accepted by the stage
    l1 = m + 3 + E * n0                     # layer 1 takes the EOT after the last accumulate
    out0 = l1 + (n0 + 5) + 5                # readout's value (crossing layer 1, then the readout's pipeline)
    assert sch.accumulates == E * n0, msg
    assert sch.output_cycles[0] == out0, (msg, sch.output_cycles)
    m2 = sch.input_accept_cycles[E + 1]     # the second EOT: nothing arrived, nothing emitted
    assert m2 == l1 + 1, msg
    # layer 1 takes it when the stage presents it, or once layer 1 is idle again (its own EOT
    # was taken by the readout at l1 + n0 + 5), whichever is later
    l1b = max(m2 + 3 + cfg.n_in, l1 + n0 + 5 + 1)
    assert sch.output_cycles[2] == l1b + (n0 + 5) + 5, (msg, sch.output_cycles)
