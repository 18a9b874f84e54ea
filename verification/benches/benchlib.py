"""What every cocotb bench of the core needs: a clock count, reset, seeded valid/ready gaps, a
stream driver and receiver, the two port transactions, an output monitor and a scoreboard.

The benches (`test_core`, `test_learning`) drive amaranth streams exported as `<name>__valid`,
`<name>__ready`, `<name>__payload`; payload words are packed with `corespec.ports`, the spec's
layouts, never by hand.
"""

from __future__ import annotations

import random

from cocotb.triggers import RisingEdge, ReadOnly

from corespec.ports import load_word, output_item, port_request


class Mismatch(Exception):
    """The design disagrees with the model; the scoreboard has recorded where."""


class Scoreboard:
    """Raises `Mismatch` on a difference and keeps the first one (cycle, field, got, expected)
    for the result file, so a failing run says where it first went wrong."""

    def __init__(self, clock):
        self.clock = clock              # a callable giving the cycle to report
        self.first_mismatch = None

    def mismatch(self, field, got, want):
        cycle = self.clock()
        if self.first_mismatch is None:
            self.first_mismatch = {"cycle": cycle, "field": field, "got": got, "expected": want}
        raise Mismatch(f"cycle {cycle}: {field}: got {got}, expected {want}")

    def expect(self, field, got, want):
        if got != want:
            self.mismatch(field, got, want)


class Bench:
    """Clock, reset and stream transactions with seeded random gaps.

    `valid_p` / `ready_p`: the probability that a driver presents its item / a receiver is ready
    in a cycle (1: no gaps). `max_cycles` (optional) bounds the whole run."""

    def __init__(self, dut, seed: int, valid_p: float = 1.0, ready_p: float = 1.0,
                 max_cycles: int | None = None):
        self.dut = dut
        self.rng = random.Random(seed)
        self.valid_p, self.ready_p = valid_p, ready_p
        self.max_cycles = max_cycles
        self.cycles = 0
        self.scoreboard = Scoreboard(lambda: self.cycles)

    def mismatch(self, field, got, want):
        self.scoreboard.mismatch(field, got, want)

    def signal(self, name: str, signal: str):
        return getattr(self.dut, f"{name}__{signal}")

    async def reset(self, sources: tuple[str, ...], sinks: tuple[str, ...]):
        """Hold reset two cycles with every source's valid and every sink's ready low."""
        for name in sources:
            self.signal(name, "valid").value = 0
        for name in sinks:
            self.signal(name, "ready").value = 0
        self.dut.rst.value = 1
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def tick(self):
        await RisingEdge(self.dut.clk)
        self.cycles += 1
        if self.max_cycles is not None and self.cycles > self.max_cycles:
            self.mismatch("timeout", self.cycles, f"<= {self.max_cycles} cycles")

    def ready_now(self, rng=None) -> bool:
        return self.ready_p >= 1 or (rng or self.rng).random() < self.ready_p

    async def gap(self):
        """Random idle cycles before a transaction (none when valid_p is 1)."""
        while self.valid_p < 1 and self.rng.random() > self.valid_p:
            await self.tick()

    async def send(self, name: str, value: int):
        """Present `value` on source stream `name` after a random gap; return once it was taken."""
        await self.gap()
        payload, valid, ready = (self.signal(name, s) for s in ("payload", "valid", "ready"))
        payload.value = value
        valid.value = 1
        while True:
            await ReadOnly()
            taken = int(ready.value)
            await self.tick()
            if taken:
                break
        valid.value = 0

    async def receive(self, name: str) -> int:
        """Take one item from sink stream `name`, ready with probability ready_p each cycle."""
        ready, valid, payload = (self.signal(name, s) for s in ("ready", "valid", "payload"))
        while True:
            r = self.ready_now()
            ready.value = int(r)
            await ReadOnly()
            if r and int(valid.value):
                word = int(payload.value)
                await self.tick()
                ready.value = 0
                return word
            await self.tick()

    # -- the parameter-load and readback ports (docs/core.md, sections 4 and 5) ----------------
    async def write(self, layer, space, addr, data):
        await self.send("load", load_word(layer, space, addr, data))

    async def read(self, layer, space, addr) -> int:
        await self.send("rb_req", port_request(layer, space, addr))
        return await self.receive("rb_resp")


class OutputMonitor:
    """Takes every item of the output stream with a random ready (its own seeded generator,
    so the drivers' gaps do not depend on it) and records it as [kind, addr, value]."""

    def __init__(self, bench: Bench, v_bits: int, seed: int):
        self.bench, self.v_bits = bench, v_bits
        self.rng = random.Random(seed)
        self.items: list[list[int]] = []

    async def run(self):
        d = self.bench.dut
        while True:
            r = self.bench.ready_now(self.rng)
            d.o__ready.value = int(r)
            await ReadOnly()
            if r and int(d.o__valid.value):
                self.items.append(list(output_item(int(d.o__payload.value), self.v_bits)))
            await RisingEdge(d.clk)
