"""cocotb testbench of the whole board top (verification/runners/board_cosim.py): the host driver
(`hostlink.driver.CoreLink`, unchanged) talks to the RTL through `UartPinTransport`, which
serialises bytes onto the `uart_rx` pin and deserialises `uart_tx`, 8N1 at the design's divider.

The driver is blocking code, so it runs in a cocotb `bridge` thread; the transport's `read`
enters the simulator through `resume` and is the only place where simulated time passes (the
thread and the simulator never run at the same time). `write` just queues bytes: they go out on
the pin during the next `read`, which is what a host does after writing a command.

The case (BOARD_CASE, JSON from tests/link/test_board_verilator.py): an image as WRITE records, event
words of some samples, the records of the whole readable state, and a record for the corrupt-frame
check. The bench loads the image (verify="full"), runs every sample, reads the state, sends one
WRITE frame with a bad CRC as raw bytes (expects exactly one ERROR frame back), reads the state
again and STATUS, then lets the driver recover from a corrupted frame (resend). Everything it saw
goes to BOARD_RESULT; the pytest side compares it with the golden model.

A case with `"mode": "run"` (verification/runners/board_cosim.run_deployed: `python -m hostlink run --sim`, the
board benchmark) is a deployment instead: check the device's identity against the image's
configuration, load the image, run every sample and time it in device cycles, from its first
event going out to the last byte of its outputs coming back.
"""

import json
import os
import time
from collections import deque
from types import SimpleNamespace

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import Event, FallingEdge, First, RisingEdge, Timer
from cocotb.utils import get_sim_time

from hostlink import frames as fr
from hostlink.driver import CoreLink
from hostlink.frames import FrameDecoder, encode, write_payload

PERIOD_NS = 10          # simulated clock period; the transport's "seconds" are cycles / clk_hz


