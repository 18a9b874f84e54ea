"""Event words of the input and inter-layer streams (docs/core.md, section 3).

An event word is `kind (2 bits) | addr (16 bits) << 2`. The golden model, the RTL guard, the
layers, the input delay stage, the learner, the link and the host driver all use these names.
"""

from __future__ import annotations

from enum import IntEnum

ADDR_BITS = 16
KIND_BITS = 2
EVENT_BITS = KIND_BITS + ADDR_BITS


class EventKind(IntEnum):
    """The two low bits of an event word; IntEnum, so it is also an Amaranth shape."""
    SPIKE = 0       # a spike of channel / neuron `addr`
    EOT = 1         # end of timestep
    CLEAR = 2       # start of a new sample: clear every membrane, history and accumulator
    RESERVED = 3    # malformed: dropped and counted by the guard


class Verdict(IntEnum):
    """What the input guard does with an event (docs/core.md, section 3)."""
    OK = 0
    BAD_KIND = 1    # RESERVED kind
    BAD_ADDR = 2    # SPIKE addr >= n_in
    EXCESS = 3      # a good SPIKE beyond the step's max_events


def encode_event(kind: int, addr: int = 0) -> int:
    return (kind & 3) | ((addr & 0xFFFF) << KIND_BITS)


def decode_event(word: int) -> tuple[int, int]:
    return word & 3, (word >> KIND_BITS) & 0xFFFF
