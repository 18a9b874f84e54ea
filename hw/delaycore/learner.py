"""The on-chip learning engine (spec: docs/learning.md, sections 3-6; golden: GoldenLearner).

The engine sits between the outside and the core (`LearningNetwork`): it forwards input events
(`i` -> `ci`) and readout outputs (`co` -> `o`), and owns the core's load and readback ports
(`cload`, `crb_req`, `crb_resp`): the outside's loads and readback requests are latched and
replayed from the engine's registers (a load is decoded a cycle later, in XLD: two cycles more
for a load, one for a readback request; no combinational path from the host link into the
core's port engine). The handshakes with the outside start from flag registers (`free`: IDLE
with no step open, set a cycle after the engine is idle without taking anything; `xrd`, `xresp`:
a readback response), not from a decode of the state. It is one sequential state machine;
every access to the core goes through a small subroutine (C_RD / C_RDW / C_WR) with a return
state, so a phase is a plain list of "read this, compute, write that" steps. Cycle counts are
an implementation matter (spec section 6); `tests/test_learning_rtl.py` measures them.

Memories (amaranth.lib.memory, one read and one write port each): the state of spec section 2
(`state_R`: pair R's four arrays in one 16-bit memory, word Cat(j, field); `trace_H` ...
`score`), `regmem` (registers read only at known moments), plus two scratch memories that never leave the engine: `psi` (4 bits per
neuron of layer L, filled while pair R is stepped, used by pair H) and `signal` (`L_k`, filled at
the start of LEARN), and `err` (the ternary error per readout neuron).
The status counters are 3 extra words of `score` (read-modify-write, CNT_RD / CNT_WR).

Timing: every phase computes from registers and memory read data into one register or memory
write; products are registered before shifts, clamps and writes (R_ALT / R_EL, H_MUL, W_MUL,
W_SH), and datapath widths follow the configuration (docs/learning.md 6.1).
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from golden_model.config import CoreConfig, clog2
from golden_model.learning import PSI_MAX, LFSR_TAPS, LearnRegisters, LEARN
from .block_ram import collision_free_memory, collision_free
from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout, DATA_BITS

SPIKE, EOT, CLEAR = 0, 1, 2
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY = 0, 1, 2, 3, 4
DROP_LAYER = 15            # a write the core drops and counts in dropped_writes

# States.
(IDLE, WAIT_OUT, XRD_CORE, XRD_LOCAL, XRESP, C_RD, C_RDW, C_WR,
 SC, SC_UPD, R_THR, R_THR2, R_HIST, R_H2, R_D2, R_UPD,
 H_HIST, H_H2, H_UPD, H_PREP, H_CALC,
 E_SY, E_PREP, E_CALC, E_Y, E_R,
 W_START, W_RD, W_GOT, W_PREP, W_CALC, W_ROW, W_DSTEP, W_NEXT, CLR,
 R_EL, H_MUL, W_MUL, W_SH, R_ALT, H_ALT, CNT_RD, CNT_WR, R_EL2, XRQ, XLD) = range(46)
N_STATES = 46
# Phases: what the memory addresses follow.
PH_NONE, PH_EXT, PH_SCORE, PH_R, PH_H, PH_E, PH_LSIG, PH_WH, PH_WR, PH_CLR, PH_CNT = range(11)

REG_NAMES = [f.name for f in LearnRegisters.__dataclass_fields__.values()]


def _clamp(x, lo, hi):
    return Mux(x < lo, lo, Mux(x > hi, hi, x))


def _sat_s(x, n):
    """`x` (signed, wider than n) saturated to n-bit signed, by looking at its top bits only."""
    top = x[n - 1:]
    ok = (top == 0) | (top == (1 << len(top)) - 1)
    return Mux(ok, x[:n], Mux(x[-1], C(1 << (n - 1), n), C((1 << (n - 1)) - 1, n))).as_signed()


def _sat_u(x, n):
    """`x` (non-negative, wider than n) saturated to n-bit unsigned."""
    return Mux(x[n:].any(), C((1 << n) - 1, n), x[:n])


class Learner(wiring.Component):
    def __init__(self, config: CoreConfig):
        self.config = config
        out = OutputLayout(config.v_bits)
        super().__init__({
            "i": In(stream.Signature(EventLayout)), "ci": Out(stream.Signature(EventLayout)),
            "co": In(stream.Signature(out)), "o": Out(stream.Signature(out)),
            "load": In(stream.Signature(WriteLayout)), "cload": Out(stream.Signature(WriteLayout)),
            "rb_req": In(stream.Signature(ReadLayout)), "crb_req": Out(stream.Signature(ReadLayout)),
            "rb_resp": Out(stream.Signature(DATA_BITS)), "crb_resp": In(stream.Signature(DATA_BITS)),
            "label": In(stream.Signature(16)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        sizes = cfg.sizes
        nL, nO = sizes[-1], cfg.n_out
        has_H = len(sizes) >= 2
        nP = sizes[-2] if has_H else 0
        Lr, RO = len(sizes) - 1, len(sizes)          # last LIF layer, readout layer
        D, P, wb = cfg.depth, cfg.weights_per_word, cfg.weight_bits
        wmin, wmax = cfg.weight_range
        v_bits = cfg.v_bits
        dbits = max(1, clog2(D))
        nS = nP * nL
        Lbits = wb + clog2(nO + 1) + 1                # |L_k| <= n_out * 2^(wb-1)

        # -- memories -------------------------------------------------------------------------
        ports = {}

        def mem(name, shape, depth):
            mm = collision_free_memory(shape=shape, depth=max(1, depth), attrs={"ram_style": "block"})
            m.submodules[name] = mm
            wr = mm.write_port()
            ports[name] = (mm.read_port(), wr, depth)

        # Pair R's state is one memory, 16 bits wide, word Cat(j, field): field 0 trace_R,
        # 1 trace_alt_R, 2 elig_w_R, 3 elig_d_R (one read data path for the STEP update, the
        # readback and LEARN; the traces are stored zero-extended, elig_d_R as its 16 bits).
        jb = max(1, (nL - 1).bit_length())
        mem("state_R", 16, 4 << jb)
        if has_H:
            mem("trace_H", 10, nP)
            mem("trace_alt_H", 10, nP)
            mem("elig_w_H", 16, nS)
            mem("elig_d_H", signed(16), nS)
            mem("psi", 4, nL)
            mem("signal", signed(Lbits), nL)
        # The status counters (learned, rejected, ignored) are the 3 words after the scores.
        sc_mem = collision_free_memory(shape=signed(32), depth=nO + 3, attrs={"ram_style": "block"})
        m.submodules["score"] = sc_mem
        sc_wr = sc_mem.write_port()
        ports["score"] = (sc_mem.read_port(), sc_wr, nO)
        mem("err", signed(2), nO)
        rd = {k: v[0] for k, v in ports.items()}
        wr = {k: v[1] for k, v in ports.items()}
        # No collision logic (block_ram.py). Pair R's memory is read (the next field) while it is
        # written, the others never need a word read in a cycle that writes them.
        for k in ports:
            collision_free(m, rd[k], wr[k], compare_addresses=k == "state_R")
        state_mems = [k for k in ports if k not in ("psi", "signal", "err")]

        # -- registers (spec section 5) -------------------------------------------------------
        # Registers the datapath reads only at known moments (margin in E_Y, the delay thresholds
        # in W_ROW / W_DSTEP), and without pair H those of pair H, live in a small block RAM
        # (`regmem`, 16 bits wide, word = register number, zero at configuration like the
        # registers' reset); the rest are flip-flops.
        in_ram = ["margin", "delay_thresh_R", "delay_thresh_H"]
        if not has_H:
            in_ram += ["lr_shift_H", "trace_shift_H", "trace_inc_H", "elig_shift_H", "psi_shift"]
        widths = dict(zip(REG_NAMES, LearnRegisters.WIDTHS))
        assert all(widths[n] <= 16 for n in in_ram)
        regs = {n: Signal(w, name=n, init=1 if n == "lfsr" else 0)
                for n, w in widths.items() if n not in in_ram}
        regmem = collision_free_memory(shape=16, depth=16, attrs={"ram_style": "block"})
        m.submodules["regmem"] = regmem
        rg_wr = regmem.write_port()
        rg_rd = regmem.read_port()
        collision_free(m, rg_rd, rg_wr)
        enable = regs["enable"]
        on, learn_w_R, learn_d_R = enable[0], enable[1], enable[2]
        learn_w_H, learn_d_H, stochastic = enable[3], enable[4], enable[5]
        LEARNED, REJECTED, IGNORED = 0, 1, 2           # counter numbers (region 10 index)
        cnt_sel = Signal(2)
        lfsr = regs["lfsr"]
        lfsr_next = Signal(32)
        m.d.comb += lfsr_next.eq((lfsr >> 1) ^ Mux(lfsr[0], LFSR_TAPS, 0))

        # -- control --------------------------------------------------------------------------
        state = Signal(range(N_STATES))
        ret = Signal(range(N_STATES))
        phase = Signal(range(11))
        step_open = Signal()
        self.fsm_state, self.fsm_phase = state, phase      # for testbenches (cycle counts)
        # Data to and from the core only as wide as the fields the engine uses.
        maxN = max(nS, nL * nO, nO, nL, nP, 4 << jb, 1)
        # The outside's loads and readback requests are latched here too and replayed from these
        # registers (C_WR, XRQ): no path runs from the link through the engine into the core's
        # port engine. yosys keeps only the bits the core uses.
        c_layer, c_space, c_addr = Signal(4), Signal(3), Signal(20)
        c_data = Signal(DATA_BITS)
        # The word a core read returned: the core's response register holds it until the next
        # readback request, which only the engine makes while it works (no copy in the engine).
        cdata = self.crb_resp.payload[:max(P * wb, D, v_bits, dbits)]
        maxJ = max(nO, nL, nP, 1)              # rows and columns
        outer = Signal(range(maxJ + 1))
        inner = Signal(range(maxJ + 1))
        f = Signal(range(maxN + 1))
        sel = Signal(range(max(2, P)))
        x_region, x_idx = Signal(4), Signal(16)
        y = Signal(range(max(2, nO)))

        def core_read(layer, space, addr, back):
            m.d.sync += [c_layer.eq(layer), c_space.eq(space), c_addr.eq(addr), state.eq(C_RD),
                         ret.eq(back)]

        def core_write(layer, space, addr, data, back):
            m.d.sync += [c_layer.eq(layer), c_space.eq(space), c_addr.eq(addr), c_data.eq(data),
                         state.eq(C_WR), ret.eq(back)]

        def sat_inc(counter):         # read-modify-write of the counter word: CNT_RD, CNT_WR
            m.d.sync += [cnt_sel.eq(counter), phase.eq(PH_CNT), state.eq(CNT_RD)]

        # regmem: the register read back, margin while LEARN finds the error, else the delay
        # threshold of the pair being learned.
        m.d.comb += rg_rd.addr.eq(Mux(phase == PH_EXT, x_idx[:4],
                                      Mux(phase == PH_E, REG_NAMES.index("margin"),
                                          Mux(phase == PH_WH, REG_NAMES.index("delay_thresh_H"),
                                              REG_NAMES.index("delay_thresh_R")))))
        # Memory read addresses follow the phase (stable across core accesses). The pair-R
        # memory's field is the one the next state reads: trace_R while the core is read and in
        # R_UPD's predecessors, trace_alt_R in the cycle after r_pre and for R_ALT, elig_w_R for
        # R_EL and W_MUL, elig_d_R for R_EL2 and W_SH.
        r_field = Signal(2)
        r_pre = R_D2 if has_H else R_H2       # the state before a neuron's history read
        with m.Switch(state):
            with m.Case(R_UPD, r_pre):
                m.d.comb += r_field.eq(1)
            with m.Case(R_ALT, W_PREP):
                m.d.comb += r_field.eq(2)
            with m.Case(R_EL, W_MUL, W_SH):
                m.d.comb += r_field.eq(3)
        with m.Switch(phase):
            with m.Case(PH_EXT):
                m.d.comb += [p.addr.eq(x_idx) for p in rd.values()]
                m.d.comb += rd["state_R"].addr.eq(Cat(x_idx[:jb], (x_region - 1)[:2]))
                m.d.comb += rd["score"].addr.eq(Mux(x_region == 10, nO + x_idx[:2], x_idx))
            with m.Case(PH_CNT):
                m.d.comb += rd["score"].addr.eq(nO + cnt_sel)
            with m.Default():
                m.d.comb += [rd["score"].addr.eq(Mux((phase == PH_LSIG) | (phase == PH_WR),
                                                     inner, outer)),
                             rd["err"].addr.eq(Mux((phase == PH_LSIG) | (phase == PH_WR),
                                                   inner, outer))]
                m.d.comb += rd["state_R"].addr.eq(Cat(outer[:jb], r_field))
                if has_H:
                    m.d.comb += [rd["psi"].addr.eq(inner), rd["signal"].addr.eq(inner),
                                 rd["trace_H"].addr.eq(outer), rd["trace_alt_H"].addr.eq(outer),
                                 rd["elig_w_H"].addr.eq(f), rd["elig_d_H"].addr.eq(f)]

        # Pass-through of outputs.
        m.d.comb += [self.o.valid.eq(self.co.valid), self.o.payload.eq(self.co.payload),
                     self.co.ready.eq(self.o.ready)]
        out_marker = self.co.valid & self.o.ready & ((self.co.payload.kind == EOT)
                                                     | (self.co.payload.kind == CLEAR))

        # Core port defaults: the engine's own request.
        m.d.comb += [self.cload.payload.layer.eq(c_layer), self.cload.payload.space.eq(c_space),
                     self.cload.payload.addr.eq(c_addr), self.cload.payload.data.eq(c_data),
                     self.crb_req.payload.layer.eq(c_layer), self.crb_req.payload.space.eq(c_space),
                     self.crb_req.payload.addr.eq(c_addr),
                     self.ci.payload.eq(self.i.payload)]

        # -- arithmetic of STEP (spec section 3) ----------------------------------------------
        # Every phase computes from registers and memory read data and writes a register or a
        # memory; the longer chains are cut by a register (R_UPD -> R_EL, H_MUL -> H_CALC).
        # Saturations look at the top bits of a sum that is wide enough, not at comparators.
        # The history word is the last core read of a neuron, so it is used from `cdata`
        # (the core's response register).
        hist_q, d_q = cdata[:D], Signal(dbits)
        v_q, thr_q = Signal(signed(v_bits)), Signal(signed(v_bits + 1))

        # One trace unit, used twice per pre neuron (trace in R_UPD / H_UPD, trace_alt in
        # R_ALT / H_ALT); tq (the new trace) and dq (sigma * (alt - trace)) are registers.
        on_H = phase == PH_H
        last = d_q >= D - 1
        a_nb = Signal(dbits)
        m.d.comb += a_nb.eq(d_q if D == 1 else Mux(last, d_q - 1, d_q + 1))
        # The decay t - (t >> trace_shift) of both traces is computed while the core reads the
        # history word: the cycle after r_pre / H_H2 sees trace_alt (the pair-R memory addressed
        # at field 1 in r_pre; trace_alt_H), kept in dalt_q; the last cycle of that read sees the
        # trace (field 0), kept in tdec_q for R_UPD / H_UPD, which then loads dalt_q into tdec_q
        # for R_ALT / H_ALT. The update itself is one add and a saturation of two registers.
        was_pre = Signal()
        m.d.sync += was_pre.eq((state == r_pre) | (state == H_H2 if has_H else 0))
        t_old = Signal(10)
        rd_R = rd["state_R"].data
        m.d.comb += t_old.eq(rd_R[:10])
        t_shift, t_inc = Signal(4), Signal(10)
        m.d.comb += [t_shift.eq(regs["trace_shift_R"]), t_inc.eq(regs["trace_inc_R"])]
        if has_H:
            with m.If(on_H):
                m.d.comb += [t_old.eq(Mux(was_pre, rd["trace_alt_H"].data, rd["trace_H"].data)),
                             t_shift.eq(regs["trace_shift_H"]), t_inc.eq(regs["trace_inc_H"])]
        t_dec = Signal(10)
        m.d.comb += t_dec.eq(t_old - (t_old >> t_shift))
        dalt_q, tdec_q = Signal(10), Signal(10)
        with m.If(was_pre):
            m.d.sync += dalt_q.eq(t_dec)
        # The increment (y ? trace_inc : 0) is a register computed a cycle ahead too: in the
        # history read's last cycle (C_RDW, the word arrives in the core's response register,
        # which holds it) the bit at d, in R_UPD / H_UPD the bit at the neighbouring delay.
        t_addq = Signal(10)
        on_upd = (state == R_UPD) | (state == H_UPD)
        m.d.sync += [t_addq.eq(Mux(hist_q.bit_select(Mux(on_upd, a_nb, d_q), 1), t_inc, 0)),
                     tdec_q.eq(Mux(on_upd, dalt_q, t_dec))]
        tx, t_new = Signal(11), Signal(10)                       # <= 1023 + 1023
        m.d.comb += [tx.eq(tdec_q + t_addq), t_new.eq(_sat_u(tx, 10))]
        # ta_q: the new trace_alt; dq is computed from the two registers a cycle later (R_EL,
        # H_PREP), not behind the trace update in the same cycle.
        tq, ta_q, dq = Signal(10), Signal(10), Signal(signed(11))
        d_new_q = Signal(signed(11))
        m.d.comb += d_new_q.eq(Mux(last, tq, ta_q) - Mux(last, ta_q, tq))

        def elig(ew_rd, ed_rd, pw, qd, shift):
            sw, sd = Signal(18), Signal(signed(19))
            m.d.comb += [sw.eq(ew_rd.data + (pw >> shift)), sd.eq(ed_rd.data + (qd >> shift))]
            return _sat_u(sw, 16), _sat_s(sd, 16)

        # Pair R: one adder for both eligibilities, elig_w_R in R_EL, elig_d_R in R_EL2.
        on_d = Signal()               # state == R_EL2, as a register (R_EL2 always follows R_EL)
        m.d.sync += on_d.eq(state == R_EL)
        e_old, e_add, e_sum = Signal(signed(17)), Signal(signed(11)), Signal(signed(18))
        m.d.comb += [e_old.eq(Mux(on_d, rd_R.as_signed(), rd_R)), e_add.eq(Mux(on_d, dq, tq)),
                     e_sum.eq(e_old + (e_add >> regs["elig_shift_R"]))]
        e_R_new = Mux(on_d, _sat_s(e_sum, 16).as_unsigned(), _sat_u(e_sum[:17], 16))
        psi_new = Signal(5)
        dist = Signal(signed(v_bits + 2))
        m.d.comb += dist.eq(thr_q - v_q)
        pv = Signal(signed(v_bits + 3))
        if has_H:
            m.d.comb += [pv.eq(PSI_MAX - (dist >> regs["psi_shift"])),
                         psi_new.eq(Mux(hist_q[0], PSI_MAX, Mux(pv < 0, 0, pv)))]
        if has_H:
            tHj, dHj = tq, dq
            psi_k = Signal(signed(5))
            m.d.comb += psi_k.eq(rd["psi"].data)
            pq_H, qq_H = Signal(signed(16)), Signal(signed(16))   # registered in H_MUL
            ew_H_new, ed_H_new = elig(rd["elig_w_H"], rd["elig_d_H"], pq_H, qq_H,
                                      regs["elig_shift_H"])
        # One adder for the score memory: score + v_o (SC_UPD, signed) and a status counter + 1
        # (CNT_WR, unsigned: the top bit of the sum is then the carry out, COUNTER_MAX reached).
        cnt_mode = state == CNT_WR
        sc_word = rd["score"].data.as_unsigned()
        sc_sum = Signal(33)
        m.d.comb += sc_sum.eq(Cat(sc_word, Mux(cnt_mode, 0, sc_word[31]))
                              + Mux(cnt_mode, 1, cdata[:v_bits].as_signed()))
        score_new = _sat_s(sc_sum.as_signed(), 32)

        # -- arithmetic of LEARN (spec section 4) ---------------------------------------------
        # Per weight: W_PREP (w), W_MUL (products), W_SH (shift, rounding, G term), W_CALC.
        best = Signal(signed(32))
        rival, have_rival = Signal(range(max(2, nO))), Signal()
        margin = rg_rd.data                # regmem, addressed at `margin` in phase PH_E
        s_o = rd["score"].data
        hinge = (s_o - best < margin) if nO > 1 else C(0, 1)       # in E_Y: s_o = score[y]

        wword = Signal(P * wb)
        wq = Signal(signed(wb))
        w_sel = wword.word_select(sel, wb) if P > 1 else wword
        e_k = rd["err"].data
        acc = Signal(signed(Lbits + 1))
        is_H = (phase == PH_WH) if has_H else C(0, 1)
        # Bounds of the exact quantities: |L_k| <= n_out 2^(wb-1), |w| <= 2^(wb-1),
        # elig_w < 2^16, |elig_d| <= 2^15.
        hw_ = 1 << (wb - 1)
        L_max = nO * hw_ if has_H else 1
        g_max = L_max * ((1 << 16) - 1)
        lw_max = L_max * hw_
        gt_max = lw_max * (1 << 15)
        G_max = gt_max * max(nL if has_H else 1, nO)
        GW, LW, GTW, GBW = (x.bit_length() + 1 for x in (g_max, lw_max, gt_max, G_max))
        gq, lwq, gtq = Signal(signed(GW)), Signal(signed(LW)), Signal(signed(GTW))
        G = Signal(signed(GBW))

        def tmul(e, x):              # e * x for a ternary e (err is -1, 0 or +1)
            return Mux(e[0], Mux(e[1], -x, x), 0)

        g_R, lw_R = tmul(e_k, rd_R), tmul(e_k, wq)        # elig_w_R in W_MUL
        if has_H:
            Lk = rd["signal"].data
            g_now = Mux(is_H, Lk * rd["elig_w_H"].data, g_R)
            lw_now = Mux(is_H, Lk * wq, lw_R)
            ed_now = Mux(is_H, rd["elig_d_H"].data, rd_R.as_signed())
        else:
            g_now, lw_now, ed_now = g_R, lw_R, rd_R.as_signed()     # elig_d_R in W_SH
        if cfg.ternary and not has_H:            # lwq is -1, 0 or +1
            # G + (+-elig_d or 0) in W_CALC, the negation as the adder's carry in (no gtq):
            # elig_d_R is still read there (the address of W_SH's last cycle).
            g_neg = (lwq != 0) & lwq[-1]
            G_next = G + Mux(lwq == 0, 0, Mux(lwq[-1], ~ed_now, ed_now)) + g_neg
        else:
            gt_now = lwq * ed_now
            G_next = G + gtq
        # round_step: lr is a register set at W_START; 2^lr - 1 is a table of it.
        lr = Mux(is_H, regs["lr_shift_H"], regs["lr_shift_R"]) if has_H else regs["lr_shift_R"]
        # Serially: W_SH shifts gq right one bit a cycle, lr times, and watches the bits it
        # shifts out (r = g mod 2^lr, least significant first) against those of lfsr_next (u):
        # u < r is decided by the most significant bit where they differ (the last one seen);
        # round half up needs only the last bit shifted out (bit lr-1 of g).
        lrq, sh_k = Signal(5), Signal(5)
        SB = wb + 2                  # the step, saturated: |step| > w_max - w_min is as good as any
        stepq, incq = Signal(signed(SB)), Signal()
        r_gt_u, last_out = Signal(), Signal()
        sh_done = sh_k == lrq
        out_bit, u_bit = gq[0], lfsr_next.bit_select(sh_k, 1)
        inc_now = Mux(stochastic, r_gt_u, last_out)
        step_now = _sat_s(gq, SB) if GW > SB else gq
        w_new = Signal(signed(wb))
        m.d.comb += w_new.eq(_clamp(wq + stepq + incq, wmin, wmax))
        learn_w = Mux(is_H, learn_w_H, learn_w_R)
        learn_d = Mux(is_H, learn_d_H, learn_d_R)
        thresh = Signal(signed(18))
        m.d.comb += thresh.eq(rg_rd.data)     # regmem, addressed at the pair's delay_thresh
        d_old = cdata[:dbits]
        g_lo = Signal(signed(max(GBW, 18) + 1))        # G < -thresh: the sign of G + thresh
        m.d.comb += g_lo.eq(G + thresh)
        d_new = Mux(G > thresh, Mux(d_old < D - 1, d_old + 1, d_old),
                    Mux(g_lo[-1], Mux(d_old > 0, d_old - 1, d_old), d_old))
        wword_new = Signal(P * wb)
        if P > 1:
            m.d.comb += wword_new.eq(Cat(Mux(sel == i, w_new.as_unsigned(), wword.word_select(i, wb))
                                         for i in range(P)))
        else:
            m.d.comb += wword_new.eq(w_new)
        # Walker parameters per phase.
        w_layer = Mux(is_H, Lr, RO)
        w_ncol_last = Mux(is_H, nL - 1, nO - 1)
        w_last = Mux(is_H, max(nS - 1, 0), nL * nO - 1)
        w_dlayer = Mux(is_H, Lr - 1, Lr)
        w_writes = (phase != PH_LSIG) & learn_w
        end_word = (sel == P - 1) | (f == w_last)
        end_row = inner == w_ncol_last

        # -- external register / region reads (spec section 5) --------------------------------
        local, local_sx = Signal(32), Signal()     # the value; its sign extension to 64 bits
        reg_arr = Array(rg_rd.data if n in in_ram else regs[n] for n in REG_NAMES)
        region_data = {0: (reg_arr[x_idx[:4]], len(REG_NAMES)), 9: (rd["score"].data, nO),
                       10: (rd["score"].data.as_unsigned(), 3)}
        for reg_no in (1, 2, 3):            # pair R: one memory, the field is the region - 1
            region_data[reg_no] = (rd_R, nL)
        region_data[4] = (rd_R.as_signed(), nL)
        for reg_no, name in ((5, "trace_H"), (6, "trace_alt_H"), (7, "elig_w_H"), (8, "elig_d_H")):
            if name in rd:
                region_data[reg_no] = (rd[name].data, ports[name][2])
        x_size = Signal(range(max(s_ for _, s_ in region_data.values()) + 1))
        x_val, x_sx = Signal(32), Signal()
        with m.Switch(x_region):          # one comparator for all regions
            for reg_no, (val, size) in region_data.items():
                with m.Case(reg_no):
                    m.d.comb += [x_val.eq(val), x_size.eq(size)]
                    if val.shape().signed:
                        m.d.comb += x_sx.eq(val[-1])
        in_range = x_idx < x_size
        m.d.comb += [local.eq(Mux(in_range, x_val, 0)), local_sx.eq(in_range & x_sx)]

        # -- the state machine ----------------------------------------------------------------
        ld, rq = self.load.payload, self.rb_req.payload
        m.d.comb += rg_wr.addr.eq(c_addr[:4])
        # `free` (IDLE with no step open) is a flag register: the handshakes with the outside
        # start from it, not from a decode of `state`. It is set a cycle after the engine is
        # idle without having taken anything (so it is never set outside IDLE).
        free = Signal(init=1)
        lab = free & self.label.valid
        xld = free & ~self.label.valid & self.load.valid
        xrb = free & ~self.label.valid & ~self.load.valid & self.rb_req.valid
        fwd = ~(lab | xld | xrb)
        m.d.comb += [self.label.ready.eq(free), self.load.ready.eq(xld),
                     self.rb_req.ready.eq(xrb)]
        m.d.sync += free.eq((state == IDLE) & ~step_open & ~lab & ~xld & ~xrb
                            & ~(self.i.valid & self.ci.ready))
        # The readback response to the outside from flag registers (state == XRD_CORE /
        # XRESP, set with the state) rather than a decode of `state`.
        xrd, xresp = Signal(), Signal()
        m.d.sync += [xrd.eq(Mux(state == XRQ, self.crb_req.ready,
                                (state == XRD_CORE) & ~(self.crb_resp.valid & self.rb_resp.ready))),
                     xresp.eq((state == XRD_LOCAL) | ((state == XRESP) & ~self.rb_resp.ready))]
        m.d.comb += [self.rb_resp.valid.eq((xrd & self.crb_resp.valid) | xresp),
                     self.rb_resp.payload.eq(Mux(xrd, self.crb_resp.payload,
                                                 Cat(local, local_sx.replicate(32)))),
                     self.crb_resp.ready.eq(xrd & self.rb_resp.ready)]
        with m.Switch(state):
            with m.Case(IDLE):
                m.d.sync += phase.eq(PH_NONE)
                m.d.comb += [self.ci.valid.eq(fwd & self.i.valid),
                             self.i.ready.eq(fwd & self.ci.ready)]
                with m.If(fwd & self.i.valid & self.ci.ready):
                    kind = self.i.payload.kind
                    with m.If((kind == EOT) | (kind == CLEAR)):
                        m.d.sync += [step_open.eq(0), state.eq(WAIT_OUT)]
                    with m.Else():
                        m.d.sync += step_open.eq(1)
                with m.If(lab):
                    yl = self.label.payload
                    with m.If(yl >= nO):
                        sat_inc(REJECTED)
                    with m.Elif(~on):
                        sat_inc(IGNORED)
                    with m.Else():
                        m.d.sync += [y.eq(yl), have_rival.eq(0), outer.eq(0), phase.eq(PH_E),
                                     state.eq(E_PREP)]
                with m.If(xld):               # latched, decoded in XLD
                    m.d.sync += [c_layer.eq(ld.layer), c_space.eq(ld.space), c_addr.eq(ld.addr),
                                 c_data.eq(ld.data), ret.eq(IDLE), state.eq(XLD)]
                with m.If(xrb):               # latched for both (a register or a core read)
                    m.d.sync += [x_region.eq(rq.addr[16:20]), x_idx.eq(rq.addr[:16]),
                                 c_layer.eq(rq.layer), c_space.eq(rq.space), c_addr.eq(rq.addr)]
                    with m.If(rq.space == LEARN):
                        m.d.sync += [phase.eq(PH_EXT), state.eq(XRD_LOCAL)]
                    with m.Else():
                        m.d.sync += state.eq(XRQ)
            with m.Case(XLD):                 # an outside load, from the latched request
                region, idx = c_addr[16:20], c_addr[:16]
                m.d.sync += state.eq(C_WR)        # to the core (ret: IDLE), unless a register
                with m.If(c_space == LEARN):
                    with m.If((region == 0) & (idx < len(REG_NAMES))):
                        m.d.sync += state.eq(IDLE)
                        with m.Switch(idx[:4]):      # idx < 14 checked above
                            for n_, name in enumerate(REG_NAMES):
                                with m.Case(n_):
                                    if name == "lfsr":
                                        d32 = c_data[:32]
                                        m.d.sync += lfsr.eq(Mux(d32 == 0, 1, d32))
                                    elif name in in_ram:    # truncated to its width
                                        m.d.comb += [rg_wr.en.eq(1),
                                                     rg_wr.data.eq(c_data[:widths[name]])]
                                    else:
                                        m.d.sync += regs[name].eq(c_data)
                    with m.Else():      # read-only region: the core drops and counts it
                        m.d.sync += c_layer.eq(DROP_LAYER)
            with m.Case(XRQ):
                m.d.comb += self.crb_req.valid.eq(1)
                with m.If(self.crb_req.ready):
                    m.d.sync += state.eq(XRD_CORE)
            with m.Case(WAIT_OUT):
                with m.If(out_marker):
                    with m.If(self.co.payload.kind == CLEAR):
                        m.d.sync += [phase.eq(PH_CLR), f.eq(0), state.eq(CLR)]
                    with m.Elif(on):
                        m.d.sync += [phase.eq(PH_SCORE), outer.eq(0), state.eq(SC)]
                    with m.Else():
                        m.d.sync += state.eq(IDLE)
            with m.Case(XRD_CORE):        # the response: rb_resp from the flags, below
                with m.If(self.crb_resp.valid & self.rb_resp.ready):
                    m.d.sync += state.eq(IDLE)
            with m.Case(XRD_LOCAL):
                m.d.sync += state.eq(XRESP)
            with m.Case(XRESP):
                with m.If(self.rb_resp.ready):
                    m.d.sync += state.eq(IDLE)

            # Core access subroutine.
            with m.Case(C_RD):
                m.d.comb += self.crb_req.valid.eq(1)
                with m.If(self.crb_req.ready):
                    m.d.sync += state.eq(C_RDW)
            with m.Case(C_RDW):
                m.d.comb += self.crb_resp.ready.eq(1)
                with m.If(self.crb_resp.valid):
                    m.d.sync += state.eq(ret)
            with m.Case(C_WR):
                m.d.comb += self.cload.valid.eq(1)
                with m.If(self.cload.ready):
                    m.d.sync += state.eq(ret)

            # STEP 3.1: scores from the readout membranes (= the step's outputs).
            with m.Case(SC):
                core_read(RO, MEMBRANE, outer, SC_UPD)
            with m.Case(SC_UPD):
                m.d.comb += [wr["score"].addr.eq(outer), wr["score"].data.eq(score_new),
                             wr["score"].en.eq(1)]
                with m.If(outer == nO - 1):
                    m.d.sync += [outer.eq(0), phase.eq(PH_R),
                                 state.eq(R_THR if has_H else R_HIST)]
                with m.Else():
                    m.d.sync += [outer.eq(outer + 1), state.eq(SC)]
            # STEP 3.2-3.4, pair R (and psi of layer L for pair H).
            with m.Case(R_THR):
                core_read(Lr, REGISTER, 0, R_THR2)
            with m.Case(R_THR2):
                m.d.sync += [thr_q.eq(cdata[:v_bits]), state.eq(R_HIST)]
            with m.Case(R_HIST):
                core_read(Lr, DELAY, outer, R_H2)
            with m.Case(R_H2):
                m.d.sync += d_q.eq(cdata)
                if has_H:
                    core_read(Lr, MEMBRANE, outer, R_D2)
                else:
                    core_read(Lr, HISTORY, outer, R_UPD)
            with m.Case(R_D2):
                m.d.sync += v_q.eq(cdata)
                core_read(Lr, HISTORY, outer, R_UPD)
            with m.Case(R_UPD):
                if has_H:
                    m.d.comb += [wr["psi"].addr.eq(outer), wr["psi"].data.eq(psi_new),
                                 wr["psi"].en.eq(1)]
                m.d.comb += [wr["state_R"].addr.eq(Cat(outer[:jb], C(0, 2))),
                             wr["state_R"].data.eq(t_new), wr["state_R"].en.eq(1)]
                m.d.sync += [tq.eq(t_new), state.eq(R_ALT)]
            with m.Case(R_ALT):
                m.d.comb += [wr["state_R"].addr.eq(Cat(outer[:jb], C(1, 2))),
                             wr["state_R"].data.eq(t_new), wr["state_R"].en.eq(1)]
                m.d.sync += [ta_q.eq(t_new), state.eq(R_EL)]
            with m.Case(R_EL):
                m.d.comb += [wr["state_R"].addr.eq(Cat(outer[:jb], C(2, 2))),
                             wr["state_R"].data.eq(e_R_new), wr["state_R"].en.eq(1)]
                m.d.sync += [dq.eq(d_new_q), state.eq(R_EL2)]
            with m.Case(R_EL2):
                m.d.comb += [wr["state_R"].addr.eq(Cat(outer[:jb], C(3, 2))),
                             wr["state_R"].data.eq(e_R_new), wr["state_R"].en.eq(1)]
                with m.If(outer == nL - 1):
                    if has_H:
                        m.d.sync += [outer.eq(0), f.eq(0), phase.eq(PH_H), state.eq(H_HIST)]
                    else:
                        m.d.sync += state.eq(IDLE)
                with m.Else():
                    m.d.sync += [outer.eq(outer + 1), state.eq(R_HIST)]
            if has_H:
                # STEP, pair H: traces of layer L-1, then the synapses of row j.
                with m.Case(H_HIST):
                    core_read(Lr - 1, DELAY, outer, H_H2)
                with m.Case(H_H2):
                    m.d.sync += d_q.eq(cdata)
                    core_read(Lr - 1, HISTORY, outer, H_UPD)
                with m.Case(H_UPD):
                    m.d.comb += [wr["trace_H"].addr.eq(outer), wr["trace_H"].data.eq(t_new),
                                 wr["trace_H"].en.eq(1)]
                    m.d.sync += [tq.eq(t_new), state.eq(H_ALT)]
                with m.Case(H_ALT):
                    m.d.comb += [wr["trace_alt_H"].addr.eq(outer), wr["trace_alt_H"].data.eq(t_new),
                                 wr["trace_alt_H"].en.eq(1)]
                    m.d.sync += [ta_q.eq(t_new), inner.eq(0), state.eq(H_PREP)]
                with m.Case(H_PREP):
                    m.d.sync += [dq.eq(d_new_q), state.eq(H_MUL)]
                with m.Case(H_MUL):
                    m.d.sync += [pq_H.eq(psi_k * tHj), qq_H.eq(psi_k * dHj), state.eq(H_CALC)]
                with m.Case(H_CALC):
                    for k, val in (("elig_w_H", ew_H_new), ("elig_d_H", ed_H_new)):
                        m.d.comb += [wr[k].addr.eq(f), wr[k].data.eq(val), wr[k].en.eq(1)]
                    m.d.sync += f.eq(f + 1)
                    with m.If(inner == nL - 1):
                        with m.If(outer == nP - 1):
                            m.d.sync += state.eq(IDLE)
                        with m.Else():
                            m.d.sync += [outer.eq(outer + 1), state.eq(H_HIST)]
                    with m.Else():
                        m.d.sync += [inner.eq(inner + 1), state.eq(H_PREP)]

            # LEARN 4.1: the ternary error.
            with m.Case(E_PREP):
                m.d.sync += state.eq(E_CALC)
            with m.Case(E_CALC):          # clear e, find the rival (first maximum over o != y)
                m.d.comb += [wr["err"].addr.eq(outer), wr["err"].data.eq(0), wr["err"].en.eq(1)]
                with m.If((outer != y) & (~have_rival | (s_o > best))):
                    m.d.sync += [best.eq(s_o), rival.eq(outer), have_rival.eq(1)]
                with m.If(outer == nO - 1):
                    m.d.sync += [outer.eq(y), state.eq(E_SY)]
                with m.Else():
                    m.d.sync += [outer.eq(outer + 1), state.eq(E_PREP)]
            with m.Case(E_SY):            # score[y] is read (hinge in E_Y)
                m.d.sync += state.eq(E_Y)
            with m.Case(E_Y):
                m.d.comb += [wr["err"].addr.eq(y), wr["err"].data.eq(1), wr["err"].en.eq(hinge)]
                m.d.sync += [phase.eq(PH_LSIG if has_H else PH_WR),
                             state.eq(Mux(hinge, E_R, W_START))]
            with m.Case(E_R):
                m.d.comb += [wr["err"].addr.eq(rival), wr["err"].data.eq(-1), wr["err"].en.eq(1)]
                m.d.sync += state.eq(W_START)

            # LEARN 4.2/4.3: walks over a weight memory, one word read (and written) at a time.
            with m.Case(W_START):
                m.d.sync += [f.eq(0), outer.eq(0), inner.eq(0), sel.eq(0), G.eq(0), acc.eq(0),
                             lrq.eq(lr), state.eq(W_RD)]
            with m.Case(W_RD):
                core_read(w_layer, WEIGHT, f >> (P.bit_length() - 1), W_GOT)
            with m.Case(W_GOT):
                m.d.sync += [wword.eq(cdata), state.eq(W_PREP)]
            with m.Case(W_PREP):
                m.d.sync += [wq.eq(w_sel), state.eq(W_MUL)]
            with m.Case(W_MUL):
                m.d.sync += [gq.eq(g_now), lwq.eq(lw_now), sh_k.eq(0), r_gt_u.eq(0),
                             last_out.eq(0), state.eq(W_SH)]
            with m.Case(W_SH):           # lr_shift cycles of shifting, then one more
                with m.If(sh_done):
                    if not (cfg.ternary and not has_H):
                        m.d.sync += gtq.eq(gt_now)
                    m.d.sync += [stepq.eq(step_now), incq.eq(inc_now),
                                 state.eq(W_CALC)]
                with m.Else():
                    m.d.sync += [gq.eq(gq >> 1), sh_k.eq(sh_k + 1), last_out.eq(out_bit)]
                    with m.If(out_bit != u_bit):
                        m.d.sync += r_gt_u.eq(out_bit)
            with m.Case(W_CALC):
                m.d.sync += [acc.eq(acc + lwq), G.eq(G_next), state.eq(W_ROW)]
                with m.If(w_writes):
                    m.d.sync += wword.eq(wword_new)
                    with m.If(stochastic):
                        m.d.sync += lfsr.eq(lfsr_next)
                    with m.If(end_word):
                        core_write(w_layer, WEIGHT, f >> (P.bit_length() - 1), wword_new, W_ROW)
            with m.Case(W_ROW):
                m.d.sync += state.eq(W_NEXT)
                with m.If(end_row):
                    with m.If(phase == PH_LSIG):
                        if has_H:
                            m.d.comb += [wr["signal"].addr.eq(outer), wr["signal"].data.eq(acc),
                                         wr["signal"].en.eq(1)]
                        m.d.sync += acc.eq(0)
                    with m.Elif(learn_d):
                        core_read(w_dlayer, DELAY, outer, W_DSTEP)
                    with m.Else():
                        m.d.sync += G.eq(0)
            with m.Case(W_DSTEP):
                m.d.sync += G.eq(0)
                core_write(w_dlayer, DELAY, outer, d_new, W_NEXT)
            with m.Case(W_NEXT):
                with m.If(f == w_last):
                    with m.Switch(phase):
                        with m.Case(PH_LSIG):
                            m.d.sync += [phase.eq(PH_WH), state.eq(W_START)]
                        with m.Case(PH_WH):
                            m.d.sync += [phase.eq(PH_WR), state.eq(W_START)]
                        with m.Default():
                            sat_inc(LEARNED)          # then CLR
                with m.Else():
                    m.d.sync += [f.eq(f + 1), state.eq(W_PREP)]
                    if P > 1:
                        m.d.sync += sel.eq(sel + 1)
                    with m.If(sel == P - 1):
                        m.d.sync += state.eq(W_RD)
                    with m.If(end_row):
                        m.d.sync += [inner.eq(0), outer.eq(outer + 1)]
                    with m.Else():
                        m.d.sync += inner.eq(inner + 1)

            # Status counters: 32-bit saturating, kept in the score memory.
            with m.Case(CNT_RD):
                m.d.sync += state.eq(CNT_WR)
            with m.Case(CNT_WR):
                m.d.comb += [wr["score"].addr.eq(nO + cnt_sel), wr["score"].data.eq(sc_sum[:32]),
                             wr["score"].en.eq(~sc_sum[32])]      # the carry out: COUNTER_MAX
                with m.If(cnt_sel == LEARNED):
                    m.d.sync += [phase.eq(PH_CLR), f.eq(0), state.eq(CLR)]
                with m.Else():
                    m.d.sync += state.eq(IDLE)

            # Clear the state of section 2 (CLEAR, and the end of LEARN).
            with m.Case(CLR):
                clr_depth = max(ports[k][2] for k in state_mems)
                for k in state_mems:
                    m.d.comb += [wr[k].addr.eq(f), wr[k].data.eq(0),
                                 wr[k].en.eq(f < ports[k][2])]
                m.d.sync += f.eq(f + 1)
                with m.If(f == clr_depth - 1):
                    m.d.sync += state.eq(IDLE)
        return m
