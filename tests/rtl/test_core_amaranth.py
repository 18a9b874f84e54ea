"""The Amaranth Network (hw/delaycore) against the golden model, in amaranth.sim (with and without
the input delay stage).

Output items must equal GoldenNetwork.run_stream exactly; without backpressure the output cycles
must equal golden_model.schedule; with random ready/valid gaps the items are still equal.
"""

import random

import pytest
import torch

from corespec.spaces import Space, StatusCounter
from amaranth_core import simulate  # noqa: E402

from golden_model import (CLEAR, EOT, RESERVED, SPIKE, CoreConfig, GoldenNetwork,  # noqa: E402
                          LayerParams, NetworkParams, encode_event, random_params, schedule)

CONFIGS = [
    # n_in, sizes, n_out, recurrent, weight kw, depth, v_bits, leak_mode, delays, steps
    (8, (6,), 3, (True,), dict(weight_bits=4), 8, 12, "shift", "random", 8),
    (5, (4, 3), 2, (False, True), dict(weight_bits=2, ternary=True), 4, 8, "mul", "max", 20),
    (3, (2, 5, 3), 4, (True, False, True), dict(weight_bits=8), 1, 16, "shift", "zero", 8),
    (7, (5, 2), 5, (True, True), dict(weight_bits=8), 64, 24, "mul", "mixed", 12),
    (1, (3,), 1, (False,), dict(weight_bits=3), 5, 10, "mul", "random", 10),
]


def make_words(rng, cfg, steps):
    """One event per channel at most (plus rare duplicates, still within the acc width), bad
    events, an empty step, a CLEAR in the middle, markers with a non-zero (ignored) addr."""
    words = []
    for t in range(steps):
        ev = [encode_event(SPIKE, i) for i in range(cfg.n_in) if rng.random() < 0.6]
        if ev and rng.random() < 0.2:
            ev.append(ev[0])
        if t == 1:
            ev = []
        for _ in range(rng.randint(0, 2)):
            ev.append(rng.choice([encode_event(RESERVED, rng.randrange(1 << 16)),
                                  encode_event(SPIKE, rng.randint(cfg.n_in, 0xFFFF))]))
        rng.shuffle(ev)
        words += ev
        marker = CLEAR if t == steps // 2 else EOT
        words.append(encode_event(marker, rng.choice([0, 0, rng.randrange(1 << 16)])))  # addr ignored
    return words


def case(idx):
    n_in, sizes, n_out, rec, wkw, depth, v_bits, leak_mode, delays, steps = CONFIGS[idx]
    cfg = CoreConfig(n_in=n_in, sizes=sizes, n_out=n_out, recurrent=rec, depth=depth,
                     v_bits=v_bits, leak_mode=leak_mode, **wkw)
    for attempt in range(40):               # first seed whose stream makes every layer emit
        seed = 100 * idx + attempt
        rng = random.Random(seed)
        params = random_params(cfg, seed, "random" if delays == "mixed" else delays,
                               threshold_scale=rng.choice([0.15, 0.3]))
        if delays == "mixed":       # short delays that show within the run, and the longest one
            for p in params.layers[:-1]:
                p.delay = torch.tensor([rng.choice([0, 1, 2, depth - 1]) for _ in p.delay.tolist()])
        words = make_words(rng, cfg, steps=steps)
        gold = GoldenNetwork(params).run_stream(words)
        emitted = [sum(len(u[2][l]) for u in gold.units if u[0] == "EOT")
                   for l in range(len(sizes))]
        recs = sum(sum(u[3]) for u in gold.units if u[0] == "EOT")
        if all(e >= 2 for e in emitted) and (recs > 0 or not any(rec)):
            return seed, cfg, params, words, gold, emitted
    raise AssertionError(f"config {idx}: no seed in 40 makes every LIF layer emit twice "
                         f"(and a recurrent layer feed back)")


@pytest.mark.parametrize("idx", range(len(CONFIGS)))
def test_items_and_cycles_match_golden(idx):
    seed, cfg, params, words, gold, emitted = case(idx)
    msg = f"config {idx} seed={seed} cfg={cfg}"
    assert all(emitted), msg
    assert gold.dropped_kind + gold.dropped_addr > 0, msg        # the guard had work to do
    assert (CLEAR, 0, 0) in gold.outputs, msg
    sch = schedule(cfg, words, gold)
    res = simulate(params, words, max_cycles=20_000)
    assert res["outputs"] == gold.outputs, f"{msg}\nrtl={res['outputs']}\ngold={gold.outputs}"
    assert res["cycles"] == sch.output_cycles, \
        f"{msg}\nrtl cycles={res['cycles']}\nschedule ={sch.output_cycles}"


