"""Option texts of the form `name=value,name=value` (--augment, --voices, --tts, --front-end)."""

from __future__ import annotations

from typing import Iterable


def name_values(text: str | None, names: Iterable[str], label: str,
                error: type[Exception] = ValueError) -> list[tuple[str, str]]:
    """The (name, value) pairs of `text` in order, stripped; empty parts are skipped. A part that
    is not NAME=VALUE with NAME in `names` raises `error` naming `label` and the known names."""
    names = tuple(names)
    pairs = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = (x.strip() for x in part.partition("="))
        if not sep or name not in names:
            raise error(f"{label} {part.strip()!r}: expected NAME=VALUE with NAME one of {', '.join(names)}")
        pairs.append((name, value))
    return pairs
