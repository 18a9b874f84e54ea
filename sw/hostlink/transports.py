"""Transports of the host driver: what moves bytes between `CoreLink` and a device.

A transport has `write(data)`, `read(timeout) -> bytes` (waits up to `timeout` seconds for at
least one byte, returns b"" if none), `link_timeout` (seconds of silence after which the device
has ended any open frame) and `response_timeout` (how long a command may take).

* `SerialTransport`: a serial port (pyserial), for the boards.
* `SimTransport`: the RTL (`delaycore.link.ByteLinkedCore`) in amaranth.sim, in-process; its
  "seconds" are simulated time.
"""

from __future__ import annotations

from collections import deque

from . import frames as fr

class SerialTransport:
    """A serial port (8N1). Needs pyserial."""

    def __init__(self, port: str, baud: int = 115200, *, response_timeout: float = 2.0):
        import serial
        self.ser = serial.Serial(port, baud, bytesize=8, parity="N", stopbits=1, timeout=0)
        self.baud = baud
        self.link_timeout = (fr.TIMEOUT_BITS + 10) / baud + 0.01
        self.response_timeout = response_timeout

    def write(self, data: bytes):
        self.ser.write(data)
        self.ser.flush()

    def read(self, timeout: float) -> bytes:
        self.ser.timeout = timeout
        data = self.ser.read(1)
        if data and self.ser.in_waiting:
            data += self.ser.read(self.ser.in_waiting)
        return data

    def close(self):
        self.ser.close()


class SimTransport:
    """The RTL in amaranth.sim at the byte level (no UART bits): ByteLinkedCore with a short frame
    timeout. One byte per cycle each way; `fault(direction, data) -> data` may corrupt what goes
    "out" to the device or comes "in" from it. Time is simulated: 1 cycle = 1 / clk_freq seconds."""

    def __init__(self, config, *, clk_freq: float = 1e6, timeout_cycles: int = 100,
                 response_cycles: int = 200_000, fault=None, tx_ready=None,
                 learning: bool = False):
        from amaranth.sim import Simulator
        from delaycore.link.link import ByteLinkedCore
        self.config = config
        self.dut = ByteLinkedCore(config, clk_freq=clk_freq, baud=clk_freq / 8,
                                  timeout_cycles=timeout_cycles, learning=learning)
        self.period = 1 / clk_freq
        self.link_timeout = timeout_cycles * self.period
        self.response_timeout = response_cycles * self.period
        self.fault = fault
        self.tx_ready = tx_ready            # cycle -> bool: backpressure on the device's tx
        self.cycles = 0
        self._out: deque = deque()
        self._in = bytearray()
        self.sim = Simulator(self.dut)
        self.sim.add_clock(self.period)
        self.sim.add_testbench(self._bench, background=True)
        self._time = 0.0

    async def _bench(self, ctx):
        dut = self.dut
        while True:
            present = bool(self._out)
            ctx.set(dut.rx.valid, present)
            if present:
                ctx.set(dut.rx.payload, self._out[0])
            ready = self.tx_ready is None or self.tx_ready(self.cycles)
            ctx.set(dut.tx.ready, ready)
            if present and ctx.get(dut.rx.ready):
                self._out.popleft()
            if ready and ctx.get(dut.tx.valid):
                self._in.append(ctx.get(dut.tx.payload))
            await ctx.tick()
            self.cycles += 1

    def run_cycles(self, n: int):
        self._time += n * self.period
        self.sim.run_until(self._time)

    def write(self, data: bytes):
        if self.fault:
            data = self.fault("out", bytes(data))
        self._out.extend(data)

    def read(self, timeout: float) -> bytes:
        budget = max(1, round(timeout / self.period))
        while budget > 0 and not self._in:
            step = min(budget, 64)
            self.run_cycles(step)
            budget -= step
        # A frame in flight comes out whole: keep going while bytes keep coming.
        while self._in:
            n = len(self._in)
            self.run_cycles(16)
            if len(self._in) == n:
                break
        data, self._in = bytes(self._in), bytearray()
        if data and self.fault:
            data = self.fault("in", data)
        return data

    @property
    def busy(self) -> bool:
        return bool(self._out)
