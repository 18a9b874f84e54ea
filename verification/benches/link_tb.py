"""cocotb testbench of the link (ByteLinkedCore: Link + Network, byte streams) on Verilator.

The pytest side (tests/link/test_link.py) builds a seeded script of transactions, valid and corrupted
frames, and predicts every frame the device must answer with a Python model of the device
(hostlink.frames.FrameDecoder(rescan=False) + the golden model). This module gets it as JSON
(LINK_CASE), plays it byte by byte, decodes what comes back on tx and compares every response
and every OUTPUT frame in order; results go to LINK_RESULT.

A transaction is sent whole (respecting rx ready); then the bench only listens until every
expected frame has arrived, so a transaction that leaves a frame open ends in the device's own
timeout. The sink's ready is random (seeded) to exercise the tx arbiter under backpressure.
"""

import json
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, ReadOnly

from hostlink.frames import FrameDecoder, Frame, OUTPUT, parse_output


class Mismatch(Exception):
    pass


def describe(cmd, payload):
    return f"cmd {cmd:#04x} payload {payload.hex()}"


class LinkBench:
    def __init__(self, dut, case):
        self.dut = dut
        self.case = case
        self.rng = random.Random(case["seed"])
        self.decoder = FrameDecoder(rescan=True)
        self.cycles = 0
        self.stats = {"transactions": 0, "frames_checked": 0, "outputs_checked": 0,
                      "state_checks": 0, "state_corruptions": 0, "mismatches": 0}
        self.mismatches = []

    async def reset(self):
        d = self.dut
        d.rx__valid.value = 0
        d.tx__ready.value = 0
        d.rst.value = 1
        for _ in range(2):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)

    async def transaction(self, txn):
        d = self.dut
        data = bytes.fromhex(txn["tx"])
        responses = deque((c, bytes.fromhex(p)) for c, p in txn["responses"])
        outputs = deque(tuple(o) for o in txn["outputs"])
        ready_p = self.case["ready_p"]
        i, idle, errors = 0, 0, []
        while i < len(data) or responses or outputs:
            present = i < len(data)
            d.rx__valid.value = int(present)
            if present:
                d.rx__payload.value = data[i]
            ready = ready_p >= 1 or self.rng.random() < ready_p
            d.tx__ready.value = int(ready)
            await ReadOnly()
            idle += 1
            if present and int(d.rx__ready.value):
                i += 1
                idle = 0
            if ready and int(d.tx__valid.value):
                idle = 0
                for item in self.decoder.feed(bytes([int(d.tx__payload.value)])):
                    errors += self.check(item, responses, outputs)
            await RisingEdge(d.clk)
            self.cycles += 1
            if idle > self.case["max_idle"]:
                errors.append(f"silence: still expected {[describe(c, p) for c, p in responses]} "
                              f"and {len(outputs)} outputs")
                break
        d.rx__valid.value = 0
        return errors

    def check(self, item, responses, outputs):
        if not isinstance(item, Frame):
            return [f"undecodable bytes from the device: {item!r}"]
        if item.cmd == OUTPUT:
            got = parse_output(item.payload)
            self.stats["outputs_checked"] += 1
            if not outputs:
                return [f"unexpected OUTPUT {got}"]
            want = outputs.popleft()
            return [] if got == want else [f"OUTPUT {got}, expected {want}"]
        self.stats["frames_checked"] += 1
        if not responses:
            return [f"unexpected frame {describe(item.cmd, item.payload)}"]
        cmd, payload = responses.popleft()
        if (item.cmd, item.payload) != (cmd, payload):
            return [f"frame {describe(item.cmd, item.payload)}, expected {describe(cmd, payload)}"]
        return []

    async def run(self):
        for k, txn in enumerate(self.case["transactions"]):
            errors = await self.transaction(txn)
            self.stats["transactions"] += 1
            if txn["kind"] == "check":
                self.stats["state_checks"] += 1
                if errors:
                    self.stats["state_corruptions"] += 1
            if errors:
                self.stats["mismatches"] += 1
                self.mismatches.append({"index": k, "kind": txn["kind"], "label": txn["label"],
                                        "cycle": self.cycles, "errors": errors[:4]})
                await self.drain()
        # Nothing more may come out.
        extra = []
        for _ in range(4 * self.case["timeout_cycles"]):
            self.dut.tx__ready.value = 1
            await ReadOnly()
            if int(self.dut.tx__valid.value):
                extra.append("a frame after the end of the script")
                break
            await RisingEdge(self.dut.clk)
        if extra:
            self.mismatches.append({"index": "end", "errors": extra})
            self.stats["mismatches"] += 1

    async def drain(self):
        """After a mismatch: listen until the device has been quiet for a while, then go on."""
        d = self.dut
        quiet = 0
        while quiet < 4 * self.case["timeout_cycles"]:
            d.tx__ready.value = 1
            await ReadOnly()
            quiet = 0 if int(d.tx__valid.value) else quiet + 1
            await RisingEdge(d.clk)
        self.decoder = FrameDecoder(rescan=True)


@cocotb.test()
async def link_random_frames(dut):
    case = json.load(open(os.environ["LINK_CASE"]))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    tb = LinkBench(dut, case)
    await tb.reset()
    await tb.run()
    result = {"passed": not tb.mismatches, "seed": case["seed"], "cycles": tb.cycles,
              "mismatches": tb.mismatches[:10], **tb.stats}
    json.dump(result, open(os.environ["LINK_RESULT"], "w"))
    assert result["passed"], f"seed {case['seed']}: {tb.mismatches[:3]}"
