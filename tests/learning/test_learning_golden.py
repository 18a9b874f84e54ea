"""The vectorised golden learner against a scalar, loop-by-loop reading of docs/learning.md.

The reference below is written from the spec text, independently of golden_model.learning (its
own LFSR as a bit list, its own loops and clamps), so a slip in either one shows as a mismatch.
"""

import copy
import random

import pytest
import torch

from golden_model import CoreConfig, GoldenNetwork, random_params
from golden_model.learning import GoldenLearner, LearnRegisters, LEARN_ON, memory_bits, lfsr_next


def ref_lfsr(state):
    bits = [(state >> i) & 1 for i in range(32)]
    out = bits[0]
    bits = bits[1:] + [0]
    if out:
        for tap in (31, 21, 1, 0):
            bits[tap] ^= 1
    return sum(b << i for i, b in enumerate(bits))


class ScalarLearner:
    """docs/learning.md, one neuron and one synapse at a time, plain Python ints."""

    def __init__(self, params, regs):
        self.p, self.r = params, copy.deepcopy(regs)
        cfg = params.config
        self.cfg, self.D = cfg, cfg.depth
        self.nL, self.nout = cfg.sizes[-1], cfg.n_out
        self.nP = cfg.sizes[-2] if len(cfg.sizes) > 1 else 0
        self.reset()

    def reset(self):
        nL, nP = self.nL, self.nP
        self.tR, self.aR, self.ewR, self.edR = [0] * nL, [0] * nL, [0] * nL, [0] * nL
        self.tH, self.aH = [0] * nP, [0] * nP
        self.ewH = [[0] * nL for _ in range(nP)]
        self.edH = [[0] * nL for _ in range(nP)]
        self.score = [0] * self.nout

    def _trace(self, hist_row, d, t, a, shift, inc):
        D = self.D
        nb = d + 1 if d < D - 1 else (d - 1 if D > 1 else d)
        sig = 1 if d < D - 1 else -1
        y, ya = int(hist_row[d]), int(hist_row[nb])
        t = min(t - (t >> shift) + y * inc, 1023)
        a = min(a - (a >> shift) + ya * inc, 1023)
        return t, a, sig * (a - t)

    def step(self, state, readout):
        r = self.r
        if not r.enable & 1:
            return
        for o in range(self.nout):
            self.score[o] = max(-2**31, min(2**31 - 1, self.score[o] + int(readout[0, o])))
        Lidx = len(self.cfg.sizes) - 1
        hist, dl = state.layers[Lidx].hist[0], self.p.layers[Lidx].delay.tolist()
        for j in range(self.nL):
            self.tR[j], self.aR[j], dx = self._trace(hist[j].tolist(), dl[j], self.tR[j], self.aR[j],
                                                     r.trace_shift_R, r.trace_inc_R)
            self.ewR[j] = max(0, min(65535, self.ewR[j] + (self.tR[j] >> r.elig_shift_R)))
            self.edR[j] = max(-32768, min(32767, self.edR[j] + (dx >> r.elig_shift_R)))
        if not self.nP:
            return
        hP, dP = state.layers[Lidx - 1].hist[0], self.p.layers[Lidx - 1].delay.tolist()
        post = state.layers[Lidx]
        th = self.p.layers[Lidx].threshold
        psi = []
        for k in range(self.nL):
            if bool(post.hist[0, k, 0]):
                psi.append(15)
            else:
                psi.append(max(0, 15 - ((th - int(post.v[0, k])) >> r.psi_shift)))
        for j in range(self.nP):
            self.tH[j], self.aH[j], dx = self._trace(hP[j].tolist(), dP[j], self.tH[j], self.aH[j],
                                                     r.trace_shift_H, r.trace_inc_H)
            for k in range(self.nL):
                self.ewH[j][k] = max(0, min(65535, self.ewH[j][k] + ((psi[k] * self.tH[j]) >> r.elig_shift_H)))
                self.edH[j][k] = max(-32768, min(32767, self.edH[j][k] + ((psi[k] * dx) >> r.elig_shift_H)))

    def _round(self, g, lr, w, draw):
        step, rem = g >> lr, g - ((g >> lr) << lr)
        if draw is not None:
            step += 1 if (draw % (1 << lr)) < rem else 0
        elif lr > 0 and rem >= (1 << (lr - 1)):
            step += 1
        lo, hi = self.cfg.weight_range
        return max(lo, min(hi, w + step))

    def _draw(self, on):
        if not (on and self.r.enable & 32):
            return None
        self.r.lfsr = ref_lfsr(self.r.lfsr)
        return self.r.lfsr

    def learn(self, y):
        r, cfg = self.r, self.cfg
        if not r.enable & 1:
            return
        s = self.score
        e = [0] * self.nout
        if self.nout > 1:
            rival = None
            for o in range(self.nout):
                if o != y and (rival is None or s[o] > s[rival]):
                    rival = o
            if s[y] - s[rival] < r.margin:
                e[y], e[rival] = 1, -1
        Lidx = len(cfg.sizes) - 1
        WR = self.p.layers[Lidx + 1].weight
        Ls = [sum(int(WR[k, o]) * e[o] for o in range(self.nout)) for k in range(self.nL)]
        D = self.D
        if self.nP:
            WH, dP = self.p.layers[Lidx].weight, self.p.layers[Lidx - 1].delay
            for j in range(self.nP):
                G = 0
                for k in range(self.nL):
                    w = int(WH[j, k])
                    G += Ls[k] * w * self.edH[j][k]
                    if r.enable & 8:
                        WH[j, k] = self._round(Ls[k] * self.ewH[j][k], r.lr_shift_H, w, self._draw(True))
                if r.enable & 16:
                    d = int(dP[j]) + (1 if G > r.delay_thresh_H else -1 if G < -r.delay_thresh_H else 0)
                    dP[j] = max(0, min(D - 1, d))
        dL = self.p.layers[Lidx].delay
        for j in range(self.nL):
            G = 0
            for o in range(self.nout):
                w = int(WR[j, o])
                G += e[o] * w * self.edR[j]
                if r.enable & 2:
                    WR[j, o] = self._round(e[o] * self.ewR[j], r.lr_shift_R, w, self._draw(True))
            if r.enable & 4:
                d = int(dL[j]) + (1 if G > r.delay_thresh_R else -1 if G < -r.delay_thresh_R else 0)
                dL[j] = max(0, min(D - 1, d))
        self.reset()


