"""Address spaces of the core's load and readback ports, and the registers and status counters
inside them (docs/core.md, section 4; the learning engine's space: docs/learning.md, section 5).

A port address is `space (3 bits) | layer | addr`; the names are shared by the golden model's
loader, the RTL's port decoders, the link's port engine and the host driver.
"""

from __future__ import annotations

from enum import IntEnum


class Space(IntEnum):
    WEIGHT = 0      # packed weight words of a layer
    DELAY = 1       # one axonal delay per neuron
    REGISTER = 2    # a layer's registers (`Register`)
    MEMBRANE = 3    # readback only
    HISTORY = 4     # readback only: the delay ring buffers' spike history
    ACCUM = 5       # readback only: the readout's accumulated score
    LEARN = 6       # the learning engine (`corespec.learning.Region`)
    STATUS = 7      # readback only: the core's status counters (`StatusCounter`)


class Register(IntEnum):
    """Registers of one layer in space REGISTER."""
    THRESHOLD = 0
    LEAK = 1
    WEIGHT_SHIFT = 2
    RESET_MODE = 3


class StatusCounter(IntEnum):
    """The core's 32-bit counters in space STATUS."""
    DROPPED_KIND = 0
    DROPPED_ADDR = 1
    DROPPED_WRITES = 2
    STEPS = 3
    DROPPED_EXCESS = 4


INPUT_STAGE_LAYER = 15   # the layer index that addresses the input delay stage (docs/core.md 2.7)
