"""One top level for every board: UART pins -> host link -> core, and status LEDs."""

from amaranth import *

from golden_model.config import CoreConfig


class BoardTop(Elaboratable):
    def __init__(self, config: CoreConfig, baud: int = 115200):
        self.config = config
        self.baud = baud

    def elaborate(self, platform):
        from ..link import LinkedCore
        m = Module()
        uart = platform.request("uart", 0)
        core = LinkedCore(self.config, int(platform.default_clk_frequency), self.baud)
        m.submodules.core = core
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]
        # LED 0: heartbeat (about 1.4 Hz at 12 MHz, 0.7 Hz at 25 MHz); LED 1: UART receive line.
        beat = Signal(23)
        m.d.sync += beat.eq(beat + 1)
        leds = []
        for i in range(2):
            try:
                leds.append(platform.request("led", i))
            except Exception:
                break
        if leds:
            m.d.comb += leds[0].o.eq(beat[-1])
        if len(leds) > 1:
            m.d.comb += leds[1].o.eq(~uart.rx.i)
        return m
