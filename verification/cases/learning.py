"""Seeded cases of the learning engine: a configuration, a parameter image, learning registers,
and a list of operations (steps, labels, writes) with what `GoldenLearner` says must be read back
after every phase. Plain JSON-able data, shared by the amaranth.sim test
(tests/learning/test_learning_rtl.py) and the cocotb testbench (verification/benches/learning_tb.py)."""

import random

import torch

from golden_model import (CoreConfig, GoldenNetwork, random_params, load_words, encode_event,
                          SPIKE, EOT, CLEAR)
from golden_model.params import WEIGHT, DELAY, STATUS, STATUS_DROPPED_WRITES, weight_words
from golden_model.learning import (GoldenLearner, LearnRegisters, LEARN, REGION_REGS,
                                   REGION_TRACE_R, REGION_TRACE_ALT_R, REGION_ELIG_W_R,
                                   REGION_ELIG_D_R, REGION_TRACE_H, REGION_TRACE_ALT_H,
                                   REGION_ELIG_W_H, REGION_ELIG_D_H, REGION_SCORE, REGION_STATUS,
                                   LEARN_ON, LEARN_W_R, LEARN_D_R, LEARN_W_H, LEARN_D_H,
                                   STOCHASTIC)

U64 = (1 << 64) - 1
REG_LFSR = LearnRegisters.number("lfsr")


def learn_addr(region: int, index: int) -> int:
    return (region << 16) | index


def learner_reads(lrn: GoldenLearner) -> list[list[int]]:
    """(layer, space, addr, expected word) for every engine value the readback port shows."""
    snap = lrn.snapshot()
    reads = []
    for region, name in ((REGION_TRACE_R, "trace_R"), (REGION_TRACE_ALT_R, "trace_alt_R"),
                         (REGION_ELIG_W_R, "elig_w_R"), (REGION_ELIG_D_R, "elig_d_R"),
                         (REGION_TRACE_H, "trace_H"), (REGION_TRACE_ALT_H, "trace_alt_H"),
                         (REGION_ELIG_W_H, "elig_w_H"), (REGION_ELIG_D_H, "elig_d_H"),
                         (REGION_SCORE, "score")):
        reads += [[0, LEARN, learn_addr(region, i), v & U64] for i, v in enumerate(snap[name])]
    for i, name in enumerate(("learned", "rejected_labels", "ignored_labels")):
        reads.append([0, LEARN, learn_addr(REGION_STATUS, i), snap[name]])
    reads.append([0, LEARN, learn_addr(REGION_REGS, REG_LFSR), snap["lfsr"]])
    return reads


def core_reads(net: GoldenNetwork) -> list[list[int]]:
    """Every weight word and delay of the network, as the readback port returns them."""
    cfg = net.config
    reads = []
    for l, p in enumerate(net.params.layers):
        reads += [[l, WEIGHT, a, w & U64] for a, w in enumerate(weight_words(cfg, p.weight))]
        if l < len(cfg.sizes):
            reads += [[l, DELAY, a, int(d)] for a, d in enumerate(p.delay.tolist())]
    return reads


def random_registers(rng: random.Random, stochastic: bool) -> LearnRegisters:
    return LearnRegisters(
        enable=LEARN_ON | LEARN_W_R | LEARN_D_R | LEARN_W_H | LEARN_D_H | (STOCHASTIC if stochastic else 0),
        lr_shift_R=rng.randint(1, 9), lr_shift_H=rng.randint(1, 10),
        trace_shift_R=rng.randint(1, 3), trace_inc_R=rng.randint(100, 500),
        trace_shift_H=rng.randint(1, 3), trace_inc_H=rng.randint(100, 500),
        psi_shift=rng.randint(0, 3), elig_shift_R=rng.randint(0, 2), elig_shift_H=rng.randint(2, 5),
        margin=rng.randint(0, 40), delay_thresh_R=rng.randint(0, 300),
        delay_thresh_H=rng.randint(0, 3000), lfsr=rng.randrange(1, 1 << 32))


