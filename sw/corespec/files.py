"""Writing outputs and reading users' JSON files, the same way everywhere in the kit.

Writers: every output (reports, manifests, parameter files, checkpoints, images, deploy records,
dataset caches) is written atomically, so that a reader (or a killed run) never sees half a file:
a temporary file in the same folder, flushed to disk, then renamed over the target. The temporary
file comes from `tempfile.mkstemp`, which creates it 0600; the result gets the mode an ordinary
`open(path, "w")` would give, `0o666 & ~umask` (0644 with the usual umask 022), so that other
users and tools can read what the kit wrote.

Reader: `read_json` turns the ways a JSON file can be wrong (missing, binary, truncated) into one
line naming the file, raised as the caller's `UserError` subclass.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import UserError


def current_umask() -> int:
    """The process's umask. Read from /proc where it exists, because os.umask can only read it by
    setting it, and another thread creating a file in between would get the wrong mode."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(f) on a temporary file next to `path`, then rename it over `path` with mode
    0o666 & ~umask. On any error the temporary file is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see atomic_write)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str | Path, obj, **dumps_kw) -> None:
    """Write `obj` as JSON (default: indented by 2, a final newline) to `path` atomically."""
    dumps_kw.setdefault("indent", 2)
    atomic_write_bytes(path, (json.dumps(obj, **dumps_kw) + "\n").encode())


def read_json(path: str | Path, what: str, error: type[UserError] = UserError):
    """The parsed contents of a JSON file, or `error` with one line naming the file: it cannot be
    read, is empty, is not text (e.g. a .pt or .npy given by mistake), or is truncated or
    malformed (line and column of the first problem). `what` says what the file should be, e.g.
    "an image JSON (expected the image.json of an export or deploy folder)"."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: binary data, not {what}") from None
    if not text.strip():
        raise error(f"{path}: empty file, not {what}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{path}: truncated or malformed JSON at line {e.lineno} column {e.colno} "
                    f"({e.msg})") from None
