"""The `delaysnn` command line (sw/delaysnn/cli.py): every option of every subcommand has help
and shows its default; `--help` works for every command (the console script from any directory,
without torch or amaranth for the top level); a user's mistake is one line on stderr and exit
status 2, `--debug` its traceback; a command without a part runs the Make target's parts; the
Makefile calls commands that exist."""

from __future__ import annotations

import argparse
import os
import re
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from corespec.errors import UserError
from delaysnn import cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "delaysnn"
HIDDEN = {(("train",), "--throttle")}        # test-only options, deliberately out of --help


@pytest.fixture(scope="module")
def tree() -> argparse.ArgumentParser:
    """The whole parser, every command's options in it (imports every module once)."""
    return cli.build_parser(everything=True)[0]


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of the parser and every subcommand below it."""
    yield path, parser
    for name, child in cli.subparsers_of(parser).items():
        yield from walk(child, path + (name,))


def documented(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's options and positionals (not -h, --version or the subcommand choice)."""
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


def shown_default(action: argparse.Action) -> str | None:
    """What `(default: ...)` must say for the action; None where there is none to show (required,
    SUPPRESS, a positional that must be given)."""
    if action.required or action.default is argparse.SUPPRESS:
        return None
    if not action.option_strings and action.nargs not in ("?", "*"):
        return None
    if isinstance(action, cli.FLAGS) and action.default is not None:
        return "off"
    return str(action.default)


def squeeze(text: str) -> str:
    """The text without whitespace: argparse wraps lines (and hyphenated words) by width."""
    return "".join(text.split())


