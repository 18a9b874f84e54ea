"""Bad input is refused early, in one line naming the file or field, and changes nothing
(issue 18, section 5). Each case was found by trying the kit as a new user:

1. --epochs 0 / negative trained nothing and overwrote a good export, plots and report;
2. --resume could not extend a run's epochs; real conflicts name the setting and both values;
3. a truncated or empty checkpoint with --resume gave a bare OSError without the file name;
4. hostlink: a params.pt, a truncated JSON or an unknown key given as --image, and --input /
   --learn-regs files that are not what they should be;
5. golden_model run_stream truncated floats, masked wide words and flattened nested lists;
6. golden_model.perf --rate 5 was accepted;
7. every output was written 0600 (tempfile.mkstemp) instead of 0o666 & ~umask.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from corespec.errors import UserError
from corespec.files import atomic_write_bytes, atomic_write_json, current_umask, read_json
from delay_training.train import (TrainError, check_epochs, check_resume, make_config,
                                  read_checkpoint, restore_checkpoint, train)
from golden_model import (CLEAR, EOT, SPIKE, CoreConfig, GoldenNetwork, check_events,
                          encode_event, random_params)
from golden_model.events import EventError
from hostlink.image import ImageError, read_image, save_image

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SEQDET = dict(epochs=2, seed=1, n_train=200, threads=1)     # a 5-second training


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def umask():
    """Set the process umask for one test (files written in-process follow it); restored after."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _config(out: Path, **kw):
    return make_config("seqdet", **{**SEQDET, **kw}, out=str(out), report=str(out / "report.json"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-epoch run (checkpoint, export, plots, report) written under umask 022."""
    out = tmp_path_factory.mktemp("trained") / "run"
    old = os.umask(0o022)
    try:
        train(_config(out), progress=False)
    finally:
        os.umask(old)
    return out


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    """A copy of the trained run that a test may try to spoil."""
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return out


def snapshot(folder: Path) -> dict:
    """Every file under folder: contents hash, modification time and mode (what 'untouched' means)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli_train(out: Path, *extra):
    """`python -m delay_training train` on the fixture's settings (as `make train` runs it)."""
    cmd = [PY, "-m", "delay_training", "train", "--task", "seqdet", "--epochs", "2", "--seed", "1",
           "--n-train", "200", "--out", str(out), "--report", str(out / "report.json"), "--quiet",
           *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _one_error_line(stderr: str) -> str:
    """The error line of a refused command: no traceback, exactly one line saying 'error:'."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


# 1. epochs ------------------------------------------------------------------------------------

def test_epochs_below_one_are_refused_before_anything_is_written(run_copy):
    before = snapshot(run_copy)
    for bad in (0, -3):
        with pytest.raises(TrainError, match=rf"epochs = {bad}; expected a whole number of at least 1"):
            train(_config(run_copy, epochs=bad), progress=False)
        with pytest.raises(TrainError, match="epochs"):
            train(_config(run_copy, epochs=bad), resume=True, progress=False)
    assert snapshot(run_copy) == before
    assert check_epochs(1) == 1                       # the boundary: one epoch is a run
    for bad in (0, 2.0, True, None):
        with pytest.raises(TrainError):
            check_epochs(bad)


def test_epochs_zero_on_the_command_line_is_one_line_and_writes_nothing(tmp_path):
    res = _cli_train(tmp_path / "new", "--epochs", "0")
    assert res.returncode == 2
    assert "argument --epochs: '0' is not a number of epochs" in _one_error_line(res.stderr)
    assert not (tmp_path / "new").exists()


# 2. resume: extend the epochs, refuse real conflicts -------------------------------------------

def test_resume_with_more_epochs_continues_the_run(run_copy, trained):
    first = json.loads((trained / "report.json").read_text())
    report = train(_config(run_copy, epochs=3), resume=True, progress=False)
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3]
    assert report["history"][:2] == first["history"]        # the two epochs were not retrained
    ck = read_checkpoint(run_copy / "checkpoint.pt")
    assert ck["epoch"] == 3 and ck["identity"]["epochs"] == 3
    # the cosine was stretched to 3 epochs: it ends at 0 (unstretched it would climb back to
    # half the base rate after its 2-epoch period)
    assert ck["scheduler"]["T_max"] == 3
    assert all(abs(g["lr"]) < 1e-12 for g in ck["optimizer"]["param_groups"])


def test_a_stretched_schedule_continues_on_the_new_cosine():
    """After 2 of 2 epochs the rate is 0; resumed with 4 epochs it is the 4-epoch cosine's value
    at epoch 2 (half the base rate), then at epoch 3."""
    base = 0.01
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([w], lr=base)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    for _ in range(2):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-15)
    ck = {"model": torch.nn.Linear(1, 1).state_dict(), "optimizer": opt.state_dict(),
          "scheduler": sched.state_dict()}
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=4)
    restore_checkpoint(ck, Path("ck.pt"), torch.nn.Linear(1, 1), opt2, sched2, epochs=4)
    assert opt2.param_groups[0]["lr"] == pytest.approx(base / 2)
    opt2.step()
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(base * (1 + math.cos(3 * math.pi / 4)) / 2)


def test_resume_refuses_other_settings_naming_them_and_both_values(run_copy):
    before = snapshot(run_copy)
    with pytest.raises(TrainError, match=r"checkpoint\.pt: checkpoint was made with different "
                                         r"settings \(lr: checkpoint 0\.002, this run 0\.001\)"):
        train(_config(run_copy, lr=1e-3), resume=True, progress=False)
    with pytest.raises(TrainError, match=r"seed: checkpoint 1, this run 4.*wbits: checkpoint "
                                         r"1\.58, this run 4"):
        train(_config(run_copy, seed=4, wbits=4), resume=True, progress=False)
    with pytest.raises(TrainError, match=r"already trained 2 epochs, more than epochs = 1; give "
                                         r"--epochs 2 or more"):
        train(_config(run_copy, epochs=1), resume=True, progress=False)
    assert snapshot(run_copy) == before


def test_resume_epoch_boundary(trained):
    """Fewer epochs than the checkpoint has trained is a conflict; as many is not."""
    ck = read_checkpoint(trained / "checkpoint.pt")
    check_resume(ck, _config(trained, epochs=2), trained / "checkpoint.pt")
    with pytest.raises(TrainError, match="already trained 2 epochs"):
        check_resume(ck, _config(trained, epochs=1), trained / "checkpoint.pt")


def test_resume_conflict_on_the_command_line_is_one_line(run_copy):
    before = snapshot(run_copy)
    res = _cli_train(run_copy, "--resume", "--lr", "0.001")
    assert res.returncode == 2
    assert "lr: checkpoint 0.002, this run 0.001" in _one_error_line(res.stderr)
    assert snapshot(run_copy) == before


# 3. a checkpoint that is not one ------------------------------------------------------------

@pytest.mark.parametrize("spoil, message", [
    (lambda b: b[:len(b) // 2], "truncated or not a training checkpoint"),
    (lambda b: b"", "empty file, not a training checkpoint"),
    (lambda b: b'{"epoch": 2}', "truncated or not a training checkpoint"),
])
def test_a_spoiled_checkpoint_is_named_and_nothing_is_overwritten(run_copy, spoil, message):
    ckpt = run_copy / "checkpoint.pt"
    ckpt.write_bytes(spoil(ckpt.read_bytes()))
    before = snapshot(run_copy)
    with pytest.raises(TrainError, match=rf"{ckpt}: {message}.*delete it or run without --resume"):
        train(_config(run_copy), resume=True, progress=False)
    assert snapshot(run_copy) == before


def test_a_checkpoint_of_something_else_is_named(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(TrainError, match=r"checkpoint\.pt: not a training checkpoint \(no 'version'\)"):
        read_checkpoint(path)
    torch.save([1, 2], path)
    with pytest.raises(TrainError, match="not a training checkpoint"):
        read_checkpoint(path)


def test_a_truncated_checkpoint_on_the_command_line_is_one_line(run_copy):
    ckpt = run_copy / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    before = snapshot(run_copy)
    res = _cli_train(run_copy, "--resume")
    assert res.returncode == 2
    line = _one_error_line(res.stderr)
    assert f"{ckpt}: truncated or not a training checkpoint" in line and "--resume" in line
    assert snapshot(run_copy) == before


# 4. hostlink: images and the other files a run reads ----------------------------------------

BIG = CoreConfig(n_in=16, sizes=(32,), n_out=4, weight_bits=4, depth=8)


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "image.json"
    save_image(path, random_params(BIG, 3))
    assert len(path.read_text()) > 3000
    return path


def test_image_reader_names_the_file_and_what_is_wrong(image, trained, tmp_path):
    params_pt = trained / "export" / "params.pt"            # a real torch file
    with pytest.raises(ImageError, match=rf"{params_pt}: binary data, not an image JSON \(expected "
                                         r"the image\.json of an export or deploy folder\)"):
        read_image(params_pt)
    trunc = tmp_path / "trunc.json"
    trunc.write_text(image.read_text()[:3000])
    with pytest.raises(ImageError, match=rf"{trunc}: truncated or malformed JSON at line 1 column 3001"):
        read_image(trunc)
    d = json.loads(image.read_text())
    d["config"]["x"] = 1
    (tmp_path / "unknown.json").write_text(json.dumps(d))
    with pytest.raises(ImageError, match=r"unknown\.json: unknown configuration key 'x' \(expected "
                                         r"one of depth, input_delays, .*weights_per_word\)"):
        read_image(tmp_path / "unknown.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(ImageError, match=r"empty\.json: empty file, not an image JSON"):
        read_image(tmp_path / "empty.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ImageError, match=r"list\.json: a JSON list, not an image JSON"):
        read_image(tmp_path / "list.json")


def _hostlink(capsys, *argv) -> tuple[int, str]:
    from hostlink.cli import main
    rc = main(list(argv))
    return rc, _one_error_line(capsys.readouterr().err)


def test_hostlink_commands_read_images_through_the_one_reader(image, trained, tmp_path, capsys):
    params_pt = trained / "export" / "params.pt"
    rc, line = _hostlink(capsys, "info", "--image", str(params_pt), "--sim")
    assert rc == 2 and f"{params_pt}: binary data, not an image JSON" in line
    trunc = tmp_path / "trunc.json"
    trunc.write_text(image.read_text()[:3000])
    samples = tmp_path / "in.npy"
    np.save(samples, np.zeros((3, 16), dtype=np.int64))
    rc, line = _hostlink(capsys, "run", "--image", str(trunc), "--input", str(samples), "--sim")
    assert rc == 2 and "truncated or malformed JSON at line 1 column 3001" in line


def test_a_deploy_folder_with_a_truncated_image_names_the_image(image, tmp_path):
    """deploy.json's hash check used to come first and blamed a replaced image."""
    from hostlink.deployed import load_deployment
    folder = tmp_path / "deployed"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"task": "fsdd"}))
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    (folder / "deploy.json").write_text(json.dumps({"image_sha256": digest}))
    (folder / "image.json").write_text(image.read_text()[:3000])
    with pytest.raises(ImageError, match=r"image\.json: truncated or malformed JSON at line 1 column 3001"):
        load_deployment(folder)
    (folder / "manifest.json").write_text('{"task": "fs')
    with pytest.raises(UserError, match=r"manifest\.json: truncated or malformed JSON at line 1 "
                                        r"column 10"):
        load_deployment(folder)


