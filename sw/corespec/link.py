"""The host link's protocol (docs/link.md): framing, commands, error codes, record sizes.

A frame is `SOF | cmd | len (2 LE) | payload | crc (2 LE)`, the CRC-16/CCITT-FALSE of
`cmd | len | payload`. The device (`delaycore.link.link`) and the host (`hostlink.frames`,
`hostlink.driver`) both take these names from here.
"""

from __future__ import annotations

from enum import IntEnum

SOF = 0xA5
MAX_PAYLOAD = 1020          # bytes; a longer frame is refused as OVERSIZE
TIMEOUT_BITS = 4096         # line idle this many bit times ends an open frame as TRUNCATED
VERSION = 1                 # protocol version in the PING response
RESPONSE = 0x80             # a response's cmd is the request's cmd | RESPONSE


class Command(IntEnum):
    PING = 0x01
    WRITE = 0x02            # parameter-load records
    READ = 0x03             # readback requests
    EVENTS = 0x04           # event words into the core
    STATUS = 0x05           # the core's and the link's counters
    LABEL = 0x06            # a class label for the learning engine (learning builds only)
    IDENT = 0x07            # the device identity (corespec.identity)
    OUTPUT = 0x90           # device -> host: the core's output items
    ERROR = 0xEE            # device -> host: a refused or broken frame


class ErrorCode(IntEnum):
    """The payload of an ERROR frame."""
    BAD_CRC = 1
    TRUNCATED = 2
    UNKNOWN_CMD = 3
    OVERSIZE = 4
    BAD_LENGTH = 5
    STEP_OPEN = 6


# Bytes per record in a payload.
WRITE_BYTES = 13            # space/layer/addr (5) + data (8)
READ_BYTES = 5              # space/layer/addr
EVENT_BYTES = 3             # one 18-bit event word
WORD_BYTES = 8              # one readback word in a READ response
LABEL_BYTES = 2             # the class, little endian

STATUS_FIELDS = ("dropped_kind", "dropped_addr", "dropped_writes", "steps", "dropped_excess",
                 "bad_crc", "truncated", "unknown_cmd", "bad_length")
