"""The frame codec of docs/link.md: `0xA5 | cmd | len (2 LE) | payload | crc (2 LE)`.

`FrameDecoder` turns arbitrary byte chunks into `Frame`s and `DecodeError`s. Two ways to
resynchronise after an error:

* `rescan=True` (the host's default): after a bad frame, hunting restarts at the byte after its
  `0xA5`, so a real frame hidden behind a stray `0xA5` is still found;
* `rescan=False`: exactly what the device does (hw/delaycore/link/link.py): hunting restarts after the
  bad frame's last byte, and an oversize frame's `len + 2` remaining bytes are skipped before
  OVERSIZE is reported. The RTL tests predict the device's responses with it.

`timeout()` tells the decoder that the line has been idle longer than TIMEOUT bit times: an open
frame ends as TRUNCATED.
"""

import binascii
from dataclasses import dataclass

from corespec.link import (SOF, MAX_PAYLOAD, TIMEOUT_BITS, VERSION, RESPONSE, Command, ErrorCode,
                           WRITE_BYTES, READ_BYTES, EVENT_BYTES, WORD_BYTES, LABEL_BYTES, STATUS_FIELDS)

# The spec's names (corespec.link) under the names the host has always used.
PING, WRITE, READ, EVENTS, STATUS, LABEL, IDENT = (Command.PING, Command.WRITE, Command.READ,
                                                  Command.EVENTS, Command.STATUS, Command.LABEL,
                                                  Command.IDENT)
OUTPUT, ERROR = Command.OUTPUT, Command.ERROR
COMMANDS = {c: c.name for c in (PING, WRITE, READ, EVENTS, STATUS, LABEL, IDENT)}
LEARNING_COMMANDS = {LABEL}          # known only to a device built with the learning engine

BAD_CRC, TRUNCATED, UNKNOWN_CMD, OVERSIZE, BAD_LENGTH, STEP_OPEN = tuple(ErrorCode)
ERROR_NAMES = {e: e.name for e in ErrorCode}

MAX_WRITES = MAX_PAYLOAD // WRITE_BYTES      # 78 records
MAX_READS = MAX_PAYLOAD // WORD_BYTES        # 127: the response (8 bytes each) must fit a frame
MAX_EVENTS = MAX_PAYLOAD // EVENT_BYTES      # 340 words


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor):
    crc16(b"123456789") == 0x29B1. The standard library's `binascii.crc_hqx` is this CRC."""
    return binascii.crc_hqx(data, crc)


def encode(cmd: int, payload: bytes = b"") -> bytes:
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"cmd {cmd} is not a byte")
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; at most MAX_PAYLOAD={MAX_PAYLOAD}")
    body = bytes([cmd]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SOF]) + body + crc16(body).to_bytes(2, "little")


@dataclass(frozen=True)
class Frame:
    cmd: int
    payload: bytes

    def __repr__(self):
        return f"Frame(cmd={self.cmd:#04x}, payload={self.payload.hex()})"


@dataclass(frozen=True)
class DecodeError:
    code: int
    cmd: int                # the frame's cmd byte, 0 if it ended before one

    def __repr__(self):
        return f"DecodeError({ERROR_NAMES.get(self.code, self.code)}, cmd={self.cmd:#04x})"


class FrameDecoder:
    def __init__(self, rescan: bool = True):
        self.rescan = rescan
        self.buf = bytearray()
        self.discarded = 0           # bytes outside frames
        self.errors = {code: 0 for code in ERROR_NAMES}
        self.frames = 0
        self._skip = 0               # device mode: bytes of an oversize frame still to skip
        self._skip_cmd = 0

    def feed(self, data: bytes) -> list:
        """Bytes in, completed frames and errors out (in order)."""
        self.buf += data
        out = []
        self._parse(out)
        return out

    def timeout(self) -> list:
        """The line went idle for more than TIMEOUT bit times: an open frame is truncated."""
        out = []
        if self._skip:
            self._skip = 0
            self._error(out, OVERSIZE, self._skip_cmd, 0)
        while self.buf:
            cmd = self.buf[1] if len(self.buf) > 1 else 0
            if self.rescan:
                self._error(out, TRUNCATED, cmd, 1)
            else:
                self._error(out, TRUNCATED, cmd, len(self.buf))
            self._parse(out)
        return out

    @property
    def idle(self) -> bool:
        """No frame is open (a timeout would report nothing)."""
        return not self.buf and not self._skip

    def _error(self, out, code, cmd, drop):
        del self.buf[:drop]
        self.errors[code] += 1
        out.append(DecodeError(code, cmd))

    def _parse(self, out):
        buf = self.buf
        while True:
            if self._skip:
                n = min(self._skip, len(buf))
                del buf[:n]
                self._skip -= n
                if self._skip:
                    return
                self._error(out, OVERSIZE, self._skip_cmd, 0)
            start = buf.find(SOF)
            if start < 0:
                self.discarded += len(buf)
                buf.clear()
                return
            self.discarded += start
            del buf[:start]
            if len(buf) < 4:
                return
            n = buf[2] | buf[3] << 8
            if n > MAX_PAYLOAD:
                if self.rescan:
                    self._error(out, OVERSIZE, buf[1], 1)
                else:
                    self._skip, self._skip_cmd = n + 2, buf[1]
                    del buf[:4]
                continue
            if len(buf) < n + 6:
                return
            if crc16(buf[1:n + 4]) == (buf[n + 4] | buf[n + 5] << 8):
                out.append(Frame(buf[1], bytes(buf[4:n + 4])))
                self.frames += 1
                del buf[:n + 6]
            else:
                self._error(out, BAD_CRC, buf[1], 1 if self.rescan else n + 6)


