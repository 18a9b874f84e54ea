"""What a training run was made from, so that two runs that should agree can say why they do not.

A run is fixed by its settings (TrainConfig.identity), its seed, the bits of its data and the
code. The first two are in the run's name and checkpoint; this module records the other two in
its report (`provenance`): the sha256 of each split as the network sees it
(`SpikeDataset.fingerprint`: any change of audio, front end or cache shows) and the git commit
of the checkout with a hash of its uncommitted changes.
"""

from __future__ import annotations

import hashlib
import subprocess

from spike_datasets.paths import repo_root


def data_fingerprints(splits) -> dict:
    """{"train", "val", "test"}: each split's `SpikeDataset.fingerprint`."""
    return {"train": splits.train.fingerprint(), "val": splits.val.fingerprint(),
            "test": splits.test.fingerprint()}


def _git(*args: str) -> str | None:
    root = repo_root()
    if root is None:
        return None
    try:
        # no timeout: subprocess polls a timed wait with time.sleep, which the training's own
        # throttle (and its tests) patch; git's rev-parse and diff do not wait on anything
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> dict:
    """{"commit": the checkout's HEAD, "dirty": whether tracked files differ from it, "diff_sha256":
    sha256 of that difference (`git diff HEAD`), so that two runs on the same uncommitted code
    can tell}; None values outside a git checkout (an installed package, no git)."""
    commit = _git("rev-parse", "HEAD")
    diff = _git("diff", "HEAD") if commit else None
    return {"commit": commit, "dirty": None if diff is None else bool(diff),
            "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None}


def provenance(splits) -> dict:
    """The report's `provenance`: the code and the data a run was made from."""
    return {"code": code_version(), "data_sha256": data_fingerprints(splits)}


def why_different(before: dict | None, now: dict | None) -> str:
    """Why two runs with the same settings and seed may have given different figures, from
    their `provenance` records (either may be None: a report made before provenance was kept)."""
    if not before or not now:
        return ("the " + ("earlier" if not before else "new") + " run recorded no data "
                "fingerprint (made before runs kept them), so the cause cannot be told")
    then_data, now_data = before.get("data_sha256") or {}, now.get("data_sha256") or {}
    parts = [f"{split} data differ ({str(then_data.get(split))[:12]} then, "
             f"{str(now_data.get(split))[:12]} now)"
             for split in ("train", "val", "test") if then_data.get(split) != now_data.get(split)]
    code_then, code_now = before.get("code") or {}, now.get("code") or {}
    if code_then.get("commit") != code_now.get("commit"):
        parts.append(f"the code differs (commit {str(code_then.get('commit'))[:10]} then, "
                     f"{str(code_now.get('commit'))[:10]} now)")
    elif code_then.get("diff_sha256") != code_now.get("diff_sha256"):
        parts.append("the code's uncommitted changes differ")
    if parts:
        return "; ".join(parts)
    return "same data and code: the training itself did not repeat (a defect: please report it)"
