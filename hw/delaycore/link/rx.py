"""The host link's receive framer (docs/link.md, framing): bytes in, whole frames or errors out.

`FrameReceiver` hunts for `SOF`, takes `cmd`, the 2-byte length and the payload (into the frame
buffer, while the CRC and the record counts run along), checks the CRC, and hands the frame on
(`FrameSignature.done`) or reports why it is broken (`error`: BAD_CRC, TRUNCATED by a line idle
for the timeout, OVERSIZE after skipping the declared length). Then it waits, leaving the bytes
in the rx FIFO, until the response is out (`release`).
"""

from contextlib import contextmanager
from types import SimpleNamespace

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.link import SOF, MAX_PAYLOAD, ErrorCode, WRITE_BYTES, READ_BYTES, EVENT_BYTES
from delaycore.link.crc16 import Crc16
from delaycore.link.buffer import BufferWriteSignature, BufferPosition

CRC_BYTES = 2
MAX_READ_RECORDS = MAX_PAYLOAD // READ_BYTES    # whole READ records a payload can hold


class FrameSignature(wiring.Signature):
    """A received frame, from the receiver's side. The fields hold from `done` or `error` until
    `release`; the payload is in the frame buffer, from its first byte.

    Members
    -------
    done : :py:`Out(1)`
        Pulse: an intact frame (its CRC checked) has arrived.
    error : :py:`Out(1)`
        Pulse: a frame ended broken; `code` says how.
    code : :py:`Out(ErrorCode)`
        With `error`: BAD_CRC, TRUNCATED or OVERSIZE.
    cmd : :py:`Out(8)`
        The frame's command byte as received (0 when the frame ended before it).
    length : :py:`Out(range(MAX_PAYLOAD + 1))`
        Payload bytes (of an intact frame).
    whole_writes, whole_reads, whole_events : :py:`Out(1)`
        The length is a whole number of WRITE (13-byte), READ (5-byte), EVENTS (3-byte) records.
    reads : :py:`Out(range(MAX_READ_RECORDS + 1))`
        Whole READ records in the payload.
    release : :py:`In(1)`
        The frame is done with (its response is out): hunt for the next one.
    """

    def __init__(self):
        super().__init__({
            "done": Out(1), "error": Out(1), "code": Out(ErrorCode),
            "cmd": Out(8), "length": Out(range(MAX_PAYLOAD + 1)),
            "whole_writes": Out(1), "whole_reads": Out(1), "whole_events": Out(1),
            "reads": Out(range(MAX_READ_RECORDS + 1)),
            "release": In(1),
        })