def test_hostlink_input_and_register_files_are_named(image, trained, tmp_path, capsys):
    params_pt = trained / "export" / "params.pt"
    good = tmp_path / "in.npy"
    np.save(good, np.zeros((3, 16), dtype=np.int64))
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(tmp_path / "no.npy"),
                         "--sim")
    assert rc == 2 and f"{tmp_path / 'no.npy'}: cannot read (No such file or directory)" in line
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(params_pt), "--sim")
    assert rc == 2 and f"{params_pt}: a zip archive, not a .npy array" in line
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(image), "--sim")
    assert rc == 2 and f"{image}: not a .npy array" in line
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((3, 16)))
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(floats), "--sim")
    assert rc == 2 and f"{floats}: integer array expected, got float64" in line
    wide = tmp_path / "wide.npy"
    np.save(wide, np.array([encode_event(EOT), (1 << 40) | 1]))
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(wide), "--sim")
    assert rc == 2 and f"{wide}: event 1: word 1099511627777" in line
    rc, line = _hostlink(capsys, "run", "--image", str(image), "--input", str(good), "--learn-regs",
                         str(params_pt), "--sim")
    assert rc == 2 and f"{params_pt}: binary data, not a JSON object {{register name: value}}" in line


def test_an_export_manifest_that_is_binary_is_named(run_copy):
    from delay_training.export import ExportError, load_export
    manifest = run_copy / "export" / "manifest.json"
    manifest.write_bytes((run_copy / "export" / "params.pt").read_bytes())
    with pytest.raises(ExportError, match=rf"{manifest}: binary data, not an export manifest"):
        load_export(run_copy / "export")


