"""One time-multiplexed layer: LIF with per-neuron axonal delays, or the non-spiking readout.

One datapath is shared by every neuron and does one synaptic accumulate or one neuron update per
cycle. Every operation issues its memory reads (stage 0), then registers what the memories return
(the read stage, `s0_*` -> `s1_*`), so no arithmetic follows a block-RAM output in the same cycle.
Accumulates then add and write back (stage 1). Neuron updates take five stages: issue; read;
integrate (leak + sum); fire (saturate, threshold, reset, delay tap); write back and emit. Only
the last stage can be stalled by the output stream, and its stall signal comes straight from
registers, which keeps the long arithmetic off the handshake path. Timing is the schedule of
docs/core.md, section 6, which `golden_model.schedule` reproduces cycle for cycle.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import LayerShape
from .layouts import EventLayout, OutputLayout, DATA_BITS
from .neuron import Integrate, Fire, total_shape
from .weight_memory import WeightMemory

SPIKE, EOT, CLEAR = 0, 1, 2
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM = 0, 1, 2, 3, 4, 5
# Stage-1 operations.
NONE, ACC, UPD, TOKEN = 0, 1, 2, 3
# Issue states.
IDLE, SWEEP, REC, UPDATE, MARK, DRAIN = range(6)


def times_const(x, k: int):
    """x * k as a sum of shifted copies of x: a constant multiply that stays in logic instead of
    becoming a DSP block on the weight-address path."""
    terms = [x << b for b in range(k.bit_length()) if (k >> b) & 1]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


class Layer(wiring.Component):
    """Ports `wr_*` (parameter load) and `rb_*` (readback) may only be used while `idle`, with
    `hold` high so that no input event is taken in the same cycle."""

    def __init__(self, shape: LayerShape, leak_mode: str = "shift"):
        self.shape = shape
        self.leak_mode = leak_mode
        out = EventLayout if shape.spiking else OutputLayout(shape.v_bits)
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(out)),
            "wr_en": In(1), "wr_space": In(3), "wr_addr": In(20), "wr_data": In(DATA_BITS),
            "wr_dropped": Out(1),
            "rb_en": In(1), "rb_space": In(3), "rb_addr": In(20), "rb_data": Out(DATA_BITS),
            "idle": Out(1),
            "hold": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        n = s.n

        # Memories: one read and one write port each (simple dual-port block RAM).
        P = s.weights_per_word
        m.submodules.weight = weight = WeightMemory(P * s.weight_bits, s.weight_words)
        m.submodules.membrane = membrane = Memory(shape=signed(s.v_bits), depth=n, init=[])
        m.submodules.accum = accum = Memory(shape=signed(s.acc_bits), depth=n, init=[])
        # One address for reads and writes (writes only happen while idle): a single-port RAM.
        w_addr = weight.addr
        v_wr = membrane.write_port()
        v_rd = membrane.read_port(transparent_for=(v_wr,))
        a_wr = accum.write_port()
        a_rd = accum.read_port(transparent_for=(a_wr,))
        if s.spiking:
            m.submodules.history = history = Memory(shape=s.depth, depth=n, init=[])
            m.submodules.delay = delay = Memory(shape=s.delay_bits, depth=n, init=[])
            h_wr = history.write_port()
            h_rd = history.read_port(transparent_for=(h_wr,))
            d_wr, d_rd = delay.write_port(), delay.read_port()
        if s.recurrent:
            m.submodules.rec_queue = rec_queue = Memory(shape=s.index_bits, depth=n, init=[])
            q_wr, q_rd = rec_queue.write_port(), rec_queue.read_port()

        # Run-time registers.
        threshold = Signal(s.v_bits - 1, init=1)
        leak = Signal(5 if self.leak_mode == "shift" else 9)
        weight_shift = Signal(3)
        reset_mode = Signal(1)

        m.submodules.integrate = integrate = Integrate(s, self.leak_mode)
        m.submodules.fire = fire = Fire(s)

        state = Signal(range(6))
        j = Signal(range(n + 1))
        row_base = Signal(range(s.n_rows * n + 1))
        clear_mode = Signal()
        marker = Signal(2)
        rcount = Signal(range(n + 1))
        rrow = Signal(range(n + 1))
        wptr = Signal(range(n + 1))
        s0_op, s1_op = Signal(2), Signal(2)
        s0_j, s1_j = Signal(range(n)), Signal(range(n))
        next_op = Signal(2)
        next_j = Signal(range(n))

        # Stage 1 holds what the memories returned in the read stage. Later stages of a neuron update:
        # 2 after integrate, 3 after fire.
        s1_v = Signal(signed(s.v_bits))
        s1_a = Signal(signed(s.acc_bits))
        s1_word = Signal(P * s.weight_bits)
        s1_hist = Signal(s.depth)
        s1_delay = Signal(s.delay_bits)
        s2_op, s3_op = Signal(2), Signal(2)
        s2_j, s3_j = Signal(range(n)), Signal(range(n))
        s2_total = Signal(total_shape(s))
        s2_hist, s3_hist = Signal(s.depth), Signal(s.depth)
        s2_delay = Signal(s.delay_bits)
        s3_v = Signal(signed(s.v_bits))
        s3_y = Signal()

        # Stage 3: what it emits, and whether the stream stalls the pipeline.
        y = C(1, 1) if not s.spiking else s3_y
        s3_emit = ((s3_op == UPD) & ~clear_mode & y) | (s3_op == TOKEN)
        stall = s3_emit & ~self.o.ready
        m.d.comb += [
            self.o.valid.eq(s3_emit),
            self.o.payload.kind.eq(Mux(s3_op == TOKEN, marker, SPIKE)),
            self.o.payload.addr.eq(Mux(s3_op == TOKEN, 0, s3_j)),
        ]
        if not s.spiking:
            m.d.comb += self.o.payload.value.eq(Mux(s3_op == TOKEN, 0, s3_v))

        reads = [v_rd, a_rd] + ([h_rd, d_rd] if s.spiking else [])
        m.d.comb += [p.en.eq(~stall) for p in reads]
        acc_sum = Signal(signed(s.acc_bits))
        acc_old = Signal(signed(s.acc_bits))
        with m.If(~stall):
            m.d.sync += [s0_op.eq(next_op), s0_j.eq(next_j), s1_op.eq(s0_op), s1_j.eq(s0_j),
                         s1_v.eq(v_rd.data), s1_a.eq(acc_old), s1_word.eq(weight.rd_data),
                         # an accumulate is finished in stage 1
                         s2_op.eq(Mux(s1_op == ACC, NONE, s1_op)), s2_j.eq(s1_j),
                         s2_total.eq(integrate.total),
                         s3_op.eq(s2_op), s3_j.eq(s2_j), s3_v.eq(fire.v_new)]
            if s.spiking:
                m.d.sync += [s1_hist.eq(h_rd.data), s1_delay.eq(d_rd.data),
                             s2_hist.eq(s1_hist), s2_delay.eq(s1_delay),
                             s3_hist.eq(fire.hist_new), s3_y.eq(fire.y)]

        # Stage 0: issue.
        m.d.comb += [
            self.i.ready.eq((state == IDLE) & ~self.hold),
            self.idle.eq((state == IDLE) & (s0_op == NONE) & (s1_op == NONE) & (s2_op == NONE)
                         & (s3_op == NONE)),
        ]
        accept = self.i.valid & self.i.ready

        flat = Signal(range(s.n_rows * n + 1))
        sel = Signal(range(max(2, P)))          # which weight of the word, for stage 1
        s0_sel, s1_sel = Signal.like(sel), Signal.like(sel)
        m.d.comb += [w_addr.eq(flat >> (P.bit_length() - 1)), sel.eq(flat & (P - 1) if P > 1 else 0)]
        with m.If(~stall):
            m.d.sync += [s0_sel.eq(sel), s1_sel.eq(s0_sel)]

        def issue_acc(row_addr, jj):
            m.d.comb += [flat.eq(row_addr + jj), a_rd.addr.eq(jj), next_op.eq(ACC), next_j.eq(jj)]

        def issue_upd(jj):
            m.d.comb += [v_rd.addr.eq(jj), a_rd.addr.eq(jj), next_op.eq(UPD), next_j.eq(jj)]
            if s.spiking:
                m.d.comb += [h_rd.addr.eq(jj), d_rd.addr.eq(jj)]

        with m.Switch(state):
            with m.Case(IDLE):
                # The first accumulate of a SPIKE addresses the memories whether or not an item is
                # accepted (a read that nothing uses is harmless), so the handshake only decides
                # the operation: no path runs from the input's valid through the guard into a
                # block-RAM address.
                base = times_const(self.i.payload.addr, n)
                m.d.comb += [flat.eq(base), a_rd.addr.eq(0)]
                with m.If(accept):
                    kind = self.i.payload.kind
                    with m.If(kind == SPIKE):
                        issue_acc(base, 0)
                        m.d.sync += row_base.eq(base)
                        if n > 1:
                            m.d.sync += [state.eq(SWEEP), j.eq(1)]
                    with m.Elif((kind == EOT) | (kind == CLEAR)):
                        m.d.sync += [marker.eq(kind), clear_mode.eq(kind == CLEAR), j.eq(0),
                                     state.eq(UPDATE)]
                        if s.recurrent:
                            m.d.sync += [rcount.eq(wptr), rrow.eq(0)]
                            with m.If((kind == EOT) & (wptr != 0)):
                                m.d.sync += state.eq(REC)
            with m.Case(SWEEP):
                issue_acc(row_base, j)
                m.d.sync += j.eq(j + 1)
                with m.If(j == n - 1):
                    m.d.sync += state.eq(IDLE)
            if s.recurrent:
                with m.Case(REC):
                    base = Mux(j == 0, times_const(s.n_src + q_rd.data, n), row_base)
                    issue_acc(base, j)
                    m.d.comb += q_rd.addr.eq(rrow + 1)
                    m.d.sync += [row_base.eq(base), j.eq(j + 1)]
                    with m.If(j == n - 1):
                        m.d.sync += [j.eq(0), rrow.eq(rrow + 1)]
                        with m.If(rrow + 1 == rcount):
                            m.d.sync += state.eq(UPDATE)
            with m.Case(UPDATE):
                with m.If(~stall):
                    issue_upd(j)
                    m.d.sync += j.eq(j + 1)
                    if s.recurrent:
                        with m.If(j == 0):
                            m.d.sync += wptr.eq(0)
                    with m.If(j == n - 1):
                        m.d.sync += state.eq(MARK)
            with m.Case(MARK):
                with m.If(~stall):
                    m.d.comb += next_op.eq(TOKEN)
                    m.d.sync += state.eq(DRAIN)
            with m.Case(DRAIN):
                with m.If((s3_op == TOKEN) & self.o.ready):
                    m.d.sync += state.eq(IDLE)

        # The read stage registers the memories' outputs into stage 1. An accumulate reads its sum when it
        # is issued and writes it back two cycles later, in stage 1; the next access to the same
        # sum (accumulate, or neuron update reading it) is issued at least n cycles after it, so
        # only n = 1 needs the sum of stage 1 forwarded into stage 0.
        m.d.comb += acc_old.eq(Mux(s1_op == ACC, acc_sum, a_rd.data) if n == 1 else a_rd.data)
        # Stage 1: accumulate and write back; or integrate (registered into stage 2).
        m.d.comb += [integrate.v.eq(s1_v), integrate.acc.eq(s1_a), integrate.leak.eq(leak)]
        w = s1_word.word_select(s1_sel if P > 1 else 0, s.weight_bits).as_signed()
        m.d.comb += acc_sum.eq(s1_a + (w << weight_shift))
        with m.If((s1_op == ACC)):
            m.d.comb += [a_wr.addr.eq(s1_j), a_wr.en.eq(1), a_wr.data.eq(acc_sum)]
        # Stage 2: fire (registered into stage 3).
        m.d.comb += [fire.total.eq(s2_total), fire.threshold.eq(threshold),
                     fire.reset_mode.eq(reset_mode)]
        if s.spiking:
            m.d.comb += [fire.hist.eq(s2_hist), fire.delay.eq(s2_delay)]
        # Stage 3: write back and emit.
        with m.If((s3_op == UPD) & ~stall):
            m.d.comb += [a_wr.addr.eq(s3_j), a_wr.en.eq(1), a_wr.data.eq(0),
                         v_wr.addr.eq(s3_j), v_wr.en.eq(1),
                         v_wr.data.eq(Mux(clear_mode, 0, s3_v))]
            if s.spiking:
                m.d.comb += [h_wr.addr.eq(s3_j), h_wr.en.eq(1),
                             h_wr.data.eq(Mux(clear_mode, 0, s3_hist))]
            if s.recurrent:
                with m.If(clear_mode):
                    m.d.sync += wptr.eq(0)
                with m.Elif(y):
                    m.d.comb += [q_wr.addr.eq(wptr), q_wr.data.eq(s3_j), q_wr.en.eq(1)]
                    m.d.sync += wptr.eq(wptr + 1)

        # Parameter load (only while idle; the network guarantees it).
        sizes = {WEIGHT: s.weight_words, MEMBRANE: n, REGISTER: 4}
        if s.spiking:
            sizes.update({DELAY: n, HISTORY: n})
        wr_ok = Signal()
        with m.Switch(self.wr_space):
            for space, size in sizes.items():
                with m.Case(space):
                    m.d.comb += wr_ok.eq(self.wr_addr < size)
        m.d.comb += self.wr_dropped.eq(self.wr_en & ~wr_ok)
        # The space alone (a register) steers the memory addresses; the range check only gates the
        # write enables, so it never runs into a block-RAM address.
        with m.If(self.wr_en):
            with m.Switch(self.wr_space):
                with m.Case(WEIGHT):
                    m.d.comb += [w_addr.eq(self.wr_addr), weight.wr_data.eq(self.wr_data),
                                 weight.wr_en.eq(wr_ok)]
                with m.Case(MEMBRANE):
                    m.d.comb += [v_wr.addr.eq(self.wr_addr), v_wr.data.eq(self.wr_data),
                                 v_wr.en.eq(wr_ok)]
                with m.Case(REGISTER):
                    with m.If(wr_ok):
                        with m.Switch(self.wr_addr[:2]):
                            with m.Case(0):
                                m.d.sync += threshold.eq(self.wr_data)
                            with m.Case(1):
                                m.d.sync += leak.eq(self.wr_data)
                            with m.Case(2):
                                m.d.sync += weight_shift.eq(self.wr_data)
                            with m.Case(3):
                                m.d.sync += reset_mode.eq(self.wr_data)
                if s.spiking:
                    with m.Case(DELAY):
                        m.d.comb += [d_wr.addr.eq(self.wr_addr), d_wr.data.eq(self.wr_data),
                                     d_wr.en.eq(wr_ok)]
                    with m.Case(HISTORY):
                        m.d.comb += [h_wr.addr.eq(self.wr_addr), h_wr.data.eq(self.wr_data),
                                     h_wr.en.eq(wr_ok)]

        # Readback: address the read ports now (cycle c). The read stage registers what they return
        # into s1_* at the end of c + 1 as it does for every operation (the layer is idle, so
        # nothing stalls it); the word is selected from those registers in c + 2 and returned
        # registered (rb_data) from c + 3. No memory output runs into the select or the port engine.
        rb_sizes = {**sizes, ACCUM: n}
        rb_ok = Signal()
        with m.Switch(self.rb_space):
            for space, size in rb_sizes.items():
                with m.Case(space):
                    m.d.comb += rb_ok.eq(self.rb_addr < size)
        rb_space_q, rb_space_q2 = Signal(3), Signal(3)
        rb_addr_q, rb_addr_q2 = Signal(2), Signal(2)
        rb_ok_q, rb_ok_q2 = Signal(), Signal()
        m.d.sync += [rb_ok_q.eq(0), rb_space_q2.eq(rb_space_q), rb_addr_q2.eq(rb_addr_q),
                     rb_ok_q2.eq(rb_ok_q)]
        with m.If(self.rb_en):
            m.d.sync += [rb_space_q.eq(self.rb_space), rb_addr_q.eq(self.rb_addr), rb_ok_q.eq(rb_ok)]
            m.d.comb += [p.addr.eq(self.rb_addr) for p in reads]
            m.d.comb += w_addr.eq(self.rb_addr)
        regs = Array([threshold, leak, weight_shift, reset_mode])
        rb_word = Signal(DATA_BITS)
        m.d.sync += self.rb_data.eq(rb_word)
        with m.If(rb_ok_q2):
            with m.Switch(rb_space_q2):
                with m.Case(WEIGHT):
                    m.d.comb += rb_word.eq(s1_word.as_signed() if P == 1 else s1_word)
                with m.Case(MEMBRANE):
                    m.d.comb += rb_word.eq(s1_v)
                with m.Case(ACCUM):
                    m.d.comb += rb_word.eq(s1_a)
                with m.Case(REGISTER):
                    m.d.comb += rb_word.eq(regs[rb_addr_q2])
                if s.spiking:
                    with m.Case(DELAY):
                        m.d.comb += rb_word.eq(s1_delay)
                    with m.Case(HISTORY):
                        m.d.comb += rb_word.eq(s1_hist)
        return m
