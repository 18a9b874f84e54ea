"""The core's status counters (docs/core.md 3.3 and 5): 32-bit saturating event counters kept in
one block RAM instead of flip-flops.

Thirty-two flip-flops and a 32-bit incrementer per counter cost about 60 logic cells each on the
iCE40 (the flip-flops rarely pack with a LUT); here every counter shares one RAM word, one adder
and a few bits of pending increments:

* `inc[k]` says counter k counts one more event this cycle (any subset of the counters at once).
  The event is first added to `pending[k]`, a small flip-flop counter.
* A service walks the counters round robin: it reads word k (one cycle), then writes
  `sat(word + pending[k])` back and restarts `pending[k]` from the increment of that cycle.
* A read (`rd_en`, `rd_addr` = a, at cycle c) takes the RAM's read port in cycle c instead (the
  round robin pauses), services counter a at c + 1, and shows its exact count, every increment
  up to and including cycle c, on `rd_data` in cycle c + 1 (combinational there).
* A write never goes to the word read in the same cycle (block_ram.py: no collision logic,
  here by the write rule itself rather than `collision_free`): when the counter being serviced
  is read again (a read request for it), its write is skipped
  and `pending` kept, so the next cycle's service adds it all.

Bound on `pending`: reads come at most one in three cycles (the core's readback port: one in four), so
the round robin gets at least two of every three cycles, and each counter is serviced at least
once in every `ceil(3 n / 2) + 2` cycles, with at most one increment per cycle in between. The
pending counters are `PENDING_BITS` wide for `n <= 8`; `tests/test_rtl_units.py` checks the bound
under increments every cycle and reads as often as the port allows.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from delaycore.core.block_ram import collision_free_memory

WIDTH = 32
PENDING_BITS = 4


class StatusCounters(wiring.Component):
    def __init__(self, n: int, init: tuple[int, ...] = ()):
        assert 2 <= n <= 8, "the pending bound (module docstring) holds for 2..8 counters"
        self.n = n
        self.init = tuple(init)       # test hook: counters that start near saturation
        super().__init__({
            "inc": In(n),
            "rd_en": In(1),
            "rd_addr": In(range(n)),
            "rd_data": Out(WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n
        m.submodules.mem = mem = collision_free_memory(shape=WIDTH, depth=n, init=self.init)
        wr, rd = mem.write_port(), mem.read_port()     # read enabled always: `write` below
        pending = [Signal(PENDING_BITS, name=f"pending{k}") for k in range(n)]
        rr = Signal(range(n))            # next counter the round robin reads
        serving = Signal(range(n))       # counter whose word the read port returned this cycle
        m.d.comb += rd.addr.eq(Mux(self.rd_en, self.rd_addr, rr))
        m.d.sync += serving.eq(rd.addr)
        with m.If(~self.rd_en):
            m.d.sync += rr.eq(Mux(rr == n - 1, 0, rr + 1))

        total = Signal(WIDTH + 1)        # the carry out: past 2^32 - 1, saturate
        m.d.comb += total.eq(rd.data + Array(pending)[serving])
        m.d.comb += [self.rd_data.eq(total[:WIDTH] | total[WIDTH].replicate(WIDTH)),
                     wr.addr.eq(serving), wr.data.eq(self.rd_data)]
        primed = Signal()                # the read port has returned a word (not in cycle 0)
        m.d.sync += primed.eq(1)
        write = primed & (serving != rd.addr)    # else the word is read again now: write it next
        m.d.comb += wr.en.eq(write)
        for k in range(n):
            with m.If(write & (serving == k)):
                m.d.sync += pending[k].eq(self.inc[k])
            with m.Else():
                m.d.sync += pending[k].eq(pending[k] + self.inc[k])
        return m
