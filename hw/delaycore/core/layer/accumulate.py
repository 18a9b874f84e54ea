"""The accumulate stage of a layer (docs/core.md 2.1): a group's K sums plus the K weights of one
source, `w << weight_shift` each, written back in the same stage."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from delaycore.core.layer.signatures import Op, StageSignature, AccumulateWriteSignature


class Accumulate(wiring.Component):
    """`word` / `select`: the weight word and which K-weight chunk of it is the group's; `acc`:
    the group's sums from the read stage. The write happens when `stage` is an accumulate."""

    def __init__(self, shape: LayerShape):
        self.shape = shape
        P, K = shape.weights_per_word, shape.lanes
        super().__init__({
            "stage": In(StageSignature(shape.n // K)),
            "word": In(P * shape.weight_bits),
            "select": In(range(max(2, P // K))),
            "acc": In(signed(shape.acc_bits)).array(K),
            "weight_shift": In(3),
            "write": Out(AccumulateWriteSignature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        P, K = s.weights_per_word, s.lanes
        chunk = self.word.word_select(self.select, K * s.weight_bits) if P > K else self.word
        for k in range(K):
            w = chunk.word_select(k, s.weight_bits).as_signed()
            m.d.comb += self.write.sum[k].eq(self.acc[k] + (w << self.weight_shift))
        m.d.comb += [self.write.en.eq(self.stage.op == Op.ACCUMULATE),
                     self.write.group.eq(self.stage.group)]
        return m
