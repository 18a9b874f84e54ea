"""Exceptions for missing or malformed data.

Every error carries the offending path, so a user with a broken copy of a data set learns which
file to fix instead of reading a numpy or h5py traceback.
"""

from __future__ import annotations

from corespec.errors import UserError
from pathlib import Path


class DatasetError(UserError):
    """Base class: catch this to handle every data problem of this package."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __str__(self) -> str:  # OSError would otherwise format its own (errno, strerror) message
        return f"{self.path}: {self.problem}"


class MissingDataError(DatasetError, FileNotFoundError):
    """A data root, directory or file that should exist does not."""


class CorruptDataError(DatasetError, ValueError):
    """A file exists but its content is not what the loader expects."""
