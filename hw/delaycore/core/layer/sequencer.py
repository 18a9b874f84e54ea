"""The issue stage of a layer and of the input delay stage: which operation enters the pipeline in
each cycle (docs/core.md, section 6).

A layer takes an input event while `IDLE`. A `SPIKE` issues one accumulate per group, the first
in the cycle it is accepted (`SWEEP` for the rest). A marker (`EOT`, `CLEAR`) issues the queued
recurrent rows (`REC`, recurrent layers, `EOT` only), then one update per group (`UPDATE`, held
while the last stage stalls), then the marker itself (`MARK`), and waits until the marker has left
the last stage (`DRAIN`). The input delay stage is the same sequencer without accumulates: a
`SPIKE` issues nothing here (the stage itself remembers it) and a marker sweeps the channels.
"""

from types import SimpleNamespace

from amaranth import *
from amaranth.lib import enum, wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from corespec.events import EventKind
from delaycore.core.layouts import EventLayout
from delaycore.core.layer.signatures import Op, StageSignature, QueueReadSignature


class IssueState(enum.Enum, shape=3):
    """The sequencer's state (the values are the encoding)."""
    IDLE = 0      # takes input events
    SWEEP = 1     # the accumulates of an accepted SPIKE, one group a cycle
    REC = 2       # the rows of the neurons queued last step (recurrent layers)
    UPDATE = 3    # the update sweep, one group (input delay stage: one channel) a cycle
    MARK = 4      # issue the marker
    DRAIN = 5     # wait until the marker has been accepted at the output


def times_const(x, k: int):
    """x * k as a sum of shifted copies of x: a constant multiply that stays in logic instead of
    becoming a DSP block on the weight-address path."""
    terms = [x << b for b in range(k.bit_length()) if (k >> b) & 1]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