def random_case(seed):
    rng = random.Random(seed)
    ternary = rng.random() < 0.5
    sizes = rng.choice([(5,), (6, 4), (3, 5, 4)])
    cfg = CoreConfig(n_in=rng.randint(2, 5), sizes=sizes, n_out=rng.randint(1, 4),
                     weight_bits=2 if ternary else rng.choice([3, 4, 8]), ternary=ternary,
                     depth=rng.choice([1, 2, 4, 8]), v_bits=rng.choice([10, 16]))
    params = random_params(cfg, seed, threshold_scale=rng.choice([0.3, 0.6, 1.0]))
    regs = LearnRegisters(
        enable=LEARN_ON | rng.getrandbits(5) << 1, lr_shift_R=rng.randint(0, 12),
        lr_shift_H=rng.randint(0, 12), trace_shift_R=rng.randint(0, 5), trace_inc_R=rng.randint(0, 1023),
        trace_shift_H=rng.randint(0, 5), trace_inc_H=rng.randint(0, 1023), psi_shift=rng.randint(0, 6),
        elig_shift_R=rng.randint(0, 4), elig_shift_H=rng.randint(0, 6), margin=rng.randint(0, 300),
        delay_thresh_R=rng.randint(0, 200), delay_thresh_H=rng.randint(0, 200),
        lfsr=rng.getrandbits(32))
    return cfg, params, regs, rng


@pytest.mark.parametrize("seed", range(40))
def test_golden_learner_matches_scalar_reading_of_spec(seed):
    cfg, params, regs, rng = random_case(seed)
    ref = ScalarLearner(copy.deepcopy(params), regs)
    gold = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(regs))
    for sample in range(3):
        T = rng.randint(1, 12)
        x = torch.tensor([[rng.random() < 0.4 for _ in range(cfg.n_in)] for _ in range(T)],
                         dtype=torch.int64) * rng.randint(1, 3)
        gold.clear(1)
        ref.reset()
        st = gold.net.init_state(1)
        for t in range(T):
            out, _ = gold.net.step(st, x[t:t + 1])
            gold.observe(st, out)
            ref.step(st, out)
            s = gold.snapshot()
            where = f"seed {seed} sample {sample} step {t}"
            assert s["trace_R"] == ref.tR and s["trace_alt_R"] == ref.aR, where
            assert s["elig_w_R"] == ref.ewR and s["elig_d_R"] == ref.edR, where
            assert s["trace_H"] == ref.tH and s["trace_alt_H"] == ref.aH, where
            assert s["elig_w_H"] == sum(ref.ewH, []) and s["elig_d_H"] == sum(ref.edH, []), where
            assert s["score"] == ref.score, where
        y = rng.randrange(cfg.n_out)
        gold.learn([y])
        ref.learn(y)
        where = f"seed {seed} sample {sample} learn"
        for l, (a, b) in enumerate(zip(gold.net.params.layers, ref.p.layers)):
            assert torch.equal(a.weight, b.weight), f"{where}: weights of layer {l}"
            assert torch.equal(a.delay, b.delay), f"{where}: delays of layer {l}"
        assert gold.regs.lfsr == ref.r.lfsr, where


