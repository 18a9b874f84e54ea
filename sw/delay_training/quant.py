"""Straight-through estimators and the mapping from float scales to integer registers.

Everything the forward pass computes in hardware mode is an exact integer (held in a float
tensor); the functions here give those integer operations a usable gradient.
"""

from __future__ import annotations

import math

import torch

# Optimal step of a uniform symmetric quantiser with 2^k - 1 levels for a Gaussian source, in
# units of the standard deviation (Max 1960 / Lloyd, rounded). Used once, at initialisation, to
# pick the per-layer level step; k = 2 has the three levels {-1, 0, +1}.
GAUSS_STEP = {2: 1.224, 3: 0.62, 4: 0.335, 5: 0.188, 6: 0.104, 7: 0.058, 8: 0.032}

TERNARY = 1.58


def is_ternary(wbits: float) -> bool:
    return abs(float(wbits) - TERNARY) < 1e-6


def is_float(wbits: float) -> bool:
    return float(wbits) >= 32


def check_wbits(wbits: float) -> float:
    wbits = float(wbits)
    if is_ternary(wbits) or is_float(wbits) and wbits == 32 or (wbits.is_integer() and 2 <= wbits <= 8):
        return wbits
    raise ValueError(f"wbits must be 1.58 (ternary), an integer 2..8 or 32 (float), got {wbits:g}")


def level_max(wbits: float) -> int:
    """Largest integer level |q| of a quantised weight (symmetric levels)."""
    if is_ternary(wbits):
        return 1
    return (1 << (int(wbits) - 1)) - 1


class _Round(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _Floor(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _Ternary(torch.autograd.Function):
    """q = sign(w) * (|w| > 0.7 mean|w|) in {-1, 0, 1}; straight-through gradient."""

    @staticmethod
    def forward(ctx, w):
        delta = 0.7 * w.abs().mean()
        return torch.sign(w) * (w.abs() > delta).to(w.dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class _Levels(torch.autograd.Function):
    """q = clamp(round(w), -m, m); straight-through gradient inside the range, zero outside."""

    @staticmethod
    def forward(ctx, w, m):
        ctx.save_for_backward(w)
        ctx.m = m
        return torch.clamp(torch.round(w), -m, m)

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * (w.abs() <= ctx.m + 0.5).to(g.dtype), None


class _RoundClamp(torch.autograd.Function):
    """clamp(round(x), lo, hi) (round half to even); straight-through gradient (also beyond the
    range: the training loop clamps the latent after every step)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        return torch.clamp(torch.round(x), lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g, None, None


def round_clamp_ste(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Integer register value of a latent float register, straight-through."""
    return _RoundClamp.apply(x, lo, hi)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return _Round.apply(x)


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    return _Floor.apply(x)


def quantise(w_over_step: torch.Tensor, wbits: float) -> torch.Tensor:
    """Integer weight levels (as floats) of latent weights expressed in level steps."""
    if is_ternary(wbits):
        return _Ternary.apply(w_over_step)
    return _Levels.apply(w_over_step, level_max(wbits))


def initial_step(w: torch.Tensor, wbits: float) -> float:
    """Level step (in float units, threshold = 1) chosen from the initial latent weights.

    Ternary: the TWN scale, mean |w| over the weights above 0.7 mean|w| (the value the learnable
    scale of Sun et al. starts from); k-bit: the Gaussian-optimal uniform step; float: the std.
    """
    w = w.detach().double()
    if is_ternary(wbits):
        a = w.abs()
        big = a[a > 0.7 * a.mean()]
        return float(big.mean()) if big.numel() else float(a.mean() + 1e-12)
    sigma = float(w.std()) if w.numel() > 1 else float(w.abs().mean())
    sigma = sigma or 1.0
    if is_float(wbits):
        return sigma
    return GAUSS_STEP[int(wbits)] * sigma


def registers_for_step(step: float, theta_target: int, v_max: int) -> tuple[int, int]:
    """(weight_shift, threshold) with 2^weight_shift / threshold ~= step.

    The hardware has one power-of-two scale per layer: a level q contributes q << weight_shift to
    a membrane that fires at `threshold` (integer units). In float units (threshold = 1) a level
    is therefore worth 2^weight_shift / threshold. weight_shift is chosen so that the threshold
    lands near `theta_target` (large enough that the floor rounding of the leak is negligible,
    small enough that the membrane has headroom below saturation).
    """
    ws = int(min(7, max(0, round(math.log2(max(theta_target * step, 1e-30))))))
    theta = int(min(v_max, max(1, round((1 << ws) / step))))
    return ws, theta
