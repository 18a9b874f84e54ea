"""Stream payloads (docs/core.md, sections 3-5)."""

from amaranth import signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

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


def block_port_members() -> dict:
    """What the network's port engine drives in every block behind the guard (a `Layer`, the
    `InputDelay`): a registered write, a registered read returning `rb_data`, `idle` and
    `hold` (docs/core.md, sections 4 and 5)."""
    return {"wr_en": In(1), "wr_space": In(3), "wr_addr": In(20), "wr_data": In(DATA_BITS),
            "wr_dropped": Out(1),
            "rb_en": In(1), "rb_space": In(3), "rb_addr": In(20), "rb_data": Out(DATA_BITS),
            "idle": Out(1),
            "hold": In(1)}
