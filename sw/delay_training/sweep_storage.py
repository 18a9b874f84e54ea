"""Where a sweep's runs put their artefacts, so that a sweep can span machines and outlive its driver.

The storage root is a directory (on one machine, or on a filesystem that every node of a Ray
cluster mounts at the same path) or an fsspec URI (`s3://bucket/sweep`, `gs://...`, `memory://`
in tests; the protocol's own package, e.g. s3fs, must be installed on every node). Layout:

    runs/<name>/                 the run's directory: checkpoint.pt, export/, plots
    reports/train-<name>.json    its training report (delay_training.train)
    results/<name>.json          the sweep row and the settings it was made with

The worker that trains a configuration writes all three; the result file is written last and only
for a run that succeeded, so its presence means "finished": `--resume` reruns only the
configurations without one, whichever driver started them. With a URI a run trains in a scratch
directory on the worker and is uploaded when it ends (an interrupted run restarts from epoch 0;
on a directory it continues from its last epoch checkpoint).
"""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path

from corespec.errors import UserError
from corespec.files import atomic_write_json, read_json

REPO = Path(__file__).resolve().parents[2]
RESULT_VERSION = 1


class StorageError(UserError, ValueError):
    """A --storage that cannot be used, or a stored result made with other settings."""


def default_root(task: str) -> str:
    """build/sweep/<task> of the checkout this process runs from (each worker resolves its own)."""
    return str(REPO / "build" / "sweep" / task)


class SweepStorage:
    """One storage root: paths of a run's artefacts, its result file, uploads for URIs."""

    def __init__(self, root: str | Path):
        root = str(root)
        if root.startswith("file://"):
            root = root[len("file://"):]
        self.root = root.rstrip("/") or "/"
        self.is_local = "://" not in self.root
        self.fs, self.path = (None, self.root) if self.is_local else _open_uri(self.root)

    def location(self, rel: str) -> str:
        """What to show a user (and put in a row) for a file under the root."""
        return f"{self.root}/{rel}"

    def _remote(self, rel: str) -> str:
        return f"{self.path.rstrip('/')}/{rel}"

    @contextmanager
    def run_dirs(self, name: str):
        """(out directory, report path) for train.TrainConfig, both local. On a directory they are
        the final places; on a URI a scratch directory whose files are uploaded when the block
        ends without an error."""
        if self.is_local:
            yield Path(self.root) / "runs" / name, Path(self.root) / "reports" / f"train-{name}.json"
            return
        with tempfile.TemporaryDirectory(prefix="delaysnn-sweep-") as scratch:
            yield Path(scratch) / "runs" / name, Path(scratch) / "reports" / f"train-{name}.json"
            self._upload_tree(Path(scratch))

    def _upload_tree(self, local: Path) -> None:
        """Copy every file under `local` to the same relative path under the root, file by file
        (fsspec's recursive put has destination-dependent semantics)."""
        for f in sorted(p for p in local.rglob("*") if p.is_file()):
            rel = f.relative_to(local).as_posix()
            self.fs.makedirs(self._remote(rel).rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(f), self._remote(rel))

    def write_result(self, name: str, row: dict, settings: dict) -> None:
        """Record a finished configuration (atomic on a directory; one object on a URI)."""
        doc = {"version": RESULT_VERSION, "settings": settings, "row": row}
        rel = f"results/{name}.json"
        if self.is_local:
            atomic_write_json(Path(self.root) / rel, doc)
            return
        self.fs.makedirs(self._remote("results"), exist_ok=True)
        self.fs.pipe_file(self._remote(rel), (json.dumps(doc, indent=2) + "\n").encode())

    def read_result(self, name: str) -> dict | None:
        """The stored {"version", "settings", "row"} of a finished configuration, or None."""
        rel = f"results/{name}.json"
        what = "a sweep result (results/<name>.json, written by the sweep)"
        if self.is_local:
            path = Path(self.root) / rel
            return read_json(path, what, StorageError) if path.exists() else None
        if not self.fs.exists(self._remote(rel)):
            return None
        try:
            return json.loads(self.fs.cat_file(self._remote(rel)))
        except ValueError as e:
            raise StorageError(f"{self.location(rel)}: not {what} ({e})") from None


def _open_uri(uri: str):
    """(fsspec filesystem, path) for a URI; a missing protocol package is the user's to install."""
    try:
        import fsspec
        return fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as e:
        raise StorageError(f"--storage {uri}: cannot open it with fsspec ({e})") from None
