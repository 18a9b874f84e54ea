"""The host link's transmit side (docs/link.md, framing): responses and OUTPUT frames, framed,
onto one byte stream.

    respond (PortEngine) -> ResponseSender (header, then the payload from the frame buffer) -a-+
    core_o (the core)    -> OutputFramer   (one OUTPUT frame per item)                      -b-+-> TxShared (FrameEncoder) -> o

Output items have their own framer, so the core never waits on the command path: an EVENTS
frame drains into the core as the core accepts it while OUTPUT frames keep leaving. Both share
one FrameEncoder (and its CRC), which never interleaves two frames (when both wait, they
alternate).
"""

from amaranth import *
from amaranth.lib import wiring, stream, data
from amaranth.lib.wiring import In, Out

from corespec.link import SOF, MAX_PAYLOAD, Command
from delaycore.link.crc16 import Crc16
from delaycore.core.layouts import OutputLayout
from delaycore.link.buffer import CursorSignature
from delaycore.link.ports import ResponseSignature

HeaderLayout = data.StructLayout({"cmd": 8, "len": 16})
TxByteLayout = data.StructLayout({"data": 8, "last": 1})
OUTPUT_FIELD_BYTES = 3                          # `kind|addr<<2`, then the value, 3 bytes LE each
OUTPUT_BYTES = 2 * OUTPUT_FIELD_BYTES


class FrameEncoder(wiring.Component):
    """A header (`cmd`, `len`) on `hdr`, then exactly `len` payload bytes on `data`, become
    `0xA5 cmd len payload crc` on `o`; `last` marks the frame's final byte.

    `max_len`: the longest payload its user sends (the length registers are that wide);
    `cmd`: the command of every frame, when its user sends only one (no register for it)."""

    def __init__(self, max_len: int = 0xFFFF, cmd: int | None = None):
        self.max_len = max_len
        self.cmd = cmd
        super().__init__({
            "hdr": In(stream.Signature(HeaderLayout)),
            "data": In(stream.Signature(8)),
            "o": Out(stream.Signature(TxByteLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        cmd = Signal(8, name="cmd") if self.cmd is None else C(self.cmd, 8)
        length = Signal(range(self.max_len + 1))
        remaining = Signal(range(self.max_len + 1))
        sent = self.o.valid & self.o.ready
        m.d.comb += crc.data.eq(self.o.payload.data)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.hdr.ready.eq(1)
                with m.If(self.hdr.valid):
                    m.d.comb += crc.clear.eq(1)
                    if self.cmd is None:
                        m.d.sync += cmd.eq(self.hdr.payload.cmd)
                    m.d.sync += [length.eq(self.hdr.payload.len), remaining.eq(self.hdr.payload.len)]
                    m.next = "SOF"
            with m.State("SOF"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(SOF)]
                with m.If(sent):
                    m.next = "CMD"
            for state, byte, nxt in (("CMD", cmd, "LEN0"), ("LEN0", length[:8], "LEN1"),
                                     ("LEN1", length[8:], None)):
                with m.State(state):
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(byte), crc.en.eq(sent)]
                    with m.If(sent):
                        if nxt:
                            m.next = nxt
                        else:
                            with m.If(length == 0):
                                m.next = "CRC0"
                            with m.Else():
                                m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.o.valid.eq(self.data.valid), self.o.payload.data.eq(self.data.payload),
                             self.data.ready.eq(self.o.ready), crc.en.eq(sent)]
                with m.If(sent):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "CRC0"
            with m.State("CRC0"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[:8])]
                with m.If(sent):
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[8:]),
                             self.o.payload.last.eq(1)]
                with m.If(sent):
                    m.next = "IDLE"
        return m


