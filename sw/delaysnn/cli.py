"""delaysnn: train delay spiking networks, check them on the RTL, put them on a board.

Every command's options are defined once, by the module that does the work (its
`add_arguments(parser)` and `run(args)`; `python -m <module>` builds its own parser from the same
function). Modules are imported only when their command is chosen, so `delaysnn --help` starts
without torch or amaranth.

A mistake in what you give (a missing folder or data root, an impossible option) is one line,
`delaysnn: error: <message>`, and exit status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from dataclasses import dataclass

from corespec.errors import UserError


@dataclass(frozen=True)
class Command:
    """A subcommand: the module whose `add` function defines its options and whose `run(args)`
    does the work; `defaults` are attributes that run expects beside the options (e.g. which of
    hostlink's commands)."""
    name: str
    help: str
    module: str
    add: str = "add_arguments"
    run: str = "run"
    defaults: tuple[tuple[str, object], ...] = ()
    missing_hint: str = ""              # an optional command: what to install when it is missing
    requires: tuple[str, ...] = ()      # ... and the top-level modules whose absence means that


@dataclass(frozen=True)
class Group:
    """A subcommand of parts (`delaysnn check rtl`); without a part it runs `default` in order,
    as the Make target does."""
    name: str
    help: str
    parts: tuple[Command, ...]
    default: tuple[str, ...]


COMMANDS: tuple[Command | Group, ...] = (
    Command("train", "train a network in the core's arithmetic; export, report, plots",
            "delay_training.__main__"),
    Command("eval", "a deployed or exported network on WAV files, without a board",
            "hostlink.cli", add="add_eval_arguments", defaults=(("command", "eval"),)),
    Command("enrol", "a user's speaker reference for a speaker-normalised network, kept in its folder",
            "hostlink.cli", add="add_enrol_arguments", defaults=(("command", "enrol"),)),
    Command("export", "check a training run's export and say what it holds",
            "delaysnn.export"),
    Group("check", "the RTL against the golden model on Verilator", (
        Command("rtl", "the core on every configuration of the regression matrix",
                "verification.runners.regression"),
        Command("learning", "the on-chip learning engine against the golden learner",
                "verification.runners.learning_cosim", run="run_matrix"),
        Command("export", "a trained export's test samples through the RTL core",
                "verification.runners.export_check"),
    ), default=("rtl", "learning")),
    Command("deploy", "a trained network onto a board: fit, image, bitstream, program",
            "deploy.cli"),
    Command("run", "a deployed network on its board or the board's simulation",
            "hostlink.cli", add="add_run_arguments",
            defaults=(("command", "run"),)),
    Command("info", "a board's identity and status",
            "hostlink.cli", add="add_info_arguments", defaults=(("command", "info"),)),
    Command("learn", "on-chip learning demonstrations on the golden learner",
            "onchip_learning.__main__"),
    Command("sweep", "accuracy against memory for each weight and delay precision",
            "delay_training.sweep"),
    Command("loso", "spoken digits, leave one speaker out: per fold and seed, mean over folds",
            "delay_training.loso"),
    Command("adapt", "on-chip adaptation of a LOSO network to a new speaker (or your WAV files)",
            "onchip_learning.adapt"),
    Command("adapt-summary", "adaptation reports over folds and seeds: means on chip and host-side",
            "onchip_learning.adapt_summary"),
    Group("bench", "speed of the core, the board link and training", (
        Command("core", "accumulates per cycle, Verilator and golden-model speed, synthesis",
                "benchmarks.core"),
        Command("board", "real time end to end in the co-simulation of the iCEBreaker top",
                "benchmarks.board"),
        Command("lanes", "cycles per timestep for 1, 2, 4, 8 lanes (golden schedule)",
                "benchmarks.lanes"),
        Command("train", "training cost of axonal, synaptic and DCLS delays on one network",
                "delay_training.bench"),
    ), default=("core", "board", "lanes", "train")),
    Command("perf", "how fast on my board? cycles per step, time per sample",
            "golden_model.perf"),
    Command("bitstream", "synthesis, place and route of the board networks",
            "delaycore.boards.build"),
    Command("demo", "the whole flow: train, deploy, run on the board model",
            "deploy.demo"),
    Command("nir", "a network to or from NIR, for other SNN frameworks",
            "nir_bridge.cli", missing_hint="nir support is not installed (the nir_bridge package "
                                           "and PyPI's nir are needed: make install)",
            requires=("nir_bridge", "nir", "nirtorch")),
)

DEBUG_HELP = "show the traceback of an error instead of one line"

DESCRIPTION = """Train spiking networks with learned axonal delays, check them on the RTL, put them
on a board. A mistake in what you give (a missing folder, an impossible option) is one line,
`delaysnn: error: <message>`, and exit status 2 (--debug: the traceback)."""

EPILOG = """the flow, for example:
  delaysnn train --task fsdd --wbits 1.58 --dbits 5
  delaysnn deploy build/train/fsdd --board ulx3s --program
  delaysnn run --deployed build/deploy/fsdd-ulx3s --port /dev/ttyUSB0 --split test
  delaysnn eval --deployed build/train/fsdd/export --wav-dir my_recordings/   (no board)"""


FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as the modules lay them out, and every option's default after its help (a
    required option has none to show). A flag's default is "off" (not given), not the value of
    its destination: `--no-bitstream (default: True)` reads backwards."""

    def _get_help_string(self, action):
        if action.required:
            return action.help
        if isinstance(action, FLAGS) and action.default is not None \
                and action.default is not argparse.SUPPRESS and "%(default)" not in action.help:
            return action.help + " (default: off)"
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors (an unknown task, a missing option) are one line like every
    other user error, with where to look; exit status 2 as argparse's. Subcommands inherit it."""

    def error(self, message):
        self.exit(2, f"delaysnn: error: {message} (see {self.prog} --help)\n")