def one_error_line(err: str) -> str:
    """The only line on stderr, which must be delaysnn's error line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("delaysnn: error: ") and "Traceback" not in err, err
    return lines[0]


def in_process(argv, capsys) -> tuple[int, str, str]:
    """main(argv) here: its status (a SystemExit's too), stdout and stderr."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


# -- help --------------------------------------------------------------------------------------
def test_every_option_has_help_and_shows_its_default(tree):
    checked = 0
    for path, parser in walk(tree):
        full = squeeze(parser.format_help())
        for action in documented(parser):
            name = (path, action.option_strings[0] if action.option_strings else action.dest)
            if action.help == argparse.SUPPRESS:
                assert name in HIDDEN, f"{name}: hidden from --help"
                continue
            assert action.help and action.help.strip(), f"{name}: no help text"
            block = parser._get_formatter()
            block.add_argument(action)              # the option's lines, as --help prints them
            block = squeeze(block.format_help())
            assert block in full, name
            default = shown_default(action)
            if default is not None:
                assert squeeze(f"(default: {default})") in block, f"{name}: no default {default}"
            checked += 1
    assert checked > 150        # every command's options were there


def test_every_command_and_part_is_in_the_tree(tree):
    commands = cli.subparsers_of(tree)
    assert list(commands) == [c.name for c in cli.COMMANDS]
    for c in cli.COMMANDS:
        if isinstance(c, cli.Group):
            assert list(cli.subparsers_of(commands[c.name])) == [p.name for p in c.parts]
            assert set(c.default) <= {p.name for p in c.parts}
        else:
            assert commands[c.name].get_default("delaysnn_run") is not None, c.name


def command_paths():
    for c in cli.COMMANDS:
        yield (c.name,)
        for part in getattr(c, "parts", ()):
            yield (c.name, part.name)


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_help_of_each_command_exits_0(path, capsys):
    code, out, _ = in_process([*path, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: delaysnn {' '.join(path)} ")


def test_top_level_help_imports_neither_torch_nor_amaranth():
    probe = ("import sys\nfrom delaysnn.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit as e:\n    assert e.code == 0\n"
             "print(sorted(m for m in ('torch', 'amaranth') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["check", "rtl", "--help"], ["bench", "--help"]],
                         ids=" ".join)
def test_console_script_help_from_any_folder(argv, tmp_path):
    """The installed script, run outside the repository: sim (repository root) is importable."""
    r = subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: delaysnn")


# -- user errors -------------------------------------------------------------------------------
def test_missing_data_root_is_one_line_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, DELAYSNN_DATA=str(tmp_path / "nonexistent"))
    r = subprocess.run([str(SCRIPT), "train", "--task", "fsdd", "--epochs", "1", "--out", str(out),
                        "--report", str(tmp_path / "report.json")],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert str(tmp_path / "nonexistent") in line and "DELAYSNN_DATA" in line
    assert not out.exists() and not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("argv, needle", [
    (["deploy", "{missing}", "--board", "icebreaker", "--no-bitstream", "--out-root", "{out}"],
     "{missing}"),
    (["run", "--deployed", "{missing}", "--sim", "--split", "test"], "{missing}"),
    (["eval", "--deployed", "{missing}", "--split", "test"], "{missing}"),
    (["export", "{missing}"], "{missing}"),
    (["check", "export", "--export", "{missing}"], "{missing}"),
    (["check", "rtl", "--only", "no-such-config"], "no-such-config"),
    (["info", "--sim"], "--image"),
    (["train", "--task", "nosuchtask"], "nosuchtask"),
    (["check", "export", "--task", "nosuchtask"], "nosuchtask"),
    (["learn", "--only", "nosuchdemo"], "nosuchdemo"),
    (["nosuchcommand"], "nosuchcommand"),
    (["bitstream", "--board", "icebreaker", "--lanes", "3"], "--lanes 3"),
    (["perf", "--steps", "0"], "--steps"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]))
def test_user_errors_are_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    fill = {"missing": str(tmp_path / "missing"), "out": str(tmp_path / "out")}
    code, _, err = in_process([a.format(**fill) for a in argv], capsys)
    assert code == 2
    assert needle.format(**fill) in one_error_line(err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["--debug", "export", "{missing}"],
                                  ["export", "{missing}", "--debug"]], ids=" ".join)
def test_debug_raises_the_error_itself(argv, tmp_path):
    with pytest.raises(UserError, match="missing"):
        cli.main([a.format(missing=tmp_path / "missing") for a in argv])


def test_debug_shows_the_traceback_from_the_console_script(tmp_path):
    r = subprocess.run([str(SCRIPT), "--debug", "export", str(tmp_path / "missing")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr and "ExportError" in r.stderr


# -- export ------------------------------------------------------------------------------------
def test_export_checks_the_folder_and_writes_its_image(tmp_path, capsys):
    from delay_training.export import export
    from delay_training.model import DelaySNN, ModelConfig
    from hostlink.image import image_dict, load_image_file
    params, _ = export(DelaySNN(ModelConfig(n_in=4, sizes=(3,), n_out=2), seed=0),
                       tmp_path / "run" / "export", extra={"task": "seqdet", "test_acc": 0.5})
    code, out, _ = in_process(["export", str(tmp_path / "run"), "--image",
                               str(tmp_path / "image.json")], capsys)
    assert code == 0
    assert "network   4-3-2 ternary" in out and "test accuracy 50.00 %" in out
    config, writes = load_image_file(tmp_path / "image.json")
    assert [list(w) for w in writes] == image_dict(params)["writes"]
    (tmp_path / "run" / "export" / "params.pt").write_bytes(b"not the parameters")
    code, _, err = in_process(["export", str(tmp_path / "run")], capsys)
    assert code == 2 and "params.pt" in one_error_line(err)


def test_check_export_takes_the_task_from_the_manifest(tmp_path, capsys, monkeypatch):
    """`delaysnn check export --export FOLDER`, as the README's quick start writes it: the test
    samples come from the export's own task (here seqdet, 2 channels), not a default task."""
    from delay_training.export import export
    from delay_training.model import DelaySNN, ModelConfig
    export(DelaySNN(ModelConfig(n_in=2, sizes=(3,), n_out=2), seed=0), tmp_path / "run" / "export",
           extra={"task": "seqdet", "test_acc": 0.5})
    code, out, err = in_process(["check", "export", "--export", str(tmp_path / "run" / "export"),
                                 "--samples", "1"], capsys)
    assert code == 0, err
    report = json.loads(out[out.index("{"):])
    assert report["task"] == "seqdet" and report["rtl_items_equal_golden"] is True
    code, _, err = in_process(["check", "export"], capsys)
    assert code == 2 and "--export" in one_error_line(err)


# -- groups and optional commands --------------------------------------------------------------
@pytest.fixture
def fake_group(monkeypatch):
    """A group of two parts whose run() records its call and returns --status."""
    calls = []
    module = types.ModuleType("fake_cli_part")
    module.add_arguments = lambda p: p.add_argument("--status", type=int, default=0, help="exit")
    module.run = lambda args: calls.append((args.delaysnn_part, args.status)) or args.status
    monkeypatch.setitem(sys.modules, "fake_cli_part", module)
    group = cli.Group("grp", "a group", (cli.Command("a", "part a", "fake_cli_part"),
                                         cli.Command("b", "part b", "fake_cli_part")),
                      default=("a", "b"))
    monkeypatch.setattr(cli, "COMMANDS", (group,))
    return calls


def test_group_without_a_part_runs_its_default_parts_in_order(fake_group, capsys):
    assert cli.main(["grp"]) == 0
    assert fake_group == [("a", 0), ("b", 0)]
    assert capsys.readouterr().out.splitlines() == ["== delaysnn grp a", "== delaysnn grp b"]


def test_group_part_runs_alone_with_its_status(fake_group):
    assert cli.main(["grp", "b", "--status", "3"]) == 3
    assert fake_group == [("b", 3)]


def test_missing_optional_command_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", (cli.Command(
        "nir", "NIR", "no_such_package_xyz.cli", missing_hint="nir support is not installed",
        requires=("no_such_package_xyz",)),))
    code, _, err = in_process(["nir", "export", "x", "-o", "y"], capsys)
    assert code == 2 and "nir support is not installed" in one_error_line(err)


def test_a_broken_import_is_not_taken_for_a_missing_optional_command(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", (cli.Command(
        "nir", "NIR", "nir_xyz.cli", missing_hint="nir support is not installed",
        requires=("nir_xyz_dependency",)),))
    with pytest.raises(ModuleNotFoundError):
        cli.main(["nir", "--help"])


# -- the Makefile ------------------------------------------------------------------------------
def test_makefile_targets_call_existing_commands():
    text = (ROOT / "Makefile").read_text()
    called = re.findall(r"^\t\$\(CLI\) (\S+)", text, flags=re.M)
    assert {"train", "deploy", "demo", "check", "bench", "sweep", "learn", "bitstream"} <= set(called)
    assert set(called) <= {c.name for c in cli.COMMANDS}
    assert not re.search(r"\$\(PY\) -m ", text)
