"""The learning engine's register file, memory regions and widths (docs/learning.md, section 5).

The golden learner (`golden_model.learning`), the RTL engine (`delaycore.learning.learner`) and the host
(`hostlink`, `onchip_learning.presets`) share these names. Space LEARN (`corespec.spaces.Space`)
of the load/readback ports: addr[19:16] is the region.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum, IntFlag

TRACE_BITS, TRACE_MAX = 10, 1023
PSI_MAX = 15
ELIG_W_MAX = (1 << 16) - 1
ELIG_D_MIN, ELIG_D_MAX = -(1 << 15), (1 << 15) - 1
SCORE_MIN, SCORE_MAX = -(1 << 31), (1 << 31) - 1
LFSR_TAPS = 0x80200003          # x^32 + x^22 + x^2 + x + 1, Galois form
COUNTER_MAX = (1 << 32) - 1


class Region(IntEnum):
    """addr[19:16] in space LEARN."""
    REGS = 0
    TRACE_R = 1
    TRACE_ALT_R = 2
    ELIG_W_R = 3
    ELIG_D_R = 4
    TRACE_H = 5
    TRACE_ALT_H = 6
    ELIG_W_H = 7
    ELIG_D_H = 8
    SCORE = 9
    STATUS = 10


class LearnStatus(IntEnum):
    """The engine's counters in region STATUS."""
    LEARNED = 0
    REJECTED_LABELS = 1
    IGNORED_LABELS = 2


class Enable(IntFlag):
    """Bits of the `enable` register."""
    ON = 1          # the engine observes steps and learns on a label
    W_R = 2         # pair R (readout): weights
    D_R = 4         # pair R: delays of the last hidden layer
    W_H = 8         # pair H (hidden): weights
    D_H = 16        # pair H: delays of the layer below
    STOCHASTIC = 32 # stochastic rounding from the LFSR (else half up)


@dataclass
class LearnRegisters:
    """Run-time registers of the engine, in register-number order (docs/learning.md, section 5)."""
    enable: int = 0
    lr_shift_R: int = 0
    lr_shift_H: int = 0
    trace_shift_R: int = 0
    trace_inc_R: int = 0
    trace_shift_H: int = 0
    trace_inc_H: int = 0
    psi_shift: int = 0
    elig_shift_R: int = 0
    elig_shift_H: int = 0
    margin: int = 0
    delay_thresh_R: int = 0
    delay_thresh_H: int = 0
    lfsr: int = 1

    WIDTHS = (6, 5, 5, 4, 10, 4, 10, 5, 4, 4, 16, 16, 16, 32)

    def __post_init__(self):
        for f, width in zip(fields(self), self.WIDTHS):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < (1 << width):
                raise ValueError(f"LearnRegisters.{f.name}: {v!r} is not an integer in "
                                 f"[0, {(1 << width) - 1}]")
        if self.lfsr == 0:
            self.lfsr = 1

    @classmethod
    def number(cls, name: str) -> int:
        """Register number of the field `name` (its position: docs/learning.md, section 5)."""
        return [f.name for f in fields(cls)].index(name)

    def words(self) -> list[tuple[int, int]]:
        """(register number, value) in the order a host writes them."""
        return [(i, getattr(self, f.name)) for i, f in enumerate(fields(self))]

    def write(self, reg: int, data: int) -> bool:
        """A register write as the core applies it (truncated to the width); False if no such reg."""
        if not 0 <= reg < len(self.WIDTHS):
            return False
        f = fields(self)[reg]
        value = data & ((1 << self.WIDTHS[reg]) - 1)
        setattr(self, f.name, value if (f.name != "lfsr" or value) else 1)
        return True


def lfsr_next(state: int) -> int:
    """One step of the 32-bit Galois LFSR x^32 + x^22 + x^2 + x + 1."""
    b = state & 1
    state >>= 1
    return state ^ LFSR_TAPS if b else state
