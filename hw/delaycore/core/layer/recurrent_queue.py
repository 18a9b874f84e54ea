"""The recurrent queue of a layer (`rec_queue`, docs/core.md 1): the neurons whose delayed spike
feeds back into the layer in the next step, in the order their events left the layer."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from delaycore.core.layer.signatures import QueueReadSignature, QueuePushSignature


class RecurrentQueue(wiring.Component):
    """`push` appends; `read` is the sequencer's side: `restart` empties the queue when an update
    sweep starts, after the rows were issued. That also serves a CLEAR, whose sweep starts the
    same way and emits nothing. A push never meets a restart: a sweep starts only after the last
    event of the step before has left."""

    def __init__(self, n: int, index_bits: int):
        self.n = n
        self.index_bits = index_bits
        super().__init__({
            "read": In(QueueReadSignature(n, index_bits)),
            "push": In(QueuePushSignature(n)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rec_queue = queue = Memory(shape=self.index_bits, depth=self.n, init=[])
        wr, rd = queue.write_port(), queue.read_port()
        length = Signal(range(self.n + 1))
        m.d.comb += [rd.addr.eq(self.read.addr), self.read.data.eq(rd.data),
                     self.read.length.eq(length)]
        with m.If(self.read.restart):
            m.d.sync += length.eq(0)
        with m.If(self.push.en):
            m.d.comb += [wr.addr.eq(length), wr.data.eq(self.push.index), wr.en.eq(1)]
            m.d.sync += length.eq(length + 1)
        return m
