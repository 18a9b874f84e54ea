"""Run the steps of an Amaranth build plan one at a time, with the stage and elapsed time on
screen and a log file, instead of `plan.execute_local()` (one silent shell script: a UP5K
build sat there for 13 minutes without a word).

The commands are the ones Amaranth wrote into `build_<name>.sh` (so yosys / nextpnr options
given to `platform.build()` are kept); the tools run with their own log files (`-l top.rpt`,
`--log top.tim`), which this module reads while they run to tell which stage they are in.
"""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Tool variable in the build script -> the stage its command starts in.
TOOL_STAGE = {"YOSYS": "synthesis", "NEXTPNR_ICE40": "packing", "NEXTPNR_ECP5": "packing",
              "ICEPACK": "bitstream", "ECPPACK": "bitstream"}
STAGES = ("synthesis", "packing", "placement", "routing", "bitstream")

# nextpnr log lines that start a stage (its log has no explicit stage markers).
_NEXTPNR_STAGE = [(re.compile(r"Info: Packing"), "packing"),
                  (re.compile(r"Info: (Running main analytical placer|Creating initial (analytic )?"
                              r"placement|Running simulated annealing|HeAP)"), "placement"),
                  (re.compile(r"Info: (Routing|Router1|Running router2|Setting up routing)"),
                   "routing")]


class ToolError(RuntimeError):
    """A toolchain step exited non-zero; `stage` is where it was."""

    def __init__(self, stage: str, command: str, returncode: int):
        super().__init__(f"{stage}: `{command}` exited with status {returncode}")
        self.stage, self.command, self.returncode = stage, command, returncode


@dataclass
class Step:
    tool: str            # YOSYS, NEXTPNR_ICE40, ...
    command: str         # the script's line, with "$TOOL" in it
    log: str | None      # the tool's own log file (-l / --log), read for progress


def plan_steps(script: str) -> list[Step]:
    """The tool commands of Amaranth's build_<name>.sh, in order."""
    steps = []
    for line in script.splitlines():
        m = re.match(r'\s*"\$(\w+)"\s', line)
        if m and m[1] in TOOL_STAGE:
            log = re.search(r"(?:-l|--log)\s+(\S+)", line)
            steps.append(Step(m[1], line.strip(), log[1] if log else None))
    return steps


@dataclass
class Progress:
    """The stage on screen: one rewritten line on a terminal, a line per stage (and a heartbeat
    every `beat` seconds) otherwise, so that a CI log shows the build is alive."""
    log: Path | None = None
    stream = sys.stderr
    beat: float = 60.0
    stage: str | None = None
    started: float = field(default_factory=time.time)
    stage_started: float = 0.0
    times: dict = field(default_factory=dict)
    _last_beat: float = 0.0

    def _write_log(self, text: str):
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write(text + "\n")

    def enter(self, stage: str):
        now = time.time()
        if stage == self.stage:
            return
        self.close_stage(now)
        self.stage, self.stage_started, self._last_beat = stage, now, now
        line = f"[{self._clock(now)}] {stage}"
        self._write_log(line)
        if not self.stream.isatty():
            print(line, file=self.stream, flush=True)

    def close_stage(self, now: float | None = None):
        if self.stage is not None:
            now = now or time.time()
            self.times[self.stage] = round(self.times.get(self.stage, 0.0) + now - self.stage_started, 1)

    def tick(self, detail: str):
        now = time.time()
        text = f"[{self._clock(now)}] {self.stage} {now - self.stage_started:5.0f} s  {detail}"
        if self.stream.isatty():
            width = 118
            print("\r" + text[:width].ljust(width), end="", file=self.stream, flush=True)
        elif now - self._last_beat >= self.beat:
            self._last_beat = now
            print(text, file=self.stream, flush=True)

    def done(self):
        self.close_stage()
        self.stage = None
        if self.stream.isatty():
            print("\r" + " " * 118 + "\r", end="", file=self.stream, flush=True)

    def _clock(self, now: float) -> str:
        s = int(now - self.started)
        return f"{s // 60:02d}:{s % 60:02d}"


def _last_line(path: Path, pos: int) -> tuple[int, list[str]]:
    """New complete lines of a growing log file from byte `pos`."""
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return pos, []
    cut = data.rfind(b"\n") + 1
    return pos + cut, data[:cut].decode(errors="replace").splitlines()


def _stage_of(tool: str, line: str, current: str) -> str:
    """The stage a log line starts; stages only move forward (nextpnr packs a few cells again
    after placing its PLLs)."""
    if tool.startswith("NEXTPNR"):
        for pattern, stage in _NEXTPNR_STAGE:
            if pattern.match(line) and STAGES.index(stage) > STAGES.index(current):
                return stage
    return current


def run_step(step: Step, build_dir: Path, progress: Progress, poll: float = 0.5) -> None:
    """Run one tool command in build_dir (environment from build.tools_env), following its log."""
    progress.enter(TOOL_STAGE[step.tool])
    log_path = build_dir / step.log if step.log else None
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    out_path = build_dir / f"{step.tool.lower()}.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(["bash", "-c", "set -e; " + step.command], cwd=build_dir,
                                stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
        pos, detail = 0, step.tool.lower()
        while proc.poll() is None:
            time.sleep(poll)
            if log_path is not None:
                pos, lines = _last_line(log_path, pos)
                for line in lines:
                    progress.enter(_stage_of(step.tool, line, progress.stage))
                    if line.strip():
                        detail = line.strip()
            progress.tick(detail)
    if progress.log is not None:         # the command, its output, then the tool's own log
        text = out_path.read_text(errors="replace")
        if log_path is not None and log_path.exists():
            text += log_path.read_text(errors="replace")
        progress._write_log(f"$ {step.command}\n{text}".rstrip())
    if proc.returncode:
        raise ToolError(progress.stage, step.command, proc.returncode)


def execute(plan, build_dir: Path, log: Path | None = None) -> dict:
    """Write the plan's files into build_dir and run its tool steps; seconds per stage.
    Raises ToolError (with what ran so far in `times`) if a step fails."""
    build_dir = Path(build_dir)
    plan.extract(str(build_dir))
    script = next(v for k, v in plan.files.items() if k.endswith(".sh"))
    progress = Progress(log=log)
    try:
        for step in plan_steps(script if isinstance(script, str) else script.decode()):
            run_step(step, build_dir, progress)
    except ToolError as e:
        progress.done()
        e.times = progress.times
        raise
    progress.done()
    return progress.times