def check_request(frame: Frame, learning: bool = False, step_open: bool = False) -> int | None:
    """The error code the device answers a well-received frame with, or None if it executes it.

    `learning`: the device has the learning engine (LABEL is known); `step_open`: the last event
    it passed to the core was not an EOT or CLEAR (a learning device then refuses every command
    but PING and EVENTS with STEP_OPEN)."""
    n = len(frame.payload)
    if frame.cmd not in COMMANDS or (frame.cmd in LEARNING_COMMANDS and not learning):
        return UNKNOWN_CMD
    if frame.cmd in (PING, STATUS, IDENT) and n:
        return BAD_LENGTH
    if frame.cmd == WRITE and n % WRITE_BYTES:
        return BAD_LENGTH
    if frame.cmd == READ and (n % READ_BYTES or n // READ_BYTES > MAX_READS):
        return BAD_LENGTH
    if frame.cmd == EVENTS and n % EVENT_BYTES:
        return BAD_LENGTH
    if frame.cmd == LABEL and n != LABEL_BYTES:
        return BAD_LENGTH
    if learning and step_open and frame.cmd in (WRITE, READ, STATUS, LABEL):
        return STEP_OPEN
    return None


# -- payloads ------------------------------------------------------------------------------------
def write_payload(records) -> bytes:
    """(layer, space, addr, data) records -> WRITE payload; data is taken modulo 2**64."""
    out = bytearray()
    for layer, space, addr, value in records:
        out += bytes([layer, space]) + addr.to_bytes(3, "little")
        out += (value & (2**64 - 1)).to_bytes(8, "little")
    return bytes(out)


def read_payload(records) -> bytes:
    """(layer, space, addr) records -> READ payload."""
    return b"".join(bytes([layer, space]) + addr.to_bytes(3, "little") for layer, space, addr in records)


def label_payload(y: int) -> bytes:
    """A class -> LABEL payload (2 bytes LE)."""
    if not 0 <= y < 1 << 16:
        raise ValueError(f"label {y} is not a 16-bit class")
    return int(y).to_bytes(LABEL_BYTES, "little")


def parse_label(payload: bytes) -> int:
    """A LABEL response: the class the device passed to the learning engine."""
    return int.from_bytes(payload[:2], "little")


def events_payload(words) -> bytes:
    return b"".join(int(w).to_bytes(3, "little") for w in words)


def parse_words(payload: bytes) -> list[int]:
    """A READ response: unsigned 64-bit words (signed fields come sign-extended)."""
    return [int.from_bytes(payload[i:i + 8], "little") for i in range(0, len(payload), 8)]


def parse_count(payload: bytes) -> int:
    return int.from_bytes(payload[:2], "little")


def parse_status(payload: bytes) -> dict:
    return {name: int.from_bytes(payload[4 * i:4 * i + 4], "little")
            for i, name in enumerate(STATUS_FIELDS)}


def parse_output(payload: bytes) -> tuple[int, int, int]:
    """An OUTPUT frame's item as (kind, addr, value), like GoldenNetwork.run_stream's outputs."""
    head = int.from_bytes(payload[:3], "little")
    value = int.from_bytes(payload[3:6], "little", signed=True)
    return head & 3, (head >> 2) & 0xFFFF, value


def signed64(word: int) -> int:
    return word - (1 << 64) if word >> 63 else word
