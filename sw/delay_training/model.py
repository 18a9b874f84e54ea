"""DelaySNN: LIF layers with one learnable axonal delay per neuron and a non-spiking readout.

In hardware mode (quantised weights, the default) the forward pass is the integer arithmetic of
docs/core.md, step for step: membranes are integers held in float tensors (exact below 2^24; a
layer whose values could exceed that runs in float64), weights are integer levels times
2^weight_shift, the leak is an arithmetic shift or a multiplier with floor rounding, one
saturation after the exact input sum, spike if v >= threshold, reset by subtraction or to zero,
and delays shift each neuron's spike train by a whole number of steps. So what is trained is what
the core (and `golden_model.GoldenNetwork`) runs; `delay_training.export.to_params` writes it out.

Backward: a surrogate derivative for the spike, straight-through estimators for the floor,
saturation, weight quantisation and delay rounding, and the one-step finite difference of the
delayed spike train as the delay gradient (see docs/training.md).

Float mode (wbits = 32) runs the same network with float weights, an exact multiplicative leak
and no saturation: a comparison model, it cannot be exported.

The settings live in `model_config` and the autograd pieces in `autograd`; this module is the
`nn.Module` that joins them.
"""

from __future__ import annotations

import math
import torch
from torch import nn

from .quant import initial_step, is_ternary, quantise, registers_for_step, round_clamp_ste
from .model_config import ModelConfig
from .autograd import (EXACT, _LayerArith, _LIFLoop, _Spike, _LeakClamp, delay_index, _DelayShift,
                       _DelayGather)

