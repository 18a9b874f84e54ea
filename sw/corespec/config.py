"""Elaboration parameters of the core (docs/core.md), shared by the golden model, the RTL and the host."""

from dataclasses import dataclass
from math import ceil, log2


def clog2(x: int) -> int:
    return max(0, ceil(log2(x))) if x > 1 else 0


@dataclass(frozen=True)
class LayerShape:
    """What one layer looks like to the datapath: its sources, neurons and kind."""
    n_src: int          # feed-forward sources
    n: int              # neurons
    recurrent: bool
    spiking: bool       # False for the readout layer
    weight_bits: int
    depth: int
    v_bits: int
    max_src_events: int = 0   # most events one step can deliver (0: one per weight row)
    weights_per_word: int = 1 # weights packed in one weight-memory word
    lanes: int = 1            # neurons served per cycle (divides n and weights_per_word)

    @property
    def n_rows(self) -> int:
        """Rows of the weight memory: feed-forward sources, then recurrent sources."""
        return self.n_src + (self.n if self.recurrent else 0)

    @property
    def weight_words(self) -> int:
        """Depth of the weight memory."""
        return -(-self.n_rows * self.n // self.weights_per_word)

    @property
    def acc_bits(self) -> int:
        events = self.max_src_events or self.n_rows
        return self.weight_bits + 7 + clog2(events + 1) + 1

    @property
    def delay_bits(self) -> int:
        return max(1, clog2(self.depth))

    @property
    def index_bits(self) -> int:
        return max(1, clog2(self.n))

    @property
    def v_min(self) -> int:
        return -(1 << (self.v_bits - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.v_bits - 1)) - 1


@dataclass(frozen=True)
class CoreConfig:
    n_in: int
    sizes: tuple[int, ...]
    n_out: int
    recurrent: tuple[bool, ...] = ()
    weight_bits: int = 8
    ternary: bool = False
    depth: int = 8
    v_bits: int = 16
    leak_mode: str = "shift"
    max_events: int = 4095
    weights_per_word: int = 1
    lanes: int = 1
    input_delays: bool = False     # an input delay stage: one axonal delay per input channel

    def __post_init__(self):
        sizes = tuple(self.sizes)
        object.__setattr__(self, "sizes", sizes)
        rec = tuple(bool(r) for r in self.recurrent) or (False,) * len(sizes)
        object.__setattr__(self, "recurrent", rec)
        self._check("n_in", self.n_in, 1, 65535)
        self._check("n_out", self.n_out, 1, 65535)
        if not sizes:
            raise ValueError("CoreConfig.sizes: at least one LIF layer is required")
        if len(sizes) > 14:
            raise ValueError(f"CoreConfig.sizes: at most 14 LIF layers, got {len(sizes)}")
        for i, s in enumerate(sizes):
            self._check(f"sizes[{i}]", s, 1, 65535)
        if len(rec) != len(sizes):
            raise ValueError(f"CoreConfig.recurrent: {len(rec)} entries for {len(sizes)} layers")
        self._check("weight_bits", self.weight_bits, 2, 8)
        if self.ternary and self.weight_bits != 2:
            raise ValueError("CoreConfig.ternary: ternary weights are stored in weight_bits=2")
        self._check("depth", self.depth, 1, 64)
        self._check("v_bits", self.v_bits, 8, 24)
        self._check("max_events", self.max_events, 1, 65535)
        if self.weights_per_word not in (1, 2, 4, 8, 16) or self.weights_per_word * self.weight_bits > 64:
            raise ValueError(f"CoreConfig.weights_per_word: a power of two <= 16 with "
                             f"weights_per_word * weight_bits <= 64, got {self.weights_per_word!r}")
        if (self.lanes not in (1, 2, 4, 8, 16) or self.weights_per_word % self.lanes
                or any(n % self.lanes for n in sizes + (self.n_out,))):
            raise ValueError(f"CoreConfig.lanes: a power of two <= 16 that divides weights_per_word "
                             f"({self.weights_per_word}), every layer size {sizes} and n_out "
                             f"({self.n_out}), got {self.lanes!r}")
        if self.leak_mode not in ("shift", "mul"):
            raise ValueError(f"CoreConfig.leak_mode: 'shift' or 'mul', got {self.leak_mode!r}")
        if not isinstance(self.input_delays, bool):
            raise ValueError(f"CoreConfig.input_delays: a bool, got {self.input_delays!r}")

    @staticmethod
    def _check(name, value, lo, hi):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"CoreConfig.{name}: {value!r} is not an integer in [{lo}, {hi}]")

    @property
    def n_layers(self) -> int:
        """LIF layers plus the readout layer."""
        return len(self.sizes) + 1

    @property
    def layers(self) -> list[LayerShape]:
        srcs = (self.n_in,) + self.sizes
        P, K = self.weights_per_word, self.lanes
        shapes = [LayerShape(srcs[i], n, self.recurrent[i], True, self.weight_bits, self.depth,
                             self.v_bits, 0, P, K) for i, n in enumerate(self.sizes)]
        # Layer 1 can receive up to max_events input events per step (repeats allowed); behind
        # the input delay stage at most one per channel.
        rec0 = self.sizes[0] if self.recurrent[0] else 0
        e_in = self.n_in if self.input_delays else self.max_events
        shapes[0] = LayerShape(self.n_in, self.sizes[0], self.recurrent[0], True, self.weight_bits,
                               self.depth, self.v_bits, e_in + rec0, P, K)
        shapes.append(LayerShape(self.sizes[-1], self.n_out, False, False, self.weight_bits,
                                 self.depth, self.v_bits, 0, P, K))
        return shapes

    @property
    def input_delay_bits(self) -> int:
        """Width of one `in_delay` word (0 without the input delay stage)."""
        return max(1, clog2(self.depth)) if self.input_delays else 0

    @property
    def weight_range(self) -> tuple[int, int]:
        if self.ternary:
            return -1, 1
        return -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1

    @property
    def leak_range(self) -> tuple[int, int]:
        return (0, self.v_bits - 1) if self.leak_mode == "shift" else (0, 256)