@pytest.mark.parametrize("idx", range(len(CONFIGS)))
def test_items_match_golden_with_backpressure(idx):
    seed, cfg, params, words, gold, _ = case(idx)
    rng = random.Random(seed ^ 0x5EED)
    p_ready, p_valid = rng.choice([0.3, 0.6]), rng.choice([0.5, 0.8])
    ready = [rng.random() < p_ready for _ in range(997)]
    valid = [rng.random() < p_valid for _ in range(991)]
    res = simulate(params, words, max_cycles=40_000, ready_pattern=lambda c: ready[c % 997],
                   valid_pattern=lambda c: valid[c % 991])
    msg = f"config {idx} seed={seed} p_ready={p_ready} p_valid={p_valid}"
    assert res["outputs"] == gold.outputs, f"{msg}\nrtl={res['outputs']}\ngold={gold.outputs}"
    sch = schedule(cfg, words, gold)
    assert res["total_cycles"] > sch.output_cycles[-1], msg      # the stalls did slow it down


def lp(weight, delay, threshold=1, leak=0, weight_shift=0, reset_mode=0):
    return LayerParams(weight=torch.tensor(weight, dtype=torch.int64),
                       delay=torch.tensor(delay, dtype=torch.int64), threshold=threshold,
                       leak=leak, weight_shift=weight_shift, reset_mode=reset_mode)


def test_rails_and_delays_hand_made():
    """v_bits=8 readout pinned at +127 / -128 (saturation, no wrap), and a delay-3 spike of layer
    1 reaching the readout 3 steps later, in both implementations."""
    cfg = CoreConfig(n_in=2, sizes=(2,), n_out=3, weight_bits=8, v_bits=8, depth=4)
    params = NetworkParams(cfg, [
        lp([[1, 0], [0, 1]], [0, 3], threshold=1),                      # leak 0: fire per input
        lp([[127, -128, 0], [0, 0, 1]], [0, 0, 0], leak=7, weight_shift=7),
    ])
    steps = [[0], [0], [1], [], [], [], []]
    words = []
    for s in steps:
        words += [encode_event(SPIKE, a) for a in s] + [encode_event(EOT)]
    gold = GoldenNetwork(params).run_stream(words)
    vals = [v for (k, _, v) in gold.outputs if k == SPIKE]
    rows = [vals[i:i + 3] for i in range(0, len(vals), 3)]
    assert [r[0] for r in rows[:2]] == [127, 127] and [r[1] for r in rows[:2]] == [-128, -128], rows
    assert [r[2] for r in rows] == [0, 0, 0, 0, 0, 127, 127], rows    # y (1 << 7, clamped) at t = 2 + 3
    res = simulate(params, words)
    assert res["outputs"] == gold.outputs, res["outputs"]
    assert res["cycles"] == schedule(cfg, words, gold).output_cycles


def test_repeated_source_accumulates_exactly():
    """docs/core.md 2.1: the accumulate is exact. A source that delivers several events in one
    step (the golden model takes spike counts) must not wrap the acc_bits accumulator.

    n_in=1, weight 127 << 7 = 16256 per event, acc_bits = 8+7+clog2(2)+1 = 17 (max 65535):
    six events sum to 97536, so layer 1 fires (threshold 50000) and the readout shows 1.
    """
    cfg = CoreConfig(n_in=1, sizes=(1,), n_out=1, weight_bits=8, v_bits=24, depth=1)
    params = NetworkParams(cfg, [lp([[127]], [0], threshold=50000, weight_shift=7),
                                 lp([[1]], [0])])
    words = [encode_event(SPIKE, 0)] * 6 + [encode_event(EOT)]
    gold = GoldenNetwork(params).run_stream(words)
    assert gold.outputs == [(SPIKE, 0, 1), (EOT, 0, 0)]
    res = simulate(params, words)
    assert res["outputs"] == gold.outputs, \
        f"RTL accumulator wrapped: rtl={res['outputs']} golden={gold.outputs}"