class Sequencer(wiring.Component):
    """`groups` operations per sweep. With `shape` (a layer): a SPIKE sweeps accumulates over the
    weight row of its source, recurrent rows come before the update sweep when the layer is
    recurrent, and `flat` is the weight-memory index of the issued group's first weight. Without
    (the input delay stage): only the marker sweep.

    `issue` is the operation of this cycle (`Op.NONE` and group 0 when nothing is issued);
    `position` the sweep counter, which the input delay stage's pipeline carries as its channel.
    `stall` holds the update sweep and the marker; `drained` (the marker is accepted at the
    output) ends the step. `resting`: in IDLE.
    """

    def __init__(self, groups: int, shape: LayerShape | None = None):
        self.groups = groups
        self.shape = shape
        members = {
            "i": In(stream.Signature(EventLayout)),
            "hold": In(1),
            "stall": In(1),
            "drained": In(1),
            "issue": Out(StageSignature(groups)),
            "position": Out(range(groups + 1)),
            "marker": Out(EventKind),
            "clear": Out(1),
            "resting": Out(1),
        }
        if shape is not None:
            members["flat"] = Out(range(shape.n_rows * shape.n + 1))
            if shape.recurrent:
                members["queue"] = Out(QueueReadSignature(shape.n, shape.index_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        r = SimpleNamespace(state=Signal(IssueState),
                            j=Signal(range(self.groups + 1)))      # the group being issued
        if s is not None:
            r.row_base = Signal(range(s.n_rows * s.n + 1))         # flat index of the row's start
        if s is not None and s.recurrent:
            r.rows = Signal(range(s.n + 1))                        # recurrent rows to issue
            r.row = Signal(range(s.n + 1))                         # the row being issued
        m.d.comb += [self.i.ready.eq((r.state == IssueState.IDLE) & ~self.hold),
                     self.resting.eq(r.state == IssueState.IDLE), self.position.eq(r.j)]
        with m.Switch(r.state):
            with m.Case(IssueState.IDLE):
                self.take_event(m, r)
            if s is not None:
                with m.Case(IssueState.SWEEP):
                    self.accumulate(m, r.row_base, r.j)
                    m.d.sync += r.j.eq(r.j + 1)
                    with m.If(r.j == self.groups - 1):
                        m.d.sync += r.state.eq(IssueState.IDLE)
            if s is not None and s.recurrent:
                with m.Case(IssueState.REC):
                    self.recurrent_rows(m, r)
            with m.Case(IssueState.UPDATE):
                self.update_sweep(m, r)
            with m.Case(IssueState.MARK):
                with m.If(~self.stall):
                    m.d.comb += self.issue.op.eq(Op.TOKEN)
                    m.d.sync += r.state.eq(IssueState.DRAIN)
            with m.Case(IssueState.DRAIN):
                with m.If(self.drained):
                    m.d.sync += r.state.eq(IssueState.IDLE)
        return m

    def accumulate(self, m, row, group):
        """Issue the accumulate of `group` for the weight row starting at flat index `row`."""
        lane_bits = self.shape.lanes.bit_length() - 1
        m.d.comb += [self.flat.eq(row + (group << lane_bits)), self.issue.op.eq(Op.ACCUMULATE),
                     self.issue.group.eq(group)]

    def take_event(self, m, r):
        """IDLE: take an input event. The first accumulate of a SPIKE addresses the memories
        whether or not an item is accepted (a read that nothing uses is harmless), so the
        handshake only decides the operation: no path runs from the input's valid through the
        guard into a block-RAM address."""
        s = self.shape
        kind = self.i.payload.kind
        if s is not None:
            base = times_const(self.i.payload.addr, s.n)
            m.d.comb += self.flat.eq(base)
        with m.If(self.i.valid & self.i.ready):
            with m.If(kind == EventKind.SPIKE):
                if s is not None:
                    self.accumulate(m, base, 0)
                    m.d.sync += r.row_base.eq(base)
                    if self.groups > 1:
                        m.d.sync += [r.state.eq(IssueState.SWEEP), r.j.eq(1)]
            with m.Elif((kind == EventKind.EOT) | (kind == EventKind.CLEAR)):
                m.d.sync += [self.marker.eq(kind), self.clear.eq(kind == EventKind.CLEAR),
                             r.j.eq(0), r.state.eq(IssueState.UPDATE)]
                if s is not None and s.recurrent:
                    m.d.sync += [r.rows.eq(self.queue.length), r.row.eq(0)]
                    with m.If((kind == EventKind.EOT) & (self.queue.length != 0)):
                        m.d.sync += r.state.eq(IssueState.REC)

    def recurrent_rows(self, m, r):
        """REC: one row per queued neuron, `groups` cycles each. The queue's next entry is read
        while a row is issued; a row's flat index is computed at its first group."""
        s = self.shape
        base = Mux(r.j == 0, times_const(s.n_src + self.queue.data, s.n), r.row_base)
        self.accumulate(m, base, r.j)
        m.d.comb += self.queue.addr.eq(r.row + 1)
        m.d.sync += [r.row_base.eq(base), r.j.eq(r.j + 1)]
        with m.If(r.j == self.groups - 1):
            m.d.sync += [r.j.eq(0), r.row.eq(r.row + 1)]
            with m.If(r.row + 1 == r.rows):
                m.d.sync += r.state.eq(IssueState.UPDATE)

    def update_sweep(self, m, r):
        """UPDATE: one update per cycle unless the last stage stalls; the recurrent queue starts
        collecting this step's events with the first."""
        with m.If(~self.stall):
            m.d.comb += [self.issue.op.eq(Op.UPDATE), self.issue.group.eq(r.j)]
            m.d.sync += r.j.eq(r.j + 1)
            if self.shape is not None and self.shape.recurrent:
                with m.If(r.j == 0):
                    m.d.comb += self.queue.restart.eq(1)
            with m.If(r.j == self.groups - 1):
                m.d.sync += r.state.eq(IssueState.MARK)
