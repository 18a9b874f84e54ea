"""cocotb testbench of the whole core on Verilator.

The golden model runs in the pytest process (importing torch here costs seconds); this module
gets plain data from the JSON file named by DELAYCORE_CASE and writes what it saw to
DELAYCORE_RESULT. One coroutine does the per-cycle work: drive the input stream and the sink's
ready with seeded random gaps, record every output item with its cycle, and score it at once
against the expected items.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly

from benchlib import Bench, Mismatch
from corespec.events import EventKind
from corespec.ports import output_item, signed
from corespec.spaces import Space, StatusCounter

EOT, CLEAR = EventKind.EOT, EventKind.CLEAR
MEMBRANE, HISTORY, ACCUM, STATUS = Space.MEMBRANE, Space.HISTORY, Space.ACCUM, Space.STATUS
SOURCES, SINKS = ("i", "load", "rb_req"), ("o", "rb_resp")


class CoreTestbench(Bench):
    """Drives the core's four streams and scores every output item, its cycle, the input accept
    cycles and the state read back against the golden model's expectations in the case."""

    def __init__(self, dut, case):
        super().__init__(dut, case["seed"], case["valid_p"], case["ready_p"])
        self.case = case
        self.v_bits = case["config"]["v_bits"]
        self.cycle = -1                 # schedule cycle 0: the first cycle the input presents an item
        self.scoreboard.clock = lambda: self.cycle
        self.out_index = 0
        self.in_index = 0
        self.input_accept_cycles = []

    @property
    def first_mismatch(self):
        return self.scoreboard.first_mismatch

    # -- scoreboard ----------------------------------------------------------------------
    def score_output(self, payload):
        kind, addr, value = output_item(payload, self.v_bits)
        k = self.out_index
        exp = self.case["expect"]["outputs"]
        if k >= len(exp):
            self.mismatch(f"output[{k}]", [kind, addr, value], "no more output")
        if [kind, addr, value] != list(exp[k]):
            self.mismatch(f"output[{k}] (kind, addr, value)", [kind, addr, value], list(exp[k]))
        cycles = self.case["expect"].get("output_cycles")
        if cycles is not None and self.cycle != cycles[k]:
            self.mismatch(f"output[{k}] cycle", self.cycle, cycles[k])
        self.out_index += 1
        return kind

    def score_input(self):
        """Without backpressure, every input item is taken in the cycle the schedule says."""
        want = self.case["expect"].get("input_accept_cycles")
        if want is not None and self.cycle != want[self.in_index]:
            self.mismatch(f"input[{self.in_index}] accept cycle", self.cycle, want[self.in_index])
        self.input_accept_cycles.append(self.cycle)
        self.in_index += 1

    async def check_state(self, step):
        """Read every neuron's state through the readback port and compare with the snapshot."""
        snap = self.case["expect"]["snapshots"][step]
        n_lif = len(self.case["config"]["sizes"])
        for layer, want in enumerate(snap):
            for j, v in enumerate(want["membrane"]):
                got = signed(await self.read(layer, MEMBRANE, j), self.v_bits)
                if got != v:
                    self.mismatch(f"step {step} layer {layer} membrane[{j}]", got, v)
                if layer < n_lif:
                    h = await self.read(layer, HISTORY, j)
                    if h != want["history"][j]:
                        self.mismatch(f"step {step} layer {layer} history[{j}]", h, want["history"][j])
                acc = await self.read(layer, ACCUM, j)
                if acc != 0:
                    self.mismatch(f"step {step} layer {layer} accum[{j}]", acc, 0)

    # -- the run -------------------------------------------------------------------------
    async def stream(self, words, valid_p, ready_p, stop_after_eot):
        """Drive `words`; return after the output marker that ends them (or each EOT if
        stop_after_eot, to read state between steps)."""
        d = self.dut
        k = 0
        markers_in = 0
        while True:
            present = k < len(words) and (valid_p >= 1 or self.rng.random() < valid_p)
            if stop_after_eot and markers_in > 0:
                present = False          # wait for the step to leave the core
            d.i__valid.value = int(present)
            if present:
                d.i__payload.value = words[k]
                if self.cycle < 0:
                    self.cycle = 0
            ready = ready_p >= 1 or self.rng.random() < ready_p
            d.o__ready.value = int(ready)
            await ReadOnly()
            if present and int(d.i__ready.value):
                self.score_input()
                if words[k] & 3 in (EOT, CLEAR):
                    markers_in += 1
                k += 1
            done_marker = False
            if ready and int(d.o__valid.value):
                kind = self.score_output(int(d.o__payload.value))
                if kind in (EOT, CLEAR):
                    markers_in -= 1
                    done_marker = True
            await self.tick()
            if self.cycle >= 0:
                self.cycle += 1
            if self.cycle > self.case["max_cycles"]:
                self.mismatch("timeout", self.cycle, f"<= {self.case['max_cycles']} cycles")
            if done_marker and stop_after_eot:
                d.i__valid.value = 0
                d.o__ready.value = 0
                return k
            if k == len(words) and markers_in == 0 and not done_marker and not present:
                return k


@cocotb.test()
async def core_matches_golden(dut):
    case = json.load(open(os.environ["DELAYCORE_CASE"]))
    result_path = os.environ["DELAYCORE_RESULT"]
    tb = CoreTestbench(dut, case)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    result = {"passed": False}
    try:
        await tb.reset(SOURCES, SINKS)
        for w in case["load"]:
            await tb.write(*w)
        for w in case.get("bad_writes", []):
            await tb.write(*w)
        # A write holds its block in the cycle it is applied (docs/core.md 4, 6): start the
        # schedule's cycle 0 with every block idle and not held (the last write may go to the
        # input delay stage, the first block after the guard).
        await tb.tick()
        for layer, space, addr, want in case.get("readback", []):
            got = signed(await tb.read(layer, space, addr), 64)
            # modulo 2^64: a packed weight word of 64 bits is expected unsigned
            if (got - want) % (1 << 64):
                tb.mismatch(f"readback layer {layer} space {space} addr {addr}", got, want)
        words = case["words"]
        if case["mode"] == "state":
            # One timestep at a time; the whole state is compared at every boundary.
            pos, step = 0, 0
            while pos < len(words):
                end = next((i + 1 for i in range(pos, len(words)) if words[i] & 3 in (EOT, CLEAR)),
                           len(words))
                await tb.stream(words[pos:end], case["valid_p"], case["ready_p"], True)
                if words[end - 1] & 3 == EOT:
                    await tb.check_state(step)
                    step += 1
                pos = end
        else:
            await tb.stream(words, case["valid_p"], case["ready_p"], False)
        if tb.out_index != len(case["expect"]["outputs"]):
            tb.mismatch("output count", tb.out_index, len(case["expect"]["outputs"]))
        for counter in StatusCounter:
            name = counter.name.lower()
            got = await tb.read(0, STATUS, counter)
            if got != case["expect"][name]:
                tb.mismatch(f"status {name}", got, case["expect"][name])
        result["passed"] = True
    except Mismatch as e:
        result["error"] = str(e)
    result.update(first_mismatch=tb.first_mismatch, cycles=tb.cycles,
                  outputs_checked=tb.out_index, input_accept_cycles=tb.input_accept_cycles)
    json.dump(result, open(result_path, "w"))
    assert result["passed"], f"seed {case['seed']}: {result.get('error')}"
