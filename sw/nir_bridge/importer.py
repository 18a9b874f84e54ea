"""A NIR graph onto the core (docs/nir.md, "Import").

A graph our exporter wrote (metadata `delaysnn`) comes back exactly: integer weights, delays and
registers are read from the nodes and checked against the metadata. Any other graph is quantised:
per LIF layer the weights are divided by each neuron's threshold (and multiplied by its input
gain), so that the layer fires at 1; a per-layer level step is chosen (ternary: the least-squares
scale of training's 0.7 mean|w| rule; k-bit: the step with the least squared error), it becomes
`weight_shift` and a threshold unit (`delay_training.quant.registers_for_step`), the levels are
taken with that exact step, and the threshold register is the unit + 1 (NIR fires on v > 1, the
core on integer v >= threshold, mapping.threshold_register). Leaks and delays: mapping.py.

`Imported.training_model()` is a `DelaySNN` whose `delay_training.export.to_params` is exactly the
image, so that training's own writer writes the export folder and fine-tuning continues from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from corespec.identity import config_dict
from delay_training.model import DelaySNN, ModelConfig
from delay_training.quant import check_wbits, is_ternary, registers_for_step
from golden_model import CoreConfig, LayerParams, NetworkParams, validate
from golden_model.config import clog2

from .chain import Chain, ChainLayer, our_metadata, parse_graph, read_graph
from .errors import NirError
from .reference import STYLES
from .mapping import (DEFAULT_DT, beta_to_leak, delay_steps, initial_step, leak_beta, levels,
                      nir_threshold, threshold_register)

READOUT_CHOICES = ("auto", "membrane", "spikes")


@dataclass
class ImportOptions:
    """How to map a graph made elsewhere (a graph with our metadata needs none of them)."""
    wbits: float = 1.58
    leak_mode: str = "mul"
    reset: str = "subtract"
    reference: str = "nir"            # reference.STYLES: what the source tool computes
    readout: str = "auto"
    dt: float | None = None
    delay_bits: int | None = None
    v_bits: int = 16
    theta_target: int = 1024
    ignore_metadata: bool = False


@dataclass
class Imported:
    chain: Chain
    params: NetworkParams
    units: list[int]                  # per layer: threshold register (LIF) or logit unit (readout)
    exact: bool
    readout: str                      # "membrane" or "spikes", resolved
    resets: list[str]                 # per spiking layer, for the float reference
    reference: str                    # reference.STYLES
    theta_target: int = 1024
    notes: list[str] = field(default_factory=list)
    _model: DelaySNN | None = None

    def training_model(self) -> DelaySNN:
        """The DelaySNN that holds the image (made once; fine-tuning trains this one)."""
        if self._model is None:
            self._model = model_from_params(self.params, self.units, self.theta_target)
        return self._model


# -- a graph our exporter wrote ------------------------------------------------------------------
def _integers(name: str, what: str, values: np.ndarray) -> torch.Tensor:
    """Values that must be whole numbers (they were written from integers)."""
    r = np.round(values)
    if np.any(np.abs(values - r) > 1e-3):
        raise NirError(f"node {name!r}: {what} are not whole numbers as the delaysnn metadata says "
                       f"(edited after export?); import with --ignore-metadata to quantise it")
    return torch.as_tensor(r.astype(np.int64))


def _check_registers(layer: ChainLayer, reg: dict, cfg: CoreConfig) -> None:
    """The node's leak and threshold must be the ones the metadata's registers give."""
    beta = leak_beta(cfg.leak_mode, reg["leak"])
    ok = np.allclose(layer.beta, beta, rtol=0, atol=1e-5) and np.allclose(layer.gain, 1, atol=1e-4)
    if layer.threshold is not None:
        ok = ok and np.all(layer.threshold == np.float32(nir_threshold(reg["threshold"])))
    if not ok:
        raise NirError(f"node {layer.neuron!r}: leak or threshold differs from the delaysnn "
                       f"metadata (edited after export?); import with --ignore-metadata")


def params_from_ours(chain: Chain, meta: dict) -> NetworkParams:
    """The exact image of a graph our exporter wrote."""
    try:
        cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v
                            for k, v in meta["core_config"].items()})
        regs = meta["layers"]
    except (KeyError, TypeError, ValueError) as e:
        raise NirError(f"graph metadata 'delaysnn': not a core configuration ({e}); import with "
                       f"--ignore-metadata") from None
    if [(l.linear, l.neuron) for l in chain.layers] != [(r["linear"], r["neuron"]) for r in regs]:
        raise NirError("graph metadata 'delaysnn': its layers are not the graph's nodes "
                       "(edited after export?); import with --ignore-metadata")
    layers = []
    for layer, reg in zip(chain.layers, regs):
        _check_registers(layer, reg, cfg)
        w = layer.weight if layer.rec_weight is None else np.concatenate([layer.weight, layer.rec_weight])
        q = _integers(layer.linear, "weights / 2^weight_shift", w / (1 << reg["weight_shift"]))
        d = _integers(layer.delay_nodes[0] if layer.delay_nodes else layer.neuron, "delays / dt",
                      layer.delay / chain.dt)
        layers.append(LayerParams(weight=q, delay=d, threshold=reg["threshold"], leak=reg["leak"],
                                  weight_shift=reg["weight_shift"], reset_mode=reg["reset_mode"]))
    in_delay = None
    if cfg.input_delays:
        in_delay = (torch.zeros(cfg.n_in, dtype=torch.int64) if chain.input_delay is None else
                    _integers(chain.input_delay_nodes[0], "delays / dt", chain.input_delay / chain.dt))
    params = NetworkParams(cfg, layers, in_delay)
    try:
        validate(params)
    except ValueError as e:
        raise NirError(f"graph metadata 'delaysnn': the image it describes is invalid ({e})") from None
    return params


# -- a graph made elsewhere ----------------------------------------------------------------------
def resolve_readout(chain: Chain, readout: str) -> str:
    """"auto": LI / I last -> its membrane; LIF / IF last -> its spikes (a NIR LIF spikes; say
    "membrane" for a non-resetting readout such as snnTorch's reset_mechanism="none")."""
    last = chain.layers[-1]
    if readout not in READOUT_CHOICES:
        raise NirError(f"--readout: one of {', '.join(READOUT_CHOICES)}, got {readout!r}")
    if readout == "auto":
        return "spikes" if last.spiking else "membrane"
    if readout == "spikes" and not last.spiking:
        raise NirError(f"--readout spikes: the last node {last.neuron!r} ({last.kind}) does not spike")
    return readout


def _layer_leak(layer: ChainLayer, opts: ImportOptions, notes: list[str]) -> int:
    """One leak register per layer: the mean decay (a spread is reported)."""
    if np.ptp(layer.beta) > 1e-6:
        notes.append(f"{layer.neuron}: decay per step {layer.beta.min():.4f}..{layer.beta.max():.4f}"
                     f" across neurons; the core has one leak per layer, the mean is used")
    return beta_to_leak(float(layer.beta.mean()), opts.leak_mode, opts.v_bits)


def _quantised(w: np.ndarray, opts: ImportOptions) -> tuple[torch.Tensor, int, int]:
    """(levels, weight_shift, unit): float weights in units of the layer's threshold (or of the
    readout's membrane) as levels q with q << weight_shift ~ w * unit."""
    wt = torch.as_tensor(w, dtype=torch.float64)
    v_max = (1 << (opts.v_bits - 1)) - 1
    ws, unit = registers_for_step(initial_step(wt, opts.wbits), opts.theta_target, v_max)
    return levels(wt, opts.wbits, (1 << ws) / unit), ws, unit


def _delay_depth(steps: list[np.ndarray], opts: ImportOptions, notes: list[str]) -> int:
    """dbits: --delay-bits, else the fewest that hold the longest delay (at most 6: D = 64)."""
    longest = max((int(s.max()) for s in steps if s.size), default=0)
    dbits = opts.delay_bits if opts.delay_bits is not None else min(6, clog2(longest + 1))
    depth = 1 << dbits
    clipped = sum(int((s > depth - 1).sum()) for s in steps)
    if clipped:
        notes.append(f"{clipped} delays longer than {depth - 1} steps (delay bits {dbits}) were "
                     f"clipped to {depth - 1}")
    return dbits


def _readout(chain: Chain, opts: ImportOptions, readout: str,
             notes: list[str]) -> tuple[LayerParams, int]:
    """The core's readout layer and its logit unit: the last layer's membrane, quantised like a
    LIF layer without a threshold; or ("spikes") identity weights and a leak that clears every
    step, so that readout(t) = spikes(t) and the prediction is the largest spike count."""
    last = chain.layers[-1]
    zeros = torch.zeros(last.n, dtype=torch.int64)
    if readout == "spikes":
        eye = torch.eye(last.n, dtype=torch.int64)
        return LayerParams(weight=eye, delay=zeros, threshold=1, leak=0, weight_shift=0), 1
    q, ws, unit = _quantised(last.weight * last.gain, opts)
    return LayerParams(weight=q, delay=zeros, threshold=1, leak=_layer_leak(last, opts, notes),
                       weight_shift=ws), unit


def quantise_chain(chain: Chain, opts: ImportOptions, readout: str,
                   notes: list[str]) -> tuple[NetworkParams, list[int]]:
    """The image of a graph made elsewhere and each layer's threshold unit (the readout's too)."""
    lif = chain.layers if readout == "spikes" else chain.layers[:-1]
    if not lif:
        raise NirError(f"node {chain.layers[-1].neuron!r}: the graph has no spiking layer before "
                       f"its readout; the core needs at least one LIF layer")
    steps = [delay_steps(l.delay, chain.dt) for l in lif]
    in_steps = delay_steps(chain.input_delay, chain.dt) if chain.input_delay is not None else None
    dbits = _delay_depth(steps + ([in_steps] if in_steps is not None else []), opts, notes)
    if in_steps is not None:
        notes.append(f"{chain.input_delay_nodes[0]}: the core's input delay stage turns input "
                     f"counts into 0/1 spikes (the graph delays counts as they are)")
    depth, v_max = 1 << dbits, (1 << (opts.v_bits - 1)) - 1
    reset_mode = 0 if opts.reset == "subtract" else 1
    layers, units = [], []
    for layer, d in zip(lif, steps):
        if np.any(layer.threshold <= 0):
            raise NirError(f"node {layer.neuron!r}: v_threshold must be positive")
        q, ws, unit = _quantised(layer.weight * (layer.gain / layer.threshold), opts)
        layers.append(LayerParams(weight=q, delay=torch.as_tensor(np.minimum(d, depth - 1)),
                                  threshold=min(threshold_register(unit), v_max),
                                  leak=_layer_leak(layer, opts, notes), weight_shift=ws,
                                  reset_mode=reset_mode))
        units.append(layers[-1].threshold)
    ro, unit = _readout(chain, opts, readout, notes)
    units.append(unit)
    ternary = is_ternary(opts.wbits)
    cfg = CoreConfig(n_in=chain.n_in, sizes=tuple(l.n for l in lif), n_out=ro.weight.shape[1],
                     weight_bits=2 if ternary else int(opts.wbits), ternary=ternary, depth=depth,
                     v_bits=opts.v_bits, leak_mode=opts.leak_mode,
                     max_events=min(65535, max(4095, chain.n_in)),
                     input_delays=in_steps is not None)
    in_delay = torch.as_tensor(np.minimum(in_steps, depth - 1)) if in_steps is not None else None
    params = NetworkParams(cfg, layers + [ro], in_delay)
    validate(params)
    return params, units


# -- the training model that holds the image -----------------------------------------------------
def image_difference(a: NetworkParams, b: NetworkParams) -> str | None:
    """The first field in which two images differ, or None."""
    if config_dict(a.config) != config_dict(b.config):
        diff = [k for k, v in config_dict(a.config).items() if config_dict(b.config).get(k) != v]
        return f"configuration field {diff[0]!r}"
    for l, (p, q) in enumerate(zip(a.layers, b.layers)):
        for name in ("threshold", "leak", "weight_shift", "reset_mode"):
            if getattr(p, name) != getattr(q, name):
                return f"layer {l} {name} {getattr(p, name)} != {getattr(q, name)}"
        for name in ("weight", "delay"):
            if not torch.equal(getattr(p, name).to(torch.int64), getattr(q, name).to(torch.int64)):
                return f"layer {l} {name}s"
    if (a.input_delay is None) != (b.input_delay is None) or (
            a.input_delay is not None and not torch.equal(a.input_delay, b.input_delay)):
        return "input delays"
    return None


def model_from_params(params: NetworkParams, units: list[int], theta_target: int = 1024) -> DelaySNN:
    """A DelaySNN (hardware mode) whose export is exactly `params`; `units` are the registers'
    threshold entries (LIF: the threshold; readout: its logit unit). NirError for an image that
    training's model cannot hold (its writer is the one that makes export folders)."""
    from delay_training.export import to_params
    cfg = params.config
    resets = {p.reset_mode for p in params.layers[:-1]}
    if cfg.depth & (cfg.depth - 1) or len(resets) != 1:
        raise NirError(f"the image has {'depth ' + str(cfg.depth) if cfg.depth & (cfg.depth - 1) else 'mixed reset modes'}"
                       f"; a training export needs a power-of-two depth and one reset mode")
    mc = ModelConfig(n_in=cfg.n_in, sizes=cfg.sizes, n_out=cfg.n_out, recurrent=cfg.recurrent,
                     wbits=1.58 if cfg.ternary else float(cfg.weight_bits),
                     dbits=int(math.log2(cfg.depth)), v_bits=cfg.v_bits, leak_mode=cfg.leak_mode,
                     leak=tuple(p.leak for p in params.layers), reset_mode=resets.pop(),
                     theta_target=theta_target, max_events=cfg.max_events,
                     input_delays=cfg.input_delays, delay_init="zero")
    model = DelaySNN(mc, seed=0)
    with torch.no_grad():
        model.registers.copy_(torch.tensor([(p.weight_shift, u) for p, u in zip(params.layers, units)]))
        for l, p in enumerate(params.layers):
            model.weights[l].copy_(p.weight.to(torch.float64) * model.level_step(l))
        for l, p in enumerate(params.layers[:-1]):
            model.delays[l].copy_(p.delay.to(torch.float32))
        if cfg.input_delays:
            model.input_delay.copy_(params.input_delay.to(torch.float32))
    if (diff := image_difference(to_params(model), params)) is not None:
        raise NirError(f"the imported image cannot be written as a training export: {diff} "
                       f"differs in training's model")
    return model


def import_graph(path, opts: ImportOptions | None = None) -> Imported:
    """Read, check and map a .nir file onto the core (exactly, when it carries our metadata)."""
    opts = opts or ImportOptions()
    opts.wbits = check_wbits_option(opts.wbits)
    graph = read_graph(path)
    meta = None if opts.ignore_metadata else our_metadata(graph)
    notes: list[str] = []
    if meta is not None:
        dt = float(meta.get("dt", DEFAULT_DT))
        chain = parse_graph(graph, dt, allow_recurrent=True)
        params = params_from_ours(chain, meta)
        units = [p.threshold for p in params.layers]
        resets = ["subtract" if p.reset_mode == 0 else "zero" for p in params.layers[:-1]]
        return Imported(chain, params, units, True, "membrane", resets, "nir", notes=notes)
    chain = parse_graph(graph, opts.dt or DEFAULT_DT)
    readout = resolve_readout(chain, opts.readout)
    if opts.reference not in STYLES:
        raise NirError(f"--reference: one of {', '.join(STYLES)}, got {opts.reference!r}")
    params, units = quantise_chain(chain, opts, readout, notes)
    resets = [opts.reset] * len(params.config.sizes)
    return Imported(chain, params, units, False, readout, resets, opts.reference,
                    opts.theta_target, notes)


def check_wbits_option(wbits: float) -> float:
    """--weight-bits: 1.58 (ternary) or 2..8 (the core stores no float weights)."""
    try:
        w = check_wbits(wbits)
    except ValueError:
        w = 32.0
    if w >= 32:
        raise NirError(f"--weight-bits: 1.58 (ternary) or an integer 2..8 (the core stores no "
                       f"float weights), got {wbits:g}")
    return w
