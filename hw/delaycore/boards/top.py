"""One top level for every board: UART pins -> host link -> core, and status LEDs."""

from typing import NamedTuple

from amaranth import *

from corespec.config import CoreConfig


class ICE40PLL(NamedTuple):
    """SB_PLL40_PAD settings, as `yowasp-icepll -i <board MHz> -o <MHz>` prints them."""
    divr: int
    divf: int
    divq: int
    filter_range: int
    mhz: float


class ECP5PLL(NamedTuple):
    """EHXPLLL settings, as `yowasp-ecppll -i <board MHz> -o <MHz> -f pll.v` writes them
    (feedback from CLKOP)."""
    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkop_cphase: int
    mhz: float


class BoardTop(Elaboratable):
    """`pll`: an ICE40PLL or ECP5PLL that makes the core clock from the board clock; None runs at
    the board clock.
    `learning`: the core is a LearningNetwork (on-chip learning, docs/learning.md; the link's
    LABEL command) instead of a plain Network; off by default, the bitstream build chooses per
    board (hw/delaycore/boards/build.py).
    `baud`: the UART rate (the divider is round(core clock / baud)); `board`: the name the device
    reports in its identity (IDENT, docs/link.md) beside the configuration, rate and clock."""

    def __init__(self, config: CoreConfig, baud: int = 3_000_000, pll=None, learning: bool = False,
                 board: str = ""):
        self.config = config
        self.baud = baud
        self.pll = pll
        self.learning = learning
        self.board = board

    def elaborate(self, platform):
        from amaranth.lib.cdc import ResetSynchronizer
        from delaycore.link.link import LinkedCore
        m = Module()
        clk_hz = platform.default_clk_frequency
        if self.pll is not None:
            clk_hz = self.pll.mhz * 1e6
            m.domains.sync = cd = ClockDomain("sync")
            lock = Signal()
            if isinstance(self.pll, ICE40PLL):
                p = self.pll
                pin = platform.request(platform.default_clk, dir="-")
                m.submodules.pll = Instance(
                    "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p.divr, p_DIVF=p.divf,
                    p_DIVQ=p.divq, p_FILTER_RANGE=p.filter_range, i_PACKAGEPIN=pin.io,
                    i_RESETB=C(1, 1), i_BYPASS=C(0, 1), o_PLLOUTGLOBAL=cd.clk, o_LOCK=lock)
            else:
                p = self.pll
                pin = platform.request(platform.default_clk, dir="i")
                board_mhz = platform.default_clk_frequency / 1e6
                m.submodules.pll = Instance(
                    "EHXPLLL",
                    a_FREQUENCY_PIN_CLKI=f"{board_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{p.mhz:g}",
                    a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                    a_MFG_GMCREF_SEL="2",
                    p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                    p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                    p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=p.clki_div,
                    p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div, p_CLKOP_CPHASE=p.clkop_cphase,
                    p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p.clkfb_div,
                    i_RST=C(0, 1), i_STDBY=C(0, 1), i_CLKI=pin.i, o_CLKOP=cd.clk, i_CLKFB=cd.clk,
                    i_PHASESEL0=C(0, 1), i_PHASESEL1=C(0, 1), i_PHASEDIR=C(1, 1),
                    i_PHASESTEP=C(1, 1), i_PHASELOADREG=C(1, 1), i_PLLWAKESYNC=C(0, 1),
                    i_ENCLKOP=C(0, 1), o_LOCK=lock)
            m.submodules.reset_sync = ResetSynchronizer(~lock, domain="sync")
            platform.add_clock_constraint(cd.clk, clk_hz)
        uart = platform.request("uart", 0)
        core = LinkedCore(self.config, int(clk_hz), self.baud, learning=self.learning,
                          board=self.board)
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
