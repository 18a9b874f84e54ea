"""Which operation is in which pipeline stage of a layer or of the input delay stage.

Stage 0 is the read stage (the memories return what the issue stage addressed), the last one the
write-back / emit stage. The whole pipeline moves together when `advance` is high (only the last
stage can stall, docs/core.md 6), so one register per stage holds the operation and its group.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from delaycore.core.layer.signatures import Op, StageSignature


class OpPipeline(wiring.Component):
    """`stage[k]` is what stage k works on (`stages` of them). An accumulate is finished in stage
    `accumulate_stage` (written back there), so it leaves the pipeline after it; `empty`: no
    operation in any stage."""

    def __init__(self, groups: int, stages: int, accumulate_stage: int | None = None):
        self.stages = stages
        self.accumulate_stage = accumulate_stage
        super().__init__({
            "issue": In(StageSignature(groups)),
            "advance": In(1),
            "stage": Out(StageSignature(groups)).array(stages),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        with m.If(self.advance):
            m.d.sync += [self.stage[0].op.eq(self.issue.op),
                         self.stage[0].group.eq(self.issue.group)]
            for k in range(1, self.stages):
                before = self.stage[k - 1]
                op = before.op
                if k - 1 == self.accumulate_stage:
                    op = Mux(before.op == Op.ACCUMULATE, Op.NONE, before.op)
                m.d.sync += [self.stage[k].op.eq(op), self.stage[k].group.eq(before.group)]
        m.d.comb += self.empty.eq(Cat(stage.op == Op.NONE for stage in self.stage).all())
        return m
