"""Drops malformed input events before they reach layer 1, and counts them."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.events import EventKind
from delaycore.core.layouts import EventLayout

SPIKE, EOT, CLEAR, RESERVED = EventKind.SPIKE, EventKind.EOT, EventKind.CLEAR, EventKind.RESERVED


class Guard(wiring.Component):
    """Combinational: a good event passes through, a bad one is taken at once and counted.

    A spike beyond `max_events` in one timestep is dropped too: it bounds the accumulator width.
    `drop_kind` / `drop_addr` / `drop_excess` mark the cycle a bad event is taken; the counters
    themselves are the core's `StatusCounters`.
    """

    def __init__(self, n_in: int, max_events: int = 65535):
        self.n_in = n_in
        self.max_events = max_events
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(EventLayout)),
            "drop_kind": Out(1),
            "drop_addr": Out(1),
            "drop_excess": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bad_kind = self.i.payload.kind == RESERVED
        bad_addr = (self.i.payload.kind == SPIKE) & (self.i.payload.addr >= self.n_in)
        events = Signal(range(self.max_events + 1))
        excess = (self.i.payload.kind == SPIKE) & ~bad_addr & (events == self.max_events)
        good = ~bad_kind & ~bad_addr & ~excess
        m.d.comb += [
            self.o.payload.eq(self.i.payload),
            self.o.valid.eq(self.i.valid & good),
            self.i.ready.eq(self.o.ready | ~good),
        ]
        m.d.comb += [self.drop_kind.eq(self.i.valid & bad_kind),
                     self.drop_addr.eq(self.i.valid & bad_addr),
                     self.drop_excess.eq(self.i.valid & excess)]
        with m.If(self.o.valid & self.o.ready):
            with m.If(self.o.payload.kind == SPIKE):
                m.d.sync += events.eq(events + 1)
            with m.Else():
                m.d.sync += events.eq(0)
        return m
