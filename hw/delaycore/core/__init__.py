"""The core (docs/core.md): the input guard, the optional input delay stage, the LIF layers
(`core.layer`) and the readout, joined into a `Network` with parameter-load and readback ports."""

from delaycore.core.network import Network

__all__ = ["Network"]