def test_learning_changes_something():
    """The comparison above is not vacuous: over the random cases weights and delays move."""
    moved_w = moved_d = 0
    for seed in range(40):
        cfg, params, regs, rng = random_case(seed)
        gold = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), regs)
        x = (torch.rand(12, cfg.n_in, generator=torch.Generator().manual_seed(seed)) < 0.5).long()
        gold.run_sample(x, label=0)
        moved_w += sum(int((a.weight != b.weight).sum()) for a, b in zip(gold.net.params.layers, params.layers))
        moved_d += sum(int((a.delay != b.delay).sum()) for a, b in zip(gold.net.params.layers, params.layers))
    assert moved_w > 20 and moved_d > 5, (moved_w, moved_d)


def test_lfsr_is_the_stated_polynomial():
    s = 0xACE1
    for _ in range(1000):
        assert lfsr_next(s) == ref_lfsr(s)
        s = lfsr_next(s)


def test_bad_label_is_rejected_and_changes_nothing():
    cfg = CoreConfig(n_in=3, sizes=(4, 3), n_out=2, weight_bits=2, ternary=True, depth=4)
    params = random_params(cfg, 3)
    before = copy.deepcopy(params)
    gold = GoldenLearner(GoldenNetwork(params), LearnRegisters(enable=63, lfsr=5))
    gold.run_sample(torch.ones(5, 3, dtype=torch.int64))
    snap = gold.snapshot()
    with pytest.raises(ValueError, match="label 2 is not a class"):
        gold.learn([2])
    assert gold.rejected_labels == 1 and gold.learned == 0
    assert gold.snapshot() == {**snap, "rejected_labels": 1}
    for a, b in zip(params.layers, before.layers):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.delay, b.delay)


def test_learning_off_ignores_labels():
    cfg = CoreConfig(n_in=3, sizes=(4,), n_out=2, weight_bits=2, ternary=True, depth=4)
    gold = GoldenLearner(GoldenNetwork(random_params(cfg, 4)), LearnRegisters(enable=62))
    gold.run_sample(torch.ones(5, 3, dtype=torch.int64), label=1)
    assert gold.ignored_labels == 1 and gold.learned == 0
    assert gold.snapshot()["score"] == [0, 0]


@pytest.mark.parametrize("field,value", [("enable", 64), ("trace_inc_R", 1024), ("lfsr", -1),
                                         ("psi_shift", 1.5)])
def test_register_range_is_checked(field, value):
    with pytest.raises(ValueError, match=f"LearnRegisters.{field}"):
        LearnRegisters(**{field: value})


def test_register_numbers_follow_the_spec_table():
    """docs/learning.md section 5: the host addresses registers by these numbers."""
    numbers = {n: LearnRegisters.number(n) for n in ("enable", "lr_shift_R", "lr_shift_H", "psi_shift",
                                                    "margin", "delay_thresh_H", "lfsr")}
    assert numbers == {"enable": 0, "lr_shift_R": 1, "lr_shift_H": 2, "psi_shift": 7, "margin": 10,
                       "delay_thresh_H": 12, "lfsr": 13}


def test_memory_bits_formula():
    m = memory_bits(CoreConfig(n_in=700, sizes=(64, 32), n_out=10))
    assert m["pair_R"] == 2 * 10 * 32 + 2 * 16 * 32
    assert m["pair_H"] == 2 * 10 * 64 + 2 * 16 * 64 * 32


def test_round_step_rounds_half_up_and_draws_below_remainder():
    from golden_model.learning import round_step
    g = torch.tensor([8, -8, 7, 24, -9])
    w = torch.zeros(5, dtype=torch.int64)
    assert round_step(g, 4, w, (-100, 100), None).tolist() == [1, 0, 0, 2, -1]
    assert round_step(g, 0, w, (-100, 100), None).tolist() == [8, -8, 7, 24, -9]
    # stochastic: step up when the draw's low bits are below the remainder (r = 8, 8, 7, 8, 7)
    draws = torch.tensor([7 | 0x50, 8, 6, 9, 0])
    assert round_step(g, 4, w, (-100, 100), draws).tolist() == [1, -1, 1, 1, 0]
    assert round_step(g, 4, w + 1, (-1, 1), None).tolist() == [1, 1, 1, 1, 0]
