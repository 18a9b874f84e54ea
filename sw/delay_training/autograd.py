"""The autograd pieces of the network in the core's arithmetic (docs/training.md): the LIF time
loop with a hand-written BPTT (`_LIFLoop`), the spike with its surrogate derivative, the leak
and clamp with straight-through floors, and the integer delay shift whose gradient is the
one-step finite difference of the delayed spike train (`_DelayShift`, `_DelayGather`).

Membranes are integers held in float tensors, exact below `EXACT` = 2^24 (float32)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

EXACT = float(1 << 24)   # float32 holds every integer of magnitude <= 2^24


def surrogate(x: torch.Tensor, kind: str, slope: float) -> torch.Tensor:
    """Surrogate of d spike / d (v/threshold) at x = (v - threshold)/threshold, peak 1."""
    if kind == "gaussian":
        return torch.exp(-0.5 * (slope * x) ** 2)
    return 1.0 / (1.0 + slope * x.abs()) ** 2


@dataclass
class _LayerArith:
    """Integer arithmetic of one layer (everything the time loop needs)."""
    hardware: bool
    spiking: bool
    leak_mode: str
    leak: int
    threshold: int
    reset_mode: int
    v_min: int
    v_max: int
    surrogate: str = "fast_sigmoid"
    slope: float = 5.0

    @property
    def decay(self) -> float:
        """d leaked / d v (the floor is straight-through)."""
        return 1.0 - 2.0 ** -self.leak if self.leak_mode == "shift" else self.leak / 256.0

    def leaked(self, v: torch.Tensor) -> torch.Tensor:
        if not self.hardware:
            return v * self.decay
        if self.leak_mode == "shift":
            return v - torch.floor(v * (2.0 ** -self.leak))
        return torch.floor((v * self.leak) * (1.0 / 256.0))

    def dspike(self, v1: torch.Tensor) -> torch.Tensor:
        th = float(self.threshold)
        return surrogate((v1 - th) / th, self.surrogate, self.slope) / th


class _LIFLoop(torch.autograd.Function):
    """Membrane recurrence of a feed-forward layer over all steps, with a hand-written BPTT.

    Input: currents I [B, T, n] (integers). Output: spikes s [B, T, n] (LIF) or membranes
    (readout). The reset is detached (the usual choice), floor and saturation are straight-through.

    Optional learned registers: `theta` (a 0-dim tensor equal to ar.threshold, the straight-through
    rounded latent threshold) gets d loss / d threshold through the spike comparison
    (x = (v1 - theta)/theta: d s / d theta = -dspike(v1) v1 / theta) and the reset by subtraction
    (d v / d theta = -s); `leak` (0-dim tensor equal to ar.leak, mul mode) gets
    sum_t dL/dv1(t) v(t-1) / 256 (straight-through floor). None: not learned (no extra work).
    """

    @staticmethod
    def forward(ctx, current: torch.Tensor, ar: _LayerArith, theta=None, leak=None):
        B, T, n = current.shape
        out = torch.empty_like(current)
        v1s = torch.empty_like(current) if ar.spiking else None
        v = current.new_zeros(B, n)
        th = float(ar.threshold)
        for t in range(T):
            v1 = ar.leaked(v) + current[:, t]
            if ar.hardware:
                v1 = v1.clamp(ar.v_min, ar.v_max)
            if ar.spiking:
                s = (v1 >= th).to(v1.dtype)
                out[:, t] = s
                v1s[:, t] = v1
                v = v1 - th * s if ar.reset_mode == 0 else v1 * (1.0 - s)
            else:
                out[:, t] = v1
                v = v1
        ctx.ar = ar
        ctx.learn = (theta is not None and ar.spiking, leak is not None)
        ctx.reg_dtype = (theta.dtype if theta is not None else None,
                         leak.dtype if leak is not None else None)
        if ar.spiking:
            ctx.save_for_backward(v1s, out)
        elif leak is not None:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        ar = ctx.ar
        learn_th, learn_leak = ctx.learn
        B, T, n = g.shape
        grad = torch.empty_like(g)
        gv = g.new_zeros(B, n)            # d loss / d v(t) (state after reset), from the future
        lam = ar.decay
        th = float(ar.threshold)
        g_th = g.new_zeros(())
        g_leak = g.new_zeros(())
        if ar.spiking:
            v1s, s = ctx.saved_tensors
        elif learn_leak:
            (ro,) = ctx.saved_tensors
        for t in range(T - 1, -1, -1):
            if ar.spiking:
                carry = gv if ar.reset_mode == 0 else gv * (1.0 - s[:, t])
                ds = ar.dspike(v1s[:, t])
                gv1 = g[:, t] * ds + carry
                if learn_th:
                    g_th = g_th - (g[:, t] * ds * v1s[:, t]).sum() / th
                    if ar.reset_mode == 0:
                        g_th = g_th - (gv * s[:, t]).sum()
            else:
                gv1 = g[:, t] + gv
            grad[:, t] = gv1
            if learn_leak and t > 0:      # v(t-1), the state after the reset of step t-1
                if not ar.spiking:
                    v_prev = ro[:, t - 1]
                elif ar.reset_mode == 0:
                    v_prev = v1s[:, t - 1] - th * s[:, t - 1]
                else:
                    v_prev = v1s[:, t - 1] * (1.0 - s[:, t - 1])
                g_leak = g_leak + (gv1 * v_prev).sum() / 256.0
            gv = gv1 * lam
        return (grad, None,
                g_th.to(ctx.reg_dtype[0]) if learn_th else None,
                g_leak.to(ctx.reg_dtype[1]) if learn_leak else None)


class _Spike(torch.autograd.Function):
    """s = v1 >= threshold; surrogate gradient to v1 and (if `theta` is given, a learned
    threshold) to the threshold: d s / d theta = -dspike(v1) v1 / theta."""

    @staticmethod
    def forward(ctx, v1, ar: _LayerArith, theta=None):
        ctx.save_for_backward(v1)
        ctx.ar = ar
        ctx.th_dtype = theta.dtype if theta is not None else None
        return (v1 >= float(ar.threshold)).to(v1.dtype)

    @staticmethod
    def backward(ctx, g):
        (v1,) = ctx.saved_tensors
        gs = g * ctx.ar.dspike(v1)
        g_th = None
        if ctx.th_dtype is not None:
            g_th = (-(gs * v1).sum() / float(ctx.ar.threshold)).to(ctx.th_dtype)
        return gs, None, g_th


class _LeakClamp(torch.autograd.Function):
    """sat(leaked(v) + i) with straight-through floor and saturation."""

    @staticmethod
    def forward(ctx, v, i, ar: _LayerArith, leak=None):
        ctx.decay = ar.decay
        ctx.leak_dtype = leak.dtype if leak is not None else None
        if leak is not None:          # learned multiplier: d leaked / d leak = v / 256
            ctx.save_for_backward(v)
        v1 = ar.leaked(v) + i
        return v1.clamp(ar.v_min, ar.v_max) if ar.hardware else v1

    @staticmethod
    def backward(ctx, g):
        g_leak = None
        if ctx.leak_dtype is not None:
            (v,) = ctx.saved_tensors
            g_leak = ((g * v).sum() / 256.0).to(ctx.leak_dtype)
        return g * ctx.decay, g, None, g_leak


def delay_index(d: torch.Tensor, D: int) -> torch.Tensor:
    """Integer delays of latent float delays: round (half to even), clamp to [0, D-1]."""
    return torch.round(d.detach()).clamp(0, D - 1).to(torch.int64)


def shift_in_time(s: torch.Tensor, d: torch.Tensor, D: int) -> torch.Tensor:
    """y[:, t, j] = s[:, t - d[j], j] (zero before the start), d integer in [0, D-1]: one
    index_select over the time-padded, flattened input (an index of T x n entries, not B x T x n)."""
    B, T, n = s.shape
    sp = torch.nn.functional.pad(s, (0, 0, D, 0)).reshape(B, (T + D) * n)
    ar = torch.arange(n, device=s.device)
    idx = (torch.arange(T, device=s.device).view(T, 1) + D - d.view(1, n)) * n + ar.view(1, n)
    return sp.index_select(1, idx.reshape(-1)).view(B, T, n)


class _DelayShift(torch.autograd.Function):
    """y[:, t, j] = s[:, t - d_j, j] (zero before the start).

    Gradient to s: the shift back (skipped when s needs none, e.g. the network input). Gradient
    to the latent delay: the one-step finite difference of the delayed spike train,
    dy[t]/dd ~ y_{d+1}[t] - y_d[t] = s[t-d-1] - s[t-d], through the straight-through rounding
    (summed over batch and time).
    """

    @staticmethod
    def forward(ctx, s, d_latent, D: int):
        d = delay_index(d_latent, D).to(s.device)
        y = shift_in_time(s, d, D)
        ctx.save_for_backward(y, d)
        ctx.d_dtype = d_latent.dtype
        return y

    @staticmethod
    def backward(ctx, g):
        y, d = ctx.saved_tensors
        B, T, n = g.shape
        gs = None
        if ctx.needs_input_grad[0]:
            dst = torch.arange(T, device=g.device).view(T, 1) + d.view(1, n)       # [T, n]
            valid = (dst < T).to(g.dtype)
            gs = g.gather(1, dst.clamp(max=T - 1).unsqueeze(0).expand(B, T, n)) * valid
        # sum_t g[t] (y[t-1] - y[t]), without building y_{d+1}
        gd = (g[:, 1:] * y[:, :-1]).sum((0, 1)) - (g * y).sum((0, 1))
        return gs, gd.to(ctx.d_dtype), None


class _DelayGather(torch.autograd.Function):
    """y_j = hist[:, j, d_j] with hist[..., k] = s(t - k) (k = 0..D); same gradients as
    _DelayShift, for layers that need y step by step (recurrent)."""

    @staticmethod
    def forward(ctx, hist, d_latent, D: int):
        B, n, _ = hist.shape
        d = delay_index(d_latent, D).to(hist.device)
        idx = d.view(1, n, 1).expand(B, n, 1)
        y = hist.gather(-1, idx).squeeze(-1)
        y_later = hist.gather(-1, idx + 1).squeeze(-1)
        ctx.save_for_backward(y_later - y, idx)
        ctx.shape = hist.shape
        ctx.d_dtype = d_latent.dtype
        return y

    @staticmethod
    def backward(ctx, g):
        diff, idx = ctx.saved_tensors
        gh = g.new_zeros(ctx.shape).scatter_(-1, idx, g.unsqueeze(-1))
        return gh, (g * diff).sum(0).to(ctx.d_dtype), None


# ---------------------------------------------------------------------------------------------
