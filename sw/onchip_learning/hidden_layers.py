"""Fixed hidden layers a host builds for demo c (on-chip FSDD; docs/learning.md section 9).

The chip learns only the readout weights and the hidden delays on FSDD (pair R), so the fixed
hidden layer decides what the readout can see. `build_network` makes the image of demo c with
one of these hidden layers, seeded:

* "uniform_default": `fsdd_network.fsdd_network`'s sparse uniform random weights (the first demo c);
* "pair" (demo c's default, `fsdd_network.FSDD_HIDDEN`): every hidden neuron an excitatory band of
  neighbouring channels (the 700 channels are frequency-ordered) and an inhibitory band of the
  same width some way above or below: a spectral-contrast detector;
* "band", "dog", "mix", "uniform": the other structures of the search (`fsdd_search`).

With `rate`, each neuron's weights are scaled (bisection on a gain) so that it fires `rate`
spikes per step on calibration samples the host takes from the training set, unlabelled.
Search and figures: `onchip_learning.fsdd_search` and the README.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from golden_model.params import validate
from .fast_pair_r import fast_hidden_spikes
from .fsdd_network import fsdd_network

N_CH = 700


def base_columns(kind: str, H: int, g: torch.Generator, kw: dict) -> torch.Tensor:
    """Float weights [700, H] in [-1, 1] before gain and quantisation."""
    c = torch.arange(N_CH, dtype=torch.float64).view(-1, 1)
    u = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64)
    if kind == "uniform":
        w = (2 * u(N_CH, H) - 1) * (u(N_CH, H) < kw.get("density", 0.3))
        return w
    wmin, wmax = kw.get("width", (20, 80))
    centre = u(1, H) * N_CH
    width = wmin + u(1, H) * (wmax - wmin)
    dist = (c - centre).abs()
    dens = kw.get("density", 0.5)
    mask = u(N_CH, H) < dens
    mag = 0.5 + 0.5 * u(N_CH, H)
    if kind == "band":
        # random signs inside one band (p_exc positive)
        sign = torch.where(u(N_CH, H) < kw.get("p_exc", 0.5), 1.0, -1.0)
        return (dist < width / 2) * mask * mag * sign
    if kind == "dog":
        # excitatory centre, inhibitory surround (surround `ratio` times wider, weight -beta)
        ratio, beta = kw.get("ratio", 3.0), kw.get("beta", 0.5)
        centre_m = dist < width / 2
        surr = (dist < ratio * width / 2) & ~centre_m
        return (centre_m * 1.0 - surr * beta) * mask * mag
    if kind == "pair":
        # + band at the centre, - band at an offset in [omin, omax] above or below
        omin, omax = kw.get("offset", (20, 150))
        off = (omin + u(1, H) * (omax - omin)) * torch.where(u(1, H) < 0.5, 1.0, -1.0)
        other = ((centre + off) % N_CH)
        d2 = (c - other).abs()
        return ((dist < width / 2) * 1.0 - (d2 < width / 2) * kw.get("beta", 1.0)) * mask * mag
    if kind == "mix":
        # a fraction `frac_local` of neurons with signed local bands, the rest uniform sparse
        k = int(round(kw.get("frac_local", 0.5) * H))
        loc = base_columns("band", k, g, kw)
        uni = base_columns("uniform", H - k, g, dict(density=kw.get("u_density", 0.3)))
        return torch.cat([loc, uni], 1)
    raise ValueError(kind)


def quantise(base: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    return (base * gain.view(1, -1) * 127).round().clamp(-128, 127).to(torch.int64)


def calibrate_gains(base, params, x_cal: torch.Tensor, rate, iters: int = 14) -> torch.Tensor:
    """Per-neuron gain (bisection in log space) so that neuron j fires at rate[j] spikes per step
    on the calibration samples (gain capped where the 8-bit range saturates)."""
    H = base.shape[1]
    lo, hi = torch.full((H,), -6.0, dtype=torch.float64), torch.full((H,), 4.0, dtype=torch.float64)
    p = copy.deepcopy(params)
    Wfull = p.layers[0].weight
    for _ in range(iters):
        mid = (lo + hi) / 2
        Wfull[:N_CH, :H] = quantise(base, torch.exp2(mid))
        s = fast_hidden_spikes(p, x_cal)[..., :H].double().mean((0, 1))
        up = s < rate                      # too quiet: more gain
        lo = torch.where(up, mid, lo)
        hi = torch.where(up, hi, mid)
    return torch.exp2((lo + hi) / 2)


def build_network(seed: int = 0, hidden: int = 128, x_cal: torch.Tensor | None = None, **kw):
    """Network image of demo c with the hidden layer described by kw (see module docstring)."""
    kw = dict(kw)
    kind = kw.pop("kind", "uniform_default")
    if kind == "uniform_default":
        params = fsdd_network(hidden=hidden, seed=seed, threshold_scale=kw.pop("threshold_scale", 0.0625),
                              density=kw.pop("density", 0.3), leak=kw.pop("leak", 3), bias=True)
    else:
        params = fsdd_network(hidden=hidden, seed=seed, threshold_scale=0.0625, bias=True)
        g = torch.Generator().manual_seed(1000 + seed)
        L = params.layers[0]
        L.weight_shift = kw.pop("shift", 3)
        L.leak = kw.pop("leak", 3)
        L.reset_mode = kw.pop("reset", 1)
        L.threshold = kw.pop("threshold", 1681)
        base = base_columns(kind, hidden, g, kw)
        rate = kw.get("rate", None)
        if rate is not None:
            if isinstance(rate, (list, tuple)):    # log-uniform spread of target rates
                r = torch.exp(np.log(rate[0]) + torch.rand(hidden, generator=g, dtype=torch.float64)
                              * (np.log(rate[1]) - np.log(rate[0])))
            else:
                r = torch.full((hidden,), float(rate), dtype=torch.float64)
            gain = calibrate_gains(base, params, x_cal, r)
        else:
            gain = torch.full((hidden,), float(kw.get("gain", 1.0)), dtype=torch.float64)
        L.weight[:N_CH, :hidden] = quantise(base, gain)
    init = kw.get("init_delay", "zero")
    if init != "zero":
        g2 = torch.Generator().manual_seed(2000 + seed)
        lo_, hi_ = init if isinstance(init, (list, tuple)) else (0, params.config.depth - 1)
        d = torch.randint(lo_, hi_ + 1, (hidden,), generator=g2)
        params.layers[0].delay[:hidden] = d.to(params.layers[0].delay.dtype)
    validate(params)
    return params