class OutputFramer(wiring.Component):
    """One OUTPUT frame (cmd 0x90) per output item of the core: `kind|addr<<2` (3 bytes LE) and
    `value` sign-extended to 3 bytes LE, as a header on `hdr` and its 6 payload bytes on `data`
    (for a FrameEncoder). It takes the next item when the previous frame's bytes are out."""

    def __init__(self, v_bits: int):
        super().__init__({
            "i": In(stream.Signature(OutputLayout(v_bits))),
            "hdr": Out(stream.Signature(HeaderLayout)),
            "data": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        field_bits = 8 * OUTPUT_FIELD_BYTES
        shreg = Signal(8 * OUTPUT_BYTES)
        count = Signal(range(OUTPUT_BYTES + 1))     # payload bytes still to send
        idle = count == 0
        m.d.comb += [
            self.hdr.valid.eq(self.i.valid & idle),
            self.hdr.payload.cmd.eq(Command.OUTPUT), self.hdr.payload.len.eq(OUTPUT_BYTES),
            self.i.ready.eq(self.hdr.ready & idle),
            self.data.valid.eq(~idle), self.data.payload.eq(shreg[:8]),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg[:field_bits].eq(Cat(self.i.payload.kind, self.i.payload.addr)),
                         shreg[field_bits:].eq(self.i.payload.value), count.eq(OUTPUT_BYTES)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shreg.eq(shreg >> 8), count.eq(count - 1)]
        return m


class TxShared(wiring.Component):
    """Two framed sources (a header, then its payload bytes) onto one FrameEncoder and one byte
    stream: a frame, once its header is taken, goes out whole; when both headers wait, the
    source that did not send last goes first. (One encoder and CRC for responses and output
    frames: the encoder sends one frame at a time anyway.)"""

    a_hdr: In(stream.Signature(HeaderLayout))
    a_data: In(stream.Signature(8))
    b_hdr: In(stream.Signature(HeaderLayout))
    b_data: In(stream.Signature(8))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.enc = enc = FrameEncoder(max_len=MAX_PAYLOAD)
        owner = Signal()          # the frame being sent: 0 a, 1 b
        prefer_b = Signal()
        pick = Mux(self.a_hdr.valid & self.b_hdr.valid, prefer_b, self.b_hdr.valid)
        m.d.comb += [
            enc.hdr.valid.eq(self.a_hdr.valid | self.b_hdr.valid),
            enc.hdr.payload.eq(Mux(pick, self.b_hdr.payload.as_value(), self.a_hdr.payload.as_value())),
            self.a_hdr.ready.eq(enc.hdr.ready & ~pick), self.b_hdr.ready.eq(enc.hdr.ready & pick),
            enc.data.valid.eq(Mux(owner, self.b_data.valid, self.a_data.valid)),
            enc.data.payload.eq(Mux(owner, self.b_data.payload, self.a_data.payload)),
            self.a_data.ready.eq(enc.data.ready & ~owner), self.b_data.ready.eq(enc.data.ready & owner),
            self.o.valid.eq(enc.o.valid), self.o.payload.eq(enc.o.payload.data),
            enc.o.ready.eq(self.o.ready),
        ]
        with m.If(enc.hdr.valid & enc.hdr.ready):
            m.d.sync += owner.eq(pick)
        with m.If(enc.o.valid & enc.o.ready & enc.o.payload.last):
            m.d.sync += prefer_b.eq(~owner)
        return m


class ResponseSender(wiring.Component):
    """A response (`respond`) -> its header on `hdr`, then its payload from the frame buffer
    (`send`, from the first byte) on `data`, one byte a cycle; `respond.done` when the last byte
    is taken."""

    respond: In(ResponseSignature())
    send: Out(CursorSignature())
    hdr: Out(stream.Signature(HeaderLayout))
    data: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        resp = self.respond
        stale = Signal()            # the cursor was just loaded: its byte is not on `data` yet
        m.d.comb += [self.hdr.payload.cmd.eq(resp.cmd), self.hdr.payload.len.eq(resp.length)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(resp.start):
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += self.hdr.valid.eq(1)
                with m.If(self.hdr.ready):
                    m.d.comb += [self.send.load.eq(1), self.send.start.eq(0)]
                    m.d.sync += stale.eq(1)
                    with m.If(resp.length == 0):
                        m.d.comb += resp.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.sync += stale.eq(0)
                m.d.comb += [self.data.valid.eq(~stale), self.data.payload.eq(self.send.data)]
                with m.If(self.data.valid & self.data.ready):
                    m.d.comb += self.send.step.eq(1)
                    with m.If(self.send.pos == resp.length - 1):
                        m.d.comb += resp.done.eq(1)
                        m.next = "IDLE"
        return m


class Transmitter(wiring.Component):
    """Responses (`respond`, payload from the buffer through `send`) and the core's output items
    (`core_o`) as frames on the byte stream `o`."""

    def __init__(self, v_bits: int):
        super().__init__({
            "respond": In(ResponseSignature()),
            "send": Out(CursorSignature()),
            "core_o": In(stream.Signature(OutputLayout(v_bits))),
            "o": Out(stream.Signature(8)),
        })
        self.v_bits = v_bits

    def elaborate(self, platform):
        m = Module()
        m.submodules.responses = responses = ResponseSender()
        m.submodules.outputs = outputs = OutputFramer(self.v_bits)
        m.submodules.shared = shared = TxShared()
        wiring.connect(m, wiring.flipped(self.respond), responses.respond)
        wiring.connect(m, responses.send, wiring.flipped(self.send))
        wiring.connect(m, wiring.flipped(self.core_o), outputs.i)
        wiring.connect(m, responses.hdr, shared.a_hdr)
        wiring.connect(m, responses.data, shared.a_data)
        wiring.connect(m, outputs.hdr, shared.b_hdr)
        wiring.connect(m, outputs.data, shared.b_data)
        wiring.connect(m, shared.o, wiring.flipped(self.o))
        return m