def test_excess_spikes_dropped_and_counted():
    """docs/core.md 3.3: spikes beyond max_events in one step are dropped by the guard and
    counted; the next step starts a fresh count. RTL equals golden, items and cycles."""
    cfg = CoreConfig(n_in=2, sizes=(2,), n_out=1, weight_bits=8, depth=1, max_events=3)
    params = NetworkParams(cfg, [lp([[100, 50], [60, 10]], [0, 0], threshold=150),
                                 lp([[1], [2]], [0])])
    step = [encode_event(SPIKE, 0), encode_event(SPIKE, 1)] * 3 + [encode_event(EOT)]
    words = step * 3
    gold = GoldenNetwork(params).run_stream(words)
    assert gold.dropped_excess == 9, gold.dropped_excess
    clean = ([encode_event(SPIKE, 0), encode_event(SPIKE, 1), encode_event(SPIKE, 0),
              encode_event(EOT)]) * 3
    assert gold.outputs == GoldenNetwork(params).run_stream(clean).outputs
    status = [(0, Space.STATUS, c) for c in (StatusCounter.DROPPED_EXCESS, StatusCounter.STEPS)]
    res = simulate(params, words, after=status)
    assert res["outputs"] == gold.outputs
    assert res["cycles"] == schedule(cfg, words, gold).output_cycles
    assert [word for _, word in res["reads"]] == [9, 3]     # the counter as read over the port


def test_readback_values_and_latency():
    """docs/core.md section 4: a readback request accepted at cycle c is answered at c + 5 (layer
    spaces) or c + 3 (status), with the word that was loaded (registers, weights, delays)."""
    from golden_model.params import load_words
    cfg = CoreConfig(n_in=4, sizes=(5,), n_out=3, weight_bits=4, depth=8)
    params = random_params(cfg, 7, "random", threshold_scale=0.3)
    writes = load_words(params)
    mask = (1 << 64) - 1
    probes = [w for w in writes if w[1] != 0][:8] + [w for w in writes if w[1] == 0][::7]
    got = simulate(params, [], after=[(l, s, a) for l, s, a, _ in probes] + [(0, 7, 3)])["reads"]
    assert [w for w, _ in got] == [5] * len(probes) + [3], got
    assert [v for _, v in got[:-1]] == [d & mask for *_, d in probes], (got, probes)


# -- the input delay stage (docs/core.md, 2.7) -------------------------------------------------

INDELAY_CONFIGS = [
    # n_in, sizes, n_out, recurrent, extra config kw, depth, steps
    (9, (6,), 3, (False,), dict(weight_bits=4), 8, 14),
    (5, (4,), 2, (False,), dict(weight_bits=8), 1, 8),
    (7, (5, 4), 3, (True, True), dict(weight_bits=8, leak_mode="mul"), 4, 14),
    (6, (4,), 2, (True,), dict(weight_bits=4, weights_per_word=2, lanes=2), 16, 20),
    (1, (3,), 1, (False,), dict(weight_bits=4), 5, 12),
]