def make_learning_case(name: str, cfg: CoreConfig, seed: int, *, samples: int = 3, steps: int = 6,
                       rate: float = 0.5, stochastic: bool = True, threshold_scale: float = 0.3,
                       valid_p: float = 1.0, ready_p: float = 1.0,
                       core_every_step: bool = False, overrides: dict | None = None) -> dict:
    """Sample 0 gets a rejected label before its real one, a (dropped) write to a read-only
    region, and a margin written just before its label that puts the hinge exactly on its edge;
    the second to last sample runs with learning off (its label is ignored). `overrides`: register
    values replacing the random ones."""
    rng = random.Random(seed)
    params = random_params(cfg, seed, threshold_scale=threshold_scale)
    net = GoldenNetwork(params)
    regs = random_registers(rng, stochastic)
    for k, v in (overrides or {}).items():
        setattr(regs, k, v)
    lrn = GoldenLearner(net, LearnRegisters(**{k: getattr(regs, k) for k in regs.__dataclass_fields__}))
    load = [list(w) for w in load_words(params)]
    load += [[0, LEARN, learn_addr(REGION_REGS, i), v] for i, v in regs.words()]
    reg_expect = [[0, LEARN, learn_addr(REGION_REGS, i), v] for i, v in regs.words()]
    ops = [{"op": "check", "what": "after load", "reads": reg_expect + learner_reads(lrn)
            + core_reads(net)}]
    dropped_writes = 0
    off_sample = samples - 2 if samples >= 3 else None

    def check(what, core):
        ops.append({"op": "check", "what": what,
                    "reads": learner_reads(lrn) + (core_reads(net) if core else [])})

    def write(layer, space, addr, data):
        ops.append({"op": "write", "w": [layer, space, addr, data]})

    for s in range(samples):
        if s == off_sample:
            write(0, LEARN, learn_addr(REGION_REGS, 0), regs.enable & ~LEARN_ON)
            lrn.regs.write(0, regs.enable & ~LEARN_ON)
        ops.append({"op": "step", "words": [encode_event(CLEAR)], "outputs": [[CLEAR, 0, 0]]})
        state = net.init_state(1)
        lrn.clear(1)
        check(f"sample {s} CLEAR", False)
        for t in range(steps):
            x = [1 if rng.random() < rate else 0 for _ in range(cfg.n_in)]
            words = [encode_event(SPIKE, c) for c in range(cfg.n_in) if x[c]]
            rng.shuffle(words)
            out, _ = net.step(state, torch.tensor([x], dtype=torch.int64))
            lrn.observe(state, out)
            outputs = [[SPIKE, j, int(v)] for j, v in enumerate(out[0].tolist())] + [[EOT, 0, 0]]
            ops.append({"op": "step", "words": words + [encode_event(EOT)], "outputs": outputs})
            check(f"sample {s} STEP {t}", core_every_step)
        if s == 0:
            write(0, LEARN, learn_addr(REGION_ELIG_W_R, 0), 12345)       # read-only: dropped
            dropped_writes += 1
            bad = cfg.n_out + rng.randrange(5)
            ops.append({"op": "label", "y": bad})
            try:
                lrn.learn([bad])
            except ValueError:
                pass
            check(f"sample {s} rejected label {bad}", False)
        label = rng.randrange(cfg.n_out)
        if s == 0 and cfg.n_out > 1:        # the hinge's edge: sy - best == margin
            score = lrn.state.score[0].tolist()
            label = max(range(cfg.n_out), key=lambda o: score[o])
            best = max(v for o, v in enumerate(score) if o != label)
            if 0 <= score[label] - best < (1 << 16):
                write(0, LEARN, learn_addr(REGION_REGS, 10), score[label] - best)
                lrn.regs.write(10, score[label] - best)
        ops.append({"op": "label", "y": label})
        lrn.learn([label])
        check(f"sample {s} LEARN label {label}", True)
        if lrn.regs.margin != regs.margin:
            write(0, LEARN, learn_addr(REGION_REGS, 10), regs.margin)
            lrn.regs.write(10, regs.margin)
        if s == off_sample:
            write(0, LEARN, learn_addr(REGION_REGS, 0), regs.enable)
            lrn.regs.write(0, regs.enable)
    ops.append({"op": "check", "what": "dropped_writes",
                "reads": [[0, STATUS, STATUS_DROPPED_WRITES, dropped_writes]]})
    return {"name": name, "seed": seed, "config": dict(cfg.__dict__), "load": load, "ops": ops,
            "valid_p": valid_p, "ready_p": ready_p,
            "learned": lrn.learned, "weights_changed": _changed(params, random_params(
                cfg, seed, threshold_scale=threshold_scale))}


def _changed(a, b) -> dict:
    w = sum(int((pa.weight != pb.weight).sum()) for pa, pb in zip(a.layers, b.layers))
    d = sum(int((pa.delay != pb.delay).sum()) for pa, pb in zip(a.layers, b.layers))
    return {"weights": w, "delays": d}


def config_from(case: dict) -> CoreConfig:
    return CoreConfig(**{k: tuple(v) if isinstance(v, list) else v
                         for k, v in case["config"].items()})
