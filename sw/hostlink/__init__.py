"""Host side of the link (docs/link.md): frame codec, driver, transports, command line."""

from .frames import (Frame, DecodeError, FrameDecoder, encode, crc16, check_request,
                     MAX_PAYLOAD, SOF, TIMEOUT_BITS)
from .driver import CoreLink, LinkError, ImageMismatch, readout
from .transports import SerialTransport, SimTransport

__all__ = ["Frame", "DecodeError", "FrameDecoder", "encode", "crc16", "check_request",
           "MAX_PAYLOAD", "SOF", "TIMEOUT_BITS",
           "CoreLink", "LinkError", "ImageMismatch", "SerialTransport", "SimTransport", "readout"]
