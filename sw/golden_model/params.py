"""The parameter image: what is loaded into the core, validated as a whole before any word is sent."""

from dataclasses import dataclass, field

import torch

from .config import CoreConfig

from corespec.spaces import Space, Register, StatusCounter, INPUT_STAGE_LAYER

# The spec's names (corespec.spaces) under the names the golden model has always used.
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM, STATUS = (
    Space.WEIGHT, Space.DELAY, Space.REGISTER, Space.MEMBRANE, Space.HISTORY, Space.ACCUM, Space.STATUS)
REG_THRESHOLD, REG_LEAK, REG_WEIGHT_SHIFT, REG_RESET_MODE = tuple(Register)
(STATUS_DROPPED_KIND, STATUS_DROPPED_ADDR, STATUS_DROPPED_WRITES, STATUS_STEPS,
 STATUS_DROPPED_EXCESS) = tuple(StatusCounter)
INPUT_STAGE = INPUT_STAGE_LAYER  # port layer of the input delay stage (docs/core.md, 2.7)


@dataclass
class LayerParams:
    weight: torch.Tensor            # [n_rows, n] int: feed-forward rows, then recurrent rows
    delay: torch.Tensor             # [n] int in [0, D-1] (ignored by the readout)
    threshold: int = 1
    leak: int = 4
    weight_shift: int = 0
    reset_mode: int = 0             # 0 subtract, 1 to zero


@dataclass
class NetworkParams:
    config: CoreConfig
    layers: list[LayerParams] = field(default_factory=list)
    input_delay: torch.Tensor | None = None   # [n_in] int in [0, D-1], iff config.input_delays


def _range_error(where, name, t, lo, hi):
    t = torch.as_tensor(t)
    bad = (t < lo) | (t > hi)
    if bad.any():
        idx = tuple(int(i) for i in torch.nonzero(bad)[0])
        raise ValueError(f"{where} field '{name}': value {int(t[idx])} at index {idx} "
                         f"out of range [{lo}, {hi}]")


