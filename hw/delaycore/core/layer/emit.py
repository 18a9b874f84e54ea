"""The last stage of a layer and of the input delay stage: write back and emit (docs/core.md 6).

It presents the events of its group one per cycle, lowest lane first, then lets the pipeline
advance with the acceptance of the last one; a group without an event, or a CLEAR sweep, advances
at once. After the sweep it presents the marker. This is the only stage the output stream can
stall, and its stall comes straight from registers (the stage's operation, the fired lanes, the
lanes already sent) and the output's ready, which keeps the arithmetic off the handshake path.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.events import EventKind
from delaycore.core.layouts import EventLayout, OutputLayout
from delaycore.core.layer.signatures import Op, StageSignature, QueuePushSignature


class EmitStage(wiring.Component):
    """`groups` groups of `lanes` neurons. `fired`: the lanes of the stage's group that emit an
    event; `values`: their new membranes (the readout's output items carry them, `value_bits`).
    `retire`: an update leaves the stage now (its group is written back); `push`: an update's
    event is accepted (recurrent layers queue it); `drained`: the marker is accepted."""

    def __init__(self, groups: int, lanes: int = 1, value_bits: int | None = None):
        self.groups = groups
        self.lanes = lanes
        self.value_bits = value_bits
        layout = EventLayout if value_bits is None else OutputLayout(value_bits)
        members = {
            "stage": In(StageSignature(groups)),
            "clear": In(1),
            "marker": In(EventKind),
            "fired": In(lanes),
            "o": Out(stream.Signature(layout)),
            "stall": Out(1),
            "retire": Out(1),
            "push": Out(QueuePushSignature(groups * lanes)),
            "drained": Out(1),
        }
        if value_bits is not None:
            members["values"] = In(signed(value_bits)).array(lanes)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        token = self.stage.op == Op.TOKEN
        update = self.stage.op == Op.UPDATE
        index = Signal(range(max(2, self.groups * self.lanes)))     # of the item presented
        value = Signal(signed(self.value_bits)) if self.value_bits is not None else None
        if self.lanes == 1:
            emit = (update & ~self.clear & self.fired[0]) | token
            m.d.comb += [self.stall.eq(emit & ~self.o.ready), index.eq(self.stage.group)]
            if self.value_bits is not None:
                m.d.comb += value.eq(self.values[0])
        else:
            emit = self.one_lane_a_cycle(m, update, token, index, value)
        m.d.comb += [
            self.o.valid.eq(emit),
            self.o.payload.kind.eq(Mux(token, self.marker, EventKind.SPIKE)),
            self.o.payload.addr.eq(Mux(token, 0, index)),
            self.retire.eq(update & ~self.stall),
            self.push.en.eq(update & self.o.valid & self.o.ready),
            self.push.index.eq(index),
            self.drained.eq(token & self.o.ready),
        ]
        if self.value_bits is not None:
            m.d.comb += self.o.payload.value.eq(Mux(token, 0, value))
        return m

    def one_lane_a_cycle(self, m, update, token, index, value):
        """With K lanes the group's events leave one per cycle, lowest lane first: `sent` marks
        the lanes already accepted; the stage advances with the acceptance of its last event.
        -> whether an item is presented."""
        K = self.lanes
        sent = Signal(K)
        pending = Signal(K)
        m.d.comb += pending.eq(Mux(update & ~self.clear, self.fired, 0) & ~sent)
        last = (pending & (pending - 1)) == 0      # at most one event left
        emit = pending.any() | token
        m.d.comb += self.stall.eq(emit & ~(last & self.o.ready))
        lane = Signal(range(K))
        for k in reversed(range(K)):               # the lowest pending lane
            with m.If(pending[k]):
                m.d.comb += lane.eq(k)
        m.d.comb += index.eq(Cat(lane, self.stage.group))
        if self.value_bits is not None:
            m.d.comb += value.eq(Array(self.values)[lane])
        with m.If(~self.stall):
            m.d.sync += sent.eq(0)
        with m.Elif(self.o.ready):
            m.d.sync += sent.eq(sent | (pending & -pending))
        return emit
