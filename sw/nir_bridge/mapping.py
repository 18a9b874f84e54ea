"""The integer core and the continuous NIR neuron, one quantity at a time (docs/nir.md).

Time: one core step is `dt` seconds. A NIR `LIF` (tau dv/dt = (v_leak - v) + R I) taken one
forward-Euler step of `dt` is v(t) = beta v(t-1) + g I(t) with beta = 1 - dt/tau and g = R dt/tau;
snnTorch, Norse and our exporter all use that step, and we write R = tau/dt so that g = 1 (a
weight moves the membrane by itself, as in the core). `IF` / `I` are the tau = infinity case
(beta = 1, g = R dt). `Delay` is y(t) = x(t - tau), i.e. round(tau/dt) steps.

Every function here is the exact rule; tests/surface/test_nir.py checks each at its boundary.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from delay_training.quant import level_max, quantise, is_ternary

# snnTorch's exporter assumes this step and does not store it (field notes section 6); our
# exporter writes it into the graph's metadata and uses it by default.
DEFAULT_DT = 1e-4
LEAK_FRAC = 256          # the multiplier leak's unit (docs/core.md 2.2: leak_frac = 8 bits)


def leak_beta(mode: str, leak: int) -> float:
    """The decay per step the core's leak register approximates (it also floors the result):
    shift k: v - (v >> k) ~ (1 - 2^-k) v; mul m: (v m) >> 8 ~ (m / 256) v."""
    if mode == "shift":
        return 1.0 - 2.0 ** -leak
    return leak / LEAK_FRAC


def beta_to_leak(beta: float, mode: str, v_bits: int) -> int:
    """The leak register nearest to a decay per step.

    mul: m = floor(256 beta + 1/2) in 0..256 (halves round up).
    shift: the time constant 1 / (1 - beta) steps to the nearest power of two in the log
    domain, k = floor(-log2(1 - beta) + 1/2) in 0..v_bits-1 (beta >= 1: the longest shift, which
    is a perfect integrator for the membranes the core can hold)."""
    beta = float(beta)
    if mode == "mul":
        return int(min(LEAK_FRAC, max(0, math.floor(LEAK_FRAC * beta + 0.5))))
    if beta <= 0:
        return 0
    if beta >= 1:
        return v_bits - 1
    return int(min(v_bits - 1, max(0, math.floor(-math.log2(1.0 - beta) + 0.5))))


def time_constant(beta: float, dt: float) -> float:
    """tau of the Euler step with this decay: dt / (1 - beta); infinite for beta = 1."""
    return math.inf if beta >= 1 else dt / (1.0 - beta)


def threshold_register(x: float) -> int:
    """The core's threshold for a continuous rule `v > x` (x in integer membrane units): the core
    fires on `v >= threshold` with integer v, and v > x <=> v >= floor(x) + 1."""
    return int(math.floor(x)) + 1


def nir_threshold(threshold: int) -> float:
    """The v_threshold we write for the core's `v >= threshold`: threshold - 1/2, which gives the
    same spikes to an integer membrane under NIR's `v > v_threshold` and is the midpoint for a
    continuous one (threshold_register(threshold - 0.5) == threshold)."""
    return threshold - 0.5


def delay_steps(seconds: np.ndarray, dt: float) -> np.ndarray:
    """Whole steps of a NIR delay: floor(tau/dt + 1/2) (halves round up)."""
    return np.floor(np.asarray(seconds, dtype=np.float64) / dt + 0.5).astype(np.int64)


def ternary_levels(w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Ternary levels as training makes them (sign(w) where |w| > 0.7 mean|w|, else 0) and the
    scale that fits them best in least squares: the mean |w| over the kept weights."""
    q = quantise(w, 1.58).round().to(torch.int64)
    kept = w.abs()[q != 0]
    return q, float(kept.mean()) if kept.numel() else 1.0


def kbit_step(w: torch.Tensor, wbits: float, candidates: int = 64) -> float:
    """The level step of a signed k-bit quantiser (levels -m..m) with the least squared error,
    among clip points max|w| * i / candidates (a post-training choice: the weights are final)."""
    m = level_max(wbits)
    top = float(w.abs().max()) if w.numel() else 0.0
    if top == 0.0:
        return 1.0
    steps = torch.arange(1, candidates + 1, dtype=torch.float64) * (top / candidates / m)
    flat = w.reshape(1, -1).to(torch.float64)
    q = torch.clamp(torch.round(flat / steps[:, None]), -m, m)
    err = ((q * steps[:, None] - flat) ** 2).sum(1)
    return float(steps[int(err.argmin())])


def kbit_levels(w: torch.Tensor, wbits: float, step: float) -> torch.Tensor:
    """clamp(round(w / step), -m, m), round half to even (training's quantiser, quant.quantise)."""
    return quantise(w.to(torch.float64) / step, wbits).round().to(torch.int64)


def initial_step(w: torch.Tensor, wbits: float) -> float:
    """The per-layer scale before it becomes registers: ternary's least-squares scale, or the
    k-bit step with the least error."""
    if is_ternary(wbits):
        return ternary_levels(w)[1]
    return kbit_step(w, wbits)


def levels(w: torch.Tensor, wbits: float, step: float) -> torch.Tensor:
    """The integer levels the core stores for float weights `w` with level step `step`."""
    if is_ternary(wbits):
        return ternary_levels(w)[0]
    return kbit_levels(w, wbits, step)
