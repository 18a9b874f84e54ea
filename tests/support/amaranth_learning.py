"""The learning engine (LearningNetwork) in amaranth.sim on a case of verification.cases.learning:
the harness the learning tests share (tests/learning/test_learning_rtl.py, tests/rtl/test_lanes.py).

Drives every stream (seeded random ready on the readback response), plays the case's
operations, compares outputs and every word read back with GoldenLearner's, and measures the busy
cycles of every engine phase from the learner's state.
"""

import random

from amaranth import Value
from amaranth.sim import Simulator

from delaycore import LearningNetwork
from delaycore.learning import learner as L
from verification.cases.learning import config_from


def simulate_learning(case: dict, ready_p: float = 1.0) -> dict:
    """Run a case; returns the first mismatch (or None), the number of values compared, and the
    busy cycles of every engine phase (STEP / LEARN / CLEAR)."""
    cfg = config_from(case)
    dut = LearningNetwork(cfg)
    rng = random.Random(case["seed"] ^ 0xBEEF)
    res = {"mismatch": None, "compared": 0, "phases": []}
    outputs = []

    def fail(msg):
        if res["mismatch"] is None:
            res["mismatch"] = msg
        raise AssertionError(msg)

    async def collect(ctx):
        ctx.set(dut.o.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(dut.o.valid, dut.o.payload):
            if valid:
                outputs.append([payload.kind, payload.addr, payload.value])

    async def monitor(ctx):
        lrn = dut.learner
        start, first_phase = None, None
        quiet = (L.IDLE, L.WAIT_OUT, L.XRD_CORE, L.XRD_LOCAL, L.XRESP)
        cycle = 0
        async for _, _, st, ph in ctx.tick().sample(lrn.fsm_state, lrn.fsm_phase):
            busy = st not in quiet
            if busy and start is None:
                start, first_phase = cycle, ph
            elif not busy and start is not None:
                kind = {L.PH_SCORE: "STEP", L.PH_E: "LEARN", L.PH_CLR: "CLEAR"}.get(first_phase, "?")
                res["phases"].append((kind, cycle - start))
                start = None
            cycle += 1

    async def put(ctx, s, value):
        ctx.set(Value.cast(s.payload) if isinstance(value, int) else s.payload, value)
        ctx.set(s.valid, 1)
        await ctx.tick().until(s.ready)
        ctx.set(s.valid, 0)

    async def read(ctx, layer, space, addr):
        await put(ctx, dut.rb_req, {"layer": layer, "space": space, "addr": addr})
        while True:
            r = ready_p >= 1 or rng.random() < ready_p
            ctx.set(dut.rb_resp.ready, r)
            _, _, valid, data = await ctx.tick().sample(dut.rb_resp.valid, dut.rb_resp.payload)
            if valid and r:
                ctx.set(dut.rb_resp.ready, 0)
                return data

    async def bench(ctx):
        for layer, space, addr, data in case["load"]:
            await put(ctx, dut.load, {"layer": layer, "space": space, "addr": addr,
                                      "data": data & ((1 << 64) - 1)})
        for op in case["ops"]:
            if op["op"] == "write":
                layer, space, addr, data = op["w"]
                await put(ctx, dut.load, {"layer": layer, "space": space, "addr": addr, "data": data})
            elif op["op"] == "label":
                await put(ctx, dut.label, op["y"])
            elif op["op"] == "step":
                n0 = len(outputs)
                for w in op["words"]:
                    await put(ctx, dut.i, w)
                want = op["outputs"]
                while len(outputs) < n0 + len(want):
                    await ctx.tick()
                if outputs[n0:] != want:
                    fail(f"outputs: got {outputs[n0:]}, expected {want}")
            elif op["op"] == "check":
                for layer, space, addr, want in op["reads"]:
                    got = await read(ctx, layer, space, addr)
                    res["compared"] += 1
                    if got != want:
                        fail(f"{op['what']}: layer {layer} space {space} addr {addr:#x}: "
                             f"got {got:#x}, expected {want:#x}")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(collect, background=True)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(bench)
    try:
        sim.run()
    except AssertionError:
        pass
    return res
