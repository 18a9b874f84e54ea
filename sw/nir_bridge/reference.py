"""A small float simulator of a parsed NIR chain: what the graph computes in the tool that wrote
it, the reference the quantised core is compared with (docs/nir.md, "Agreement").

Per layer and step t (mapping.py): v = beta v + g (W x(t) [+ W_rec y(t-1)]), spike s = v > v_threshold
(NIR's rule), then the reset the user names (the graph does not say: NIR only has v_reset):
"subtract" v -= v_threshold, "zero" v = 0. Style "nir" resets in the same step (as the core);
"snntorch" / "snntorch-reset-delay" follow snnTorch's Leaky literally (reset_delay=False / True:
the reset is decided from the last step's stored membrane). Delays shift each neuron's spikes by
round(delay / dt) steps. The readout is the last layer's membrane ("membrane": no spikes, no
reset, as snnTorch's reset_mechanism="none") or its spikes ("spikes": a rate-coded output).
No floor, no saturation: float64 throughout.
"""

from __future__ import annotations

import numpy as np
import torch

from .chain import Chain, ChainLayer
from .mapping import delay_steps

RESETS = ("subtract", "zero")
READOUTS = ("membrane", "spikes")
# What the tool that wrote the graph computes: NIR's LIF with the reset in the same step (the
# core, Norse, ...), or snnTorch's Leaky with reset_delay=False / True (its default).
STYLES = ("nir", "snntorch", "snntorch-reset-delay")


def shift_steps(s: torch.Tensor, steps: np.ndarray) -> torch.Tensor:
    """y[:, t, j] = s[:, t - steps[j], j] (zero before the start)."""
    B, T, n = s.shape
    d = torch.as_tensor(steps, dtype=torch.int64)
    t = torch.arange(T).view(T, 1) - d.view(1, n)
    idx = t.clamp(min=0).unsqueeze(0).expand(B, T, n)
    return s.gather(1, idx) * (t >= 0).to(s.dtype).unsqueeze(0)


def _nir_step(v, i_t, beta, gain, thr, reset: str):
    """NIR's LIF with the reset in the same step (what the core does): (stored v, spikes)."""
    v = beta * v + gain * i_t
    s = (v > thr).to(v.dtype)
    return (v - thr * s if reset == "subtract" else v * (1 - s)), s


def _snntorch_step(v, i_t, beta, gain, thr, reset: str, reset_delay: bool):
    """snnTorch 1.0.0's Leaky literally: the reset is decided from the stored membrane of the last
    step (`mem_reset(mem)`), applied before the update; without reset_delay the step's own spike
    resets at once too (`do_reset = spk - reset`)."""
    r = (v > thr).to(v.dtype)
    if reset == "zero":
        v = beta * (v * (1 - r)) + gain * i_t
    else:
        v = beta * v + gain * i_t - thr * r
    s = (v > thr).to(v.dtype)
    if not reset_delay:
        v = v - (s - r) * thr if reset == "subtract" else v - (s - r) * v
    return v, s


def _run_layer(layer: ChainLayer, h: torch.Tensor, dt: float, spiking: bool, reset: str,
               style: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(membranes, delayed spikes) [B, T, n] of one layer fed by h [B, T, n_src]."""
    B, T, _ = h.shape
    beta, gain = torch.as_tensor(layer.beta), torch.as_tensor(layer.gain)
    thr = torch.as_tensor(layer.threshold) if spiking else None
    current = h @ torch.as_tensor(layer.weight)
    steps = delay_steps(layer.delay, dt)
    v = h.new_zeros(B, layer.n)
    mem, spk = h.new_zeros(B, T, layer.n), h.new_zeros(B, T, layer.n)
    for t in range(T):
        i_t = current[:, t]
        if layer.rec_weight is not None and t > 0:
            i_t = i_t + shift_steps(spk[:, :t], steps)[:, -1] @ torch.as_tensor(layer.rec_weight)
        if not spiking:
            v = mem[:, t] = beta * v + gain * i_t
        elif style == "nir":
            v, spk[:, t] = _nir_step(v, i_t, beta, gain, thr, reset)
        else:
            v, spk[:, t] = _snntorch_step(v, i_t, beta, gain, thr, reset,
                                          style == "snntorch-reset-delay")
    return mem, shift_steps(spk, steps) if spiking else spk


def simulate(chain: Chain, x: torch.Tensor, reset: str | list[str] = "subtract",
             style: str = "nir", readout: str = "membrane") -> dict:
    """Run the chain on x [B, T, n_in] (spike counts). `reset`: one for every layer or one per
    layer. Returns `readout` [B, T, n_out] (membrane or spikes of the last layer), `spikes`
    (delayed spikes of every spiking layer, the last one too in "spikes" mode) and `prediction`
    [B] (argmax of the readout summed over steps; first on ties)."""
    resets = [reset] * len(chain.layers) if isinstance(reset, str) else list(reset)
    if any(r not in RESETS for r in resets) or readout not in READOUTS or style not in STYLES:
        raise ValueError(f"reset in {RESETS}, readout in {READOUTS}, style in {STYLES}")
    if readout == "spikes" and not chain.layers[-1].spiking:
        raise ValueError(f"readout 'spikes': the last layer {chain.layers[-1].neuron!r} does not spike")
    h = torch.as_tensor(x).to(torch.float64)
    if chain.input_delay is not None:
        h = shift_steps(h, delay_steps(chain.input_delay, chain.dt))
    spikes = []
    for i, layer in enumerate(chain.layers):
        last = i == len(chain.layers) - 1
        spiking = layer.spiking and not (last and readout == "membrane")
        mem, y = _run_layer(layer, h, chain.dt, spiking, resets[min(i, len(resets) - 1)], style)
        if spiking:
            spikes.append(y)
        h = y
    out = spikes[-1] if readout == "spikes" else mem
    return {"readout": out, "spikes": spikes, "prediction": out.sum(1).argmax(-1)}
