"""One time-multiplexed layer: LIF with per-neuron axonal delays, or the non-spiking readout.

One datapath is shared by every neuron. With `lanes` K (docs/core.md, section 6) it serves K
neurons at once: the neurons are taken in groups `g` of K consecutive indices (`j = g * K + k`,
lane `k`), every per-neuron memory is split into K lane memories of `n / K` words (neuron `j` is
word `g` of lane `k`), one weight-memory word holds the K weights of a group (K divides P and n),
and there are K copies of the accumulate adder, Integrate and Fire. So one cycle does K synaptic
accumulates or K neuron updates; K = 1 is the plain one-neuron datapath.

Every operation issues its memory reads (stage 0), then registers what the memories return
(the read stage, `s0_*` -> `s1_*`), so no arithmetic follows a block-RAM output in the same cycle.
Accumulates then add and write back (stage 1). Neuron updates take five stages: issue; read;
integrate (leak + sum); fire (saturate, threshold, reset, delay tap); write back and emit. Only
the last stage can be stalled, by the output stream, and it emits the events of its group one per
cycle (lane order), holding the pipeline until the last one is accepted; its stall signal comes
straight from registers, which keeps the long arithmetic off the handshake path. Timing is the
schedule of docs/core.md, section 6, which `golden_model.schedule` reproduces cycle for cycle.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from corespec.events import EventKind
from corespec.spaces import Space
from .block_ram import collision_free_memory, collision_free
from .layouts import EventLayout, OutputLayout, DATA_BITS, block_port_members
from .neuron import Integrate, Fire, total_shape
from .weight_memory import WeightMemory

SPIKE, EOT, CLEAR = EventKind.SPIKE, EventKind.EOT, EventKind.CLEAR
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM = (Space.WEIGHT, Space.DELAY, Space.REGISTER,
                                                     Space.MEMBRANE, Space.HISTORY, Space.ACCUM)
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
            **block_port_members(),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        n = s.n
        K = s.lanes
        LK = K.bit_length() - 1
        G = n // K                              # groups: one issue slot each
        lanes = range(K)

        def lane_name(base, k):
            return base if K == 1 else f"{base}{k}"

        # Memories: one read and one write port each (simple dual-port block RAM); the per-neuron
        # ones once per lane.
        P = s.weights_per_word
        m.submodules.weight = weight = WeightMemory(P * s.weight_bits, s.weight_words)
        # One address for reads and writes (writes only happen while idle): a single-port RAM.
        w_addr = weight.addr
        v_wr, v_rd, a_wr, a_rd, h_wr, h_rd, d_wr, d_rd = ([] for _ in range(8))
        # From three groups on, no read whose word is used meets a write of its address: stage 0
        # reads group g while stage 1 writes the group before it and stage 3 the group three
        # operations back (a sweep, or a marker and the first accumulates after one), so the
        # membrane, accum and history memories need no collision logic (block_ram.py). With one
        # or two groups those reads must see the word written in the same cycle (transparent).
        free = G >= 3

        def state_memory(name, shape, wrs, rds):
            mem = (collision_free_memory(shape=shape, depth=G) if free
                   else Memory(shape=shape, depth=G, init=[]))
            m.submodules[name] = mem
            wrs.append(mem.write_port())
            rds.append(mem.read_port(transparent_for=() if free else (wrs[-1],)))

        for k in lanes:
            state_memory(lane_name("membrane", k), signed(s.v_bits), v_wr, v_rd)
            state_memory(lane_name("accum", k), signed(s.acc_bits), a_wr, a_rd)
            if s.spiking:
                state_memory(lane_name("history", k), s.depth, h_wr, h_rd)
                # Delays are written only through the parameter port, while the layer is held.
                mem = collision_free_memory(shape=s.delay_bits, depth=G)
                m.submodules[lane_name("delay", k)] = mem
                d_wr.append(mem.write_port())
                d_rd.append(mem.read_port())
        if s.recurrent:
            m.submodules.rec_queue = rec_queue = Memory(shape=s.index_bits, depth=n, init=[])
            q_wr, q_rd = rec_queue.write_port(), rec_queue.read_port()

        # Run-time registers.
        threshold = Signal(s.v_bits - 1, init=1)
        leak = Signal(5 if self.leak_mode == "shift" else 9)
        weight_shift = Signal(3)
        reset_mode = Signal(1)

        integrate, fire = [], []
        for k in lanes:
            integrate.append(Integrate(s, self.leak_mode))
            fire.append(Fire(s))
            m.submodules[lane_name("integrate", k)] = integrate[k]
            m.submodules[lane_name("fire", k)] = fire[k]

        state = Signal(range(6))
        j = Signal(range(G + 1))                # the group being issued
        row_base = Signal(range(s.n_rows * n + 1))
        clear_mode = Signal()
        marker = Signal(2)
        rcount = Signal(range(n + 1))
        rrow = Signal(range(n + 1))
        wptr = Signal(range(n + 1))
        s0_op, s1_op = Signal(2), Signal(2)
        s0_j, s1_j = Signal(range(G)), Signal(range(G))
        next_op = Signal(2)
        next_j = Signal(range(G))

        # Stage 1 holds what the memories returned in the read stage. Later stages of a neuron update:
        # 2 after integrate, 3 after fire.
        s1_v = [Signal(signed(s.v_bits), name=lane_name("s1_v", k)) for k in lanes]
        s1_a = [Signal(signed(s.acc_bits), name=lane_name("s1_a", k)) for k in lanes]
        s1_word = Signal(P * s.weight_bits)
        s1_hist = [Signal(s.depth, name=lane_name("s1_hist", k)) for k in lanes]
        s1_delay = [Signal(s.delay_bits, name=lane_name("s1_delay", k)) for k in lanes]
        s2_op, s3_op = Signal(2), Signal(2)
        s2_j, s3_j = Signal(range(G)), Signal(range(G))
        s2_total = [Signal(total_shape(s), name=lane_name("s2_total", k)) for k in lanes]
        s2_hist = [Signal(s.depth, name=lane_name("s2_hist", k)) for k in lanes]
        s3_hist = [Signal(s.depth, name=lane_name("s3_hist", k)) for k in lanes]
        s2_delay = [Signal(s.delay_bits, name=lane_name("s2_delay", k)) for k in lanes]
        s3_v = [Signal(signed(s.v_bits), name=lane_name("s3_v", k)) for k in lanes]
        s3_y = [Signal(name=lane_name("s3_y", k)) for k in lanes]

        # Stage 3: what it emits, and whether the stream stalls the pipeline.
        out_idx = Signal(range(max(2, n)))      # neuron index of the item presented
        out_v = Signal(signed(s.v_bits))
        if K == 1:
            y = C(1, 1) if not s.spiking else s3_y[0]
            s3_emit = ((s3_op == UPD) & ~clear_mode & y) | (s3_op == TOKEN)
            stall = s3_emit & ~self.o.ready
            m.d.comb += [out_idx.eq(s3_j), out_v.eq(s3_v[0])]
        else:
            # The group's events leave one per cycle, lowest lane first: `sent` marks the lanes
            # already accepted; the stage advances with the acceptance of its last event.
            yv = C((1 << K) - 1, K) if not s.spiking else Cat(*s3_y)
            sent = Signal(K)
            pend = Signal(K)
            m.d.comb += pend.eq(Mux((s3_op == UPD) & ~clear_mode, yv, 0) & ~sent)
            last = (pend & (pend - 1)) == 0     # at most one event left
            s3_emit = pend.any() | (s3_op == TOKEN)
            stall = s3_emit & ~(last & self.o.ready)
            lane = Signal(range(K))
            for k in reversed(lanes):           # lowest pending lane
                with m.If(pend[k]):
                    m.d.comb += lane.eq(k)
            m.d.comb += [out_idx.eq(Cat(lane, s3_j)), out_v.eq(Array(s3_v)[lane])]
            with m.If(~stall):
                m.d.sync += sent.eq(0)
            with m.Elif(self.o.ready):
                m.d.sync += sent.eq(sent | (pend & -pend))
        accepted = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq(s3_emit),
            self.o.payload.kind.eq(Mux(s3_op == TOKEN, marker, SPIKE)),
            self.o.payload.addr.eq(Mux(s3_op == TOKEN, 0, out_idx)),
        ]
        if not s.spiking:
            m.d.comb += self.o.payload.value.eq(Mux(s3_op == TOKEN, 0, out_v))

        reads = v_rd + a_rd + (h_rd + d_rd if s.spiking else [])
        for rd_, wr_ in zip(v_rd + a_rd + h_rd, v_wr + a_wr + h_wr):
            if free:
                collision_free(m, rd_, wr_, en=~stall, compare_addresses=True)
            else:
                m.d.comb += rd_.en.eq(~stall)
        for rd_, wr_ in zip(d_rd, d_wr):
            collision_free(m, rd_, wr_, en=~stall)
        acc_sum = [Signal(signed(s.acc_bits), name=lane_name("acc_sum", k)) for k in lanes]
        acc_old = [Signal(signed(s.acc_bits), name=lane_name("acc_old", k)) for k in lanes]
        with m.If(~stall):
            m.d.sync += [s0_op.eq(next_op), s0_j.eq(next_j), s1_op.eq(s0_op), s1_j.eq(s0_j),
                         s1_word.eq(weight.rd_data),
                         # an accumulate is finished in stage 1
                         s2_op.eq(Mux(s1_op == ACC, NONE, s1_op)), s2_j.eq(s1_j),
                         s3_op.eq(s2_op), s3_j.eq(s2_j)]
            for k in lanes:
                m.d.sync += [s1_v[k].eq(v_rd[k].data), s1_a[k].eq(acc_old[k]),
                             s2_total[k].eq(integrate[k].total), s3_v[k].eq(fire[k].v_new)]
                if s.spiking:
                    m.d.sync += [s1_hist[k].eq(h_rd[k].data), s1_delay[k].eq(d_rd[k].data),
                                 s2_hist[k].eq(s1_hist[k]), s2_delay[k].eq(s1_delay[k]),
                                 s3_hist[k].eq(fire[k].hist_new), s3_y[k].eq(fire[k].y)]

        # Stage 0: issue.
        m.d.comb += [
            self.i.ready.eq((state == IDLE) & ~self.hold),
            self.idle.eq((state == IDLE) & (s0_op == NONE) & (s1_op == NONE) & (s2_op == NONE)
                         & (s3_op == NONE)),
        ]
        accept = self.i.valid & self.i.ready

        flat = Signal(range(s.n_rows * n + 1))
        # which K weights of the word, for stage 1
        sel = Signal(range(max(2, P // K)))
        s0_sel, s1_sel = Signal.like(sel), Signal.like(sel)
        m.d.comb += [w_addr.eq(flat >> (P.bit_length() - 1)),
                     sel.eq((flat & (P - 1)) >> LK if P > K else 0)]
        with m.If(~stall):
            m.d.sync += [s0_sel.eq(sel), s1_sel.eq(s0_sel)]

        def issue_acc(row_addr, g):
            m.d.comb += [flat.eq(row_addr + (g << LK)), next_op.eq(ACC), next_j.eq(g)]
            m.d.comb += [p.addr.eq(g) for p in a_rd]

        def issue_upd(g):
            m.d.comb += [next_op.eq(UPD), next_j.eq(g)]
            m.d.comb += [p.addr.eq(g) for p in v_rd + a_rd + h_rd + d_rd]

        with m.Switch(state):
            with m.Case(IDLE):
                # The first accumulate of a SPIKE addresses the memories whether or not an item is
                # accepted (a read that nothing uses is harmless), so the handshake only decides
                # the operation: no path runs from the input's valid through the guard into a
                # block-RAM address.
                base = times_const(self.i.payload.addr, n)
                m.d.comb += flat.eq(base)
                with m.If(accept):
                    kind = self.i.payload.kind
                    with m.If(kind == SPIKE):
                        issue_acc(base, 0)
                        m.d.sync += row_base.eq(base)
                        if G > 1:
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
                with m.If(j == G - 1):
                    m.d.sync += state.eq(IDLE)
            if s.recurrent:
                with m.Case(REC):
                    base = Mux(j == 0, times_const(s.n_src + q_rd.data, n), row_base)
                    issue_acc(base, j)
                    m.d.comb += q_rd.addr.eq(rrow + 1)
                    m.d.sync += [row_base.eq(base), j.eq(j + 1)]
                    with m.If(j == G - 1):
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
                    with m.If(j == G - 1):
                        m.d.sync += state.eq(MARK)
            with m.Case(MARK):
                with m.If(~stall):
                    m.d.comb += next_op.eq(TOKEN)
                    m.d.sync += state.eq(DRAIN)
            with m.Case(DRAIN):
                with m.If((s3_op == TOKEN) & self.o.ready):
                    m.d.sync += state.eq(IDLE)

        # The read stage registers the memories' outputs into stage 1. An accumulate reads its sums
        # when it is issued and writes them back two cycles later, in stage 1; the next access to
        # the same group (accumulate, or neuron update reading it) is issued at least n / K cycles
        # after it, so only n / K = 1 needs the sums of stage 1 forwarded into stage 0.
        for k in lanes:
            m.d.comb += acc_old[k].eq(Mux(s1_op == ACC, acc_sum[k], a_rd[k].data) if G == 1
                                      else a_rd[k].data)
        # Stage 1: accumulate and write back; or integrate (registered into stage 2).
        chunk = s1_word.word_select(s1_sel, K * s.weight_bits) if P > K else s1_word
        for k in lanes:
            m.d.comb += [integrate[k].v.eq(s1_v[k]), integrate[k].acc.eq(s1_a[k]),
                         integrate[k].leak.eq(leak)]
            w = chunk.word_select(k, s.weight_bits).as_signed()
            m.d.comb += acc_sum[k].eq(s1_a[k] + (w << weight_shift))
            with m.If((s1_op == ACC)):
                m.d.comb += [a_wr[k].addr.eq(s1_j), a_wr[k].en.eq(1), a_wr[k].data.eq(acc_sum[k])]
            # Stage 2: fire (registered into stage 3).
            m.d.comb += [fire[k].total.eq(s2_total[k]), fire[k].threshold.eq(threshold),
                         fire[k].reset_mode.eq(reset_mode)]
            if s.spiking:
                m.d.comb += [fire[k].hist.eq(s2_hist[k]), fire[k].delay.eq(s2_delay[k])]
        # Stage 3: write back (when the stage advances) and emit.
        with m.If((s3_op == UPD) & ~stall):
            for k in lanes:
                m.d.comb += [a_wr[k].addr.eq(s3_j), a_wr[k].en.eq(1), a_wr[k].data.eq(0),
                             v_wr[k].addr.eq(s3_j), v_wr[k].en.eq(1),
                             v_wr[k].data.eq(Mux(clear_mode, 0, s3_v[k]))]
                if s.spiking:
                    m.d.comb += [h_wr[k].addr.eq(s3_j), h_wr[k].en.eq(1),
                                 h_wr[k].data.eq(Mux(clear_mode, 0, s3_hist[k]))]
            if s.recurrent:
                with m.If(clear_mode):
                    m.d.sync += wptr.eq(0)
        if s.recurrent:
            # every accepted event of an update (never in clear mode) is queued for the next step
            with m.If((s3_op == UPD) & accepted):
                m.d.comb += [q_wr.addr.eq(wptr), q_wr.data.eq(out_idx), q_wr.en.eq(1)]
                m.d.sync += wptr.eq(wptr + 1)

        # Parameter load (only while idle; the network guarantees it). A per-neuron address j is
        # word j >> log2(K) of lane j & (K - 1).
        sizes = {WEIGHT: s.weight_words, MEMBRANE: n, REGISTER: 4}
        if s.spiking:
            sizes.update({DELAY: n, HISTORY: n})
        wr_ok = Signal()
        with m.Switch(self.wr_space):
            for space, size in sizes.items():
                with m.Case(space):
                    m.d.comb += wr_ok.eq(self.wr_addr < size)
        m.d.comb += self.wr_dropped.eq(self.wr_en & ~wr_ok)
        wr_lane = self.wr_addr[:LK] if K > 1 else C(0, 1)
        wr_word = self.wr_addr >> LK

        def lane_write(ports):
            for k, p in enumerate(ports):
                m.d.comb += [p.addr.eq(wr_word), p.data.eq(self.wr_data), p.en.eq(wr_ok & (wr_lane == k))]

        # The space alone (a register) steers the memory addresses; the range check only gates the
        # write enables, so it never runs into a block-RAM address.
        with m.If(self.wr_en):
            with m.Switch(self.wr_space):
                with m.Case(WEIGHT):
                    m.d.comb += [w_addr.eq(self.wr_addr), weight.wr_data.eq(self.wr_data),
                                 weight.wr_en.eq(wr_ok)]
                with m.Case(MEMBRANE):
                    lane_write(v_wr)
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
                        lane_write(d_wr)
                    with m.Case(HISTORY):
                        lane_write(h_wr)

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
        rb_addr_q, rb_addr_q2 = Signal(max(2, LK)), Signal(max(2, LK))   # register number or lane
        rb_ok_q, rb_ok_q2 = Signal(), Signal()
        m.d.sync += [rb_ok_q.eq(0), rb_space_q2.eq(rb_space_q), rb_addr_q2.eq(rb_addr_q),
                     rb_ok_q2.eq(rb_ok_q)]
        with m.If(self.rb_en):
            m.d.sync += [rb_space_q.eq(self.rb_space), rb_addr_q.eq(self.rb_addr), rb_ok_q.eq(rb_ok)]
            m.d.comb += [p.addr.eq(self.rb_addr >> LK) for p in reads]
            m.d.comb += w_addr.eq(self.rb_addr)
        regs = Array([threshold, leak, weight_shift, reset_mode])
        rb_word = Signal(DATA_BITS)
        m.d.sync += self.rb_data.eq(rb_word)
        rb_lane = rb_addr_q2[:LK] if K > 1 else 0

        def pick(values):
            return values[0] if K == 1 else Array(values)[rb_lane]

        with m.If(rb_ok_q2):
            with m.Switch(rb_space_q2):
                with m.Case(WEIGHT):
                    m.d.comb += rb_word.eq(s1_word.as_signed() if P == 1 else s1_word)
                with m.Case(MEMBRANE):
                    m.d.comb += rb_word.eq(pick(s1_v))
                with m.Case(ACCUM):
                    m.d.comb += rb_word.eq(pick(s1_a))
                with m.Case(REGISTER):
                    m.d.comb += rb_word.eq(regs[rb_addr_q2[:2]])
                if s.spiking:
                    with m.Case(DELAY):
                        m.d.comb += rb_word.eq(pick(s1_delay))
                    with m.Case(HISTORY):
                        m.d.comb += rb_word.eq(pick(s1_hist))
        return m
