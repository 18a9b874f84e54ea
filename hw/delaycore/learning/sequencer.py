"""The learning engine's sequencer (docs/learning.md, section 6): one state machine with named
states (`State`), the phases the memory addresses follow (`Phase`), the handshakes with the
outside, and the datapath it steps (`learner_datapath`).

The handshakes with the outside start from flag registers (`free`: IDLE with no step open, set a
cycle after the engine is idle without taking anything; `xrd`, `xresp`: a readback response),
not from a decode of the state. Outside loads and readback requests are latched into the core
request register and replayed from it (a load is decoded a cycle later, in XLD); every access to
the core goes through `CoreAccess`'s subroutine. The memories (`LearnerMemories`) and the
registers (`LearnerRegisters`) are separate components joined through their signatures.

Timing: every phase computes from registers and memory read data into one register or memory
write; products are registered before shifts, clamps and writes (R_ALT / R_EL, H_MUL, W_MUL,
W_SH). Cycle counts are an implementation matter (spec section 6); tests/test_learning_rtl.py
measures them.
"""

from types import SimpleNamespace

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from corespec.events import EventKind
from corespec.learning import Region, LearnStatus, Enable, LearnRegisters
from corespec.spaces import Space, Register
from delaycore.core.layouts import EventLayout, OutputLayout
from delaycore.learning.core_port import CorePort, CoreAccess
from delaycore.learning.datapath import (TraceUnit, StochasticRounder, surrogate, eligibility_R,
                               eligibility_H, score_adder, ternary_times, clamp, delay_step,
                               replace_weight)
from delaycore.learning.geometry import LearnerGeometry
from delaycore.learning.memories import LearnerMemories, RField, memory_specs
from delaycore.learning.registers import LearnerRegisters, REG_NAMES, INDEX_BITS
from delaycore.learning.states import State, Phase, learn_region, learn_index

# A load the engine does not take (a read-only region, a register number out of range) goes to
# the core as a write to this layer, which does not exist with the engine: the core drops it and
# counts it in dropped_writes.
DROP_LAYER = 15


def enable_bit(enable, flag: Enable):
    """The bit of the `enable` register for `flag`."""
    return enable[flag.bit_length() - 1]


