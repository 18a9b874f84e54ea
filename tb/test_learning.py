"""cocotb testbench of LearningNetwork (core + on-chip learning engine) on Verilator.

The case (sim/learning_cases.py, computed by GoldenLearner in the pytest process) arrives as JSON
in LEARNING_CASE: a parameter image, learning registers, and operations (steps, labels, writes)
with the words the readback port must return after every phase. Every stream gets seeded random
backpressure: input, label, load and readback-request valid gaps; output and readback-response
ready gaps. The result goes to LEARNING_RESULT.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, ReadOnly

U64 = (1 << 64) - 1


class Mismatch(Exception):
    pass


class LearningTestbench:
    def __init__(self, dut, case):
        self.dut = dut
        self.case = case
        self.v_bits = case["config"]["v_bits"]
        self.rng = random.Random(case["seed"])
        self.out_rng = random.Random(case["seed"] ^ 0x0F0F)
        self.valid_p, self.ready_p = case["valid_p"], case["ready_p"]
        self.outputs = []
        self.cycles = 0
        self.compared = 0
        self.first_mismatch = None

    async def reset(self):
        d = self.dut
        for s in (d.i__valid, d.o__ready, d.load__valid, d.rb_req__valid, d.rb_resp__ready,
                  d.label__valid):
            s.value = 0
        d.rst.value = 1
        for _ in range(2):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)

    async def tick(self):
        await RisingEdge(self.dut.clk)
        self.cycles += 1
        if self.cycles > self.case["max_cycles"]:
            self.mismatch("timeout", self.cycles, f"<= {self.case['max_cycles']} cycles")

    def mismatch(self, field, got, want):
        if self.first_mismatch is None:
            self.first_mismatch = {"cycle": self.cycles, "field": field, "got": got, "expected": want}
        raise Mismatch(f"cycle {self.cycles}: {field}: got {got}, expected {want}")

    # -- drivers --------------------------------------------------------------------------
    async def gap(self):
        while self.valid_p < 1 and self.rng.random() > self.valid_p:
            await self.tick()

    async def send(self, port, value):
        """Present `value` on stream `port` after a random gap; return once it was taken."""
        await self.gap()
        payload, valid, ready = (getattr(self.dut, f"{port}__{s}") for s in ("payload", "valid", "ready"))
        payload.value = value
        valid.value = 1
        while True:
            await ReadOnly()
            taken = int(ready.value)
            await self.tick()
            if taken:
                break
        valid.value = 0

    async def read(self, layer, space, addr):
        d = self.dut
        await self.send("rb_req", layer | (space << 4) | (addr << 7))
        while True:
            r = self.ready_p >= 1 or self.rng.random() < self.ready_p
            d.rb_resp__ready.value = int(r)
            await ReadOnly()
            if r and int(d.rb_resp__valid.value):
                word = int(d.rb_resp__payload.value)
                await self.tick()
                d.rb_resp__ready.value = 0
                return word
            await self.tick()

    async def monitor_outputs(self):
        """Every cycle: a random ready on the output stream; record what is taken."""
        d = self.dut
        while True:
            r = self.ready_p >= 1 or self.out_rng.random() < self.ready_p
            d.o__ready.value = int(r)
            await ReadOnly()
            if r and int(d.o__valid.value):
                p = int(d.o__payload.value)
                value = (p >> 18) & ((1 << self.v_bits) - 1)
                if value >> (self.v_bits - 1):
                    value -= 1 << self.v_bits
                self.outputs.append([p & 3, (p >> 2) & 0xFFFF, value])
            await RisingEdge(d.clk)

    # -- operations -----------------------------------------------------------------------
    async def write(self, layer, space, addr, data):
        await self.send("load", layer | (space << 4) | (addr << 7) | ((data & U64) << 27))

    async def step(self, op):
        n0 = len(self.outputs)
        for w in op["words"]:
            await self.send("i", w)
        want = op["outputs"]
        while len(self.outputs) < n0 + len(want):
            await self.tick()
        if self.outputs[n0:] != want:
            self.mismatch("outputs", self.outputs[n0:], want)

    async def check(self, op):
        for layer, space, addr, want in op["reads"]:
            got = await self.read(layer, space, addr)
            self.compared += 1
            if got != want:
                self.mismatch(f"{op['what']}: layer {layer} space {space} addr {addr:#x}",
                              hex(got), hex(want))

    async def run(self):
        for w in self.case["load"]:
            await self.write(*w)
        for op in self.case["ops"]:
            if op["op"] == "write":
                await self.write(*op["w"])
            elif op["op"] == "label":
                await self.send("label", op["y"])
            elif op["op"] == "step":
                await self.step(op)
            elif op["op"] == "check":
                await self.check(op)


@cocotb.test()
async def learning_matches_golden(dut):
    case = json.load(open(os.environ["LEARNING_CASE"]))
    tb = LearningTestbench(dut, case)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    result = {"passed": False}
    try:
        await tb.reset()
        cocotb.start_soon(tb.monitor_outputs())
        await tb.run()
        result["passed"] = True
    except Mismatch as e:
        result["error"] = str(e)
    result.update(first_mismatch=tb.first_mismatch, cycles=tb.cycles, compared=tb.compared)
    json.dump(result, open(os.environ["LEARNING_RESULT"], "w"))
    assert result["passed"], f"seed {case['seed']}: {result.get('error')}"
