"""Raw Verilator speed: the clock is driven by the simulator interface, no Python per cycle."""

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Timer, RisingEdge


@cocotb.test()
async def soak(dut):
    cycles = int(os.environ["SOAK_CYCLES"])
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    t0 = time.perf_counter()
    await Timer(10 * cycles, unit="ns")
    wall = time.perf_counter() - t0
    json.dump({"cycles": cycles, "seconds": wall, "outputs": int(dut.outputs.value),
               "steps": int(dut.steps.value)}, open(os.environ["SOAK_RESULT"], "w"))
    assert int(dut.steps.value) > 0
