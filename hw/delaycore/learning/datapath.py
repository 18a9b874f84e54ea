"""The learning engine's arithmetic (docs/learning.md, sections 3, 4 and 6.1): pure functions that
return expressions, and the two units that keep registers of their own (`TraceUnit`,
`StochasticRounder`).

Every phase computes from registers and memory read data into one register or memory write; the
longer chains are cut by registers (products before shifts, clamps and writes). Saturations look
at the top bits of a sum that is wide enough, not at comparators. Where a function takes `m`, it
adds an intermediate signal whose width is part of the arithmetic (a truncation or a sign).
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.learning import PSI_MAX, LFSR_TAPS, TRACE_BITS


def clamp(x, lo, hi):
    """`x` limited to [lo, hi]."""
    return Mux(x < lo, lo, Mux(x > hi, hi, x))


def saturate_signed(x, n):
    """`x` (signed, wider than n) saturated to n-bit signed, by looking at its top bits only."""
    top = x[n - 1:]
    ok = (top == 0) | (top == (1 << len(top)) - 1)
    return Mux(ok, x[:n], Mux(x[-1], C(1 << (n - 1), n), C((1 << (n - 1)) - 1, n))).as_signed()


def saturate_unsigned(x, n):
    """`x` (non-negative, wider than n) saturated to n-bit unsigned."""
    return Mux(x[n:].any(), C((1 << n) - 1, n), x[:n])


def ternary_times(e, x):
    """e * x for a ternary e (the error is -1, 0 or +1): a negation and a select, no product."""
    return Mux(e[0], Mux(e[1], -x, x), 0)


def lfsr_step(state):
    """The next state of the 32-bit Galois LFSR (`corespec.learning.lfsr_next`)."""
    return (state >> 1) ^ Mux(state[0], LFSR_TAPS, 0)


def surrogate(m, threshold, v, fired, shift, v_bits):
    """psi (spec 3.2): PSI_MAX if the neuron fired, else PSI_MAX - ((threshold - v) >> shift),
    at least 0."""
    dist = Signal(signed(v_bits + 2))
    psi_v = Signal(signed(v_bits + 3))
    psi = Signal(5)
    m.d.comb += [dist.eq(threshold - v), psi_v.eq(PSI_MAX - (dist >> shift)),
                 psi.eq(Mux(fired, PSI_MAX, Mux(psi_v < 0, 0, psi_v)))]
    return psi


def eligibility_R(m, stored, trace, diff, shift, is_delay):
    """Pair R's eligibility update (spec 3.3) through one adder: elig_w_R + (trace >> shift)
    (unsigned, `is_delay` low), or elig_d_R + (sigma * (alt - trace) >> shift) (signed);
    `stored` is the memory word, both saturated to 16 bits."""
    old, add, total = Signal(signed(17)), Signal(signed(11)), Signal(signed(18))
    m.d.comb += [old.eq(Mux(is_delay, stored.as_signed(), stored)),
                 add.eq(Mux(is_delay, diff, trace)),
                 total.eq(old + (add >> shift))]
    return Mux(is_delay, saturate_signed(total, 16).as_unsigned(),
               saturate_unsigned(total[:17], 16))


def eligibility_H(m, stored_w, stored_d, product_w, product_d, shift):
    """Pair H's eligibilities (spec 3.4): elig_w_H + (psi * trace >> shift) and
    elig_d_H + (psi * sigma * (alt - trace) >> shift), the products registered before."""
    total_w, total_d = Signal(18), Signal(signed(19))
    m.d.comb += [total_w.eq(stored_w + (product_w >> shift)),
                 total_d.eq(stored_d + (product_d >> shift))]
    return saturate_unsigned(total_w, 16), saturate_signed(total_d, 16)


def score_adder(m, stored, v, count):
    """One adder for the score memory: score + v_o (signed) or, with `count`, a status counter
    + 1 (unsigned: the top bit of the sum is then the carry out, COUNTER_MAX reached).
    -> (the 33-bit sum, the score saturated to 32 bits)."""
    word = stored.as_unsigned()
    total = Signal(33)
    m.d.comb += total.eq(Cat(word, Mux(count, 0, word[31])) + Mux(count, 1, v))
    return total, saturate_signed(total.as_signed(), 32)


def delay_step(m, d_old, G, thresh, depth, G_bits):
    """The delay step (spec 4.3): d + 1 if G > thresh, d - 1 if G < -thresh, within
    [0, depth - 1]; G < -thresh from the sign of G + thresh."""
    below = Signal(signed(max(G_bits, 18) + 1))
    m.d.comb += below.eq(G + thresh)
    return Mux(G > thresh, Mux(d_old < depth - 1, d_old + 1, d_old),
               Mux(below[-1], Mux(d_old > 0, d_old - 1, d_old), d_old))


def replace_weight(word, sel, w, per_word, weight_bits):
    """The weight word with its weight `sel` replaced by `w` (the others kept)."""
    if per_word == 1:
        return w
    return Cat(Mux(sel == i, w.as_unsigned(), word.word_select(i, weight_bits))
               for i in range(per_word))


class TraceUnit(wiring.Component):
    """One trace unit, used twice per pre neuron of a pair: the new trace, then the new
    trace_alt, then sigma * (alt - trace) (spec 3.1/3.3; docs/learning.md 6.1).

    The decay t - (t >> shift) of both traces is computed while the core reads the history word:
    the cycle after `pre` sees trace_alt on `trace` (kept in a register), the last cycle of that
    read sees the trace (kept for `update`, which then loads the kept trace_alt for the
    alternative). The increment (y ? inc : 0) is a register computed a cycle ahead too: in the
    history read's last cycle from the bit at the delay `d`, in `update` from the bit at the
    neighbouring delay (d - 1 at the last delay, else d + 1). The update itself is one add and a
    saturation of two registers.

    Members
    -------
    trace: :py:`In(10)`     the stored trace the memory returns (trace_alt the cycle after `pre`)
    shift, inc: :py:`In(4)`, :py:`In(10)`    trace_shift, trace_inc of the pair
    history: :py:`In(depth)`    the neuron's history word (the core's response register)
    delay: :py:`In(delay_bits)`, load_delay: :py:`In(1)`    the neuron's delay d, taken
    pre: :py:`In(1)`        the state that asks the core for the history word
    update: :py:`In(1)`     the new trace is written this cycle
    keep_trace, keep_alt, keep_diff: :py:`In(1)`    register new (trace, alt), or sigma*(alt-trace)
    was_pre: :py:`Out(1)`   the cycle after `pre` (`trace` is trace_alt)
    new: :py:`Out(10)`      the new trace (or trace_alt), saturated
    trace_q, alt_q: :py:`Out(10)`, diff_q: :py:`Out(signed(11))`    the kept values
    """

    def __init__(self, depth: int, delay_bits: int):
        self.depth = depth
        super().__init__({
            "trace": In(TRACE_BITS), "shift": In(4), "inc": In(TRACE_BITS),
            "history": In(depth), "delay": In(delay_bits), "load_delay": In(1),
            "pre": In(1), "update": In(1),
            "keep_trace": In(1), "keep_alt": In(1), "keep_diff": In(1),
            "was_pre": Out(1), "new": Out(TRACE_BITS),
            "trace_q": Out(TRACE_BITS), "alt_q": Out(TRACE_BITS), "diff_q": Out(signed(11))})

    def elaborate(self, platform):
        m = Module()
        D = self.depth
        d = Signal.like(self.delay, name="d")
        with m.If(self.load_delay):
            m.d.sync += d.eq(self.delay)
        last = d >= D - 1
        neighbour = Signal.like(d)
        m.d.comb += neighbour.eq(d if D == 1 else Mux(last, d - 1, d + 1))
        m.d.sync += self.was_pre.eq(self.pre)
        decayed = Signal(TRACE_BITS)
        m.d.comb += decayed.eq(self.trace - (self.trace >> self.shift))
        decayed_alt, decayed_q, inc_q = (Signal(TRACE_BITS, name=n)
                                         for n in ("decayed_alt", "decayed_q", "inc_q"))
        with m.If(self.was_pre):
            m.d.sync += decayed_alt.eq(decayed)
        spiked = self.history.bit_select(Mux(self.update, neighbour, d), 1)
        m.d.sync += [inc_q.eq(Mux(spiked, self.inc, 0)),
                     decayed_q.eq(Mux(self.update, decayed_alt, decayed))]
        total = Signal(TRACE_BITS + 1)                    # <= 1023 + 1023
        m.d.comb += [total.eq(decayed_q + inc_q), self.new.eq(saturate_unsigned(total, 10))]
        # sigma * (alt - trace), sigma = -1 at the last delay: from the two kept registers, a
        # cycle after they are kept (not behind the trace update in the same cycle).
        diff = Signal(signed(11))
        m.d.comb += diff.eq(Mux(last, self.trace_q, self.alt_q) - Mux(last, self.alt_q, self.trace_q))
        with m.If(self.keep_trace):
            m.d.sync += self.trace_q.eq(self.new)
        with m.If(self.keep_alt):
            m.d.sync += self.alt_q.eq(self.new)
        with m.If(self.keep_diff):
            m.d.sync += self.diff_q.eq(diff)
        return m


class StochasticRounder(wiring.Component):
    """round_step of a product g (spec 4.2), serially: `run` shifts g right one bit a cycle,
    `lr` times, and watches the bits it shifts out (r = g mod 2^lr, least significant first)
    against those of the LFSR's next state (u): u < r is decided by the most significant bit
    where they differ (the last one seen); round half up needs only the last bit shifted out
    (bit lr-1 of g). Then the step (g >> lr, saturated) and the rounding bit are registered.

    Members
    -------
    lr: :py:`In(5)`, start: :py:`In(1)`    the pair's lr_shift, taken at `start`
    product: :py:`In(signed(g_bits))`, load: :py:`In(1)`    g, taken at `load`
    run: :py:`In(1)`        a shift cycle, or (`done`) the cycle that registers the result
    random: :py:`In(32)`    the LFSR's next state
    stochastic: :py:`In(1)` stochastic rounding (else half up)
    done: :py:`Out(1)`      `lr` bits shifted out
    step: :py:`Out(signed(step_bits))`, round_up: :py:`Out(1)`    the result
    """

    def __init__(self, g_bits: int, step_bits: int):
        self.g_bits, self.step_bits = g_bits, step_bits
        super().__init__({
            "lr": In(5), "start": In(1), "product": In(signed(g_bits)), "load": In(1),
            "run": In(1), "random": In(32), "stochastic": In(1),
            "done": Out(1), "step": Out(signed(step_bits)), "round_up": Out(1)})

    def elaborate(self, platform):
        m = Module()
        g = Signal(signed(self.g_bits), name="g")
        lr, shifted = Signal(5, name="lr_q"), Signal(5, name="shifted")
        r_gt_u, last_out = Signal(), Signal()
        out_bit, u_bit = g[0], self.random.bit_select(shifted, 1)
        m.d.comb += self.done.eq(shifted == lr)
        step = (saturate_signed(g, self.step_bits) if self.g_bits > self.step_bits else g)
        with m.If(self.start):
            m.d.sync += lr.eq(self.lr)
        with m.If(self.load):
            m.d.sync += [g.eq(self.product), shifted.eq(0), r_gt_u.eq(0), last_out.eq(0)]
        with m.If(self.run):
            with m.If(self.done):
                m.d.sync += [self.step.eq(step),
                             self.round_up.eq(Mux(self.stochastic, r_gt_u, last_out))]
            with m.Else():
                m.d.sync += [g.eq(g >> 1), shifted.eq(shifted + 1), last_out.eq(out_bit)]
                with m.If(out_bit != u_bit):
                    m.d.sync += r_gt_u.eq(out_bit)
        return m
