"""Drives the Network component in amaranth.sim: the quick, in-process check of the RTL."""

from amaranth.sim import Simulator

from golden_model.params import load_words
from delaycore import Network


def simulate(params, words, max_cycles=200_000, ready_pattern=None, valid_pattern=None,
             after=()):
    """Load `params`, stream `words` in, collect output items with the cycle they were accepted.

    Cycle 0 is the first cycle the input presents an item. `ready_pattern(cycle) -> bool` and
    `valid_pattern(cycle) -> bool` add backpressure / gaps (default: none). `after`: port
    operations once the stream is through, `(layer, space, addr, data)` a write and
    `(layer, space, addr)` a read; result["reads"] holds (cycles from acceptance to response,
    word) per read.
    """
    dut = Network(params.config)
    writes = load_words(params)
    result = {"outputs": [], "cycles": [], "accepts": []}

    async def bench(ctx):
        for (layer, space, addr, data) in writes:
            ctx.set(dut.load.payload, {"layer": layer, "space": space, "addr": addr,
                                       "data": data & ((1 << 64) - 1)})
            ctx.set(dut.load.valid, 1)
            await ctx.tick().until(dut.load.ready)
        ctx.set(dut.load.valid, 0)
        await ctx.tick()        # the last write is applied here, holding its layer (for layer 15,
                                # the input delay stage: the core input); cycle 0 comes after it
        k, cycle = 0, 0
        n_eot = sum(1 for w in words if w & 3 == 1)
        seen_eot = 0
        while cycle < max_cycles:
            present = k < len(words) and (valid_pattern is None or valid_pattern(cycle))
            ctx.set(dut.i.valid, present)
            if present:
                ctx.set(dut.i.payload.as_value(), words[k])
            ready = ready_pattern is None or ready_pattern(cycle)
            ctx.set(dut.o.ready, ready)
            if present and ctx.get(dut.i.ready):
                k += 1
                result["accepts"].append(cycle)
            if ready and ctx.get(dut.o.valid):
                p = ctx.get(dut.o.payload)
                result["outputs"].append((p.kind, p.addr, p.value))
                result["cycles"].append(cycle)
                if p.kind == 1:
                    seen_eot += 1
            await ctx.tick()
            cycle += 1
            if k == len(words) and seen_eot == n_eot and _done(result, words):
                break
        result["total_cycles"] = cycle
        result["reads"] = []
        mask = (1 << 64) - 1
        ctx.set(dut.rb_resp.ready, 1)
        for op in after:
            if len(op) == 4:
                layer, space, addr, data = op
                ctx.set(dut.load.payload, {"layer": layer, "space": space, "addr": addr,
                                           "data": data & mask})
                ctx.set(dut.load.valid, 1)
                await ctx.tick().until(dut.load.ready)
                ctx.set(dut.load.valid, 0)
                continue
            layer, space, addr = op
            ctx.set(dut.rb_req.payload, {"layer": layer, "space": space, "addr": addr})
            ctx.set(dut.rb_req.valid, 1)
            await ctx.tick().until(dut.rb_req.ready)
            ctx.set(dut.rb_req.valid, 0)
            for wait in range(1, 20):
                if ctx.get(dut.rb_resp.valid):
                    result["reads"].append((wait, ctx.get(dut.rb_resp.payload)))
                    break
                await ctx.tick()
            else:
                result["reads"].append((None, None))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result


def _done(result, words):
    n_markers = sum(1 for w in words if (w & 3) in (1, 2))
    return sum(1 for o in result["outputs"] if o[0] in (1, 2)) == n_markers


def run_case(case: dict) -> dict:
    """A "cycle" case of verification.cases (the Verilator regression's) in amaranth.sim: the
    same image, writes and input words, no backpressure; returns the output items, the cycle each
    left the core and the cycle each input word was taken, to compare with case["expect"]."""
    from corespec.config import CoreConfig
    cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()})
    dut = Network(cfg)
    words = case["words"]
    result = {"outputs": [], "output_cycles": [], "input_accept_cycles": []}
    n_out = len(case["expect"]["outputs"])

    async def bench(ctx):
        for (layer, space, addr, data) in case["load"] + case.get("bad_writes", []):
            ctx.set(dut.load.payload, {"layer": layer, "space": space, "addr": addr,
                                       "data": data & ((1 << 64) - 1)})
            ctx.set(dut.load.valid, 1)
            await ctx.tick().until(dut.load.ready)
        ctx.set(dut.load.valid, 0)
        await ctx.tick()        # as the cocotb bench: cycle 0 with every block idle, none held
        ctx.set(dut.o.ready, 1)
        k, cycle = 0, 0
        while len(result["outputs"]) < n_out and cycle < case["max_cycles"]:
            ctx.set(dut.i.valid, k < len(words))
            if k < len(words):
                ctx.set(dut.i.payload.as_value(), words[k])
            if k < len(words) and ctx.get(dut.i.ready):
                k += 1
                result["input_accept_cycles"].append(cycle)
            if ctx.get(dut.o.valid):
                p = ctx.get(dut.o.payload)
                result["outputs"].append([p.kind, p.addr, p.value])
                result["output_cycles"].append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result
