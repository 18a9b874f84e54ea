"""Stream payloads (docs/core.md, sections 3-5), and the port between the network's port engine
and the blocks behind the guard."""

from amaranth import signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from corespec.spaces import Space

ADDR_BITS = 16
DATA_BITS = 64
LAYER_BITS = 4          # port layers 0 .. 15 (15: the input delay stage, docs/core.md 4)
PORT_ADDR_BITS = 20     # the address inside a port space


class EventLayout(data.Struct):
    kind: 2
    addr: ADDR_BITS


def OutputLayout(v_bits: int) -> data.StructLayout:
    return data.StructLayout({"kind": 2, "addr": ADDR_BITS, "value": signed(v_bits)})


class WriteLayout(data.Struct):
    layer: LAYER_BITS
    space: 3
    addr: PORT_ADDR_BITS
    data: DATA_BITS


class ReadLayout(data.Struct):
    layer: LAYER_BITS
    space: 3
    addr: PORT_ADDR_BITS


class BlockWriteSignature(wiring.Signature):
    """A parameter write that the network's port engine applies to one block (docs/core.md, 4),
    seen from the engine.

    Members
    -------
    en : Out(1)
        Write in this cycle (the block is held: it takes no input event in this cycle).
    space : Out(Space)
    addr : Out(PORT_ADDR_BITS)
    data : Out(DATA_BITS)
        The word; each space keeps the low bits it has room for.
    dropped : In(1)
        The address is outside the space: nothing is written (counted in `dropped_writes`).
    """

    def __init__(self):
        super().__init__({"en": Out(1), "space": Out(Space), "addr": Out(PORT_ADDR_BITS),
                          "data": Out(DATA_BITS), "dropped": In(1)})


class BlockReadSignature(wiring.Signature):
    """A readback request that the network's port engine applies to one block (docs/core.md, 5),
    seen from the engine.

    Members
    -------
    en : Out(1)
        Address the word in this cycle `c` (the block is held).
    space : Out(Space)
    addr : Out(PORT_ADDR_BITS)
    data : In(DATA_BITS)
        The word, registered, in cycle `c + 3` (0 in other cycles, and for an address outside the
        block's spaces).
    """

    def __init__(self):
        super().__init__({"en": Out(1), "space": Out(Space), "addr": Out(PORT_ADDR_BITS),
                          "data": In(DATA_BITS)})


class BlockPortSignature(wiring.Signature):
    """What the network's port engine drives in every block behind the guard (a `Layer`, the
    `InputDelay`), seen from the engine; a block has `In(BlockPortSignature())`.

    Members
    -------
    write : Out(BlockWriteSignature)
    read : Out(BlockReadSignature)
    hold : Out(1)
        The block takes no input event in this cycle (a write or read is applied in it).
    idle : In(1)
        Nothing in flight: a write or read may be applied in the next cycle if nothing is
        presented at the block's input.
    """

    def __init__(self):
        super().__init__({"write": Out(BlockWriteSignature()), "read": Out(BlockReadSignature()),
                          "hold": Out(1), "idle": In(1)})



class CoreSignature(wiring.Signature):
    """The core seen from outside (docs/core.md, sections 3-5): what `Network` and
    `LearningNetwork` are, and what the host link drives.

    Members
    -------
    i : In(stream.Signature(EventLayout))
        Input event words: SPIKE, EOT, CLEAR.
    o : Out(stream.Signature(OutputLayout(v_bits)))
        Output items (docs/core.md 3.2): each step, the readout's membranes `v'` (one item per
        readout neuron), then the step's EOT (or a CLEAR) marker.
    load : In(stream.Signature(WriteLayout))
        Parameter writes.
    rb_req : In(stream.Signature(ReadLayout))
        Readback requests.
    rb_resp : Out(stream.Signature(DATA_BITS))
        Readback words, one per request, in order.
    label : In(stream.Signature(16))
        With `learning` only: the class of the sample just run, for the learning engine.
    """

    def __init__(self, v_bits: int, learning: bool = False):
        members = {
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(OutputLayout(v_bits))),
            "load": In(stream.Signature(WriteLayout)),
            "rb_req": In(stream.Signature(ReadLayout)),
            "rb_resp": Out(stream.Signature(DATA_BITS)),
        }
        if learning:
            members["label"] = In(stream.Signature(16))
        super().__init__(members)
