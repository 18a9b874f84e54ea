"""8N1 UART receiver and transmitter with byte streams; the bit time is `divider` clock cycles."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


def divider(clk_freq: float, baud: int) -> int:
    """Clock cycles per bit: round(f_clk / baud) (docs/link.md, physical layer)."""
    d = round(clk_freq / baud)
    if d < 4:
        raise ValueError(f"clk_freq {clk_freq} / baud {baud} gives a divider of {d}; at least 4")
    error = abs(clk_freq / d - baud) / baud
    if error > 0.02:     # the far end's own error must fit the rest of a UART's ~4.5 % budget
        raise ValueError(f"baud {baud} at clk_freq {clk_freq:g}: divider {d} gives "
                         f"{clk_freq / d:.0f} baud, {100 * error:.1f} % off (at most 2 %)")
    return d


class UartRx(wiring.Component):
    """Samples the start bit at half a bit time, then every bit in its middle; a byte whose stop
    bit is high is presented on `o`. The stream cannot stall the line: a byte that arrives while
    the previous one is still waiting replaces it and pulses `overrun`; a low stop bit pulses
    `frame_error` and the byte is dropped (after which the receiver waits for the line to go
    high again, so a held-low line is not read as a stream of zeros)."""

    def __init__(self, divider: int):
        self.divider = divider
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(8)),
            "overrun": Out(1),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divider))
        bits = Signal(range(9))
        shreg = Signal(8)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divider // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(rx):                  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(self.divider - 1), bits.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bits.eq(bits + 1),
                                 timer.eq(self.divider - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                        m.d.comb += self.overrun.eq(self.o.valid & ~self.o.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Takes a byte from `i` when idle and shifts out start bit, 8 data bits (LSB first), stop bit."""

    def __init__(self, divider: int):
        self.divider = divider
        super().__init__({
            "i": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divider))
        shreg = Signal(10, init=0x3FF)
        bits = Signal(range(11))
        m.d.comb += [self.tx.eq(shreg[0]), self.i.ready.eq(bits == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg.eq(Cat(C(0, 1), self.i.payload, C(1, 1))), bits.eq(10),
                         timer.eq(self.divider - 1)]
        with m.Elif(bits != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], C(1, 1))), bits.eq(bits - 1),
                             timer.eq(self.divider - 1)]
        return m
