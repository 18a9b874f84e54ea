"""Bit-exact model of the on-chip learning engine (spec: docs/learning.md).

`GoldenLearner` watches a `GoldenNetwork` step by step (phase STEP) and updates its parameters
when a label arrives (phase LEARN). Traces and eligibilities carry a batch dimension, so many
samples can be observed at once with the same parameters; LEARN applies the samples of a batch
one after another, which equals the hardware only for batch 1 (the hardware learns after every
sample). Names follow the spec and the RTL (`hw/delaycore/learning/learner.py`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from .config import CoreConfig
from .network import GoldenNetwork, NetworkState

from corespec.learning import (TRACE_BITS, TRACE_MAX, PSI_MAX, ELIG_W_MAX, ELIG_D_MIN, ELIG_D_MAX,
                               SCORE_MIN, SCORE_MAX, COUNTER_MAX, LFSR_TAPS, Region, LearnStatus,
                               Enable, LearnRegisters, lfsr_next)  # noqa: F401 (re-exported)
from corespec.spaces import Space

# The spec's names (corespec.learning) under the names the golden model has always used.
LEARN = Space.LEARN
(REGION_REGS, REGION_TRACE_R, REGION_TRACE_ALT_R, REGION_ELIG_W_R, REGION_ELIG_D_R, REGION_TRACE_H,
 REGION_TRACE_ALT_H, REGION_ELIG_W_H, REGION_ELIG_D_H, REGION_SCORE, REGION_STATUS) = tuple(Region)
STATUS_LEARNED, STATUS_REJECTED_LABELS, STATUS_IGNORED_LABELS = tuple(LearnStatus)
LEARN_ON, LEARN_W_R, LEARN_D_R, LEARN_W_H, LEARN_D_H, STOCHASTIC = tuple(Enable)


def lfsr_draws(state: int, count: int) -> tuple[torch.Tensor, int]:
    """`count` successive LFSR states after `state`, and the final state."""
    out = [0] * count
    for i in range(count):
        state = lfsr_next(state)
        out[i] = state
    return torch.tensor(out, dtype=torch.int64), state


def round_step(g: torch.Tensor, lr: int, w: torch.Tensor, w_range: tuple[int, int],
               draws: torch.Tensor | None) -> torch.Tensor:
    """New weights: w + g / 2^lr, rounded stochastically (draws given) or half up; clamped."""
    step = g >> lr
    r = g - (step << lr)
    if draws is not None:
        step = step + ((draws.view_as(g) & ((1 << lr) - 1)) < r).to(torch.int64)
    elif lr > 0:
        step = step + (r >= (1 << (lr - 1))).to(torch.int64)
    return (w + step).clamp(*w_range)


def step_delay(d: torch.Tensor, G: torch.Tensor, thresh: int, depth: int) -> torch.Tensor:
    return (d + (G > thresh).to(torch.int64) - (G < -thresh).to(torch.int64)).clamp(0, depth - 1)


def hinge_error(score: torch.Tensor, label: int, margin: int) -> torch.Tensor:
    """Ternary error per readout neuron (docs/learning.md 4.1): +1 for the label and -1 for the
    best other class (lowest index among equals) when they are closer than `margin`."""
    n_out = score.shape[0]
    e = torch.zeros(n_out, dtype=torch.int64)
    if n_out == 1:
        return e
    others = score.clone()
    others[label] = SCORE_MIN - 1
    rival = int(others.argmax())          # first maximum
    if score[label] - score[rival] < margin:
        e[label], e[rival] = 1, -1
    return e


@dataclass
class LearnState:
    """Section 2 of the spec, with a batch dimension B."""
    trace_R: torch.Tensor       # [B, n_L]
    trace_alt_R: torch.Tensor
    elig_w_R: torch.Tensor
    elig_d_R: torch.Tensor
    trace_H: torch.Tensor       # [B, n_P]   (n_P = 0 without pair H)
    trace_alt_H: torch.Tensor
    elig_w_H: torch.Tensor      # [B, n_P, n_L]
    elig_d_H: torch.Tensor
    score: torch.Tensor         # [B, n_out]


def memory_bits(config: CoreConfig) -> dict:
    """Bits the engine adds for a network (docs/learning.md, section 7)."""
    n_L, n_out = config.sizes[-1], config.n_out
    n_P = config.sizes[-2] if len(config.sizes) >= 2 else 0
    pair_R = 2 * TRACE_BITS * n_L + 2 * 16 * n_L
    pair_H = 2 * TRACE_BITS * n_P + 2 * 16 * n_P * n_L
    other = 32 * n_out + 32 + sum(LearnRegisters.WIDTHS) + 3 * 32
    return {"pair_R": pair_R, "pair_H": pair_H, "scores_lfsr_registers": other,
            "total": pair_R + pair_H + other}


class GoldenLearner:
    """The engine beside a `GoldenNetwork`: `observe` after every step, `learn` on a label."""

    def __init__(self, net: GoldenNetwork, regs: LearnRegisters | None = None, batch: int = 1):
        self.net = net
        self.config = net.config
        self.regs = regs or LearnRegisters()
        sizes = self.config.sizes
        self.n_L, self.n_out = sizes[-1], self.config.n_out
        self.has_H = len(sizes) >= 2
        self.n_P = sizes[-2] if self.has_H else 0
        self.learned = self.rejected_labels = self.ignored_labels = 0
        self.clear(batch)

    # -- state --------------------------------------------------------------------------------
    def clear(self, batch: int | None = None) -> None:
        B = batch if batch is not None else self.state.score.shape[0]
        z = lambda *shape: torch.zeros(B, *shape, dtype=torch.int64)
        self.state = LearnState(z(self.n_L), z(self.n_L), z(self.n_L), z(self.n_L),
                                z(self.n_P), z(self.n_P), z(self.n_P, self.n_L),
                                z(self.n_P, self.n_L), z(self.n_out))

    @property
    def on(self) -> bool:
        return bool(self.regs.enable & LEARN_ON)

    # -- phase STEP ---------------------------------------------------------------------------
    def _traces(self, layer: int, trace: torch.Tensor, alt: torch.Tensor, st: NetworkState,
                shift: int, inc: int):
        D = self.config.depth
        d = self.net.params.layers[layer].delay.to(torch.int64)
        a = torch.where(d < D - 1, d + 1, d - 1) if D > 1 else d
        sigma = torch.where(d < D - 1, 1, -1).to(torch.int64)
        hist = st.layers[layer].hist
        B = hist.shape[0]
        y = hist.gather(-1, d.view(1, -1, 1).expand(B, -1, 1)).squeeze(-1).to(torch.int64)
        y_alt = hist.gather(-1, a.view(1, -1, 1).expand(B, -1, 1)).squeeze(-1).to(torch.int64)
        trace = (trace - (trace >> shift) + y * inc).clamp(max=TRACE_MAX)
        alt = (alt - (alt >> shift) + y_alt * inc).clamp(max=TRACE_MAX)
        return trace, alt, sigma * (alt - trace)

    def observe(self, st: NetworkState, readout: torch.Tensor) -> None:
        """Phase STEP after a network step: `st` is the network state, `readout` [B, n_out]."""
        if not self.on:
            return
        r, s = self.regs, self.state
        s.score = (s.score + readout.to(torch.int64)).clamp(SCORE_MIN, SCORE_MAX)
        L = len(self.config.sizes) - 1          # index of the last LIF layer
        s.trace_R, s.trace_alt_R, delta = self._traces(L, s.trace_R, s.trace_alt_R, st,
                                                       r.trace_shift_R, r.trace_inc_R)
        s.elig_w_R = (s.elig_w_R + (s.trace_R >> r.elig_shift_R)).clamp(0, ELIG_W_MAX)
        s.elig_d_R = (s.elig_d_R + (delta >> r.elig_shift_R)).clamp(ELIG_D_MIN, ELIG_D_MAX)
        if not self.has_H:
            return
        s.trace_H, s.trace_alt_H, delta = self._traces(L - 1, s.trace_H, s.trace_alt_H, st,
                                                       r.trace_shift_H, r.trace_inc_H)
        post = st.layers[L]
        threshold = self.net.params.layers[L].threshold
        fired = post.hist[..., 0]
        psi = torch.where(fired, PSI_MAX,
                          (PSI_MAX - ((threshold - post.v) >> r.psi_shift)).clamp(min=0))
        p = psi.unsqueeze(1) * s.trace_H.unsqueeze(2)
        q = psi.unsqueeze(1) * delta.unsqueeze(2)
        s.elig_w_H = (s.elig_w_H + (p >> r.elig_shift_H)).clamp(0, ELIG_W_MAX)
        s.elig_d_H = (s.elig_d_H + (q >> r.elig_shift_H)).clamp(ELIG_D_MIN, ELIG_D_MAX)

    # -- phase LEARN --------------------------------------------------------------------------
    def learn(self, labels) -> list[dict]:
        """Phase LEARN for each sample of the batch in turn (labels: one int per sample). Returns
        per sample the error, learning signal and delay gradients; clears the state."""
        labels = [int(y) for y in torch.as_tensor(labels).flatten().tolist()]
        if len(labels) != self.state.score.shape[0]:
            raise ValueError(f"learn: {len(labels)} labels for a batch of {self.state.score.shape[0]}")
        bad = [y for y in labels if not 0 <= y < self.n_out]
        if bad:
            self.rejected_labels = min(self.rejected_labels + len(bad), COUNTER_MAX)
            raise ValueError(f"learn: label {bad[0]} is not a class in [0, {self.n_out - 1}]; "
                             f"nothing learned")
        if not self.on:
            self.ignored_labels = min(self.ignored_labels + len(labels), COUNTER_MAX)
            return []
        infos = [self._learn_one(b, y) for b, y in enumerate(labels)]
        self.net.reload()
        self.clear()
        return infos

    def _weights(self, layer: int, n_src: int) -> torch.Tensor:
        return self.net.params.layers[layer].weight[:n_src].to(torch.int64)

    def _draws(self, enabled: bool, count: int) -> torch.Tensor | None:
        if not (enabled and self.regs.enable & STOCHASTIC):
            return None
        draws, self.regs.lfsr = lfsr_draws(self.regs.lfsr, count)
        return draws

    def _learn_one(self, b: int, label: int) -> dict:
        r, s, cfg = self.regs, self.state, self.config
        params = self.net.params.layers
        L = len(cfg.sizes) - 1
        W_R = self._weights(L + 1, self.n_L)                        # [n_L, n_out]
        e = hinge_error(s.score[b], label, r.margin)
        Lsig = W_R @ e                                               # [n_L]
        info = {"error": e, "signal": Lsig}
        if self.has_H:
            W_H = self._weights(L, self.n_P)                         # [n_P, n_L]
            G = (Lsig.unsqueeze(0) * W_H * s.elig_d_H[b]).sum(1)
            if r.enable & LEARN_W_H:
                draws = self._draws(True, W_H.numel())
                new = round_step(Lsig.unsqueeze(0) * s.elig_w_H[b], r.lr_shift_H, W_H,
                                 cfg.weight_range, draws)
                params[L].weight[:self.n_P] = new.to(params[L].weight.dtype)
            if r.enable & LEARN_D_H:
                d = params[L - 1].delay
                d.copy_(step_delay(d.to(torch.int64), G, r.delay_thresh_H, cfg.depth).to(d.dtype))
            info["G_H"] = G
        G = (e.unsqueeze(0) * W_R).sum(1) * s.elig_d_R[b]
        if r.enable & LEARN_W_R:
            draws = self._draws(True, W_R.numel())
            g = s.elig_w_R[b].unsqueeze(1) * e.unsqueeze(0)
            new = round_step(g, r.lr_shift_R, W_R, cfg.weight_range, draws)
            params[L + 1].weight[:self.n_L] = new.to(params[L + 1].weight.dtype)
        if r.enable & LEARN_D_R:
            d = params[L].delay
            d.copy_(step_delay(d.to(torch.int64), G, r.delay_thresh_R, cfg.depth).to(d.dtype))
        info["G_R"] = G
        self.learned = min(self.learned + 1, COUNTER_MAX)
        return info

    # -- a whole sample -----------------------------------------------------------------------
    def run_sample(self, x: torch.Tensor, label: int | None = None) -> torch.Tensor:
        """One sample from a clear state (x: [T, n_in] spike counts): STEP after every step, LEARN
        if a label is given. Returns the readout [T, n_out]."""
        x = torch.as_tensor(x)
        self.clear(1)
        state = self.net.init_state(1)
        outs = []
        for t in range(x.shape[0]):
            o, _ = self.net.step(state, x[t].unsqueeze(0).to(torch.int64))
            self.observe(state, o)
            outs.append(o[0])
        if label is not None:
            self.learn([label])
        return torch.stack(outs)

    def snapshot(self) -> dict:
        """Everything the readback port shows of the engine (sample 0) and the learned parameters."""
        s = self.state
        L = len(self.config.sizes) - 1
        snap = {k: getattr(s, k)[0].flatten().tolist() for k in
                ("trace_R", "trace_alt_R", "elig_w_R", "elig_d_R", "trace_H", "trace_alt_H",
                 "elig_w_H", "elig_d_H", "score")}
        snap.update(lfsr=self.regs.lfsr, learned=self.learned, rejected_labels=self.rejected_labels,
                    ignored_labels=self.ignored_labels,
                    delays=[p.delay.tolist() for p in self.net.params.layers[:L + 1]],
                    weights=[p.weight.flatten().tolist() for p in self.net.params.layers])
        return snap


def main(argv=None):
    ap = argparse.ArgumentParser(description="Memory the on-chip learning engine adds (bits).")
    ap.add_argument("--n-in", type=int, default=700)
    ap.add_argument("--sizes", default="128", help="comma-separated LIF layer sizes")
    ap.add_argument("--n-out", type=int, default=10)
    a = ap.parse_args(argv)
    cfg = CoreConfig(n_in=a.n_in, sizes=tuple(int(s) for s in a.sizes.split(",")), n_out=a.n_out)
    for k, v in memory_bits(cfg).items():
        print(f"{k:>24}: {v:,} bits")


if __name__ == "__main__":
    main()