class UartPinTransport:
    """The driver's transport interface (`write`, `read(timeout)`, `link_timeout`,
    `response_timeout`) on the simulated UART pins. Seconds are device seconds at `clk_hz`
    (1 second = clk_hz cycles). `fault(direction, data) -> data` may corrupt what goes out."""

    def __init__(self, dut, clk_hz: float, baud: int, *, response_cycles: int = 400_000,
                 fault=None, chunk_bytes: int = 64):
        self.dut = dut
        self.clk_hz = clk_hz
        self.div = round(clk_hz / baud)
        self.bit_ns = self.div * PERIOD_NS
        self.link_timeout = (fr.TIMEOUT_BITS + 10) * self.div / clk_hz
        self.response_timeout = response_cycles / clk_hz
        self.fault = fault
        # A read returns once this many bytes are in, as a serial port hands over what its USB
        # packets brought: a host waiting for one response must not wait for a long stream of
        # OUTPUT frames to pause (simulated time passes only inside read).
        self.chunk_bytes = chunk_bytes
        self._out: deque = deque()
        self._in = bytearray()
        self._kick = Event()          # bytes queued for the rx pin
        self._got = Event()           # a byte came in on the tx pin
        self.bytes_out = self.bytes_in = self.frame_errors = 0
        self.reads = 0
        self.last_in_cycle = 0        # when the last byte from the device was complete

    # -- the simulation side (cocotb tasks) --------------------------------------------------
    def start(self):
        cocotb.start_soon(self._drive_rx())
        cocotb.start_soon(self._watch_tx())

    async def _drive_rx(self):
        pin = self.dut.uart_rx
        pin.value = 1
        await FallingEdge(self.dut.clk)           # change the pin between clock edges
        while True:
            if not self._out:
                self._kick.clear()
                await self._kick.wait()
                await FallingEdge(self.dut.clk)
            byte = self._out.popleft()
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                pin.value = bit
                await Timer(self.bit_ns, unit="ns")
            self.bytes_out += 1

    async def _watch_tx(self):
        pin = self.dut.uart_tx
        while True:
            await FallingEdge(pin)                # start bit
            await Timer(self.bit_ns // 2, unit="ns")
            if int(pin.value) != 0:
                continue                          # a glitch, not a start bit
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns")
                byte |= int(pin.value) << i
            await Timer(self.bit_ns, unit="ns")
            if int(pin.value) != 1:
                self.frame_errors += 1
                continue
            self._in.append(byte)
            self.bytes_in += 1
            self.last_in_cycle = self.cycles()
            self._got.set()

    async def _wait_byte(self, ns: int) -> bool:
        """Wait up to `ns` for a byte on tx (True if one is there)."""
        if self._in:
            return True
        self._got.clear()
        await First(Timer(max(ns, PERIOD_NS), unit="ns"), self._got.wait())
        return bool(self._in)

    @resume
    async def _read(self, timeout: float) -> bytes:
        if self._out:
            self._kick.set()
        if await self._wait_byte(round(timeout * self.clk_hz) * PERIOD_NS):
            # A frame in flight comes out whole: keep going while bytes keep coming.
            while len(self._in) < self.chunk_bytes:
                n = len(self._in)
                self._got.clear()
                await First(Timer(24 * self.bit_ns, unit="ns"), self._got.wait())
                if len(self._in) == n:
                    break
        data, self._in = bytes(self._in), bytearray()
        return data

    # -- the driver side (called from the bridge thread) ------------------------------------
    def write(self, data: bytes):
        if self.fault:
            data = self.fault("out", bytes(data))
        self._out.extend(data)

    def read(self, timeout: float) -> bytes:
        self.reads += 1
        return self._read(timeout)

    def cycles(self) -> int:
        return int(get_sim_time(unit="ns")) // PERIOD_NS


def exchange(t, raw: bytes):
    """Raw bytes out; every frame or decode error that comes back until 3 link timeouts of quiet."""
    t.write(raw)
    dec, items = FrameDecoder(), []
    while True:
        data = t.read(t.link_timeout * 3)
        if not data:
            return items + dec.timeout()
        items += dec.feed(data)


def frames_json(items):
    return [[it.cmd, it.payload.hex()] if isinstance(it, fr.Frame) else ["decode_error", repr(it)]
            for it in items]


def host_program(t: UartPinTransport, case: dict) -> dict:
    """Blocking host code, as on a PC with a serial port: the driver does everything."""
    out = {"phases": {}}

    mark = {}

    def phase(name):
        now = {"cycles": t.cycles(), "wall_s": time.time(), "bytes_to_device": t.bytes_out,
               "bytes_from_device": t.bytes_in}
        if name:
            out["phases"][name] = {k: round(v - mark[k], 2) if k == "wall_s" else v - mark[k]
                                   for k, v in now.items()}
        mark.update(now)

    phase(None)
    link = CoreLink(t)
    out["ping"] = link.ping()
    out["load"] = link.load_image([tuple(x) for x in case["writes"]], verify="full")
    phase("load")
    out["samples"] = [[list(i) for i in link.run_sample(words)] for words in case["samples"]]
    phase("samples")
    records = [tuple(r) for r in case["state_records"]]
    out["state_before"] = link.read(records)
    # One WRITE frame with a bad CRC, raw on the same pins: one ERROR frame, nothing changed.
    bad = bytearray(encode(fr.WRITE, write_payload([tuple(case["corrupt"]["good"])])))
    bad[-1] ^= 0x5A
    out["corrupt_answer"] = frames_json(exchange(t, bytes(bad)))
    out["state_after"] = link.read(records)
    out["status"] = link.status()
    # The driver's own recovery: the first WRITE goes out corrupted, is answered BAD_CRC and
    # resent; the record writes a value the word already holds, so the state stays as it was.
    hits = []

    def corrupt_first(direction, data):
        if not hits and data[1] == fr.WRITE:
            hits.append(1)
            data = data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]])
        return data

    t.fault = corrupt_first
    out["resend_applied"] = link.write([tuple(case["corrupt"]["good"])])
    t.fault = None
    out["state_final"] = link.read(records)
    out["stats"] = dict(link.stats)
    phase("corrupt")
    return out


def load_progress(progress, total: int):
    """A load_image progress callback that appends `load <done>/<total> words` to the progress
    file every 5 % (the image load of a large network takes minutes of simulation)."""
    done = [0]

    def step(n):
        before, done[0] = done[0], done[0] + n
        if progress and (20 * done[0]) // total != (20 * before) // total:
            progress.write(f"load {done[0]}/{total} words\n")
            progress.flush()
    return step