class FrameReceiver(wiring.Component):
    """Bytes on `i` (from the rx FIFO) -> frames on `frame`, payloads into the buffer (`fill`).

    A frame that has started ends as TRUNCATED (OVERSIZE while skipping) when no byte arrives for
    `timeout_cycles`; the timer runs only while no byte is waiting. `discarded` counts bytes
    outside frames (saturating)."""

    def __init__(self, timeout_cycles: int):
        self.timeout_cycles = timeout_cycles
        super().__init__({
            "i": In(stream.Signature(8)),
            "fill": Out(BufferWriteSignature()),
            "frame": Out(FrameSignature()),
            "discarded": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        r = self._input_register(m)
        r.crc = crc
        r.receiving = Signal()          # a state that takes the frame's next byte
        r.timeout = self._frame_timer(m, r)
        r.cmd = Signal(8)
        r.length = Signal(16)
        r.crc_lo = Signal(8)
        r.skip = Signal(17)             # OVERSIZE: bytes still to skip
        r.ptr = Signal(BufferPosition)  # the next payload byte's place in the buffer
        m.d.comb += [crc.data.eq(r.byte), self.fill.addr.eq(r.ptr), self.fill.data.eq(r.byte),
                     self.frame.cmd.eq(r.cmd), self.frame.length.eq(r.length)]
        counts = self._record_counts(m)

        with m.FSM():
            with m.State("HUNT"):
                self._hunt(m, r)
            with self._receiving(m, r, "CMD"):
                m.d.sync += r.cmd.eq(r.byte)
                m.next = "LEN0"
            with self._receiving(m, r, "LEN0"):
                m.d.sync += r.length[:8].eq(r.byte)
                m.next = "LEN1"
            with self._receiving(m, r, "LEN1"):
                self._length(m, r, counts)
            with self._receiving(m, r, "PAYLOAD"):
                self._payload_byte(m, r, counts)
            with self._receiving(m, r, "CRC0", checked=False):
                m.d.sync += r.crc_lo.eq(r.byte)
                m.next = "CRC1"
            with self._receiving(m, r, "CRC1", checked=False):
                with m.If(Cat(r.crc_lo, r.byte) == crc.crc):
                    m.d.comb += self.frame.done.eq(1)
                    m.next = "BUSY"
                with m.Else():
                    self._fail(m, ErrorCode.BAD_CRC)
            with self._receiving(m, r, "SKIP", checked=False, timeout_code=ErrorCode.OVERSIZE):
                m.d.sync += r.skip.eq(r.skip - 1)
                with m.If(r.skip == 1):
                    self._fail(m, ErrorCode.OVERSIZE)
            with m.State("BUSY"):           # the frame is being answered; bytes wait in the FIFO
                with m.If(self.frame.release):
                    m.next = "HUNT"
        return m

    def _input_register(self, m):
        """One register after the FIFO (a byte a cycle still), so that the FIFO's block-RAM read
        port feeds no state machine logic in the same cycle. -> byte, have, take (drive it to
        take the byte), got (a byte taken now)."""
        r = SimpleNamespace()
        r.byte, r.have, r.take = Signal(8, name="byte"), Signal(name="have"), Signal(name="take")
        m.d.comb += self.i.ready.eq(~r.have | r.take)
        with m.If(~r.have | r.take):
            m.d.sync += [r.have.eq(self.i.valid), r.byte.eq(self.i.payload)]
        r.got = r.have & r.take
        return r

    def _frame_timer(self, m, r):
        """-> the timeout pulse: `timeout_cycles` cycles in receiving states with no byte there."""
        timer = Signal(range(self.timeout_cycles + 1))
        with m.If(~r.receiving | r.have):
            m.d.sync += timer.eq(0)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)
        timeout = Signal()
        m.d.comb += timeout.eq(r.receiving & ~r.have & (timer == self.timeout_cycles - 1))
        return timeout

    def _record_counts(self, m):
        """Payload bytes modulo each record size, and whole READ records, counted as they arrive
        (no divider for the length checks). -> {record size: counter}."""
        counts = {n: Signal(range(n), name=f"mod{n}") for n in (EVENT_BYTES, READ_BYTES, WRITE_BYTES)}
        m.d.comb += [self.frame.whole_events.eq(counts[EVENT_BYTES] == 0),
                     self.frame.whole_reads.eq(counts[READ_BYTES] == 0),
                     self.frame.whole_writes.eq(counts[WRITE_BYTES] == 0)]
        return counts

    @contextmanager
    def _receiving(self, m, r, state, *, checked=True, timeout_code=ErrorCode.TRUNCATED):
        """A state that takes the frame's next byte: the body runs when one is there (folded
        into the CRC when `checked`); a line idle for the timeout ends the frame."""
        with m.State(state):
            m.d.comb += [r.receiving.eq(1), r.take.eq(1)]
            with m.If(r.timeout):
                self._fail(m, timeout_code)
            with m.Elif(r.got):
                if checked:
                    m.d.comb += r.crc.en.eq(1)
                yield

    def _fail(self, m, code):
        m.d.comb += [self.frame.error.eq(1), self.frame.code.eq(code)]
        m.next = "BUSY"

    def _hunt(self, m, r):
        """Drop bytes (counting them) until SOF."""
        m.d.comb += r.take.eq(1)
        with m.If(r.got):
            with m.If(r.byte == SOF):
                m.d.comb += r.crc.clear.eq(1)
                m.d.sync += r.cmd.eq(0)
                m.next = "CMD"
            with m.Elif(~self.discarded.all()):
                m.d.sync += self.discarded.eq(self.discarded + 1)

    def _length(self, m, r, counts):
        """The length's high byte: a payload, none, or too long (skip it and its CRC)."""
        full = Cat(r.length[:8], r.byte)
        m.d.sync += [r.length[8:].eq(r.byte), r.ptr.eq(0), r.skip.eq(full + CRC_BYTES),
                     self.frame.reads.eq(0)]
        m.d.sync += [c.eq(0) for c in counts.values()]
        with m.If(full > MAX_PAYLOAD):
            m.next = "SKIP"
        with m.Elif(full == 0):
            m.next = "CRC0"
        with m.Else():
            m.next = "PAYLOAD"

    def _payload_byte(self, m, r, counts):
        """A payload byte into the buffer; the record counts follow it."""
        m.d.comb += self.fill.en.eq(1)
        m.d.sync += r.ptr.eq(r.ptr + 1)
        for n, count in counts.items():
            m.d.sync += count.eq(Mux(count == n - 1, 0, count + 1))
        with m.If(counts[READ_BYTES] == READ_BYTES - 1):
            m.d.sync += self.frame.reads.eq(self.frame.reads + 1)
        with m.If(r.ptr == r.length - 1):
            m.next = "CRC0"
