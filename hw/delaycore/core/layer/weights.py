"""A layer's weight memory and its read stage (docs/core.md 1, memories; 6, lanes).

One word holds P weights; with K lanes an accumulate needs the K weights of a group, which lie in
one word (K divides P and n), so the read stage keeps the word and which K-weight chunk of it the
accumulate stage takes. The memory has one address for reads and writes (a single-port RAM: the
UP5K's SPRAM); writes and readback happen only while the layer is held.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from delaycore.core.layer.signatures import LoadSignature, ReadAddressSignature, writable_spaces
from delaycore.core.weight_memory import WeightMemory


class WeightStage(wiring.Component):
    """`flat`: the flat index of the first weight the issue stage needs (its word is read now);
    `word` / `select`: the word the read stage registered and which chunk of it is the group's,
    for the accumulate stage (held while `advance` is low)."""

    def __init__(self, shape: LayerShape):
        self.shape = shape
        P, K = shape.weights_per_word, shape.lanes
        super().__init__({
            "flat": In(range(shape.n_rows * shape.n + 1)),
            "load": In(LoadSignature(writable_spaces(shape), K)),
            "read_addr": In(ReadAddressSignature(K)),
            "advance": In(1),
            "word": Out(P * shape.weight_bits),
            "select": Out(range(max(2, P // K))),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        P, K = s.weights_per_word, s.lanes
        m.submodules.memory = memory = WeightMemory(P * s.weight_bits, s.weight_words)
        select = Signal.like(self.select)
        select_read = Signal.like(self.select)    # the read stage's; `select` is stage 1's
        m.d.comb += [memory.addr.eq(self.flat >> (P.bit_length() - 1)),
                     select.eq((self.flat & (P - 1)) >> (K.bit_length() - 1) if P > K else 0)]
        with m.If(self.advance):
            m.d.sync += [select_read.eq(select), self.select.eq(select_read),
                         self.word.eq(memory.rd_data)]
        with m.If(self.load.weight):
            m.d.comb += [memory.addr.eq(self.load.addr), memory.wr_data.eq(self.load.data),
                         memory.wr_en.eq(self.load.ok)]
        with m.If(self.read_addr.en):
            m.d.comb += memory.addr.eq(self.read_addr.addr)
        return m
