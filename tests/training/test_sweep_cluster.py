"""The sweep on a real Ray cluster, its storage and --resume; the CUDA request on a CPU torch.

* A two-node Ray cluster on this machine (a head and one worker, `ray start` processes, one CPU
  each, loopback only): a sweep of 2 configurations (seqdet, 1 epoch) through `--ray
  --ray-address`: one row per configuration comes back to the driver with its accuracies, and the
  workers wrote runs/, reports/ and results/ into the --storage directory.
* Resume after the driver died: the storage holds one configuration's result, the other's is
  missing; the rerun with --resume trains only the missing one (the finished one's report, replaced
  by a marker, is not rewritten; the summary lists it as reused).
* An fsspec URI storage (memory://, in-process runs): artefacts uploaded, --resume reuses them; a
  stored result made with other settings is refused.
* A dead or malformed --ray-address: one line at once, not ray.init's minutes of retries.
* `--device cuda` on a torch without CUDA: one line naming the fix (train and sweep).

Ray turns a loopback --node-ip-address into the machine's routable address (so that other machines
can reach the node); here only loopback addresses may carry traffic, so the head and the drivers
run with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray then keeps 127.0.0.1) and the worker node starts
through `ray start` with that one rewrite turned off (WORKER_START). The cluster's processes are
stopped by their process groups, not `ray stop`, which would stop every Ray on the machine.
Measured: about 60 s for this file on 2 busy cores (cluster start about 10 s, each sweep 15-25 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).parent / "ray")
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
WORKER_START = ("import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda host: host; "
                "from ray.scripts.scripts import main; sys.exit(main())")
NODE_OPTIONS = ["--num-cpus", "1", "--object-store-memory", str(100 * 2**20), "--disable-usage-stats"]
SWEEP = ["--task", "seqdet", "--epochs", "1", "--n-train", "100", "--wbits", "1.58", "--dbits", "2,4", "--no-eq",
         "--quiet"]
NAMES = ["sweep-seqdet-w1.58-d2-s0", "sweep-seqdet-w1.58-d4-s0"]


def ray_env(**extra) -> dict:
    """This environment without a RAY_ADDRESS of the user's, usage stats off, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_members(pgid: int) -> list[int]:
    """Processes of a process group that have not exited (zombies do not count)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def stop_groups(pgids: list[int], grace_s: float = 3.0) -> None:
    """SIGTERM every group, SIGKILL what is left after the grace time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in pgids:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while any(live_members(g) for g in pgids) and time.monotonic() < deadline:
            time.sleep(0.2)


def start_node(argv: list[str], env: dict, groups: list[int]) -> None:
    """Run one `ray start` in a new process group (its daemons stay in it) and wait for it."""
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    groups.append(proc.pid)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out[-3000:]