class LearnerSequencer(wiring.Component):
    """The state machine and datapath of `Learner` (its ports, plus `memories`, `registers`, and
    `state` / `phase` for testbenches)."""

    def __init__(self, geometry: LearnerGeometry):
        self.g = geometry
        out = OutputLayout(geometry.v_bits)
        super().__init__({
            "i": In(stream.Signature(EventLayout)), "ci": Out(stream.Signature(EventLayout)),
            "co": In(stream.Signature(out)), "o": Out(stream.Signature(out)),
            "host": In(CorePort()), "core": Out(CorePort()),
            "label": In(stream.Signature(16)),
            "memories": In(LearnerMemories.Signature(geometry)),
            "registers": In(LearnerRegisters.Signature(geometry.has_H)),
            "state": Out(State, init=State.IDLE), "phase": Out(Phase, init=Phase.NONE)})

    def elaborate(self, platform):
        m = Module()
        self._control_registers()
        self._memory_addresses(m)
        self._step_datapath(m)
        self._learn_datapath(m)
        self._readback(m)
        self._handshakes(m)
        with m.Switch(self.state):
            self._outside_states(m)
            self.access.states(m)
            self._step_R_states(m)
            if self.g.has_H:
                self._step_H_states(m)
            self._error_states(m)
            self._walk_states(m)
            self._counter_and_clear_states(m)
        return m

    # -- registers and memory addresses ---------------------------------------------------------

    def _control_registers(self):
        """Loop counters, the latched outside readback, the label, and the core request."""
        g = self.g
        self.ret = Signal(State, name="ret")          # where the core access subroutine returns
        self.step_open = Signal()
        self.access = CoreAccess(self.core, self.state, self.ret)
        # The word a core read returned: the core's response register holds it until the next
        # readback request, which only the engine makes while it works (no copy in the engine).
        self.response = self.core.rb_resp.payload[:g.response_bits]
        self.outer = Signal(range(g.max_rows + 1))    # rows
        self.inner = Signal(range(g.max_rows + 1))    # columns
        self.f = Signal(range(g.max_f + 1))           # flat index of a walk or a clear
        self.sel = Signal(range(max(2, g.per_word)))  # weight within its word
        self.x_region, self.x_idx = Signal(4), Signal(16)     # an outside readback of LEARN
        self.y = Signal(range(max(2, g.n_out)))       # the label
        self.counter = Signal(LearnStatus)            # the status counter incremented
        regs = self.registers.value
        self.on = enable_bit(regs.enable, Enable.ON)
        self.stochastic = enable_bit(regs.enable, Enable.STOCHASTIC)

    def _memory_addresses(self, m):
        """Memory read addresses follow the phase (stable across core accesses). The pair-R
        memory's field is the one the next state reads: trace_R while the core is read and in
        R_UPD's predecessors, trace_alt_R in the cycle after the history read's request and in
        R_ALT, elig_w_R in R_EL and W_MUL, elig_d_R in R_EL2, W_SH and W_CALC."""
        g, mem, phase = self.g, self.memories, self.phase
        r_field = Signal(RField)
        self.r_pre = State.R_D2 if g.has_H else State.R_H2   # the state before the history read
        with m.Switch(self.state):
            with m.Case(State.R_UPD, self.r_pre):
                m.d.comb += r_field.eq(RField.TRACE_ALT)
            with m.Case(State.R_ALT, State.W_PREP):
                m.d.comb += r_field.eq(RField.ELIG_W)
            with m.Case(State.R_EL, State.W_MUL, State.W_SH):
                m.d.comb += r_field.eq(RField.ELIG_D)
        x_idx, outer, inner = self.x_idx, self.outer, self.inner
        with m.Switch(phase):
            with m.Case(Phase.EXTERNAL):
                m.d.comb += [getattr(mem, name).read_addr.eq(x_idx) for name in memory_specs(g)]
                m.d.comb += [
                    mem.state_R.read_addr.eq(Cat(x_idx[:g.j_bits],
                                                 (self.x_region - Region.TRACE_R)[:2])),
                    mem.score.read_addr.eq(Mux(self.x_region == Region.STATUS,
                                               g.n_out + x_idx[:2], x_idx))]
            with m.Case(Phase.COUNTER):
                m.d.comb += mem.score.read_addr.eq(g.n_out + self.counter)
            with m.Default():
                by_column = (phase == Phase.SIGNAL) | (phase == Phase.WEIGHTS_R)
                m.d.comb += [mem.score.read_addr.eq(Mux(by_column, inner, outer)),
                             mem.err.read_addr.eq(Mux(by_column, inner, outer))]
                m.d.comb += mem.state_R.read_addr.eq(Cat(outer[:g.j_bits], r_field))
                if g.has_H:
                    m.d.comb += [mem.psi.read_addr.eq(inner), mem.signal.read_addr.eq(inner),
                                 mem.trace_H.read_addr.eq(outer),
                                 mem.trace_alt_H.read_addr.eq(outer),
                                 mem.elig_w_H.read_addr.eq(self.f),
                                 mem.elig_d_H.read_addr.eq(self.f)]
        # The register RAM: the register read back, margin while LEARN finds the error, else
        # the delay threshold of the pair being learned.
        number = LearnRegisters.number
        m.d.comb += self.registers.ram_addr.eq(
            Mux(phase == Phase.EXTERNAL, x_idx[:INDEX_BITS],
                Mux(phase == Phase.ERROR, number("margin"),
                    Mux(phase == Phase.WEIGHTS_H, number("delay_thresh_H"),
                        number("delay_thresh_R")))))

    def _write(self, m, name, addr, data, en=1):
        """A write of memory `name` in this cycle."""
        port = getattr(self.memories, name)
        m.d.comb += [port.write_addr.eq(addr), port.write_data.eq(data), port.write_en.eq(en)]

    # -- datapath ------------------------------------------------------------------------------

    def _step_datapath(self, m):
        """STEP's arithmetic (spec section 3): the trace unit, psi, the eligibilities, scores."""
        g, mem, regs = self.g, self.memories, self.registers.value
        m.submodules.trace = trace = TraceUnit(g.depth, g.delay_bits)
        self.trace = trace
        state_R = mem.state_R.read_data
        m.d.comb += [trace.trace.eq(state_R[:10]), trace.shift.eq(regs.trace_shift_R),
                     trace.inc.eq(regs.trace_inc_R), trace.history.eq(self.response[:g.depth]),
                     trace.delay.eq(self.response)]
        if g.has_H:
            with m.If(self.phase == Phase.PAIR_H):
                m.d.comb += [trace.trace.eq(Mux(trace.was_pre, mem.trace_alt_H.read_data,
                                                mem.trace_H.read_data)),
                             trace.shift.eq(regs.trace_shift_H), trace.inc.eq(regs.trace_inc_H)]
        s = self.step = SimpleNamespace()
        # Pair R: one adder for both eligibilities, elig_w_R in R_EL, elig_d_R in R_EL2 (always
        # after R_EL: the flag is a register).
        on_elig_d = Signal()
        m.d.sync += on_elig_d.eq(self.state == State.R_EL)
        s.elig_R = eligibility_R(m, state_R, trace.trace_q, trace.diff_q, regs.elig_shift_R,
                                 on_elig_d)
        # The readout membranes (= the step's outputs) into the scores, and a status counter
        # + 1 (CNT_WR): one adder.
        s.count_sum, s.score = score_adder(m, mem.score.read_data,
                                           self.response[:g.v_bits].as_signed(),
                                           self.state == State.CNT_WR)
        if g.has_H:
            s.threshold, s.v = Signal(signed(g.v_bits + 1)), Signal(signed(g.v_bits))
            s.psi = surrogate(m, s.threshold, s.v, self.response[0], regs.psi_shift, g.v_bits)
            psi_k = Signal(signed(5))
            m.d.comb += psi_k.eq(mem.psi.read_data)
            s.product_w, s.product_d = Signal(signed(16)), Signal(signed(16))   # in H_MUL
            s.next_product_w, s.next_product_d = psi_k * trace.trace_q, psi_k * trace.diff_q
            s.elig_w_H, s.elig_d_H = eligibility_H(m, mem.elig_w_H.read_data,
                                                   mem.elig_d_H.read_data, s.product_w,
                                                   s.product_d, regs.elig_shift_H)

    def _learn_datapath(self, m):
        """LEARN's arithmetic (spec section 4). Per weight: W_PREP (w), W_MUL (products), W_SH
        (shift, rounding, G term), W_CALC (weight, G, L_k); the delay step per row."""
        g, mem, regs = self.g, self.memories, self.registers.value
        P, phase = g.per_word, self.phase
        s = self.learn = SimpleNamespace()
        s.best, s.rival = Signal(signed(32)), Signal(range(max(2, g.n_out)))
        s.have_rival = Signal()
        margin = self.registers.ram_data                 # addressed at `margin` in ERROR
        s_o = mem.score.read_data                        # score[y] in E_Y
        s.hinge = (s_o - s.best < margin) if g.n_out > 1 else C(0, 1)
        s.word, s.w = Signal(P * g.weight_bits), Signal(signed(g.weight_bits))
        s.w_sel = s.word.word_select(self.sel, g.weight_bits) if P > 1 else s.word
        s.acc = Signal(signed(g.signal_bits + 1))
        s.is_H = (phase == Phase.WEIGHTS_H) if g.has_H else C(0, 1)
        s.lw, s.G = Signal(signed(g.lw_bits)), Signal(signed(g.G_bits))
        self._gradient_terms(m, s)
        m.submodules.rounder = rounder = StochasticRounder(g.g_bits, g.step_bits)
        self.rounder = rounder
        lr = Mux(s.is_H, regs.lr_shift_H, regs.lr_shift_R) if g.has_H else regs.lr_shift_R
        m.d.comb += [rounder.lr.eq(lr), rounder.product.eq(s.g_now),
                     rounder.random.eq(self.registers.lfsr_next),
                     rounder.stochastic.eq(self.stochastic)]
        s.w_new = Signal(signed(g.weight_bits))
        m.d.comb += s.w_new.eq(clamp(s.w + rounder.step + rounder.round_up, g.w_min, g.w_max))
        enable = regs.enable
        s.learn_w = Mux(s.is_H, enable_bit(enable, Enable.W_H), enable_bit(enable, Enable.W_R))
        s.learn_d = Mux(s.is_H, enable_bit(enable, Enable.D_H), enable_bit(enable, Enable.D_R))
        thresh = Signal(signed(18))
        m.d.comb += thresh.eq(self.registers.ram_data)   # addressed at the pair's delay_thresh
        s.d_new = delay_step(m, self.response[:g.delay_bits], s.G, thresh, g.depth, g.G_bits)
        s.word_new = Signal(P * g.weight_bits)
        m.d.comb += s.word_new.eq(replace_weight(s.word, self.sel, s.w_new, P, g.weight_bits))
        self._walk_parameters(s)

    def _gradient_terms(self, m, s):
        """The products of a weight (W_MUL): g = e_o * elig_w_R or L_k * elig_w_H (rounded into
        the step), e_o * w or L_k * w (into L_k and G), and G's next value."""
        g, mem = self.g, self.memories
        state_R, e_k = mem.state_R.read_data, mem.err.read_data
        g_R, lw_R = ternary_times(e_k, state_R), ternary_times(e_k, s.w)
        if g.has_H:
            L_k = mem.signal.read_data
            s.g_now = Mux(s.is_H, L_k * mem.elig_w_H.read_data, g_R)
            s.lw_now = Mux(s.is_H, L_k * s.w, lw_R)
            ed_now = Mux(s.is_H, mem.elig_d_H.read_data, state_R.as_signed())
        else:
            s.g_now, s.lw_now, ed_now = g_R, lw_R, state_R.as_signed()   # elig_d_R in W_SH
        if g.ternary_R_only:
            # G + (+-elig_d or 0) in W_CALC, the negation as the adder's carry in (no product
            # register): elig_d_R is still read there (the address of W_SH's last cycle).
            negate = (s.lw != 0) & s.lw[-1]
            s.G_next = s.G + Mux(s.lw == 0, 0, Mux(s.lw[-1], ~ed_now, ed_now)) + negate
            s.gt = None
        else:
            s.gt = Signal(signed(g.gt_bits))
            s.gt_now = s.lw * ed_now
            s.G_next = s.G + s.gt

    def _walk_parameters(self, s):
        """What a walk over a weight memory depends on: pair H's (layer L's rows) or pair R's and
        L_k's (the readout's)."""
        g, phase = self.g, self.phase
        s.w_layer = Mux(s.is_H, g.layer_L, g.readout)
        s.w_delay_layer = Mux(s.is_H, g.layer_L - 1, g.layer_L)
        s.w_last = Mux(s.is_H, max(g.n_S - 1, 0), g.n_L * g.n_out - 1)
        s.w_writes = (phase != Phase.SIGNAL) & s.learn_w
        s.end_word = (self.sel == g.per_word - 1) | (self.f == s.w_last)
        s.end_row = self.inner == Mux(s.is_H, g.n_L - 1, g.n_out - 1)
        s.word_addr = self.f >> exact_log2(g.per_word)

    # -- the outside ---------------------------------------------------------------------------

    def _readback(self, m):
        """A space-LEARN read from the outside (spec section 5): the region's word, 0 out of
        range; `local_sx` is its sign extension to 64 bits."""
        g, mem = self.g, self.memories
        state_R = mem.state_R.read_data
        m.d.comb += self.registers.readback_index.eq(self.x_idx[:INDEX_BITS])
        region_data = {Region.REGS: (self.registers.readback_data, len(REG_NAMES)),
                       Region.SCORE: (mem.score.read_data, g.n_out),
                       Region.STATUS: (mem.score.read_data.as_unsigned(), len(LearnStatus))}
        for region in (Region.TRACE_R, Region.TRACE_ALT_R, Region.ELIG_W_R):
            region_data[region] = (state_R, g.n_L)   # one memory, the field is region - 1
        region_data[Region.ELIG_D_R] = (state_R.as_signed(), g.n_L)
        if g.has_H:
            specs = memory_specs(g)
            for region, name in ((Region.TRACE_H, "trace_H"), (Region.TRACE_ALT_H, "trace_alt_H"),
                                 (Region.ELIG_W_H, "elig_w_H"), (Region.ELIG_D_H, "elig_d_H")):
                region_data[region] = (getattr(mem, name).read_data, specs[name].size)
        size = Signal(range(max(words for _, words in region_data.values()) + 1))
        value, sign = Signal(32), Signal()
        with m.Switch(self.x_region):          # one comparator for all regions
            for region, (val, words) in region_data.items():
                with m.Case(region):
                    m.d.comb += [value.eq(val), size.eq(words)]
                    if val.shape().signed:
                        m.d.comb += sign.eq(val[-1])
        in_range = self.x_idx < size
        self.local, self.local_sx = Signal(32), Signal()
        m.d.comb += [self.local.eq(Mux(in_range, value, 0)), self.local_sx.eq(in_range & sign)]

    def _handshakes(self, m):
        """Flags and port defaults for the outside and the core (the states override them)."""
        host, core, state = self.host, self.core, self.state
        m.d.comb += [self.o.valid.eq(self.co.valid), self.o.payload.eq(self.co.payload),
                     self.co.ready.eq(self.o.ready)]
        kind = self.co.payload.kind
        self.out_marker = self.co.valid & self.o.ready & ((kind == EventKind.EOT)
                                                          | (kind == EventKind.CLEAR))
        self.access.drive(m)
        m.d.comb += self.ci.payload.eq(self.i.payload)
        m.d.comb += [self.registers.write.index.eq(self.access.request.addr[:INDEX_BITS]),
                     self.registers.write.data.eq(self.access.request.data)]
        # `free` (IDLE with no step open): set a cycle after the engine is idle without having
        # taken anything (so it is never set outside IDLE).
        free = Signal(init=1)
        self.take_label = free & self.label.valid
        self.take_load = free & ~self.label.valid & host.load.valid
        self.take_rb = free & ~self.label.valid & ~host.load.valid & host.rb_req.valid
        self.forward = ~(self.take_label | self.take_load | self.take_rb)
        m.d.comb += [self.label.ready.eq(free), host.load.ready.eq(self.take_load),
                     host.rb_req.ready.eq(self.take_rb)]
        m.d.sync += free.eq((state == State.IDLE) & ~self.step_open & ~self.take_label
                            & ~self.take_load & ~self.take_rb & ~(self.i.valid & self.ci.ready))
        # The readback response to the outside from flag registers (state == XRD_CORE /
        # XRESP, set with the state) rather than a decode of `state`.
        xrd, xresp = Signal(), Signal()
        m.d.sync += [xrd.eq(Mux(state == State.XRQ, core.rb_req.ready,
                                (state == State.XRD_CORE)
                                & ~(core.rb_resp.valid & host.rb_resp.ready))),
                     xresp.eq((state == State.XRD_LOCAL)
                              | ((state == State.XRESP) & ~host.rb_resp.ready))]
        m.d.comb += [host.rb_resp.valid.eq((xrd & core.rb_resp.valid) | xresp),
                     host.rb_resp.payload.eq(Mux(xrd, core.rb_resp.payload,
                                                 Cat(self.local, self.local_sx.replicate(32)))),
                     core.rb_resp.ready.eq(xrd & host.rb_resp.ready)]

    def _count(self, m, counter: LearnStatus):
        """Saturating + 1 of a status counter (a read-modify-write: CNT_RD, CNT_WR)."""
        m.d.sync += [self.counter.eq(counter), self.phase.eq(Phase.COUNTER),
                     self.state.eq(State.CNT_RD)]

    def _outside_states(self, m):
        """IDLE (forwarding; a label, a load or a readback taken), the outside's loads and
        readbacks, and the wait for the core's output marker after an EOT or a CLEAR."""
        g, host, state, phase, req = self.g, self.host, self.state, self.phase, self.access.request
        with m.Case(State.IDLE):
            m.d.sync += phase.eq(Phase.NONE)
            m.d.comb += [self.ci.valid.eq(self.forward & self.i.valid),
                         self.i.ready.eq(self.forward & self.ci.ready)]
            with m.If(self.forward & self.i.valid & self.ci.ready):
                kind = self.i.payload.kind
                with m.If((kind == EventKind.EOT) | (kind == EventKind.CLEAR)):
                    m.d.sync += [self.step_open.eq(0), state.eq(State.WAIT_OUT)]
                with m.Else():
                    m.d.sync += self.step_open.eq(1)
            with m.If(self.take_label):
                with m.If(self.label.payload >= g.n_out):
                    self._count(m, LearnStatus.REJECTED_LABELS)
                with m.Elif(~self.on):
                    self._count(m, LearnStatus.IGNORED_LABELS)
                with m.Else():
                    m.d.sync += [self.y.eq(self.label.payload), self.learn.have_rival.eq(0),
                                 self.outer.eq(0), phase.eq(Phase.ERROR), state.eq(State.E_PREP)]
            with m.If(self.take_load):               # latched, decoded in XLD
                m.d.sync += [req.eq(host.load.payload), self.ret.eq(State.IDLE),
                             state.eq(State.XLD)]
            with m.If(self.take_rb):                 # latched for both (a register or a core read)
                rq = host.rb_req.payload
                m.d.sync += [self.x_region.eq(learn_region(rq.addr)),
                             self.x_idx.eq(learn_index(rq.addr)),
                             req.layer.eq(rq.layer), req.space.eq(rq.space), req.addr.eq(rq.addr)]
                with m.If(rq.space == Space.LEARN):
                    m.d.sync += [phase.eq(Phase.EXTERNAL), state.eq(State.XRD_LOCAL)]
                with m.Else():
                    m.d.sync += state.eq(State.XRQ)
        with m.Case(State.XLD):                      # an outside load, from the latched request
            m.d.sync += state.eq(State.C_WR)         # to the core (ret: IDLE), unless a register
            with m.If(req.space == Space.LEARN):
                with m.If((learn_region(req.addr) == Region.REGS)
                          & (learn_index(req.addr) < len(REG_NAMES))):
                    m.d.sync += state.eq(State.IDLE)
                    m.d.comb += self.registers.write.en.eq(1)
                with m.Else():          # read-only region: the core drops and counts it
                    m.d.sync += req.layer.eq(DROP_LAYER)
        with m.Case(State.XRQ):
            m.d.comb += self.core.rb_req.valid.eq(1)
            with m.If(self.core.rb_req.ready):
                m.d.sync += state.eq(State.XRD_CORE)
        with m.Case(State.WAIT_OUT):
            with m.If(self.out_marker):
                with m.If(self.co.payload.kind == EventKind.CLEAR):
                    m.d.sync += [phase.eq(Phase.CLEAR), self.f.eq(0), state.eq(State.CLR)]
                with m.Elif(self.on):
                    m.d.sync += [phase.eq(Phase.SCORE), self.outer.eq(0), state.eq(State.SC)]
                with m.Else():
                    m.d.sync += state.eq(State.IDLE)
        with m.Case(State.XRD_CORE):        # the response: rb_resp from the flags
            with m.If(self.core.rb_resp.valid & host.rb_resp.ready):
                m.d.sync += state.eq(State.IDLE)
        with m.Case(State.XRD_LOCAL):
            m.d.sync += state.eq(State.XRESP)
        with m.Case(State.XRESP):
            with m.If(host.rb_resp.ready):
                m.d.sync += state.eq(State.IDLE)

    # -- STEP (spec section 3) -----------------------------------------------------------------

    def _step_R_states(self, m):
        """STEP 3.1 (scores from the readout membranes) and 3.2-3.4 for pair R (and psi of layer
        L for pair H), per neuron j of layer L: delay, membrane, history from the core, then
        trace, trace_alt, elig_w, elig_d into pair R's memory."""
        g, s, trace, state, outer = self.g, self.step, self.trace, self.state, self.outer
        read, response = self.access.read, self.response
        with m.Case(State.SC):
            read(m, g.readout, Space.MEMBRANE, outer, State.SC_UPD)
        with m.Case(State.SC_UPD):
            self._write(m, "score", outer, s.score)
            with m.If(outer == g.n_out - 1):
                m.d.sync += [outer.eq(0), self.phase.eq(Phase.PAIR_R),
                             state.eq(State.R_THR if g.has_H else State.R_HIST)]
            with m.Else():
                m.d.sync += [outer.eq(outer + 1), state.eq(State.SC)]
        if g.has_H:
            with m.Case(State.R_THR):
                read(m, g.layer_L, Space.REGISTER, Register.THRESHOLD, State.R_THR2)
            with m.Case(State.R_THR2):
                m.d.sync += [s.threshold.eq(response[:g.v_bits]), state.eq(State.R_HIST)]
        with m.Case(State.R_HIST):
            read(m, g.layer_L, Space.DELAY, outer, State.R_H2)
        with m.Case(State.R_H2):
            m.d.comb += trace.load_delay.eq(1)
            if g.has_H:
                read(m, g.layer_L, Space.MEMBRANE, outer, State.R_D2)
            else:
                m.d.comb += trace.pre.eq(1)
                read(m, g.layer_L, Space.HISTORY, outer, State.R_UPD)
        if g.has_H:
            with m.Case(State.R_D2):
                m.d.sync += s.v.eq(response)
                m.d.comb += trace.pre.eq(1)
                read(m, g.layer_L, Space.HISTORY, outer, State.R_UPD)
        with m.Case(State.R_UPD):
            if g.has_H:
                self._write(m, "psi", outer, s.psi)
            self._write(m, "state_R", Cat(outer[:g.j_bits], C(RField.TRACE, 2)), trace.new)
            m.d.comb += [trace.update.eq(1), trace.keep_trace.eq(1)]
            m.d.sync += state.eq(State.R_ALT)
        with m.Case(State.R_ALT):
            self._write(m, "state_R", Cat(outer[:g.j_bits], C(RField.TRACE_ALT, 2)), trace.new)
            m.d.comb += trace.keep_alt.eq(1)
            m.d.sync += state.eq(State.R_EL)
        with m.Case(State.R_EL):
            self._write(m, "state_R", Cat(outer[:g.j_bits], C(RField.ELIG_W, 2)), s.elig_R)
            m.d.comb += trace.keep_diff.eq(1)
            m.d.sync += state.eq(State.R_EL2)
        with m.Case(State.R_EL2):
            self._write(m, "state_R", Cat(outer[:g.j_bits], C(RField.ELIG_D, 2)), s.elig_R)
            with m.If(outer == g.n_L - 1):
                if g.has_H:
                    m.d.sync += [outer.eq(0), self.f.eq(0), self.phase.eq(Phase.PAIR_H),
                                 state.eq(State.H_HIST)]
                else:
                    m.d.sync += state.eq(State.IDLE)
            with m.Else():
                m.d.sync += [outer.eq(outer + 1), state.eq(State.R_HIST)]

    def _step_H_states(self, m):
        """STEP for pair H: per neuron i of layer L-1 its traces, then the synapses of row i
        (psi_k * trace, psi_k * sigma * (alt - trace) registered in H_MUL, then H_CALC)."""
        g, s, trace, state = self.g, self.step, self.trace, self.state
        outer, inner, f, read = self.outer, self.inner, self.f, self.access.read
        with m.Case(State.H_HIST):
            read(m, g.layer_L - 1, Space.DELAY, outer, State.H_H2)
        with m.Case(State.H_H2):
            m.d.comb += [trace.load_delay.eq(1), trace.pre.eq(1)]
            read(m, g.layer_L - 1, Space.HISTORY, outer, State.H_UPD)
        with m.Case(State.H_UPD):
            self._write(m, "trace_H", outer, trace.new)
            m.d.comb += [trace.update.eq(1), trace.keep_trace.eq(1)]
            m.d.sync += state.eq(State.H_ALT)
        with m.Case(State.H_ALT):
            self._write(m, "trace_alt_H", outer, trace.new)
            m.d.comb += trace.keep_alt.eq(1)
            m.d.sync += [inner.eq(0), state.eq(State.H_PREP)]
        with m.Case(State.H_PREP):
            m.d.comb += trace.keep_diff.eq(1)
            m.d.sync += state.eq(State.H_MUL)
        with m.Case(State.H_MUL):
            m.d.sync += [s.product_w.eq(s.next_product_w), s.product_d.eq(s.next_product_d),
                         state.eq(State.H_CALC)]
        with m.Case(State.H_CALC):
            self._write(m, "elig_w_H", f, s.elig_w_H)
            self._write(m, "elig_d_H", f, s.elig_d_H)
            m.d.sync += f.eq(f + 1)
            with m.If(inner == g.n_L - 1):
                with m.If(outer == g.n_P - 1):
                    m.d.sync += state.eq(State.IDLE)
                with m.Else():
                    m.d.sync += [outer.eq(outer + 1), state.eq(State.H_HIST)]
            with m.Else():
                m.d.sync += [inner.eq(inner + 1), state.eq(State.H_PREP)]

    # -- LEARN (spec section 4) ----------------------------------------------------------------

    def _error_states(self, m):
        """LEARN 4.1: clear e and find the rival (the first maximum over o != y), then the hinge
        on score[y]: e_y = +1, e_rival = -1."""
        g, s, state, outer = self.g, self.learn, self.state, self.outer
        s_o = self.memories.score.read_data
        with m.Case(State.E_PREP):
            m.d.sync += state.eq(State.E_CALC)
        with m.Case(State.E_CALC):
            self._write(m, "err", outer, 0)
            with m.If((outer != self.y) & (~s.have_rival | (s_o > s.best))):
                m.d.sync += [s.best.eq(s_o), s.rival.eq(outer), s.have_rival.eq(1)]
            with m.If(outer == g.n_out - 1):
                m.d.sync += [outer.eq(self.y), state.eq(State.E_SY)]
            with m.Else():
                m.d.sync += [outer.eq(outer + 1), state.eq(State.E_PREP)]
        with m.Case(State.E_SY):
            m.d.sync += state.eq(State.E_Y)
        with m.Case(State.E_Y):
            self._write(m, "err", self.y, 1, en=s.hinge)
            m.d.sync += [self.phase.eq(Phase.SIGNAL if g.has_H else Phase.WEIGHTS_R),
                         state.eq(Mux(s.hinge, State.E_R, State.W_START))]
        with m.Case(State.E_R):
            self._write(m, "err", s.rival, -1)
            m.d.sync += state.eq(State.W_START)

    def _walk_states(self, m):
        """LEARN 4.2/4.3: walks over a weight memory (L_k, then pair H, then pair R), one word
        read (and, if a weight of it learns, written) at a time, a delay step per row."""
        g, s, state, rounder = self.g, self.learn, self.state, self.rounder
        f, sel, outer, inner = self.f, self.sel, self.outer, self.inner
        read, write = self.access.read, self.access.write
        with m.Case(State.W_START):
            m.d.sync += [f.eq(0), outer.eq(0), inner.eq(0), sel.eq(0), s.G.eq(0), s.acc.eq(0),
                         state.eq(State.W_RD)]
            m.d.comb += rounder.start.eq(1)
        with m.Case(State.W_RD):
            read(m, s.w_layer, Space.WEIGHT, s.word_addr, State.W_GOT)
        with m.Case(State.W_GOT):
            m.d.sync += [s.word.eq(self.response), state.eq(State.W_PREP)]
        with m.Case(State.W_PREP):
            m.d.sync += [s.w.eq(s.w_sel), state.eq(State.W_MUL)]
        with m.Case(State.W_MUL):
            m.d.sync += [s.lw.eq(s.lw_now), state.eq(State.W_SH)]
            m.d.comb += rounder.load.eq(1)
        with m.Case(State.W_SH):           # lr_shift cycles of shifting, then one more
            m.d.comb += rounder.run.eq(1)
            with m.If(rounder.done):
                if s.gt is not None:
                    m.d.sync += s.gt.eq(s.gt_now)
                m.d.sync += state.eq(State.W_CALC)
        with m.Case(State.W_CALC):
            m.d.sync += [s.acc.eq(s.acc + s.lw), s.G.eq(s.G_next), state.eq(State.W_ROW)]
            with m.If(s.w_writes):
                m.d.sync += s.word.eq(s.word_new)
                with m.If(self.stochastic):
                    m.d.comb += self.registers.advance_lfsr.eq(1)
                with m.If(s.end_word):
                    write(m, s.w_layer, Space.WEIGHT, s.word_addr, s.word_new, State.W_ROW)
        with m.Case(State.W_ROW):
            m.d.sync += state.eq(State.W_NEXT)
            with m.If(s.end_row):
                with m.If(self.phase == Phase.SIGNAL):
                    if g.has_H:
                        self._write(m, "signal", outer, s.acc)
                    m.d.sync += s.acc.eq(0)
                with m.Elif(s.learn_d):
                    read(m, s.w_delay_layer, Space.DELAY, outer, State.W_DSTEP)
                with m.Else():
                    m.d.sync += s.G.eq(0)
        with m.Case(State.W_DSTEP):
            m.d.sync += s.G.eq(0)
            write(m, s.w_delay_layer, Space.DELAY, outer, s.d_new, State.W_NEXT)
        with m.Case(State.W_NEXT):
            self._walk_next(m)

    def _walk_next(self, m):
        """The next weight of a walk (the next word read after its last), or the next walk, or
        the end of LEARN (the learned counter, then the clear)."""
        g, s, state, phase = self.g, self.learn, self.state, self.phase
        f, sel, outer, inner = self.f, self.sel, self.outer, self.inner
        with m.If(f == s.w_last):
            with m.Switch(phase):
                with m.Case(Phase.SIGNAL):
                    m.d.sync += [phase.eq(Phase.WEIGHTS_H), state.eq(State.W_START)]
                with m.Case(Phase.WEIGHTS_H):
                    m.d.sync += [phase.eq(Phase.WEIGHTS_R), state.eq(State.W_START)]
                with m.Default():
                    self._count(m, LearnStatus.LEARNED)     # then CLR
        with m.Else():
            m.d.sync += [f.eq(f + 1), state.eq(State.W_PREP)]
            if g.per_word > 1:
                m.d.sync += sel.eq(sel + 1)
            with m.If(sel == g.per_word - 1):
                m.d.sync += state.eq(State.W_RD)
            with m.If(s.end_row):
                m.d.sync += [inner.eq(0), outer.eq(outer + 1)]
            with m.Else():
                m.d.sync += inner.eq(inner + 1)

    def _counter_and_clear_states(self, m):
        """Status counters: 32-bit saturating, in the score memory (CNT_RD reads, CNT_WR writes
        unless the adder carries out: COUNTER_MAX). The clear of the state of section 2 (CLEAR,
        and the end of LEARN): one word of every state memory a cycle."""
        g, state, f = self.g, self.state, self.f
        with m.Case(State.CNT_RD):
            m.d.sync += state.eq(State.CNT_WR)
        with m.Case(State.CNT_WR):
            count_sum = self.step.count_sum
            self._write(m, "score", g.n_out + self.counter, count_sum[:32], en=~count_sum[32])
            with m.If(self.counter == LearnStatus.LEARNED):
                m.d.sync += [self.phase.eq(Phase.CLEAR), f.eq(0), state.eq(State.CLR)]
            with m.Else():
                m.d.sync += state.eq(State.IDLE)
        with m.Case(State.CLR):
            cleared = {name: spec for name, spec in memory_specs(g).items() if spec.cleared}
            for name, spec in cleared.items():
                self._write(m, name, f, 0, en=f < spec.size)
            m.d.sync += f.eq(f + 1)
            with m.If(f == max(spec.size for spec in cleared.values()) - 1):
                m.d.sync += state.eq(State.IDLE)
