"""The `lanes` parameter (docs/core.md, section 6): K neurons per cycle.

On random seeded configurations with K in {1, 2, 4}, the Amaranth core must give the golden
model's output items, and without backpressure exactly the cycles of `golden_model.schedule`;
with random backpressure the items are still equal, and the state read back through the port
(per-neuron spaces are split across lane memories) equals the golden state. K = 1 is the plain core.
"""

import random

import pytest

from amaranth_core import simulate  # noqa: E402

from golden_model import (CLEAR, EOT, SPIKE, CoreConfig, GoldenNetwork, encode_event,  # noqa: E402
                          random_params, schedule)


def _draw(K: int, seed: int):
    rng = random.Random(seed)
    P = rng.choice([p for p in (1, 2, 4, 8) if p % K == 0])
    wb = rng.choice([2, 3, 4, 8])
    L = rng.choice([1, 1, 2])
    sizes = tuple(K * rng.randint(1, 4) for _ in range(L))
    cfg = CoreConfig(n_in=rng.randint(2, 9), sizes=sizes, n_out=K * rng.randint(1, 2),
                     recurrent=tuple(rng.random() < 0.4 for _ in sizes), weight_bits=wb,
                     ternary=wb == 2 and rng.random() < 0.5, depth=rng.choice([1, 4, 8]),
                     weights_per_word=P, lanes=K,
                     leak_mode=rng.choice(["shift", "mul"]))
    params = random_params(cfg, seed, "random", threshold_scale=rng.choice([0.1, 0.2]))
    words = []
    for t in range(10):
        ev = [encode_event(SPIKE, i) for i in range(cfg.n_in) if rng.random() < 0.6]
        words += ev + [encode_event(CLEAR if t == 6 else EOT)]
    return cfg, params, words


def random_case(K: int, seed: int):
    """The first draw from `seed` on whose stream every LIF layer spikes at least three times and,
    with K > 1, some group emits more than one event in a step (the serialised case)."""
    for attempt in range(200):
        cfg, params, words = _draw(K, seed * 1000 + attempt)
        gold = GoldenNetwork(params).run_stream(words)
        steps = [u[2] for u in gold.units if u[0] == "EOT"]
        spikes = [sum(len(s[l]) for s in steps) for l in range(len(cfg.sizes))]
        multi = any(len({j // K for j in s[l]}) < len(s[l]) for s in steps for l in range(len(cfg.sizes)))
        if min(spikes) >= 3 and (K == 1 or multi):
            return cfg, params, words
    raise AssertionError(f"K={K} seed={seed}: no draw in 200 makes every layer spike")


CASES = [(K, 1000 * K + i) for K in (1, 2, 4) for i in range(4)]


@pytest.mark.parametrize("K,seed", CASES)
def test_lanes_items_and_cycles_match_golden(K, seed):
    cfg, params, words = random_case(K, seed)
    gold = GoldenNetwork(params).run_stream(words)
    sch = schedule(cfg, words, gold)
    res = simulate(params, words, max_cycles=20_000)
    msg = f"K={K} seed={seed} cfg={cfg}"
    assert res["outputs"] == [tuple(o) for o in gold.outputs], msg
    assert res["cycles"] == sch.output_cycles, \
        f"{msg}\nrtl cycles={res['cycles']}\nschedule ={sch.output_cycles}"
    # with random backpressure and input gaps the items stay the same
    rng = random.Random(seed)
    ready = [rng.random() < 0.6 for _ in range(997)]
    valid = [rng.random() < 0.7 for _ in range(991)]
    res = simulate(params, words, max_cycles=60_000, ready_pattern=lambda c: ready[c % 997],
                   valid_pattern=lambda c: valid[c % 991])
    assert res["outputs"] == [tuple(o) for o in gold.outputs], msg


def test_lanes_schedule_speedup_and_validation():
    """More lanes never take more cycles on the same stream, and fewer on a busy one; a lane count
    that does not divide the sizes or P is refused."""
    base = dict(n_in=16, sizes=(16, 8), n_out=4, weight_bits=2, ternary=True, depth=8,
                weights_per_word=8)
    rng = random.Random(5)
    words = []
    for t in range(6):
        words += [encode_event(SPIKE, i) for i in range(16) if rng.random() < 0.5]
        words.append(encode_event(EOT))
    ends = []
    for K in (1, 2, 4):
        cfg = CoreConfig(**base, lanes=K)
        params = random_params(cfg, 3, "random", threshold_scale=0.2)
        ends.append(schedule(cfg, words, GoldenNetwork(params).run_stream(words)).step_end_cycles[-1])
    assert ends[0] > ends[1] > ends[2], ends
    for bad in (dict(lanes=3), dict(lanes=8, n_out=4), dict(lanes=2, weights_per_word=1),
                dict(lanes=4, sizes=(6,))):
        with pytest.raises(ValueError, match="lanes"):
            CoreConfig(**{**base, **bad})


def test_learning_engine_on_a_lanes_core():
    """The learning engine only uses the core's ports, which address neurons by index whatever
    K is: LearningNetwork with K = 2 must match GoldenLearner value for value."""
    from verification.cases.learning import make_learning_case
    from amaranth_learning import simulate_learning
    cfg = CoreConfig(n_in=4, sizes=(6, 4), n_out=2, weight_bits=2, ternary=True, weights_per_word=4,
                     depth=8, lanes=2)
    case = make_learning_case("lanes2-learning", cfg, 11, samples=3, steps=6, stochastic=True,
                              core_every_step=True)
    res = simulate_learning(case, ready_p=0.7)
    assert res["mismatch"] is None, res["mismatch"]
    assert res["compared"] == sum(len(o["reads"]) for o in case["ops"] if o["op"] == "check") > 0
    assert case["weights_changed"]["weights"] > 0, case["weights_changed"]
    assert [k for k, _ in res["phases"]].count("LEARN") == case["learned"] > 0