# 5. golden model: one validation of event streams ---------------------------------------------

@pytest.fixture(scope="module")
def net() -> GoldenNetwork:
    return GoldenNetwork(random_params(CoreConfig(n_in=3, sizes=(3,), n_out=2, weight_bits=4,
                                                  depth=4), 0))


GOOD = [encode_event(SPIKE, 2), encode_event(EOT)]


@pytest.mark.parametrize("bad, message", [
    (GOOD + [2.0], r"event 2: 2\.0 is a float, not an event word"),
    (GOOD + [(1 << 40) | 1], r"event 2: word 1099511627777 \(0x10000000001\) does not fit 18 bits"),
    (GOOD + [1 << 18], r"event 2: word 262144 \(0x40000\) does not fit 18 bits"),
    (GOOD + [-1], r"event 2: word -1 .* does not fit 18 bits"),
    ([GOOD, GOOD], r"event 0: \[8, 1\] is a list, not an event word \(a stream is a flat"),
    (GOOD + [True], r"event 2: True is a bool, not an event word"),
    (GOOD + [2 ** 70], r"event 2: word 1180591620717411303424 .* does not fit 18 bits"),
    (np.array([1.0, 1.0]), r"event 0: 1\.0 is a float"),
    (torch.tensor([[8, 1]]), r"expected a flat sequence of event words, got an array of shape \(1, 2\)"),
])
def test_run_stream_and_check_events_refuse_what_is_not_an_event_word(net, bad, message):
    with pytest.raises(EventError, match=message):
        net.run_stream(bad)
    with pytest.raises(EventError, match=message):
        check_events(bad, 3)


