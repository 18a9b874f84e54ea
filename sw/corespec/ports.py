"""Payloads of the core's parameter-load and readback ports and of its output stream
(docs/core.md, sections 3-5), as plain integers: what the RTL's `layouts` declare as structs,
for testbenches and hosts that build or take apart the words themselves.

A port request is `layer (4) | space (3) | addr (20)`, a load word appends `data (64)`; an
output item is `kind (2) | addr (16) | value (v_bits, signed)`.
"""

from __future__ import annotations

from .events import ADDR_BITS, KIND_BITS

LAYER_BITS = 4
SPACE_BITS = 3
PORT_ADDR_BITS = 20
DATA_BITS = 64
REQUEST_BITS = LAYER_BITS + SPACE_BITS + PORT_ADDR_BITS
DATA_MASK = (1 << DATA_BITS) - 1


def port_request(layer: int, space: int, addr: int) -> int:
    """A readback request (and the address part of a load word)."""
    return layer | (space << LAYER_BITS) | (addr << (LAYER_BITS + SPACE_BITS))


def load_word(layer: int, space: int, addr: int, data: int) -> int:
    """A parameter-load word; `data` is taken modulo 2^64 (negative values as two's complement)."""
    return port_request(layer, space, addr) | ((data & DATA_MASK) << REQUEST_BITS)


def signed(word: int, bits: int) -> int:
    """The low `bits` of `word` as a two's-complement number."""
    word &= (1 << bits) - 1
    return word - (1 << bits) if word >> (bits - 1) else word


def output_item(word: int, v_bits: int) -> tuple[int, int, int]:
    """An output stream word -> (kind, addr, value)."""
    return (word & ((1 << KIND_BITS) - 1), (word >> KIND_BITS) & ((1 << ADDR_BITS) - 1),
            signed(word >> (KIND_BITS + ADDR_BITS), v_bits))
