"""Stream payloads (docs/core.md, sections 3-5)."""

from amaranth import signed
from amaranth.lib import data

ADDR_BITS = 16
DATA_BITS = 64


class EventLayout(data.Struct):
    kind: 2
    addr: ADDR_BITS


def OutputLayout(v_bits: int) -> data.StructLayout:
    return data.StructLayout({"kind": 2, "addr": ADDR_BITS, "value": signed(v_bits)})


class WriteLayout(data.Struct):
    layer: 4
    space: 3
    addr: 20
    data: DATA_BITS


class ReadLayout(data.Struct):
    layer: 4
    space: 3
    addr: 20