def test_every_integer_event_word_is_accepted(net):
    """The boundary: 2^18 - 1 is a word (RESERVED kind, dropped and counted by the guard)."""
    top = (1 << 18) - 1
    res = net.run_stream(GOOD + [top])
    assert res.dropped_kind == 1
    as_numpy = net.run_stream(np.array(GOOD + [encode_event(CLEAR)] + GOOD, dtype=np.int32))
    as_list = net.run_stream([np.int64(w) for w in GOOD] + [encode_event(CLEAR)] + GOOD)
    assert as_numpy.outputs == as_list.outputs
    check_events([], 3)
    check_events(GOOD, 3)


# 6. golden_model.perf --rate ------------------------------------------------------------------

SMALL = ["--n-in", "4", "--sizes", "4", "--n-out", "2", "--steps", "3"]


@pytest.mark.parametrize("rate", ["5", "1.0001", "-0.01", "nan"])
def test_perf_refuses_a_rate_that_is_not_a_probability(rate, capsys):
    from golden_model.perf import main
    with pytest.raises(SystemExit) as e:
        main(["--rate", rate, *SMALL])
    assert e.value.code == 2
    assert (f"argument --rate: '{rate}' is not a probability (expected a number in [0, 1])"
            in _one_error_line(capsys.readouterr().err))


