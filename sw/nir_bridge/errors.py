"""The error a NIR graph or an import option can cause (a user's mistake, reported in one line)."""

from __future__ import annotations

from corespec.errors import UserError


class NirError(UserError, ValueError):
    """A graph the core cannot run, or an option that does not fit it; names the node or option."""
