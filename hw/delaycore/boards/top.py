"""One top level for every board: UART pins -> host link -> core, and status LEDs."""

from amaranth import *

from golden_model.config import CoreConfig


class BoardTop(Elaboratable):
    """`pll`: (DIVR, DIVF, DIVQ, FILTER_RANGE, MHz) of an iCE40 PLL that makes the core clock
    from the board clock (yowasp-icepll computes them); None runs at the board clock.
    `learning`: the core is a LearningNetwork (on-chip learning, docs/learning.md; the link's
    LABEL command) instead of a plain Network; off by default, the bitstream build chooses per
    board (hw/delaycore/boards/build.py)."""

    def __init__(self, config: CoreConfig, baud: int = 115200, pll=None, learning: bool = False):
        self.config = config
        self.baud = baud
        self.pll = pll
        self.learning = learning

    def elaborate(self, platform):
        from amaranth.lib.cdc import ResetSynchronizer
        from ..link import LinkedCore
        m = Module()
        clk_hz = platform.default_clk_frequency
        if self.pll is not None:
            divr, divf, divq, frange, mhz = self.pll
            clk_hz = mhz * 1e6
            pin = platform.request(platform.default_clk, dir="-")
            m.domains.sync = cd = ClockDomain("sync")
            lock = Signal()
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
                p_FILTER_RANGE=frange, i_PACKAGEPIN=pin.io, i_RESETB=C(1, 1), i_BYPASS=C(0, 1),
                o_PLLOUTGLOBAL=cd.clk, o_LOCK=lock)
            m.submodules.reset_sync = ResetSynchronizer(~lock, domain="sync")
            platform.add_clock_constraint(cd.clk, clk_hz)
        uart = platform.request("uart", 0)
        core = LinkedCore(self.config, int(clk_hz), self.baud, learning=self.learning)
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
