"""The UART host link (docs/link.md): `FrameReceiver` -> `CommandDecoder` -> `PortEngine` ->
`Transmitter` around a shared `FrameBuffer` (`Link`); `ByteLinkedCore` and `LinkedCore` put it
in front of the core, the latter with the UART."""

from delaycore.link.link import Link, ByteLinkedCore, LinkedCore

__all__ = ["Link", "ByteLinkedCore", "LinkedCore"]
