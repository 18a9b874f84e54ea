"""The network's settings (`ModelConfig`): sizes, precisions, leak, reset, delays, training-only
options, and the checks that refuse a combination the core cannot run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .quant import check_wbits, is_float

@dataclass
class ModelConfig:
    n_in: int
    sizes: tuple[int, ...]
    n_out: int
    recurrent: tuple[bool, ...] = ()
    wbits: float = 1.58            # 1.58 ternary, 2..8 signed k-bit (symmetric levels), 32 float
    dbits: int = 5                 # delays of dbits bits: D = 2^dbits; 0 = no delays (D = 1)
    v_bits: int = 16
    leak_mode: str = "shift"
    leak: tuple[int, ...] = ()     # per layer, LIF layers then readout (shift k or mul 0..256)
    reset_mode: int = 0            # 0 subtract threshold, 1 reset to zero
    theta_target: int = 1024       # wanted threshold in integer units (chooses weight_shift)
    init_gain: tuple[float, ...] = ()   # per layer: std of initial weights = gain / sqrt(fan_in)
    surrogate: str = "fast_sigmoid"     # or "gaussian"
    surrogate_slope: float = 5.0        # in threshold units
    delay_init: str = "uniform"         # "uniform" over [0, D-1], "zero" or "half"
    max_events: int = 4095
    learn_threshold: bool = False       # LIF thresholds learned (LSQ-style step size), see docs
    learn_leak: bool = False            # leak multipliers learned (leak_mode "mul" only)
    input_delays: bool = False          # one axonal delay per input channel too (the core's
                                        # input delay stage, docs/core.md 2.7)

    def __post_init__(self):
        self.sizes = tuple(int(s) for s in self.sizes)
        self.recurrent = tuple(bool(r) for r in self.recurrent) or (False,) * len(self.sizes)
        self.wbits = check_wbits(self.wbits)
        n_layers = len(self.sizes) + 1
        if not self.leak:
            self.leak = (4,) * n_layers if self.leak_mode == "shift" else (240,) * n_layers
        self.leak = tuple(int(k) for k in self.leak)
        if not self.init_gain:
            self.init_gain = (1.0,) * n_layers
        self.init_gain = tuple(float(g) for g in self.init_gain)
        for field, want in (("recurrent", len(self.sizes)), ("leak", n_layers), ("init_gain", n_layers)):
            got = len(getattr(self, field))
            if got != want:
                raise ValueError(f"ModelConfig.{field}: {want} value(s) for {len(self.sizes)} LIF "
                                 f"layer(s){'' if field == 'recurrent' else ' + readout'}, got {got}")
        if not 0 <= self.dbits <= 6:
            raise ValueError(f"ModelConfig.dbits: 0..6 (D = 2^dbits <= 64), got {self.dbits}")
        if not 8 <= self.v_bits <= 24:
            raise ValueError(f"ModelConfig.v_bits: 8..24, got {self.v_bits}")
        if self.leak_mode not in ("shift", "mul"):
            raise ValueError(f"ModelConfig.leak_mode: 'shift' or 'mul', got {self.leak_mode!r}")
        hi = self.v_bits - 1 if self.leak_mode == "shift" else 256
        if any(not 0 <= k <= hi for k in self.leak):
            raise ValueError(f"ModelConfig.leak: values in 0..{hi} for {self.leak_mode} mode")
        if self.surrogate not in ("fast_sigmoid", "gaussian"):
            raise ValueError(f"ModelConfig.surrogate: 'fast_sigmoid' or 'gaussian'")
        if self.delay_init not in ("uniform", "zero", "half"):
            raise ValueError("ModelConfig.delay_init: 'uniform', 'zero' or 'half'")
        self.learn_threshold = bool(self.learn_threshold)
        self.learn_leak = bool(self.learn_leak)
        self.input_delays = bool(self.input_delays)
        check_learned_registers(self.leak_mode, self.wbits, self.learn_threshold, self.learn_leak)

    @property
    def depth(self) -> int:
        return 1 << self.dbits

    @property
    def hardware(self) -> bool:
        return not is_float(self.wbits)

    @property
    def v_min(self) -> int:
        return -(1 << (self.v_bits - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.v_bits - 1)) - 1

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**d)


def check_learned_registers(leak_mode: str, wbits: float, learn_threshold: bool,
                            learn_leak: bool) -> None:
    """ValueError for a learned register the configuration cannot have."""
    if learn_leak and leak_mode != "mul":
        raise ValueError(
            "learn_leak (--learn-leak) needs leak_mode 'mul': the shift leak v - (v >> k) "
            "has only a handful of discrete time constants (a 5-bit shift amount; the useful "
            "k = 1..5 give tau of about 2, 4, 8, 16, 32 steps), nothing a gradient can move through "
            "smoothly; use --leak-mode mul (the 9-bit multiplier 0..256, e.g. --leak 224,240 "
            "for shifts 3,4) to learn the leak")
    if learn_threshold and is_float(wbits):
        raise ValueError("learn_threshold (--learn-threshold) needs integer weights: in float "
                         "mode (wbits=32) the threshold is only the unit of the float weights "
                         "(no register, no level step to learn)")


# ---------------------------------------------------------------------------------------------
# Autograd pieces