def validate(params: NetworkParams) -> None:
    """Reject a bad image with a message naming the layer and field; changes nothing."""
    cfg = params.config
    shapes = cfg.layers
    if len(params.layers) != len(shapes):
        raise ValueError(f"parameter image has {len(params.layers)} layers, "
                         f"config needs {len(shapes)} ({len(cfg.sizes)} LIF + readout)")
    for l, (p, s) in enumerate(zip(params.layers, shapes)):
        where = f"layer {l}" + (" (readout)" if not s.spiking else "")
        for name in ("weight", "delay"):
            t = getattr(p, name)
            if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
                raise ValueError(f"{where} field '{name}': expected an integer tensor, "
                                 f"got {type(t).__name__} {getattr(t, 'dtype', '')}")
        if tuple(p.weight.shape) != (s.n_rows, s.n):
            raise ValueError(f"{where} field 'weight': shape {tuple(p.weight.shape)}, "
                             f"expected {(s.n_rows, s.n)}")
        if tuple(p.delay.shape) != (s.n,):
            raise ValueError(f"{where} field 'delay': shape {tuple(p.delay.shape)}, expected {(s.n,)}")
        _range_error(where, "weight", p.weight, *cfg.weight_range)
        _range_error(where, "delay", p.delay, 0, cfg.depth - 1)
        for name, lo, hi in (("threshold", 1, s.v_max), ("leak", *cfg.leak_range),
                             ("weight_shift", 0, 7), ("reset_mode", 0, 1)):
            v = getattr(p, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{where} field '{name}': expected an int, got {v!r}")
            _range_error(where, name, v, lo, hi)
    d = params.input_delay
    if not cfg.input_delays:
        if d is not None:
            raise ValueError("parameter image field 'input_delay': given, but the config has no "
                             "input delay stage (input_delays=False)")
        return
    if not isinstance(d, torch.Tensor) or d.dtype.is_floating_point or d.dtype == torch.bool:
        raise ValueError(f"input delay stage field 'input_delay': expected an integer tensor of "
                         f"shape ({cfg.n_in},), got {type(d).__name__} {getattr(d, 'dtype', '')}")
    if tuple(d.shape) != (cfg.n_in,):
        raise ValueError(f"input delay stage field 'input_delay': shape {tuple(d.shape)}, "
                         f"expected {(cfg.n_in,)}")
    _range_error("input delay stage", "input_delay", d, 0, cfg.depth - 1)


def load_words(params: NetworkParams) -> list[tuple[int, int, int, int]]:
    """(layer, space, addr, data) writes that load a validated image; weights flattened row-major."""
    validate(params)
    words = []
    for l, p in enumerate(params.layers):
        words += [(l, REGISTER, REG_THRESHOLD, p.threshold), (l, REGISTER, REG_LEAK, p.leak),
                  (l, REGISTER, REG_WEIGHT_SHIFT, p.weight_shift),
                  (l, REGISTER, REG_RESET_MODE, p.reset_mode)]
        words += [(l, WEIGHT, a, w) for a, w in enumerate(weight_words(params.config, p.weight))]
        if l < len(params.config.sizes):
            words += [(l, DELAY, a, int(d)) for a, d in enumerate(p.delay.tolist())]
    if params.config.input_delays:
        words += [(INPUT_STAGE, DELAY, c, int(d)) for c, d in enumerate(params.input_delay.tolist())]
    return words


def weight_words(config: CoreConfig, weight: torch.Tensor) -> list[int]:
    """Weight-memory words: `weights_per_word` weights each, flat index order, LSB first, two's
    complement in `weight_bits` (docs/core.md, section 4). With one weight a word, the value itself."""
    flat = [int(w) for w in weight.reshape(-1).tolist()]
    P, b = config.weights_per_word, config.weight_bits
    if P == 1:
        return flat
    mask = (1 << b) - 1
    words = []
    for i in range(0, len(flat), P):
        word = 0
        for k, w in enumerate(flat[i:i + P]):
            word |= (w & mask) << (k * b)
        words.append(word)
    return words


def random_params(config: CoreConfig, seed: int, delays: str = "random", *,
                  threshold_scale: float = 1.0, density: float = 1.0) -> NetworkParams:
    """Seeded random image with thresholds scaled so that layers are neither silent nor saturated."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = config.weight_range
    layers = []
    for l, s in enumerate(config.layers):
        w = torch.randint(lo, hi + 1, (s.n_rows, s.n), generator=g)
        if density < 1.0:
            w = w * (torch.rand(w.shape, generator=g) < density)
        if delays == "random":
            d = torch.randint(0, config.depth, (s.n,), generator=g)
        elif delays == "max":
            d = torch.full((s.n,), config.depth - 1)
        else:
            d = torch.zeros(s.n, dtype=torch.int64)
        if not s.spiking:
            d = torch.zeros(s.n, dtype=torch.int64)
        shift = int(torch.randint(0, 4, (), generator=g))
        typical = max(1, hi) * (1 << shift) * (s.n_src ** 0.5)
        thr = int(min(s.v_max, max(1, threshold_scale * typical)))
        leak = int(torch.randint(1, 6, (), generator=g)) if config.leak_mode == "shift" \
            else int(torch.randint(128, 257, (), generator=g))
        layers.append(LayerParams(weight=w, delay=d, threshold=thr, leak=leak, weight_shift=shift,
                                  reset_mode=int(torch.randint(0, 2, (), generator=g))))
    in_delay = None
    if config.input_delays:
        in_delay = (torch.randint(0, config.depth, (config.n_in,), generator=g) if delays == "random"
                    else torch.full((config.n_in,), config.depth - 1 if delays == "max" else 0))
    params = NetworkParams(config, layers, in_delay)
    validate(params)
    return params
