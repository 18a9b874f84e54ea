"""An exact fast replica of the golden learner for one fixed hidden layer, pair R only.

Demo c learns only the readout weights and the hidden delays (pair R) on top of a fixed hidden
layer, so the raw hidden spikes never change: `fast_hidden_spikes` computes them once with BLAS,
and `FastPairR` replays GoldenLearner from them, with the same weights, delays and LFSR after
every sample (`check`, tests/learning/test_onchip_demos.py). Minutes instead of hours for a 12-epoch run.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from golden_model import GoldenNetwork
from golden_model.learning import (GoldenLearner, LearnRegisters, LEARN_W_R, LEARN_D_R, STOCHASTIC,
                                   TRACE_MAX, ELIG_W_MAX, ELIG_D_MIN, ELIG_D_MAX, hinge_error,
                                   round_step, step_delay, lfsr_draws)
from .fsdd_network import with_bias_channel
from .online import presentation_order, lr_for_epoch

READOUT_LEAK = 4


def fast_hidden_spikes(params, x: torch.Tensor) -> torch.Tensor:
    """Raw spikes s(t) (hist bit 0) of the first LIF layer of the golden network, in float64 with exact integer values
    (floor leak, clamp, threshold, reset): BLAS instead of int64 matmuls. [B, T, n] bool."""
    p, s = params.layers[0], params.config.layers[0]
    assert params.config.leak_mode == "shift" and not s.recurrent   # raw spikes: own delays do not matter
    w = (p.weight.to(torch.int64) << p.weight_shift).double()
    acc = x.double() @ w                                           # [B, T, n]
    v = torch.zeros(x.shape[0], w.shape[1], dtype=torch.float64)
    out = torch.zeros(acc.shape, dtype=torch.bool)
    for t in range(x.shape[1]):
        v = (v - torch.floor(v / (1 << p.leak)) + acc[:, t]).clamp(s.v_min, s.v_max)
        spk = v >= p.threshold
        v = torch.where(spk, v - p.threshold if p.reset_mode == 0 else torch.zeros_like(v), v)
        out[:, t] = spk
    return out




def shifted_eligibilities(s: torch.Tensor, regs: LearnRegisters, depth: int, chunk: int = 250):
    """For raw hidden spikes s [N, T, n] (bool) and every delay value d: the pair-R eligibilities
    the engine accumulates over a sample if neuron j had delay d: elig_w [N, D, n] and
    elig_d [N, D, n] (with its per-step saturation), exactly as GoldenLearner.observe."""
    N, T, n = s.shape
    D = depth
    dd = torch.arange(D)
    a = torch.where(dd < D - 1, dd + 1, dd - 1)
    sigma = torch.where(dd < D - 1, 1, -1).view(1, D, 1)
    EW, ED = [], []
    for i in range(0, N, chunk):
        x = s[i:i + chunk].to(torch.int64)
        B = x.shape[0]
        pad = torch.cat([torch.zeros(B, D, n, dtype=torch.int64), x], 1)   # pad[:, D + t] = s(t)
        tr = torch.zeros(B, D, n, dtype=torch.int64)
        ew = torch.zeros(B, D, n, dtype=torch.int64)
        ed = torch.zeros(B, D, n, dtype=torch.int64)
        for t in range(T):
            y = pad[:, D + t - dd]                                           # [B, D, n]: s(t - d)
            tr = (tr - (tr >> regs.trace_shift_R) + y * regs.trace_inc_R).clamp(max=TRACE_MAX)
            delta = sigma * (tr[:, a] - tr)
            ew = (ew + (tr >> regs.elig_shift_R)).clamp(0, ELIG_W_MAX)
            ed = (ed + (delta >> regs.elig_shift_R)).clamp(ELIG_D_MIN, ELIG_D_MAX)
        EW.append(ew)
        ED.append(ed)
    return torch.cat(EW), torch.cat(ED)


def delayed(s: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """y[:, t, j] = s[:, t - d_j, j] (0 before the start). s [N, T, n] -> int64."""
    N, T, n = s.shape
    idx = torch.arange(T).view(T, 1) - d.view(1, n)                           # [T, n]
    valid = idx >= 0
    y = s.to(torch.int64).gather(1, idx.clamp(min=0).unsqueeze(0).expand(N, T, n))
    return y * valid


def readout_scores(y: torch.Tensor, params) -> torch.Tensor:
    """Sum over the sample of the (non-spiking) readout membrane, as the golden network. y [N,T,n]."""
    p, sh = params.layers[-1], params.config.layers[-1]
    w = p.weight[:sh.n_src].to(torch.int64) << p.weight_shift
    acc = y @ w                                                                # [N, T, n_out]
    v = torch.zeros(y.shape[0], w.shape[1], dtype=torch.int64)
    score = torch.zeros_like(v)
    for t in range(y.shape[1]):
        v = (v - (v >> p.leak) + acc[:, t]).clamp(sh.v_min, sh.v_max)
        score += v
    return score


class FastPairR:
    """GoldenLearner restricted to a 700-n-10 network learning W_R and D_R (pair R), replayed from
    precomputed hidden spikes (the hidden weights are fixed, so raw hidden spikes do not change;
    delays only select which shifted eligibilities apply). Bit-exact with GoldenLearner (checked
    by `check`)."""

    def __init__(self, params, regs: LearnRegisters, s_train: torch.Tensor):
        self.params = copy.deepcopy(params)
        self.regs = copy.deepcopy(regs)
        self.s = s_train
        self.EW, self.ED = shifted_eligibilities(s_train, regs, params.config.depth)
        self.hinge_fired = 0      # samples with a nonzero error: wrong, or right within the margin

    def learn_sample(self, i: int, label: int) -> int:
        r, P = self.regs, self.params
        d = P.layers[0].delay.to(torch.int64)
        y = delayed(self.s[i:i + 1], d)
        score = readout_scores(y, P)[0]
        pred = int(score.argmax())
        n = d.numel()
        ew = self.EW[i, d, torch.arange(n)]
        ed = self.ED[i, d, torch.arange(n)]
        W_R = P.layers[-1].weight[:n].to(torch.int64)
        e = hinge_error(score, label, r.margin)
        self.hinge_fired += int(bool(e.any()))
        G = (e.unsqueeze(0) * W_R).sum(1) * ed
        if r.enable & LEARN_W_R:
            draws = None
            if r.enable & STOCHASTIC:
                draws, r.lfsr = lfsr_draws(r.lfsr, W_R.numel())
            new = round_step(ew.unsqueeze(1) * e.unsqueeze(0), r.lr_shift_R, W_R,
                             P.config.weight_range, draws)
            P.layers[-1].weight[:n] = new.to(P.layers[-1].weight.dtype)
        if r.enable & LEARN_D_R:
            dl = P.layers[0].delay
            dl.copy_(step_delay(d, G, r.delay_thresh_R, P.config.depth).to(dl.dtype))
        return pred


def fast_accuracy(params, s: torch.Tensor, labels) -> float:
    y = delayed(s, params.layers[0].delay.to(torch.int64))
    return float((readout_scores(y, params).argmax(1).numpy() == np.asarray(labels)).mean())


def fast_online(params, regs, s_tr, y_tr, s_va, y_va, epochs: int, seed: int, eval_every: int = 500,
                learner: FastPairR | None = None, lr_schedule: list[int] | None = None):
    """As online.learn_online (same presentation order, selection on validation). `lr_schedule`:
    lr_shift_R per epoch, as a host would rewrite the register between epochs."""
    L = learner or FastPairR(params, regs, s_tr)
    curve = [(0, fast_accuracy(L.params, s_va, y_va))]
    best, best_params = curve[0][1], copy.deepcopy(L.params)
    for seen, i in enumerate(presentation_order(len(s_tr), epochs, seed), 1):
        if lr_schedule and (seen - 1) % len(s_tr) == 0:
            L.regs.lr_shift_R = lr_for_epoch(lr_schedule, (seen - 1) // len(s_tr))
        L.learn_sample(i, int(y_tr[i]))
        if seen % eval_every == 0:
            acc = fast_accuracy(L.params, s_va, y_va)
            curve.append((seen, acc))
            if acc > best:
                best, best_params = acc, copy.deepcopy(L.params)
    return L, curve, best_params


def check(params, regs, x: np.ndarray, labels, n: int = 40) -> bool:
    """Fast replica against GoldenLearner over the first n samples: same weights and delays."""
    s = fast_hidden_spikes(params, torch.as_tensor(np.asarray(x[:n]), dtype=torch.int64))
    F = FastPairR(params, regs, s)
    G = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(regs))
    for i in range(n):
        F.learn_sample(i, int(labels[i]))
        G.run_sample(torch.as_tensor(np.asarray(x[i]), dtype=torch.int64), label=int(labels[i]))
    gp = G.net.params
    return bool(torch.equal(gp.layers[-1].weight, F.params.layers[-1].weight)
                and torch.equal(gp.layers[0].delay, F.params.layers[0].delay)
                and G.regs.lfsr == F.regs.lfsr)


def spikes_of(params, splits):
    out = []
    for s in (splits.train, splits.val, splits.test):
        x = torch.as_tensor(np.asarray(s.spikes), dtype=torch.int64)
        if params.config.n_in == x.shape[-1] + 1:
            x = with_bias_channel(x)
        out.append(torch.cat([fast_hidden_spikes(params, x[i:i + 250]) for i in range(0, len(x), 250)]))
    return out
