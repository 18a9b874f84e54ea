"""Where data is read from and where derived caches go.

The data lives outside the repository (`../shared/data` next to the checkout) so that nothing
large or licensed is ever committed; caches go to the git-ignored `build/cache/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MissingDataError

DATA_ENV = "DELAYSNN_DATA"
CACHE_ENV = "DELAYSNN_CACHE"


def repo_root() -> Path | None:
    """The checkout this package runs from, or None when installed elsewhere (no default paths)."""
    package = Path(__file__).resolve().parent
    root = package.parent.parent
    if package.parent.name == "sw" and (root / "pyproject.toml").is_file():
        return root
    return None


def data_root() -> Path:
    """`$DELAYSNN_DATA`, else `<repo>/../shared/data`; raises if it is not a directory."""
    env = os.environ.get(DATA_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        origin = f"set by ${DATA_ENV}"
    else:
        repo = repo_root()
        if repo is None:
            raise MissingDataError(
                Path(__file__).resolve().parent,
                f"package is not inside a checkout; set ${DATA_ENV} to the data directory",
            )
        root = (repo.parent / "shared" / "data").resolve()
        origin = f"default ../shared/data next to the repository; set ${DATA_ENV} to override"
    if not root.is_dir():
        raise MissingDataError(root, f"data root is not a directory ({origin})")
    return root


def dataset_dir(name: str, root: str | Path | None = None) -> Path:
    """`<data root>/<name>`, checked to exist."""
    base = Path(root) if root is not None else data_root()
    path = base / name
    if not path.is_dir():
        raise MissingDataError(path, f"expected the {name!r} data set directory under the data root")
    return path


def require_file(path: Path, expected: str) -> Path:
    """Raise a MissingDataError naming `expected` if `path` is not a regular file."""
    if not path.is_file():
        raise MissingDataError(path, f"missing file; expected {expected}")
    return path


def cache_dir() -> Path:
    """`$DELAYSNN_CACHE`, else `<repo>/build/cache` (created on demand)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser().resolve()
    else:
        repo = repo_root()
        path = (repo / "build" / "cache") if repo is not None else Path.home() / ".cache" / "delaysnn"
    path.mkdir(parents=True, exist_ok=True)
    return path