class DelaySNN(nn.Module):
    """input -> LIF layers (axonal delay per neuron, optional recurrence) -> readout.

    Latent parameters are floats in *threshold units* (a weight of 1.0 moves a membrane by one
    threshold); layer l's level step is 2^weight_shift[l] / threshold[l], chosen at initialisation
    (`quant.registers_for_step`). Delays are latent floats in steps.

    Opt-in learned registers (defaults: fixed, and then the model has no extra parameters):
    `learn_threshold`: one latent float threshold per LIF layer (`threshold_latent[l]`, integer
    units, initialised to the chosen register); the forward pass uses round(latent) clamped to
    1..2^(v_bits-1)-1, weight_shift stays fixed, so the level step 2^weight_shift / threshold is
    the one the exported image runs. `learn_leak` (mul mode): one latent multiplier per layer
    incl. the readout (`leak_latent[l]`), forward round(latent) clamped to 0..256. The buffer
    `registers` keeps the initial (weight_shift, threshold); `threshold(l)` / `leak_register(l)`
    are the registers in use.
    """

    def __init__(self, config: ModelConfig, seed: int | None = None):
        super().__init__()
        self.config = cfg = config
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        srcs = (cfg.n_in,) + cfg.sizes
        self.weights = nn.ParameterList()
        regs = []
        for l, n in enumerate(cfg.sizes + (cfg.n_out,)):
            rec = l < len(cfg.sizes) and cfg.recurrent[l]
            n_rows = srcs[l] + (n if rec else 0)
            std = cfg.init_gain[l] / math.sqrt(n_rows)
            w = torch.randn(n_rows, n, generator=g) * std
            self.weights.append(nn.Parameter(w))
            regs.append(registers_for_step(initial_step(w, cfg.wbits), cfg.theta_target, cfg.v_max))
        # [layer, (weight_shift, threshold)] in integer units; the readout's "threshold" is only
        # its unit (membrane value of one float unit), used to scale the logits.
        self.register_buffer("registers", torch.tensor(regs, dtype=torch.int64))
        D = cfg.depth
        self.delays = nn.ParameterList()
        for n in cfg.sizes:
            self.delays.append(nn.Parameter(self._initial_delays(n, g), requires_grad=D > 1))
        # Learned registers (empty lists add nothing to the state dict: defaults unchanged).
        self.threshold_latent = nn.ParameterList()
        self.leak_latent = nn.ParameterList()
        if cfg.learn_threshold:
            for l in range(len(cfg.sizes)):
                self.threshold_latent.append(nn.Parameter(torch.tensor(float(regs[l][1]))))
        if cfg.learn_leak:
            for l in range(len(cfg.sizes) + 1):
                self.leak_latent.append(nn.Parameter(torch.tensor(float(cfg.leak[l]))))
        # Input channels' delays last, so that every other initial value does not depend on it.
        self.register_parameter("input_delay", None)
        if cfg.input_delays:
            self.input_delay = nn.Parameter(self._initial_delays(cfg.n_in, g), requires_grad=D > 1)

    def _initial_delays(self, n: int, g) -> torch.Tensor:
        cfg, D = self.config, self.config.depth
        if cfg.delay_init == "uniform" and D > 1:
            return torch.rand(n, generator=g) * (D - 1)
        if cfg.delay_init == "half":
            return torch.full((n,), (D - 1) / 2)
        return torch.zeros(n)

    @torch.no_grad()
    def reset_register_latents_(self) -> None:
        """Set the learned registers' latents to the current `registers` buffer / config leak
        (after registers were set by hand, e.g. the hand-built sequence detector)."""
        for l, p in enumerate(self.threshold_latent):
            p.fill_(float(self.registers[l, 1]))
        for l, p in enumerate(self.leak_latent):
            p.fill_(float(self.config.leak[l]))

    # --- integer views ---------------------------------------------------------------------
    def weight_shift(self, l: int) -> int:
        return int(self.registers[l, 0])

    def threshold_t(self, l: int) -> torch.Tensor | None:
        """Learned threshold of LIF layer l as a 0-dim tensor: round(latent) clamped to
        1..v_max, straight-through; None where the threshold is fixed (and for the readout)."""
        if l >= len(self.threshold_latent):
            return None
        return round_clamp_ste(self.threshold_latent[l], 1, self.config.v_max)

    def leak_t(self, l: int) -> torch.Tensor | None:
        """Learned leak multiplier of layer l (0-dim tensor, round(latent) clamped to 0..256,
        straight-through); None where the leak is fixed."""
        if l >= len(self.leak_latent):
            return None
        return round_clamp_ste(self.leak_latent[l], 0, 256)

    def threshold(self, l: int) -> int:
        """The threshold register in use (learned: round(latent) clamped to 1..v_max)."""
        if l < len(self.threshold_latent):
            return int(self.threshold_t(l).detach())
        return int(self.registers[l, 1])

    def leak_register(self, l: int) -> int:
        """The leak register in use (shift k or multiplier; learned: round(latent), 0..256)."""
        if l < len(self.leak_latent):
            return int(self.leak_t(l).detach())
        return int(self.config.leak[l])

    def initial_registers(self) -> list[dict]:
        """Registers at initialisation (weight_shift, threshold, leak) per layer."""
        return [{"weight_shift": int(self.registers[l, 0]), "threshold": int(self.registers[l, 1]),
                 "leak": int(self.config.leak[l])} for l in range(len(self.config.sizes) + 1)]

    def current_registers(self) -> list[dict]:
        """Registers in use (what the export writes; the readout threshold is its logit unit)."""
        return [{"weight_shift": self.weight_shift(l), "threshold": self.threshold(l),
                 "leak": self.leak_register(l)} for l in range(len(self.config.sizes) + 1)]

    def level_step(self, l: int) -> float:
        return (1 << self.weight_shift(l)) / self.threshold(l)

    def _levels(self, l: int) -> torch.Tensor:
        """Integer levels q (float tensor, straight-through) of layer l's latent weights.

        With a learned threshold theta the level step is 2^weight_shift / round(theta): k-bit
        levels get the LSQ gradient through the step (w / step = w theta / 2^weight_shift, zero
        beyond the clip range); ternary levels (0.7 mean|w| rule) do not depend on the step at
        all, so there the threshold is detached and only the comparison and reset carry its
        gradient.
        """
        w = self.weights[l]
        th = self.threshold_t(l)
        if th is None:
            return quantise(w / self.level_step(l), self.config.wbits)
        if is_ternary(self.config.wbits):
            th = th.detach()
        return quantise(w * th / float(1 << self.weight_shift(l)), self.config.wbits)

    def int_weights(self, l: int) -> torch.Tensor:
        """Effective weights in integer membrane units (q << weight_shift), differentiable."""
        w = self.weights[l]
        if not self.config.hardware:
            return w * float(self.threshold(l))
        return self._levels(l) * float(1 << self.weight_shift(l))

    @torch.no_grad()
    def weight_levels(self, l: int) -> torch.Tensor:
        """The integer levels q stored in the core's weight memory (int64)."""
        if not self.config.hardware:
            raise ValueError("float weights (wbits=32) have no integer levels")
        return self._levels(l).round().to(torch.int64).cpu()

    @torch.no_grad()
    def int_delays(self, l: int) -> torch.Tensor:
        return delay_index(self.delays[l], self.config.depth).cpu()

    def int_input_delays(self) -> torch.Tensor:
        """The input channels' integer delays (the image's `input_delay`)."""
        return delay_index(self.input_delay, self.config.depth).cpu()

    def delay_latents(self) -> list[nn.Parameter]:
        """Every learnable delay (LIF neurons', then the input channels'), in steps."""
        ds = [d for d in self.delays if d.requires_grad]
        if self.input_delay is not None and self.input_delay.requires_grad:
            ds.append(self.input_delay)
        return ds

    def arith(self, l: int) -> _LayerArith:
        cfg = self.config
        spiking = l < len(cfg.sizes)
        return _LayerArith(hardware=cfg.hardware, spiking=spiking, leak_mode=cfg.leak_mode,
                           leak=self.leak_register(l), threshold=self.threshold(l),
                           reset_mode=cfg.reset_mode if spiking else 0, v_min=cfg.v_min,
                           v_max=cfg.v_max, surrogate=cfg.surrogate, slope=cfg.surrogate_slope)

    # --- training helpers ------------------------------------------------------------------
    @torch.no_grad()
    def clamp_delays_(self) -> None:
        for d in self.delays:
            d.clamp_(0, self.config.depth - 1)
        if self.input_delay is not None:
            self.input_delay.clamp_(0, self.config.depth - 1)

    @torch.no_grad()
    def clamp_latents_(self) -> None:
        """After an optimiser step: delays to [0, D-1], learned thresholds to [1, v_max],
        learned leaks to [0, 256] (the forward pass clamps anyway; this keeps latents in range)."""
        self.clamp_delays_()
        for p in self.threshold_latent:
            p.clamp_(1, self.config.v_max)
        for p in self.leak_latent:
            p.clamp_(0, 256)

    def delay_l2(self) -> torch.Tensor:
        """Mean squared delay (steps^2) over all LIF neurons (and input channels)."""
        ds = self.delay_latents()
        if not ds:
            return self.weights[0].new_zeros(())
        return torch.cat([d.reshape(-1) for d in ds]).pow(2).mean()

    def param_groups(self, lr: float, lr_delay: float, train_weights: bool = True,
                     lr_threshold: float = 2e-3, lr_leak: float = 0.1) -> list[dict]:
        """Adam groups: weights (lr), delays (lr_delay, steps); learned thresholds one group per
        layer with lr = lr_threshold x that layer's initial threshold (a relative rate: Adam's
        step is about lr per step whatever the gradient's scale, so LSQ's gradient scale
        1/sqrt(n qmax) would cancel; the scale is put into the rate instead); learned leaks
        (lr_leak, in multiplier units of 1/256)."""
        groups = []
        if train_weights:
            groups.append({"params": list(self.weights), "lr": lr, "name": "weights"})
        delays = self.delay_latents()
        if delays:
            groups.append({"params": delays, "lr": lr_delay, "name": "delays"})
        for l, p in enumerate(self.threshold_latent):
            groups.append({"params": [p], "lr": lr_threshold * float(self.registers[l, 1]),
                           "name": f"threshold{l}"})
        if len(self.leak_latent):
            groups.append({"params": list(self.leak_latent), "lr": lr_leak, "name": "leak"})
        return groups

    # --- forward -----------------------------------------------------------------------------
    def _dtype(self, events_per_step: float, w_int: torch.Tensor) -> torch.dtype:
        """float32 if every partial sum and membrane value stays within 2^24, else float64."""
        if not self.config.hardware:
            return torch.float32
        bound = events_per_step * float(w_int.detach().abs().max()) + self.config.v_max + 1
        if self.config.leak_mode == "mul":
            bound = max(bound, float(self.config.v_max + 1) * 256)
        return torch.float32 if bound <= EXACT else torch.float64

    def forward(self, x: torch.Tensor) -> dict:
        """x: [B, T, n_in] spike counts (any numeric dtype). Returns

        readout [B, T, n_out] (integer membranes in hardware mode), spikes (delayed, per LIF
        layer, [B, T, n]), logits [B, n_out] = mean over time of the readout in float units.
        """
        cfg = self.config
        if x.dim() != 3 or x.shape[-1] != cfg.n_in:
            raise ValueError(f"input: expected [batch, steps, {cfg.n_in}], got {tuple(x.shape)}")
        dev = self.weights[0].device
        h = x.to(dev)
        D = cfg.depth
        if cfg.input_delays:    # the input delay stage: counts become spikes, then a delay each
            h = (h > 0).to(self.weights[0].dtype)
            if D > 1:
                h = _DelayShift.apply(h, self.input_delay, D)
        events = float(h.detach().sum(-1).max()) if h.numel() else 0.0
        spikes, raw = [], []
        for l, n in enumerate(cfg.sizes):
            w = self.int_weights(l)
            ar = self.arith(l)
            rec = cfg.recurrent[l]
            n_src = w.shape[0] - (n if rec else 0)
            dt = self._dtype(events + (n if rec else 0), w)
            w = w.to(dt)
            current = torch.matmul(h.to(dt), w[:n_src])
            if not rec:
                s = _LIFLoop.apply(current, ar, self.threshold_t(l), self.leak_t(l))
                y = _DelayShift.apply(s, self.delays[l], D) if D > 1 else s
            else:
                s, y = self._recurrent(current, w[n_src:], self.delays[l], ar, D,
                                       self.threshold_t(l), self.leak_t(l))
            raw.append(s)
            spikes.append(y)
            h = y
            events = float(n)
        w = self.int_weights(len(cfg.sizes))
        dt = self._dtype(events, w)
        L = len(cfg.sizes)
        ro = _LIFLoop.apply(torch.matmul(h.to(dt), w.to(dt)), self.arith(L), None, self.leak_t(L))
        logits = ro.float().mean(1) / float(self.threshold(len(cfg.sizes)))
        return {"readout": ro, "spikes": spikes, "raw_spikes": raw, "logits": logits}

    def _recurrent(self, current, w_rec, d_latent, ar: _LayerArith, D: int, theta=None, leak=None):
        """Step-by-step loop of a recurrent layer: y(t-1) feeds back at step t. `theta` /
        `leak`: learned registers (0-dim tensors) or None; autograd carries their gradients."""
        B, T, n = current.shape
        v = current.new_zeros(B, n)
        hist = current.new_zeros(B, n, D + 1)        # hist[..., k] = s(t - k)
        y = current.new_zeros(B, n)
        th = float(ar.threshold) if theta is None else theta
        ss, ys = [], []
        for t in range(T):
            v1 = _LeakClamp.apply(v, current[:, t] + y @ w_rec, ar, leak)
            s = _Spike.apply(v1, ar, theta)
            sd = s.detach()
            v = v1 - th * sd if ar.reset_mode == 0 else v1 * (1.0 - sd)
            hist = torch.cat([s.unsqueeze(-1), hist[..., :D]], dim=-1)
            y = _DelayGather.apply(hist, d_latent, D) if D > 1 else s
            ss.append(s)
            ys.append(y)
        return torch.stack(ss, 1), torch.stack(ys, 1)

    # --- bookkeeping -------------------------------------------------------------------------
    def memory_bits(self) -> dict:
        """Storage of the network as the core holds it (bits).

        weights: every weight at its stored width (ternary: 2 bits, as the core stores it; the
        information content 1.58 bits/weight is reported separately), float: 32 bits.
        delays: clog2(D) bits per LIF neuron and, with input_delays, per input channel (0 without
        delays). other: membranes (v_bits, or 32
        in float mode), spike history (D bits per LIF neuron, as the core's ring buffer; none for
        D = 1 beyond the current spike) and the per-layer registers (threshold, leak,
        weight_shift, reset_mode); with input_delays also the stage's D + 1 bits per channel.
        """
        cfg = self.config
        n_w = sum(w.numel() for w in self.weights)
        if cfg.hardware:
            wb = 2 if is_ternary(cfg.wbits) else int(cfg.wbits)
            vb = cfg.v_bits
            reg = (cfg.v_bits - 1) + (5 if cfg.leak_mode == "shift" else 9) + 3 + 1
        else:
            wb, vb, reg = 32, 32, 4 * 32
        n_lif = sum(cfg.sizes)
        n_del = n_lif + (cfg.n_in if cfg.input_delays else 0)
        delays = n_del * cfg.dbits
        other = (n_lif + cfg.n_out) * vb + n_lif * cfg.depth + (len(cfg.sizes) + 1) * reg
        if cfg.input_delays:    # the stage's history and arrived bits
            other += cfg.n_in * (cfg.depth + 1)
        return {"weights": n_w * wb, "delays": delays, "other": other,
                "total": n_w * wb + delays + other, "n_weights": n_w, "n_delays": n_del,
                "bits_per_weight": wb,
                "weights_info_bits": n_w * (math.log2(3) if is_ternary(cfg.wbits) else wb)}


def predict(readout: torch.Tensor) -> torch.Tensor:
    """The prediction rule shared by training, export checks and the core: the class whose
    readout membrane summed over all steps is largest (first one on ties), summed exactly in
    int64 when the readout is integer-valued, else in float64."""
    r = readout.detach()
    if r.dtype.is_floating_point:
        if bool(torch.all(r == torch.round(r))):
            r = r.round().to(torch.int64)
        else:
            r = r.to(torch.float64)
    else:
        r = r.to(torch.int64)
    return r.sum(1).argmax(-1)
