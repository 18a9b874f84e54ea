"""The whole board top level (`delaycore.boards.top.BoardTop`: UART pins -> LinkedCore -> Network,
heartbeat and rx LEDs) on Verilator, driven by the unchanged host driver (`hostlink.driver.CoreLink`)
through a bit-level UART transport inside the cocotb testbench (verification/benches/board_tb.py).

`BoardTop` is elaborated exactly as for a board, against `SimPlatform`: a stand-in platform that
hands out plain signals for `uart` and `led` and has no PLL (pll=None, the board clock is the
core clock). Only the clock frequency and baud rate differ from hardware, so that the UART divider
`round(f_clk / baud)` is small (4 by default) and a byte takes 40 cycles.

    case = {"config": CoreConfig fields, "writes": [[layer, space, addr, data], ...],
            "samples": [[event words], ...], "state_records": [[layer, space, addr], ...],
            "corrupt": {"good": [layer, space, addr, data]}}
    result = run(case)        # build (cached by the Verilog text) + simulate; dict from the bench

`run_deployed` is the board of a deploy folder in simulation (`python -m hostlink run --sim`, the
board benchmark): the top built for the deployed configuration, learning engine, board name, core
clock and baud rate (so that its UART divider, and with it every simulated second, is the
board's), the image loaded through the driver after the device's identity has been checked, then
every sample streamed and timed (mode "run" of verification/benches/board_tb.py). With `learn` the samples are learned
from as on a board (`python -m hostlink run --deployed --learn --sim`): registers, LABEL after
each learned sample, learning off before the evaluated ones, state read back at the end.
"""

import dataclasses
import hashlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from amaranth import Signal
from amaranth.back import verilog

from golden_model import CoreConfig

from .cosim import ROOT, verilate, run_testbench

BUILD = ROOT / "build" / "sim"
TOP = "board_top"
SIM_CLK_HZ = 12_000_000        # iCEBreaker board clock; with SIM_BAUD the UART divider is 4
SIM_BAUD = 3_000_000


class SimPlatform:
    """Just enough of an Amaranth platform for BoardTop.elaborate: the default clock frequency
    and `request("uart"|"led", i)` returning records of plain signals (top-level ports)."""

    default_clk = "clk"

    def __init__(self, clk_hz: float = SIM_CLK_HZ, n_leds: int = 2):
        self.default_clk_frequency = float(clk_hz)
        self.uart = SimpleNamespace(rx=SimpleNamespace(i=Signal(init=1, name="uart_rx")),
                                    tx=SimpleNamespace(o=Signal(init=1, name="uart_tx")))
        self.leds = [SimpleNamespace(o=Signal(name=f"led_{i}")) for i in range(n_leds)]

    def request(self, name, number=0, **kwargs):
        if name == "uart" and number == 0:
            return self.uart
        if name == "led" and number < len(self.leds):
            return self.leds[number]
        raise LookupError(f"SimPlatform has no resource {name}#{number}")

    @property
    def ports(self):
        return [self.uart.rx.i, self.uart.tx.o] + [l.o for l in self.leds]

    # BoardTop only calls add_clock_constraint with a PLL, which the simulation has not.


def board_verilog(cfg: CoreConfig, clk_hz: float = SIM_CLK_HZ, baud: int = SIM_BAUD, *,
                  learning: bool = False, board: str = "") -> str:
    from delaycore.boards.top import BoardTop
    platform = SimPlatform(clk_hz)
    return verilog.convert(BoardTop(cfg, baud=baud, learning=learning, board=board), name=TOP,
                           platform=platform, ports=platform.ports, emit_src=False)


def build(cfg: CoreConfig, clk_hz: float = SIM_CLK_HZ, baud: int = SIM_BAUD,
          waves: bool = False, *, learning: bool = False, board: str = "") -> Path:
    """Verilog of the board top, then a Verilator model; reused while the Verilog is unchanged."""
    text = board_verilog(cfg, clk_hz, baud, learning=learning, board=board)
    key = hashlib.sha1((text + f"waves={waves}").encode()).hexdigest()[:12]
    return verilate(text, TOP, BUILD / f"board-{key}", waves, opt="-O2")