def cluster_nodes(address: str) -> list[str]:
    """The node IP of every live node, asked by a driver of its own."""
    code = ("import json, ray; ray.init(address=%r, log_to_driver=False); "
            "print(json.dumps([n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']]))" % address)
    out = subprocess.run([sys.executable, "-c", code], env=ray_env(**LOOPBACK), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def cluster():
    """host:port of a head node and one worker node on 127.0.0.1, one CPU each; stopped after
    the test, whatever happened."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")   # Ray's socket paths must stay short
    port, groups = free_port(), []
    address = f"127.0.0.1:{port}"
    try:
        start_node([RAY, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
                    "--temp-dir", temp, "--include-dashboard", "false", *NODE_OPTIONS],
                   ray_env(**LOOPBACK), groups)
        start_node([sys.executable, "-c", WORKER_START, "start", "--address", address,
                    "--node-ip-address", "127.0.0.1", *NODE_OPTIONS], ray_env(), groups)
        deadline = time.monotonic() + 60
        while len(nodes := cluster_nodes(address)) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        assert nodes == ["127.0.0.1", "127.0.0.1"], nodes
        yield address
    finally:
        stop_groups(groups)
        shutil.rmtree(temp, ignore_errors=True)


def run_sweep(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The sweep's command line as a user runs it, as a separate driver process."""
    out = subprocess.run([sys.executable, "-m", "delay_training.sweep", *SWEEP, *args], cwd=cwd,
                         env=ray_env(**LOOPBACK), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


def test_sweep_on_cluster_then_resume_after_driver_died(cluster, tmp_path):
    """One test (one cluster, whatever pytest-xdist does): the sweep through the cluster, then
    the storage as a driver that died after one of the two configurations leaves it, resumed."""
    run_sweep(tmp_path, "--ray", "--ray-address", cluster, "--storage", "storage", "--reports-dir", "out")
    summary = json.loads((tmp_path / "out" / "sweep-seqdet.json").read_text())
    check_rows_and_storage(summary, tmp_path / "storage")
    check_resume(cluster, summary, tmp_path / "storage", tmp_path / "again")


def check_rows_and_storage(summary: dict, storage: Path) -> None:
    """One row per configuration with its accuracies; the workers' artefacts in the storage."""
    rows = summary["rows"]
    assert summary["backend"] == "ray" and summary["reused"] == []
    assert summary["storage"] == str(storage)          # relative --storage, made absolute once
    assert [r["name"] for r in rows] == NAMES and [r["dbits"] for r in rows] == [2, 4]
    for row in rows:
        assert "error" not in row, row.get("traceback")
        assert 0 <= row["val_acc"] <= 1 and 0 <= row["test_acc"] <= 1 and row["epochs"] == 1
        name = row["name"]
        # the workers wrote the artefacts into the storage, and they are the ones of this row
        report = json.loads((storage / "reports" / f"train-{name}.json").read_text())
        assert row["report"] == str(storage / "reports" / f"train-{name}.json")
        assert (report["val_acc"], report["test_acc"]) == (row["val_acc"], row["test_acc"])
        assert (storage / "runs" / name / "checkpoint.pt").is_file()
        assert (storage / "runs" / name / "export" / "manifest.json").is_file()
        result = json.loads((storage / "results" / f"{name}.json").read_text())
        assert result["row"]["val_acc"] == row["val_acc"] and result["settings"]["kind"] == "grid"


def check_resume(cluster: str, first: dict, storage: Path, cwd: Path) -> None:
    """The finished configuration keeps its result (its report replaced by a marker that a rerun
    would overwrite); the other has none, as if the driver died before it ended. --resume must
    run only that one."""
    finished, missing = NAMES
    (storage / "results" / f"{missing}.json").unlink()
    (storage / "reports" / f"train-{missing}.json").unlink()
    marker = "not rewritten: this configuration was not run again\n"
    (storage / "reports" / f"train-{finished}.json").write_text(marker)

    cwd.mkdir()
    out = run_sweep(cwd, "--ray", "--ray-address", cluster, "--storage", str(storage),
                    "--reports-dir", "out", "--resume")
    again = json.loads((cwd / "out" / "sweep-seqdet.json").read_text())
    assert again["reused"] == [finished]
    assert f"not run again: {finished}" in out.stdout
    assert (storage / "reports" / f"train-{finished}.json").read_text() == marker
    assert json.loads((storage / "reports" / f"train-{missing}.json").read_text())["name"] == missing
    assert (storage / "results" / f"{missing}.json").is_file()
    rows = {r["name"]: r for r in again["rows"]}
    assert set(rows) == set(NAMES) and not any("error" in r for r in rows.values())
    before = {r["name"]: r for r in first["rows"]}
    assert rows[finished]["wall_s"] == before[finished]["wall_s"]        # the stored row itself
    assert rows[missing]["val_acc"] == before[missing]["val_acc"]        # same seed, same result


@pytest.fixture
def memory_storage():
    """A fresh memory:// folder for one test, removed afterwards."""
    import fsspec
    fs = fsspec.filesystem("memory")
    root = f"memory://delaysnn-sweep-test-{os.getpid()}"
    yield root, fs
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_uri_storage_uploads_and_resumes(memory_storage, tmp_path):
    from delay_training import sweep as S
    from delay_training.sweep_storage import StorageError

    root, fs = memory_storage
    kw = dict(epochs=1, workers=1, wbits=(1.58,), dbits=(2,), seed=0, eq=False, out_dir=root,
              overrides={"n_train": 100}, reports_dir=tmp_path, plots_dir=tmp_path, progress=False)
    first = S.sweep("seqdet", **kw)
    name = NAMES[0]
    row = first["rows"][0]
    assert "error" not in row, row.get("traceback")
    assert row["report"] == f"{root}/reports/train-{name}.json"
    path = root.split("://", 1)[1]
    for rel in (f"reports/train-{name}.json", f"results/{name}.json",
                f"runs/{name}/export/manifest.json", f"runs/{name}/checkpoint.pt"):
        assert fs.exists(f"{path}/{rel}"), rel
    assert json.loads(fs.cat_file(f"{path}/reports/train-{name}.json"))["val_acc"] == row["val_acc"]

    again = S.sweep("seqdet", resume=True, **kw)
    assert again["reused"] == [name] and again["rows"][0]["wall_s"] == row["wall_s"]
    with pytest.raises(StorageError, match=rf"results/{name}\.json: made with other settings \(epochs\)"):
        S.sweep("seqdet", resume=True, **dict(kw, epochs=2))
    with pytest.raises(StorageError, match="--storage nosuchproto://x: cannot open it with fsspec"):
        S.sweep("seqdet", **dict(kw, out_dir="nosuchproto://x"))


def test_ray_address_that_cannot_work_is_one_line(tmp_path):
    """A dead or malformed --ray-address fails at once (ray.init alone retries for minutes)."""
    from delay_training import sweep as S

    kw = dict(epochs=1, workers=1, wbits=(1.58,), dbits=(2,), eq=False, use_ray=True,
              out_dir=tmp_path / "storage", reports_dir=tmp_path, progress=False)
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(S.SweepError, match=rf"--ray-address {dead}: nothing answers there"):
        S.sweep("seqdet", ray_address=dead, **kw)
    with pytest.raises(S.SweepError, match="--ray-address nonsense: expected host:port"):
        S.sweep("seqdet", ray_address="nonsense", **kw)
    assert not (tmp_path / "storage" / "results").exists()
    S.check_ray_address(None)           # left to Ray: RAY_ADDRESS, `ray start`'s cluster, local
    S.check_ray_address("auto")


CUDA_LINE = ("--device cuda: this torch has no CUDA (installed the CPU build); "
             "reinstall with make install TORCH=cuda")


def test_device_cuda_on_cpu_torch_is_one_line(monkeypatch, capsys, tmp_path):
    import torch

    from delay_training import sweep as S
    from delay_training.train import TrainError, pick_device
    from delaysnn.cli import main

    monkeypatch.setattr(torch.version, "cuda", None)          # the CPU build, whatever is installed
    with pytest.raises(TrainError) as e:
        pick_device("cuda")
    assert str(e.value) == CUDA_LINE
    assert pick_device("cpu").type == "cpu"
    assert main(["train", "--task", "seqdet", "--device", "cuda", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"delaysnn: error: {CUDA_LINE}\n"
    assert not (tmp_path / "run").exists()
    # the sweep refuses before any run starts (no storage written)
    with pytest.raises(TrainError, match="no CUDA"):
        S.sweep("seqdet", epochs=1, workers=1, wbits=(1.58,), dbits=(2,), eq=False,
                overrides={"device": "cuda"}, out_dir=tmp_path / "storage", progress=False)
    assert not (tmp_path / "storage").exists()
    # a CUDA torch without a visible GPU says so instead
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TrainError, match=r"--device cuda:0: this torch has CUDA 13\.0 but sees no GPU"):
        pick_device("cuda:0")