def indelay_words(rng, cfg, steps):
    """Channels with repeats in one step (the stage must turn counts into spikes), bad events,
    an empty step, a CLEAR in the middle; the stream ends with an EOT."""
    words = []
    for t in range(steps):
        ev = []
        for c in range(cfg.n_in):
            if rng.random() < 0.45:
                ev += [encode_event(SPIKE, c)] * rng.choice([1, 1, 2, 3])
        if t == 1:
            ev = []
        for _ in range(rng.randint(0, 1)):
            ev.append(rng.choice([encode_event(RESERVED, rng.randrange(1 << 16)),
                                  encode_event(SPIKE, rng.randint(cfg.n_in, 0xFFFF))]))
        rng.shuffle(ev)
        words += ev + [encode_event(CLEAR if t == steps // 2 else EOT)]
    return words


def indelay_case(idx):
    n_in, sizes, n_out, rec, kw, depth, steps = INDELAY_CONFIGS[idx]
    cfg = CoreConfig(n_in=n_in, sizes=sizes, n_out=n_out, recurrent=rec, depth=depth,
                     input_delays=True, **kw)
    for attempt in range(60):       # first seed where every layer emits and a delay shows
        seed = 7000 + 100 * idx + attempt
        rng = random.Random(seed)
        params = random_params(cfg, seed, "random", threshold_scale=rng.choice([0.15, 0.3]))
        params.input_delay = torch.tensor([rng.choice([0, min(1, depth - 1), depth - 1, rng.randrange(depth)])
                                           for _ in range(n_in)])
        words = indelay_words(rng, cfg, steps)
        gold = GoldenNetwork(params).run_stream(words)
        eots = [u for u in gold.units if u[0] == "EOT"]
        emitted = [sum(len(u[2][l]) for u in eots) for l in range(len(sizes))]
        repeats = any(len(u[1]) > len(set(u[1])) for u in gold.units)
        delayed = depth == 1 or any(set(u[4]) != set(u[1]) for u in eots)
        if all(e >= 2 for e in emitted) and repeats and delayed:
            return seed, cfg, params, words, gold
    raise AssertionError(f"input delay config {idx}: no seed in 60 makes every layer emit twice "
                         f"with repeats and a visible input delay")


@pytest.mark.parametrize("idx", range(len(INDELAY_CONFIGS)))
def test_input_delay_items_cycles_and_state(idx):
    """Items equal run_stream, cycles equal the schedule; after the run in_history and in_delay
    read back (layer 15) as the golden state, answered at c + 5 like a layer's."""
    from golden_model.network import input_history_words
    seed, cfg, params, words, gold = indelay_case(idx)
    msg = f"input delay config {idx} seed={seed} cfg={cfg}"
    assert (CLEAR, 0, 0) in gold.outputs, msg
    sch = schedule(cfg, words, gold)
    n = cfg.n_in
    reads = [(15, 4, c) for c in range(n)] + [(15, 1, c) for c in range(n)]
    res = simulate(params, words, max_cycles=20_000, after=reads)
    assert res["outputs"] == gold.outputs, f"{msg}\nrtl={res['outputs']}\ngold={gold.outputs}"
    assert res["cycles"] == sch.output_cycles, \
        f"{msg}\nrtl cycles={res['cycles']}\nschedule ={sch.output_cycles}"
    assert res["accepts"] == sch.input_accept_cycles, \
        f"{msg}\nrtl accepts={res['accepts']}\nschedule  ={sch.input_accept_cycles}"
    want = input_history_words(gold.final_state) + params.input_delay.tolist()
    assert [v for _, v in res["reads"]] == want, f"{msg}\nrtl={res['reads']}\nwant={want}"
    assert [w for w, _ in res["reads"]] == [5] * len(reads), f"{msg}\n{res['reads']}"


@pytest.mark.parametrize("idx", range(len(INDELAY_CONFIGS)))
def test_input_delay_items_with_backpressure(idx):
    seed, cfg, params, words, gold = indelay_case(idx)
    rng = random.Random(seed ^ 0x5EED)
    p_ready, p_valid = rng.choice([0.3, 0.6]), rng.choice([0.5, 0.8])
    ready = [rng.random() < p_ready for _ in range(997)]
    valid = [rng.random() < p_valid for _ in range(991)]
    res = simulate(params, words, max_cycles=40_000, ready_pattern=lambda c: ready[c % 997],
                   valid_pattern=lambda c: valid[c % 991])
    msg = f"input delay config {idx} seed={seed} p_ready={p_ready} p_valid={p_valid}"
    assert res["outputs"] == gold.outputs, f"{msg}\nrtl={res['outputs']}\ngold={gold.outputs}"
    assert res["total_cycles"] > schedule(cfg, words, gold).output_cycles[-1], msg


def test_input_delay_port_out_of_range():
    """Layer 15 has spaces 1 and 4 only, n_in words each: other writes are dropped and counted
    (status dropped_writes), other reads return 0; a write to in_history reads back (data
    truncated to D bits). Without the stage, layer 15 is out of range as a whole."""
    seed = 11
    cfg = CoreConfig(n_in=3, sizes=(2,), n_out=1, depth=8, input_delays=True)
    params = random_params(cfg, seed, "random")
    bad = [(15, 1, 3, 1), (15, 4, 3, 1), (15, 0, 0, 1), (15, 2, 0, 1), (15, 3, 1, 1), (15, 5, 0, 1)]
    ops = bad + [(15, 4, 2, 0x1A5), (15, 1, 0, 7), (15, 4, 2), (15, 1, 0), (15, 4, 3), (15, 1, 3),
                 (15, 0, 0), (15, 2, 0), (15, 5, 0), (0, 7, 2)]
    words = [encode_event(SPIKE, 1), encode_event(EOT)]
    res = simulate(params, words, after=ops)
    got = [v for _, v in res["reads"]]
    assert got == [0xA5, 7, 0, 0, 0, 0, 0, len(bad)], f"seed={seed} reads={res['reads']}"
    plain = CoreConfig(n_in=3, sizes=(2,), n_out=1, depth=8)
    res = simulate(random_params(plain, seed, "random"), words,
                   after=[(15, 1, 0, 1), (15, 4, 0, 1), (15, 1, 0), (15, 4, 0), (0, 7, 2)])
    assert [v for _, v in res["reads"]] == [0, 0, 2], f"seed={seed} reads={res['reads']}"


def test_learning_network_rejects_input_delays():
    from delaycore import LearningNetwork
    with pytest.raises(ValueError, match="input delay"):
        LearningNetwork(CoreConfig(n_in=3, sizes=(2,), n_out=1, input_delays=True))