@pytest.mark.parametrize("rate", ["0", "1"])
def test_perf_accepts_the_ends_of_the_probability_range(rate, capsys):
    from golden_model.perf import main
    main(["--rate", rate, *SMALL])
    assert f"input rate {float(rate)}" in capsys.readouterr().out


# 7. modes of what the kit writes -----------------------------------------------------------

def test_outputs_are_readable_by_others(trained):
    """Checkpoint, export (params.pt, manifest.json, image.json), plots and report of a run made
    under umask 022 are 0644 (mkstemp alone gave 0600)."""
    files = [p for p in trained.rglob("*") if p.is_file()]
    assert {"checkpoint.pt", "params.pt", "manifest.json", "image.json", "report.json"} <= \
        {p.name for p in files}
    assert any(p.suffix == ".png" for p in files)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == \
        {p.name: "0o644" for p in files}


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_atomic_writers_follow_the_umask(tmp_path, umask, mask):
    from delay_training.export import atomic_torch_save
    from spike_datasets.fsdd import save_cache
    umask(mask)
    assert current_umask() == mask
    want = 0o666 & ~mask
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    atomic_torch_save({"x": 1}, tmp_path / "c.pt")
    save_image(tmp_path / "image.json", random_params(BIG, 1))
    save_cache(tmp_path / "d.npz", {"a": np.zeros(3)})
    for name in ("a.json", "b.bin", "c.pt", "image.json", "d.npz"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(want), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin", "c.pt", "d.npz",
                                                           "image.json"]   # no temporary left


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path):
    from corespec.files import atomic_write
    path = tmp_path / "report.json"
    atomic_write_json(path, {"good": True})

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert json.loads(path.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_read_json_names_the_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": ')
    with pytest.raises(UserError, match=r"x\.json: truncated or malformed JSON at line 1 column 7"):
        read_json(path, "a thing")
    with pytest.raises(UserError, match=r"nope\.json: cannot read \(No such file or directory\)"):
        read_json(tmp_path / "nope.json", "a thing")


def test_an_unknown_key_in_a_parameter_file_or_model_config_is_named(run_copy):
    from delay_training.export import ExportError, load_export
    from hostlink.deployed import RunError, load_deployment, torch_readouts
    export = run_copy / "export"
    dep = load_deployment(export)
    dep.manifest["model_config"]["bogus"] = 1
    with pytest.raises(RunError, match=r"manifest\.json: model_config does not describe a network "
                                       r"\(.*'bogus'"):
        torch_readouts(dep, [])
    payload = torch.load(export / "params.pt", weights_only=True)
    payload["config"]["x"] = 1
    torch.save(payload, export / "params.pt")
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["file_sha256"] = hashlib.sha256((export / "params.pt").read_bytes()).hexdigest()
    (export / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match=r"params\.pt: unknown configuration key 'x' \(expected "
                                          r"one of depth, "):
        load_export(export)


def test_impossible_training_settings_are_named_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(TrainError, match=r"nothing to train: fixed weights and no delays \(dbits = 0\)"):
        train(_config(out, dbits=0), progress=False)
    with pytest.raises(TrainError, match=r"sizes = \[10, 4\]: the hand-built sequence detector"):
        train(_config(out, sizes=(10, 4)), progress=False)
    assert not out.exists()


def test_a_stream_that_is_not_a_sequence_is_named(net):
    with pytest.raises(EventError, match=r"events: expected a sequence of event words, got 5 \(int\)"):
        net.run_stream(5)


def test_hostlink_run_output_is_named_when_it_cannot_be_written(image, tmp_path, capsys):
    from hostlink.cli import save_readout
    assert save_readout(tmp_path / "r", [[[1, 2]]]) == f"{tmp_path / 'r'}.npy"
    assert np.load(tmp_path / "r.npy").tolist() == [[[1, 2]]]
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"file/r\.npy: cannot write the readout"):
        save_readout(tmp_path / "file" / "r.npy", [[[1, 2]]])
