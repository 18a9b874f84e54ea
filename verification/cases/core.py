"""Seeded test cases: a configuration, a parameter image, an input stream and what the golden
model says must come out (items, cycles, state at every timestep boundary)."""

import dataclasses
import random


from golden_model import (CoreConfig, GoldenNetwork, random_params, load_words, schedule,
                          encode_event, SPIKE, EOT, CLEAR, RESERVED)
from golden_model.params import REGISTER, DELAY, WEIGHT, INPUT_STAGE, weight_words


def input_stream(cfg: CoreConfig, rng: random.Random, steps: int, rate: float,
                 bad: float = 0.0, clear_at: int | None = None) -> list[int]:
    """Per step: each channel spikes with probability `rate` (duplicates allowed), then EOT."""
    words = []
    for t in range(steps):
        for c in range(cfg.n_in):
            if rng.random() < rate:
                words.append(encode_event(SPIKE, c))
        if bad and rng.random() < bad:
            words.append(encode_event(RESERVED, rng.randrange(1 << 16)))
        if bad and rng.random() < bad:
            words.append(encode_event(SPIKE, rng.randrange(cfg.n_in, 1 << 16)))
        words.append(encode_event(EOT))
        if clear_at is not None and t == clear_at:
            words.append(encode_event(CLEAR))
    return words


def make_case(name: str, cfg: CoreConfig, seed: int, *, steps: int = 8, rate: float = 0.3,
              delays: str = "random", threshold_scale: float = 0.3, mode: str = "cycle",
              valid_p: float = 1.0, ready_p: float = 1.0, bad: float = 0.0,
              clear_at: int | None = None, weights: str = "random") -> dict:
    rng = random.Random(seed)
    params = random_params(cfg, seed, delays, threshold_scale=threshold_scale)
    if weights == "max":        # drive every membrane into the positive rail
        lo, hi = cfg.weight_range
        for p in params.layers:
            p.weight.fill_(hi)
            p.weight_shift = 7
    words = input_stream(cfg, rng, steps, rate, bad, clear_at)
    net = GoldenNetwork(params)
    res = net.run_stream(words)
    expect = {
        "outputs": [list(o) for o in res.outputs],
        "snapshots": res.snapshots if mode == "state" else [],
        "dropped_kind": res.dropped_kind,
        "dropped_addr": res.dropped_addr,
        "dropped_excess": res.dropped_excess,
        "steps": sum(1 for u in res.units if u[0] == "EOT"),
        "dropped_writes": 0,
        "spikes": sum(len(u[2][l]) for u in res.units if u[0] == "EOT" for l in range(len(cfg.sizes))),
    }
    sched = schedule(cfg, words, res)
    if mode == "cycle":
        expect["output_cycles"] = sched.output_cycles
        expect["step_end_cycles"] = sched.step_end_cycles
        expect["input_accept_cycles"] = sched.input_accept_cycles
    writes = [list(w) for w in load_words(params)]
    # Parameters read back after loading: every register, every delay, a sample of weights.
    readback = []
    for l, p in enumerate(params.layers):
        regs = (p.threshold, p.leak, p.weight_shift, p.reset_mode)
        readback += [[l, REGISTER, a, v] for a, v in enumerate(regs)]
        if l < len(cfg.sizes):
            readback += [[l, DELAY, a, int(d)] for a, d in enumerate(p.delay.tolist())][:64]
        flat = weight_words(cfg, p.weight)
        for a in rng.sample(range(len(flat)), min(16, len(flat))):
            readback.append([l, WEIGHT, a, flat[a]])
    if cfg.input_delays:        # the input delay stage's delays (port layer 15)
        readback += [[INPUT_STAGE, DELAY, c, int(d)] for c, d in enumerate(params.input_delay.tolist())][:64]
    # Writes the core must drop and count: an address past a memory, a layer that does not exist.
    n = cfg.sizes[0]
    bad_writes = [[0, DELAY, n, 1], [len(cfg.sizes) + 1, WEIGHT, 0, 1]]
    if cfg.input_delays:        # and past the stage's in_delay
        bad_writes.append([INPUT_STAGE, DELAY, cfg.n_in, 1])
    expect["dropped_writes"] = len(bad_writes)
    return {
        "name": name, "seed": seed, "mode": mode, "valid_p": valid_p, "ready_p": ready_p,
        "config": dataclasses.asdict(cfg), "load": writes, "bad_writes": bad_writes,
        "readback": readback, "words": words, "expect": expect,
        "max_cycles": 50 * (sched.step_end_cycles[-1] if sched.step_end_cycles else 1000) + 10_000,
        "scheduled_cycles": sched.step_end_cycles[-1] if sched.step_end_cycles else 0,
        "accumulates": sched.accumulates,
    }