def run(case: dict, name: str = "board", waves: bool = False) -> dict:
    """Build (cached) and run verification/benches/board_tb.py on one case; returns the bench's result dict plus
    build/simulation wall times (and the waveform's path with waves=True)."""
    cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()})
    clk_hz, baud = case.get("clk_hz", SIM_CLK_HZ), case.get("baud", SIM_BAUD)
    t0 = time.time()
    build_dir = build(cfg, clk_hz, baud, waves)
    # cocotb's assertion rewriting would build a pytest Config with this project's pytest
    # `pythonpath` first (see tests/link/test_link.py).
    return run_testbench({**case, "clk_hz": clk_hz, "baud": baud}, build_dir,
                         BUILD / "cases" / (name + ("-waves" if waves else "")), TOP, "board_tb",
                         "BOARD", round(time.time() - t0, 1), waves,
                         extra_env={"COCOTB_REWRITE_ASSERTION_FILES": ""}, paths=("verification/benches", "sw"))


def config_dict(cfg: CoreConfig) -> dict:
    return dataclasses.asdict(cfg)


def _follow(path: Path, total: int, stop: threading.Event, interval: float = 0.5):
    """Show the bench's per-sample lines (it appends one per sample to `path`) as they come, under
    a progress bar, and the image load's progress (`load k/N words` lines) in its description:
    the simulator's own stdout goes to its log file."""
    from tqdm import tqdm
    seen = 0
    with tqdm(total=total, desc="board sim", unit="sample", dynamic_ncols=True) as bar:
        while True:
            done = stop.wait(interval)
            lines = path.read_text().splitlines() if path.exists() else []
            for line in lines[seen:]:
                if line.startswith("load "):        # the image load: shown, not a sample
                    bar.set_description(f"board sim ({line})")
                    continue
                bar.write(line)
                bar.update(1)
            seen = len(lines)
            if done:
                return


def run_deployed(config: dict, writes, samples, *, clk_hz: float, baud: int,
                 learning: bool = False, board: str = "", device_config: dict | None = None,
                 name: str = "deployed", progress: bool = True,
                 compare_window: dict | None = None, learn: dict | None = None) -> dict:
    """The board of a deployment on Verilator: a device built for `device_config` (default
    `config`, the image's), the image `writes` loaded through the driver once its identity matched
    `config`, then each sample's event words run (a CLEAR first). Returns the bench's result:
    per sample the output items, link cycles and seconds, bytes each way; the device's identity,
    STATUS, and `error` / `error_kind` (e.g. ImageMismatch) if the host program raised.
    `compare_window` ({"window": 1, "samples": 3}) runs the first samples once more with another
    EVENTS window (1 = stop-and-wait) and reports their link seconds under "compare".

    `learn` makes it a learning run on a device with the engine (`learning` must be True; the
    identity is checked for it before the first write): {"registers": [[number, value], ...],
    "labels": [class per learned sample], "learn_samples": N, "records": [[layer, space, addr],
    ...]}: the registers written after the image, each of the first N samples followed by its
    LABEL, `enable` = 0 written before the rest; the result's "learning" has the counters and
    registers before and after, the words at `records` (the learned parameters) and the engine's
    state, all read back at the end."""
    device_config = device_config or config
    cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in device_config.items()})
    t0 = time.time()
    build_dir = build(cfg, clk_hz, baud, learning=learning, board=board)
    work = BUILD / "cases" / name
    case = {"mode": "run", "config": config, "writes": [list(map(int, w)) for w in writes],
            "samples": [list(map(int, s)) for s in samples], "clk_hz": clk_hz, "baud": baud,
            "n_out": config["n_out"], "progress_file": str(work / "progress.txt"),
            "compare_window": compare_window, "learn": learn}
    stop = threading.Event()
    follower = None
    if progress:
        follower = threading.Thread(target=_follow, args=(work / "progress.txt", len(samples), stop),
                                    daemon=True)
    try:
        if follower:
            (work / "progress.txt").unlink(missing_ok=True)
            follower.start()
        return run_testbench(case, build_dir, work, TOP, "board_tb", "BOARD",
                             round(time.time() - t0, 1),
                             extra_env={"COCOTB_REWRITE_ASSERTION_FILES": ""}, paths=("verification/benches", "sw"))
    finally:
        stop.set()
        if follower:
            follower.join()
