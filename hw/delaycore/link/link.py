"""The host link of docs/link.md: framed commands over a byte stream, executed against the core.

A pipeline of small components, one stage per file, joined by named signatures:

    rx -> FIFO -> FrameReceiver --frame--> CommandDecoder --job--> PortEngine --respond--> Transmitter -> tx
                  (link/rx.py)             (link/decode.py)        (link/ports.py)  ^       (link/tx.py)
                        | fill                                      fetch | store |  core_o   | send
                        v                                                 v       v           v
                        +------------------------ FrameBuffer (link/buffer.py) ---------------+

The link handles one frame at a time: the receiver takes a frame (its payload into the buffer),
the decoder decides what to do with it, the port engine does it against the core's ports and
puts the response's payload into the buffer, the transmitter sends it; then (`done` back up the
pipeline) the receiver hunts for the next frame. Meanwhile bytes wait in the rx FIFO. The core's
output items leave as OUTPUT frames through the transmitter whatever the command path is doing.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from corespec.identity import identity_bytes
from corespec.link import TIMEOUT_BITS
from corespec.config import CoreConfig
from delaycore.core.layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout, DATA_BITS
from delaycore.link.buffer import FrameBuffer
from delaycore.link.decode import CommandDecoder
from delaycore.link.ports import PortEngine
from delaycore.link.rx import FrameReceiver
from delaycore.link.tx import FrameEncoder, OutputFramer, TxShared, Transmitter
from delaycore.core.network import Network
from delaycore.learning.learning_network import LearningNetwork
from delaycore.link.uart import UartRx, UartTx, divider as uart_divider

__all__ = ["Link", "ByteLinkedCore", "LinkedCore", "FrameEncoder", "OutputFramer", "TxShared"]

UART_FRAME_BITS = 10                    # start, 8 data, stop: one byte on the line


class Link(wiring.Component):
    """Frame receiver, command decoder, port engine and transmitter (docs/link.md).

    `rx`/`tx` are byte streams (a UART, or a testbench); `core_i`, `core_o`, `load`, `rb_req` and
    `rb_resp` connect to the Network's `i`, `o`, `load`, `rb_req`, `rb_resp`. A frame that has
    started ends as truncated when no byte arrives for `timeout_cycles` (default
    `(TIMEOUT_BITS + 10) * divider`: a line idle for more than 4096 bit times between bytes).

    `learning`: the core is a LearningNetwork; `label` connects to its `label` stream and the
    LABEL command is known (without it LABEL is an unknown command and `label` stays idle). The
    learning engine takes nothing but input events while a step is open (after a non-marker
    event, before the next EOT or CLEAR), so with `learning` a LABEL, WRITE, READ or STATUS
    frame that arrives then is refused with STEP_OPEN instead of holding the link for ever.

    IDENT answers with the device identity (corespec.identity: the configuration, `learning`,
    `baud`, the clock and `board`, canonical JSON with a hash), held in a ROM.
    """

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.ident = identity_bytes(config, learning=learning, baud=baud, clk_hz=clk_freq,
                                    board=board)
        self.divider = uart_divider(clk_freq, baud)
        self.timeout_cycles = timeout_cycles or (TIMEOUT_BITS + UART_FRAME_BITS) * self.divider
        self.rx_fifo_depth = rx_fifo_depth
        ports = {
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "core_i": Out(stream.Signature(EventLayout)),
            "core_o": In(stream.Signature(OutputLayout(config.v_bits))),
            "load": Out(stream.Signature(WriteLayout)),
            "rb_req": Out(stream.Signature(ReadLayout)),
            "rb_resp": In(stream.Signature(DATA_BITS)),
            "discarded": Out(32),
        }
        if learning:        # without it the Link is exactly what it was before the engine
            ports["label"] = Out(stream.Signature(16))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=self.rx_fifo_depth)
        m.submodules.receiver = receiver = FrameReceiver(self.timeout_cycles)
        m.submodules.decoder = decoder = CommandDecoder(self.learning)
        m.submodules.ports = ports = PortEngine(self.config, self.ident, self.learning)
        m.submodules.transmitter = transmitter = Transmitter(self.config.v_bits)
        m.submodules.buffer = buffer = FrameBuffer()

        wiring.connect(m, wiring.flipped(self.rx), fifo.w_stream)
        wiring.connect(m, fifo.r_stream, receiver.i)
        wiring.connect(m, receiver.frame, decoder.frame)
        wiring.connect(m, decoder.job, ports.job)
        wiring.connect(m, ports.respond, transmitter.respond)
        wiring.connect(m, transmitter.o, wiring.flipped(self.tx))

        wiring.connect(m, receiver.fill, buffer.fill)
        wiring.connect(m, ports.store, buffer.store)
        wiring.connect(m, ports.fetch, buffer.fetch)
        wiring.connect(m, transmitter.send, buffer.send)

        wiring.connect(m, ports.core_i, wiring.flipped(self.core_i))
        wiring.connect(m, ports.load, wiring.flipped(self.load))
        wiring.connect(m, ports.rb_req, wiring.flipped(self.rb_req))
        wiring.connect(m, wiring.flipped(self.rb_resp), ports.rb_resp)
        wiring.connect(m, wiring.flipped(self.core_o), transmitter.core_o)
        if self.learning:
            wiring.connect(m, ports.label, wiring.flipped(self.label))
        m.d.comb += self.discarded.eq(receiver.discarded)
        return m


class ByteLinkedCore(wiring.Component):
    """Link + Network (or LearningNetwork, with `learning`) with byte streams `rx`/`tx`: what
    LinkedCore is without its UART."""

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.link_args = dict(clk_freq=clk_freq, baud=baud, timeout_cycles=timeout_cycles,
                              rx_fifo_depth=rx_fifo_depth, learning=learning, board=board)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "discarded": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = Link(self.config, **self.link_args)
        m.submodules.core = core = (LearningNetwork if self.learning else Network)(self.config)
        self.core = core
        if self.learning:
            wiring.connect(m, link.label, core.label)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        wiring.connect(m, link.core_i, core.i)
        wiring.connect(m, core.o, link.core_o)
        wiring.connect(m, link.load, core.load)
        wiring.connect(m, link.rb_req, core.rb_req)
        wiring.connect(m, core.rb_resp, link.rb_resp)
        m.d.comb += self.discarded.eq(link.discarded)
        return m


class LinkedCore(wiring.Component):
    """UART + Link + Network (LearningNetwork with `learning`): the core behind two pins, for the
    board top levels.

    `overruns` counts bytes lost because the rx FIFO was full (a host that does not wait for
    responses), `frame_errors` bytes with a low stop bit."""

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.divider = uart_divider(clk_freq, baud)
        self.link_args = dict(clk_freq=clk_freq, baud=baud, timeout_cycles=timeout_cycles,
                              rx_fifo_depth=rx_fifo_depth, learning=learning, board=board)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "overruns": Out(16),
            "frame_errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = urx = UartRx(self.divider)
        m.submodules.uart_tx = utx = UartTx(self.divider)
        m.submodules.linked = linked = ByteLinkedCore(self.config, **self.link_args)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, urx.o, linked.rx)
        wiring.connect(m, linked.tx, utx.i)
        with m.If(urx.overrun & ~self.overruns.all()):
            m.d.sync += self.overruns.eq(self.overruns + 1)
        with m.If(urx.frame_error & ~self.frame_errors.all()):
            m.d.sync += self.frame_errors.eq(self.frame_errors + 1)
        return m
