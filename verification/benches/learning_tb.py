"""cocotb testbench of LearningNetwork (core + on-chip learning engine) on Verilator.

The case (verification/cases/learning.py, computed by GoldenLearner in the pytest process) arrives as JSON
in LEARNING_CASE: a parameter image, learning registers, and operations (steps, labels, writes)
with the words the readback port must return after every phase. Every stream gets seeded random
backpressure: input, label, load and readback-request valid gaps; output and readback-response
ready gaps. The result goes to LEARNING_RESULT.
"""

import json
import os

import cocotb
from cocotb.clock import Clock

from benchlib import Bench, Mismatch, OutputMonitor

SOURCES, SINKS = ("i", "load", "rb_req", "label"), ("o", "rb_resp")


class LearningTestbench(Bench):
    """Plays the case's operations (steps, labels, writes, checks) and compares the outputs and
    every word read back after a phase with what GoldenLearner computed."""

    def __init__(self, dut, case):
        super().__init__(dut, case["seed"], case["valid_p"], case["ready_p"], case["max_cycles"])
        self.case = case
        self.monitor = OutputMonitor(self, case["config"]["v_bits"], case["seed"] ^ 0x0F0F)
        self.outputs = self.monitor.items
        self.compared = 0

    @property
    def first_mismatch(self):
        return self.scoreboard.first_mismatch

    # -- operations -----------------------------------------------------------------------
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
        await tb.reset(SOURCES, SINKS)
        cocotb.start_soon(tb.monitor.run())
        await tb.run()
        result["passed"] = True
    except Mismatch as e:
        result["error"] = str(e)
    result.update(first_mismatch=tb.first_mismatch, cycles=tb.cycles, compared=tb.compared)
    json.dump(result, open(os.environ["LEARNING_RESULT"], "w"))
    assert result["passed"], f"seed {case['seed']}: {result.get('error')}"
