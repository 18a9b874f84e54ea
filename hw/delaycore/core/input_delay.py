"""The input delay stage (docs/core.md, 2.7): one axonal delay per input channel, before layer 1.

It treats the input channels as neurons whose spike is "got at least one event this step", so it
is built like a layer with the arithmetic taken out. A `SPIKE c` only sets `in_arrived[c]` (a
repeat changes nothing: counts become spikes), so the stage takes one event a cycle. A marker
starts a sweep over the channels in index order, one a cycle, in three stages: issue (address the
memories); read (register what they return, so no logic follows a block-RAM output in the same
cycle); write back and emit (`hist' = ((hist << 1) | arrived) & mask`, `y = hist'[d]`, write
`hist'` or 0 for a CLEAR, clear `arrived`, present `SPIKE c` if `y`). Only the last stage can be
stalled, by layer 1, and the stall holds the whole pipeline; then the marker follows. Per channel
the stage costs D + clog2(D) + 1 bits of memory and no adder: the delay is a tap of the history
word, as in a layer. Timing is the schedule of docs/core.md, section 6.

The set of `in_arrived[c]` is written the cycle after the SPIKE was taken, from registers, so no
path runs from the core input's valid (through the guard) into a block-RAM write enable; the
earliest sweep read of that word is two cycles after the SPIKE, so it always sees the write.

The issue stage, the pipeline registers, the emit stage and the port decoder are the layer's
(core/layer/sequencer.py, core/layer/pipeline.py, core/layer/emit.py, core/layer/port_decoder.py) with one lane and
no accumulates.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.config import clog2
from corespec.events import EventKind
from corespec.spaces import Space
from delaycore.core.layouts import EventLayout, BlockPortSignature
from delaycore.core.layer.emit import EmitStage
from delaycore.core.layer.pipeline import OpPipeline
from delaycore.core.layer.port_decoder import PortDecoder
from delaycore.core.layer.sequencer import Sequencer
from delaycore.core.layer.signatures import Op

STAGES = 2      # registered stages after issue: read, write back and emit
EMIT_STAGE = 1


class InputDelay(wiring.Component):
    """`port` as for `Layer`: used only while `port.idle`, with `port.hold` high so that no input
    event is taken in the same cycle. Readback returns the word on `port.read.data` three cycles
    after it was addressed, as a layer does."""

    def __init__(self, n_in: int, depth: int):
        self.n_in = n_in
        self.depth = depth
        self.delay_bits = max(1, clog2(depth))
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(EventLayout)),
            "port": In(BlockPortSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n_in
        sizes = {Space.DELAY: n, Space.HISTORY: n}    # the stage's spaces (docs/core.md, 4 and 5)
        m.submodules.sequencer = seq = Sequencer(n)
        m.submodules.pipeline = pipe = OpPipeline(n, STAGES)
        m.submodules.emit = emit = EmitStage(n)
        m.submodules.port_decoder = dec = PortDecoder(
            sizes, sizes, {Space.DELAY: (self.delay_bits, 1), Space.HISTORY: (self.depth, 1)})
        wiring.connect(m, wiring.flipped(self.i), seq.i)
        wiring.connect(m, emit.o, wiring.flipped(self.o))
        wiring.connect(m, pipe.stage[EMIT_STAGE], emit.stage)
        wiring.connect(m, wiring.flipped(self.port.write), dec.write)
        wiring.connect(m, wiring.flipped(self.port.read), dec.read)
        # The pipeline carries the channel counter itself (not 0 between sweeps).
        m.d.comb += [pipe.issue.op.eq(seq.issue.op), pipe.issue.group.eq(seq.position),
                     pipe.advance.eq(~emit.stall),
                     seq.hold.eq(self.port.hold), seq.stall.eq(emit.stall),
                     seq.drained.eq(emit.drained),
                     emit.clear.eq(seq.clear), emit.marker.eq(seq.marker)]
        spike_pending = self.channel_memories(m, seq, pipe, emit, dec)
        m.d.comb += self.port.idle.eq(seq.resting & pipe.empty & ~spike_pending)
        return m

    def channel_memories(self, m, seq, pipe, emit, dec):
        """in_delay, in_history, in_arrived; their read stage; the new history word and its tap.
        -> whether a SPIKE is waiting to be written into in_arrived."""
        n, D = self.n_in, self.depth
        m.submodules.in_delay = in_delay = Memory(shape=self.delay_bits, depth=n, init=[])
        m.submodules.in_history = in_history = Memory(shape=D, depth=n, init=[])
        m.submodules.in_arrived = in_arrived = Memory(shape=1, depth=n, init=[])
        d_wr, d_rd = in_delay.write_port(), in_delay.read_port()
        h_wr, h_rd = in_history.write_port(), in_history.read_port()
        a_wr, a_rd = in_arrived.write_port(), in_arrived.read_port()
        reads = (d_rd, h_rd, a_rd)

        # The read stage, and the last stage's new history word and delay tap.
        hist, arrived, delay = Signal(D), Signal(), Signal(self.delay_bits)
        hist_new, y = Signal(D), Signal()
        m.d.comb += [p.en.eq(~emit.stall) for p in reads]
        with m.If(~emit.stall):
            m.d.sync += [hist.eq(h_rd.data), arrived.eq(a_rd.data), delay.eq(d_rd.data)]
        m.d.comb += [hist_new.eq(Cat(arrived, hist)[:D]), y.eq((hist_new >> delay)[0]),
                     emit.fired.eq(y)]
        with m.If(seq.issue.op == Op.UPDATE):
            m.d.comb += [p.addr.eq(seq.issue.group) for p in reads]

        # A SPIKE is remembered for one cycle and written from registers (module docstring).
        spike_pending = Signal()
        spike_channel = Signal(range(n))
        m.d.sync += spike_pending.eq(0)
        with m.If(self.i.valid & self.i.ready & (self.i.payload.kind == EventKind.SPIKE)):
            m.d.sync += [spike_pending.eq(1), spike_channel.eq(self.i.payload.addr)]

        # Write back (when the last stage advances). `in_arrived` is written by this or by a
        # pending SPIKE, never both in one cycle: a SPIKE is taken only while no sweep runs.
        channel = pipe.stage[EMIT_STAGE].group
        with m.If(emit.retire):
            m.d.comb += [h_wr.addr.eq(channel), h_wr.en.eq(1),
                         h_wr.data.eq(Mux(seq.clear, 0, hist_new)),
                         a_wr.addr.eq(channel), a_wr.en.eq(1), a_wr.data.eq(0)]
        with m.Elif(spike_pending):
            m.d.comb += [a_wr.addr.eq(spike_channel), a_wr.en.eq(1), a_wr.data.eq(1)]

        # Parameter load and readback (only while idle; the network guarantees it).
        load = dec.load
        for wr, space_selected in ((d_wr, load.delay), (h_wr, load.history)):
            with m.If(space_selected):
                m.d.comb += [wr.addr.eq(load.addr), wr.data.eq(load.data), wr.en.eq(load.ok)]
        with m.If(dec.read_addr.en):
            m.d.comb += [p.addr.eq(dec.read_addr.addr) for p in reads]
        m.d.comb += [dec.sources.delay[0].eq(delay), dec.sources.history[0].eq(hist)]
        return spike_pending
