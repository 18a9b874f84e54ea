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
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.config import clog2
from corespec.events import EventKind
from corespec.spaces import Space
from .layouts import EventLayout, DATA_BITS, block_port_members

SPIKE, EOT, CLEAR = EventKind.SPIKE, EventKind.EOT, EventKind.CLEAR
DELAY, HISTORY = Space.DELAY, Space.HISTORY   # the port spaces of the stage (docs/core.md, 4 and 5)
# Pipeline operations.
NONE, CHAN, TOKEN = 0, 1, 2
# Issue states.
IDLE, SWEEP, MARK, DRAIN = range(4)


class InputDelay(wiring.Component):
    """Ports `wr_*` (parameter load) and `rb_*` (readback) as for `Layer`: used only while `idle`,
    with `hold` high so that no input event is taken in the same cycle. Readback returns the word
    on `rb_data` three cycles after it was addressed, as a layer does."""

    def __init__(self, n_in: int, depth: int):
        self.n_in = n_in
        self.depth = depth
        self.delay_bits = max(1, clog2(depth))
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(EventLayout)),
            **block_port_members(),
        })

    def elaborate(self, platform):
        m = Module()
        n, D = self.n_in, self.depth

        m.submodules.in_delay = in_delay = Memory(shape=self.delay_bits, depth=n, init=[])
        m.submodules.in_history = in_history = Memory(shape=D, depth=n, init=[])
        m.submodules.in_arrived = in_arrived = Memory(shape=1, depth=n, init=[])
        d_wr, d_rd = in_delay.write_port(), in_delay.read_port()
        h_wr, h_rd = in_history.write_port(), in_history.read_port()
        a_wr, a_rd = in_arrived.write_port(), in_arrived.read_port()
        reads = (d_rd, h_rd, a_rd)

        state = Signal(range(4))
        j = Signal(range(n + 1))                # the channel being issued
        clear_mode = Signal()
        marker = Signal(2)
        s0_op, s1_op = Signal(2), Signal(2)
        s0_j, s1_j = Signal(range(n)), Signal(range(n))
        next_op = Signal(2)
        s1_hist = Signal(D)
        s1_arr = Signal()
        s1_delay = Signal(self.delay_bits)

        # Last stage: the new history word and its delay tap; whether it emits, and the stall.
        hist_new = Signal(D)
        y = Signal()
        m.d.comb += [hist_new.eq(Cat(s1_arr, s1_hist)[:D]),
                     y.eq((hist_new >> s1_delay)[0])]
        emit = ((s1_op == CHAN) & ~clear_mode & y) | (s1_op == TOKEN)
        stall = emit & ~self.o.ready
        m.d.comb += [
            self.o.valid.eq(emit),
            self.o.payload.kind.eq(Mux(s1_op == TOKEN, marker, SPIKE)),
            self.o.payload.addr.eq(Mux(s1_op == TOKEN, 0, s1_j)),
        ]

        m.d.comb += [p.en.eq(~stall) for p in reads]
        with m.If(~stall):
            m.d.sync += [s0_op.eq(next_op), s0_j.eq(j), s1_op.eq(s0_op), s1_j.eq(s0_j),
                         s1_hist.eq(h_rd.data), s1_arr.eq(a_rd.data), s1_delay.eq(d_rd.data)]

        # A SPIKE is remembered for one cycle and written from registers (module docstring).
        sp_pend = Signal()
        sp_addr = Signal(range(n))
        m.d.sync += sp_pend.eq(0)

        m.d.comb += [
            self.i.ready.eq((state == IDLE) & ~self.hold),
            self.idle.eq((state == IDLE) & (s0_op == NONE) & (s1_op == NONE) & ~sp_pend),
        ]
        accept = self.i.valid & self.i.ready

        # Stage 0: issue.
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(accept):
                    kind = self.i.payload.kind
                    with m.If(kind == SPIKE):
                        m.d.sync += [sp_pend.eq(1), sp_addr.eq(self.i.payload.addr)]
                    with m.Elif((kind == EOT) | (kind == CLEAR)):
                        m.d.sync += [marker.eq(kind), clear_mode.eq(kind == CLEAR), j.eq(0),
                                     state.eq(SWEEP)]
            with m.Case(SWEEP):
                with m.If(~stall):
                    m.d.comb += [next_op.eq(CHAN)] + [p.addr.eq(j) for p in reads]
                    m.d.sync += j.eq(j + 1)
                    with m.If(j == n - 1):
                        m.d.sync += state.eq(MARK)
            with m.Case(MARK):
                with m.If(~stall):
                    m.d.comb += next_op.eq(TOKEN)
                    m.d.sync += state.eq(DRAIN)
            with m.Case(DRAIN):
                with m.If((s1_op == TOKEN) & self.o.ready):
                    m.d.sync += state.eq(IDLE)

        # Last stage: write back (when it advances). `in_arrived` is written by this or by a
        # pending SPIKE, never both in one cycle: a SPIKE is taken only while no sweep runs.
        with m.If((s1_op == CHAN) & ~stall):
            m.d.comb += [h_wr.addr.eq(s1_j), h_wr.en.eq(1),
                         h_wr.data.eq(Mux(clear_mode, 0, hist_new)),
                         a_wr.addr.eq(s1_j), a_wr.en.eq(1), a_wr.data.eq(0)]
        with m.Elif(sp_pend):
            m.d.comb += [a_wr.addr.eq(sp_addr), a_wr.en.eq(1), a_wr.data.eq(1)]

        # Parameter load (only while idle; the network guarantees it).
        wr_ok = ((self.wr_space == DELAY) | (self.wr_space == HISTORY)) & (self.wr_addr < n)
        m.d.comb += self.wr_dropped.eq(self.wr_en & ~wr_ok)
        with m.If(self.wr_en):
            with m.Switch(self.wr_space):
                with m.Case(DELAY):
                    m.d.comb += [d_wr.addr.eq(self.wr_addr), d_wr.data.eq(self.wr_data),
                                 d_wr.en.eq(wr_ok)]
                with m.Case(HISTORY):
                    m.d.comb += [h_wr.addr.eq(self.wr_addr), h_wr.data.eq(self.wr_data),
                                 h_wr.en.eq(wr_ok)]

        # Readback, as in a layer: address the read ports now (cycle c); the read stage registers
        # what they return into s1_* at the end of c + 1; the word is selected in c + 2 and
        # returned registered (rb_data) from c + 3.
        rb_ok = ((self.rb_space == DELAY) | (self.rb_space == HISTORY)) & (self.rb_addr < n)
        rb_space_q, rb_space_q2 = Signal(3), Signal(3)
        rb_ok_q, rb_ok_q2 = Signal(), Signal()
        m.d.sync += [rb_ok_q.eq(0), rb_space_q2.eq(rb_space_q), rb_ok_q2.eq(rb_ok_q)]
        with m.If(self.rb_en):
            m.d.sync += [rb_space_q.eq(self.rb_space), rb_ok_q.eq(rb_ok)]
            m.d.comb += [p.addr.eq(self.rb_addr) for p in reads]
        rb_word = Signal(DATA_BITS)
        m.d.sync += self.rb_data.eq(rb_word)
        with m.If(rb_ok_q2):
            m.d.comb += rb_word.eq(Mux(rb_space_q2 == DELAY, s1_delay, s1_hist))
        return m