def run_program(t: UartPinTransport, case: dict) -> dict:
    """A deployed network on the board: identity checked before the first write (ImageMismatch
    otherwise; with case["learn"] it must have the learning engine too), image loaded and
    verified, then every sample timed on its own. No torch in here (7 s to import): the host
    already checked the image (hostlink.image.read_image) and the learning registers.

    A learning run (case["learn"], verification/runners/board_cosim.run_deployed) does what the host does on a
    board (hostlink.deployed.run_on_port): registers after the image, LABEL after each of the
    first learn_samples samples (not part of its timing), enable = 0 before the rest, then
    counters, registers, learned parameters and engine state read back."""
    link = CoreLink(t)
    learn = case.get("learn")
    out = {"identity": link.check_device(case["config"], learning=bool(learn))}
    progress = open(case["progress_file"], "a") if case.get("progress_file") else None
    c0 = t.cycles()
    out["load"] = link.load_image([tuple(x) for x in case["writes"]], verify="sample",
                                  progress=load_progress(progress, len(case["writes"])))
    out["load_seconds"] = (t.cycles() - c0) / t.clk_hz
    if learn:
        before = link.read_learning()           # counters since reset, then all 14 registers
        link.set_learning(learn["registers"])
    out["samples"] = []
    for i, words in enumerate(case["samples"]):
        if learn and i == learn["learn_samples"]:
            link.set_learning(enable=0)
        c0, b_out, b_in, w0 = t.cycles(), t.bytes_out, t.bytes_in, time.time()
        items = link.run_sample(words, n_out=case["n_out"])
        # t.bytes_out is counted as bytes finish on the pin: all of the sample's have by now.
        rec = {"items": [list(i) for i in items], "cycles": t.last_in_cycle - c0,
               "seconds": (t.last_in_cycle - c0) / t.clk_hz, "bytes_to_device": t.bytes_out - b_out,
               "bytes_from_device": t.bytes_in - b_in, "events": len(words) + 1,
               "wall_s": round(time.time() - w0, 3)}
        if learn and i < learn["learn_samples"]:
            link.label(learn["labels"][i])
            rec["label"] = learn["labels"][i]
        out["samples"].append(rec)
        if progress:
            learned = f", learned from label {rec['label']}" if "label" in rec else ""
            progress.write(f"sample {i}: {len(words) + 1} events, link {rec['seconds'] * 1e3:.2f} ms "
                           f"(device), {rec['bytes_to_device']} B out / {rec['bytes_from_device']} B "
                           f"in, {rec['wall_s']:.1f} s simulated{learned}\n")
            progress.flush()
    if progress:
        progress.close()
    # Optionally the first samples again with another EVENTS window (1: stop-and-wait), to
    # compare: {"window": 1, "samples": 3}.
    cmp_ = case.get("compare_window")
    if cmp_:
        link.EVENT_WINDOW = cmp_["window"]
        out["compare"] = {"window": cmp_["window"], "seconds": []}
        for words in case["samples"][:cmp_["samples"]]:
            c0 = t.cycles()
            items = link.run_sample(words, n_out=case["n_out"])
            assert [list(i) for i in items] == out["samples"][len(out["compare"]["seconds"])]["items"]
            out["compare"]["seconds"].append((t.last_in_cycle - c0) / t.clk_hz)
    if learn:
        records = [tuple(r) for r in learn["records"]]
        sizes = case["config"]["sizes"]
        out["learning"] = {"before": before, "after": link.read_learning(),
                           "records": learn["records"], "words": link.read(records),
                           "state": link.read_learning_state(
                               SimpleNamespace(sizes=list(sizes), n_out=case["n_out"]))}
    out["status"] = link.status()
    out["stats"] = dict(link.stats)
    return out


@cocotb.test()
async def board_driver_end_to_end(dut):
    with open(os.environ["BOARD_CASE"]) as f:
        case = json.load(f)
    # The clock in C (GPI), not a Python task: 2-5x faster, and only the pins are driven from Python.
    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
    dut.uart_rx.value = 1
    dut.rst.value = 1
    for _ in range(4):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    t = UartPinTransport(dut, case["clk_hz"], case["baud"])
    t.start()
    w0 = time.time()
    error = None
    try:
        program = run_program if case.get("mode") == "run" else host_program
        out = await bridge(program)(t, case)
    except Exception as e:          # report what happened instead of only a traceback
        out, error = {"error_kind": type(e).__name__}, f"{type(e).__name__}: {e}"
    result = {"passed": error is None, "error": error, "cycles": t.cycles(),
              "bytes_to_device": t.bytes_out, "bytes_from_device": t.bytes_in,
              "uart_frame_errors": t.frame_errors, "transport_reads": t.reads,
              "divider": t.div, "sim_wall_s": round(time.time() - w0, 2),
              "led_0": int(dut.led_0.value), **out}
    with open(os.environ["BOARD_RESULT"], "w") as f:
        json.dump(result, f)
    assert error is None, error