def kit_version() -> str:
    """The installed distribution's version (cheap: no package of the kit is imported)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("delay-snn-kit")
    except PackageNotFoundError:
        return "(not installed)"


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parsers of a parser's subcommands, by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def use_formatter(parser: argparse.ArgumentParser) -> None:
    """Our formatter on a parser and every parser below it (a module's own subcommands too), so
    that every option shows its default."""
    parser.formatter_class = HelpFormatter
    for child in subparsers_of(parser).values():
        use_formatter(child)


def add_debug(parser: argparse.ArgumentParser) -> None:
    """--debug after the subcommand too; SUPPRESS keeps a global `delaysnn --debug` from being
    overwritten by the subcommand's default."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=DEBUG_HELP + " (the same as delaysnn --debug)")


def missing_part(parser: argparse.ArgumentParser, cmd: Command, error: ModuleNotFoundError):
    """An optional command whose package is not installed: it takes any arguments and says so."""
    parser.add_argument("arguments", nargs=argparse.REMAINDER,
                        help=f"the command's arguments; not available: {cmd.missing_hint}")

    def refuse(args) -> int:
        raise UserError(f"{cmd.name}: {cmd.missing_hint}; missing module {error.name!r}")

    parser.set_defaults(delaysnn_run=refuse)


def populate(parser: argparse.ArgumentParser, cmd: Command) -> None:
    """Import the command's module (only now: it may pull torch or amaranth) and let it define
    the options; its docstring becomes the command's description."""
    try:
        module = importlib.import_module(cmd.module)
    except ModuleNotFoundError as e:
        if e.name not in cmd.requires:      # not an uninstalled part: a bug, keep its traceback
            raise
        missing_part(parser, cmd, e)
    else:
        getattr(module, cmd.add)(parser)
        parser.set_defaults(delaysnn_run=getattr(module, cmd.run), **dict(cmd.defaults))
        if module.__doc__:
            parser.description = f"{cmd.help}\n\n{inspect.cleandoc(module.__doc__)}"
    add_debug(parser)
    use_formatter(parser)


def command_words(argv: list[str]) -> list[str]:
    """The command and part named in argv (the words before any of their options: the global
    options take no values)."""
    return [a for a in argv if not a.startswith("-")][:2]


def build_parser(argv: list[str] | None = None, everything: bool = False):
    """The parser, with the options of only the command named in argv (all with `everything`);
    and the parser and Command of every command and part, by (command[, part])."""
    words = command_words(argv or [])
    parser = Parser(prog="delaysnn", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=HelpFormatter)
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
    sub = parser.add_subparsers(dest="delaysnn_command", metavar="COMMAND", required=True,
                                title="commands (delaysnn COMMAND --help for its options)")
    table = {}
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help,
                           formatter_class=HelpFormatter)
        table[(cmd.name,)] = (p, cmd)
        if isinstance(cmd, Group):
            parts = p.add_subparsers(dest="delaysnn_part", metavar="PART",
                                     title=f"parts (none: {', '.join(cmd.default)})")
            for part in cmd.parts:
                pp = parts.add_parser(part.name, help=part.help, description=part.help,
                                      formatter_class=HelpFormatter)
                table[(cmd.name, part.name)] = (pp, part)
                if everything or words == [cmd.name, part.name]:
                    populate(pp, part)
            add_debug(p)
        elif everything or words[:1] == [cmd.name]:
            populate(p, cmd)
    return parser, table


def run_parts(group: Group, table, debug: bool) -> int:
    """A group without a part: each default part with its defaults, in order; the first
    non-zero status (every part runs, so one failure does not hide another)."""
    status = 0
    for name in group.default:
        parser, part = table[(group.name, name)]
        if parser.get_default("delaysnn_run") is None:
            populate(parser, part)
        args = parser.parse_args([])
        args.debug, args.delaysnn_command, args.delaysnn_part = debug, group.name, name
        print(f"== delaysnn {group.name} {name}", flush=True)
        rc = args.delaysnn_run(args) or 0
        status = status or rc
    return status


def one_line(error: Exception) -> str:
    """The error's message on one line (a message is meant to be one; this makes sure)."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def execute(args, table) -> int:
    """Run the parsed command: a part's or command's `run(args)`, or a group's default parts."""
    cmd = table[(args.delaysnn_command,)][1]
    if isinstance(cmd, Group) and getattr(args, "delaysnn_part", None) is None:
        return run_parts(cmd, table, args.debug)
    return args.delaysnn_run(args) or 0


def main(argv: list[str] | None = None) -> int:
    """The console script: parse, run, and report a user's mistake as one line (exit 2)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, table = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return execute(args, table)
    except UserError as e:
        if args.debug:
            raise
        print(f"delaysnn: error: {one_line(e)}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("delaysnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
