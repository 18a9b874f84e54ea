"""NIR both ways: our integer networks as NIR graphs, and NIR graphs onto the core (docs/nir.md)."""

from .errors import NirError

__all__ = ["NirError"]
