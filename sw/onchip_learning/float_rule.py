"""The rule of docs/learning.md in floating point, for quick experiments.

Same structure and names as `golden_model.learning.GoldenLearner` (traces, surrogate,
eligibilities, hinge error, learning signal through the readout weights, delay steps), without
the fixed-point widths: no saturation, no floor shifts, and float latent weights that are rounded
to the weight grid for the forward pass. It also learns from a batch at once (the update is the
mean over the batch), which the chip cannot. `FloatRule.from_registers` maps the integer
registers onto it (docs/learning.md, section 8), so a setting found here carries over.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from golden_model.network import GoldenNetwork, NetworkState
from golden_model.learning import (LearnRegisters, PSI_MAX, LEARN_W_R, LEARN_D_R, LEARN_W_H,
                                   LEARN_D_H)


@dataclass
class FloatRule:
    decay_R: float = 0.9375     # trace decay per step (1 - 2^-trace_shift)
    decay_H: float = 0.9375
    psi_width: float = 15.0     # membrane distance at which psi reaches 0 (15 << psi_shift)
    lr_R: float = 2 ** -12      # weight step per unit of (error x eligibility)
    lr_H: float = 2 ** -12
    margin: float = 0.0
    delay_thresh_R: float = 0.0
    delay_thresh_H: float = 0.0
    learn_w_R: bool = True
    learn_d_R: bool = True
    learn_w_H: bool = True
    learn_d_H: bool = True

    @classmethod
    def from_registers(cls, r: LearnRegisters) -> "FloatRule":
        """The float rule that the integer registers approximate. Traces are counted in units of
        `trace_inc` and psi in units of PSI_MAX, so the eligibilities are rescaled by
        `trace_inc * PSI_MAX / 2^elig_shift` (pair H) and `trace_inc / 2^elig_shift` (pair R)."""
        sR = r.trace_inc_R / (1 << r.elig_shift_R)
        sH = r.trace_inc_H * PSI_MAX / (1 << r.elig_shift_H)
        return cls(decay_R=1 - 2.0 ** -r.trace_shift_R, decay_H=1 - 2.0 ** -r.trace_shift_H,
                   psi_width=float(PSI_MAX << r.psi_shift),
                   lr_R=sR / (1 << r.lr_shift_R), lr_H=sH / (1 << r.lr_shift_H), margin=float(r.margin),
                   delay_thresh_R=r.delay_thresh_R / sR if sR else 0.0,
                   delay_thresh_H=r.delay_thresh_H / sH if sH else 0.0,
                   learn_w_R=bool(r.enable & LEARN_W_R), learn_d_R=bool(r.enable & LEARN_D_R),
                   learn_w_H=bool(r.enable & LEARN_W_H), learn_d_H=bool(r.enable & LEARN_D_H))


class FloatLearner:
    """Float twin of GoldenLearner: `observe` after every network step, `learn` on labels."""

    def __init__(self, net: GoldenNetwork, rule: FloatRule):
        self.net, self.rule, self.config = net, rule, net.config
        sizes = self.config.sizes
        self.L = len(sizes) - 1
        self.has_H = len(sizes) >= 2
        # Float latent weights of the learned matrices (feed-forward rows).
        self.latent = {l: net.params.layers[l].weight[:self._rows(l)].double().clone()
                       for l in ([self.L, self.L + 1] if self.has_H else [self.L + 1])}
        self.batch = 0

    def _rows(self, l: int) -> int:
        return self.config.layers[l].n_src

    def clear(self, batch: int) -> None:
        nL, nP, nout = self.config.sizes[-1], (self.config.sizes[-2] if self.has_H else 0), self.config.n_out
        z = lambda *s: torch.zeros(batch, *s, dtype=torch.float64)
        self.trace_R, self.trace_alt_R, self.elig_w_R, self.elig_d_R = z(nL), z(nL), z(nL), z(nL)
        self.trace_H, self.trace_alt_H = z(nP), z(nP)
        self.elig_w_H, self.elig_d_H = z(nP, nL), z(nP, nL)
        self.score = z(nout)
        self.batch = batch

    def _traces(self, layer, trace, alt, st, decay):
        D = self.config.depth
        d = self.net.params.layers[layer].delay.to(torch.int64)
        a = torch.where(d < D - 1, d + 1, d - 1) if D > 1 else d
        sigma = torch.where(d < D - 1, 1.0, -1.0).double()
        hist = st.layers[layer].hist
        B = hist.shape[0]
        y = hist.gather(-1, d.view(1, -1, 1).expand(B, -1, 1)).squeeze(-1).double()
        ya = hist.gather(-1, a.view(1, -1, 1).expand(B, -1, 1)).squeeze(-1).double()
        trace, alt = decay * trace + y, decay * alt + ya
        return trace, alt, sigma * (alt - trace)

    def observe(self, st: NetworkState, readout: torch.Tensor) -> None:
        r = self.rule
        self.score += readout.double()
        self.trace_R, self.trace_alt_R, dx = self._traces(self.L, self.trace_R, self.trace_alt_R, st, r.decay_R)
        self.elig_w_R += self.trace_R
        self.elig_d_R += dx
        if self.has_H:
            self.trace_H, self.trace_alt_H, dx = self._traces(self.L - 1, self.trace_H, self.trace_alt_H,
                                                              st, r.decay_H)
            post = st.layers[self.L]
            thr = self.net.params.layers[self.L].threshold
            psi = torch.where(post.hist[..., 0], 1.0,
                              (1 - (thr - post.v).double() / r.psi_width).clamp(min=0))
            self.elig_w_H += psi.unsqueeze(1) * self.trace_H.unsqueeze(2)
            self.elig_d_H += psi.unsqueeze(1) * dx.unsqueeze(2)

    def learn(self, labels) -> None:
        r, cfg, L = self.rule, self.config, self.L
        labels = torch.as_tensor(labels, dtype=torch.int64).flatten()
        onehot = torch.nn.functional.one_hot(labels, cfg.n_out).bool()
        sy = self.score.gather(1, labels.view(-1, 1))
        other, rival = self.score.masked_fill(onehot, float("-inf")).max(1, keepdim=True)
        hit = (sy - other < r.margin).double()
        e = onehot.double() * hit - torch.nn.functional.one_hot(rival.flatten(), cfg.n_out).double() * hit
        layers = self.net.params.layers
        W_R = layers[L + 1].weight[:self._rows(L + 1)].double()
        Lsig = e @ W_R.T                                                          # [B, n_L]
        lo, hi = cfg.weight_range
        if self.has_H:
            W_H = layers[L].weight[:self._rows(L)].double()
            G = (Lsig.unsqueeze(1) * W_H * self.elig_d_H).sum(2).mean(0)
            if r.learn_w_H:
                self.latent[L] = (self.latent[L] + r.lr_H * (Lsig.unsqueeze(1) * self.elig_w_H).mean(0)).clamp(lo, hi)
                layers[L].weight[:self._rows(L)] = self.latent[L].round().to(layers[L].weight.dtype)
            if r.learn_d_H:
                d = layers[L - 1].delay
                d.copy_((d + (G > r.delay_thresh_H).long() - (G < -r.delay_thresh_H).long()).clamp(0, cfg.depth - 1))
        G = ((e @ W_R.T) * self.elig_d_R).mean(0)
        if r.learn_w_R:
            g = (self.elig_w_R.unsqueeze(2) * e.unsqueeze(1)).mean(0)
            self.latent[L + 1] = (self.latent[L + 1] + r.lr_R * g).clamp(lo, hi)
            layers[L + 1].weight[:self._rows(L + 1)] = self.latent[L + 1].round().to(layers[L + 1].weight.dtype)
        if r.learn_d_R:
            d = layers[L].delay
            d.copy_((d + (G > r.delay_thresh_R).long() - (G < -r.delay_thresh_R).long()).clamp(0, cfg.depth - 1))
        self.net.reload()

    def run_batch(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """x: [B, T, n_in]. Observes every step; learns from the batch if labels are given."""
        x = torch.as_tensor(x, dtype=torch.int64)
        self.clear(x.shape[0])
        st = self.net.init_state(x.shape[0])
        outs = []
        for t in range(x.shape[1]):
            o, _ = self.net.step(st, x[:, t])
            self.observe(st, o)
            outs.append(o)
        if labels is not None:
            self.learn(labels)
        return torch.stack(outs, 1)
