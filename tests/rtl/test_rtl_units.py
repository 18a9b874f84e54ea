"""Unit tests of the RTL building blocks in amaranth.sim: NeuronUpdate, Guard, StatusCounters.

Each is compared with a reference written from docs/core.md (2.2, 2.3, 3.3 and 5). Seeded; the
seed and the failing input vector are in the assertion messages.
"""

import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from delaycore import Guard, NeuronUpdate
from delaycore.core.status_counters import StatusCounters
from corespec.config import LayerShape
from corespec.events import EventKind

SPIKE, EOT, CLEAR, RESERVED = tuple(EventKind)


# ----------------------------------------------------------------------------------------------
# NeuronUpdate
# ----------------------------------------------------------------------------------------------

def ref_neuron(shape, leak_mode, v, acc, hist, delay, threshold, leak, reset_mode):
    vmax, vmin = (1 << (shape.v_bits - 1)) - 1, -(1 << (shape.v_bits - 1))
    leaked = v - (v >> leak) if leak_mode == "shift" else (v * leak) >> 8
    exact = leaked + acc
    v1 = max(vmin, min(vmax, exact))
    if not shape.spiking:
        return {"v_new": v1}
    s = int(v1 >= threshold)
    v_new = (v1 - threshold if reset_mode == 0 else 0) if s else v1
    hist_new = ((hist << 1) | s) & ((1 << shape.depth) - 1)
    return {"v_new": v_new, "spike": s, "hist_new": hist_new, "y": (hist_new >> delay) & 1}


def extreme_or_random(rng, lo, hi, specials=()):
    if rng.random() < 0.3:
        return rng.choice([lo, hi, lo + 1, hi - 1, 0, -1, 1, *specials])
    return rng.randint(lo, hi)


def neuron_vectors(shape, leak_mode, rng, count):
    vmax, vmin = shape.v_max, shape.v_min
    amax = (1 << (shape.acc_bits - 1)) - 1
    amin = -(1 << (shape.acc_bits - 1))
    leak_hi = shape.v_bits - 1 if leak_mode == "shift" else 256
    vecs = []
    for _ in range(count):
        v = extreme_or_random(rng, vmin, vmax)
        r = rng.random()
        if r < 0.4:     # small inputs: the interesting region around threshold
            acc = rng.randint(-2 * (vmax + 1), 2 * (vmax + 1))
            acc = max(amin, min(amax, acc))
        else:
            acc = extreme_or_random(rng, amin, amax, (vmax, vmin, vmax - v, vmin - v,
                                                     vmax - v + 1, vmin - v - 1))
            acc = max(amin, min(amax, acc))
        thr = extreme_or_random(rng, 1, vmax, (2,))
        thr = max(1, min(vmax, thr))
        vecs.append(dict(v=v, acc=acc, hist=rng.randrange(1 << shape.depth),
                         delay=rng.randrange(shape.depth), threshold=thr,
                         leak=extreme_or_random(rng, 0, leak_hi, (1, 8, 128, 255)) % (leak_hi + 1),
                         reset_mode=rng.randint(0, 1)))
    return vecs


NEURON_SHAPES = [
    # (n_src, n, recurrent, spiking, weight_bits, depth, v_bits)
    (4, 3, False, True, 2, 1, 8),
    (8, 6, True, True, 8, 8, 8),
    (3, 2, False, True, 4, 5, 12),
    (16, 4, True, True, 8, 64, 16),
    (5, 5, False, True, 8, 33, 24),
    (6, 3, False, False, 8, 8, 8),      # readout shapes
    (4, 2, False, False, 4, 1, 16),
    (7, 7, False, False, 8, 64, 24),
]


@pytest.mark.parametrize("leak_mode", ["shift", "mul"])
@pytest.mark.parametrize("shape_args", NEURON_SHAPES, ids=[
    f"{'lif' if s[3] else 'readout'}-w{s[4]}-D{s[5]}-v{s[6]}" for s in NEURON_SHAPES])
def test_neuron_update_matches_reference(shape_args, leak_mode):
    shape = LayerShape(*shape_args)
    seed = sum(shape_args[4:]) * 1000 + (leak_mode == "mul") + shape_args[3] * 7
    rng = random.Random(seed)
    vecs = neuron_vectors(shape, leak_mode, rng, 400)
    dut = NeuronUpdate(shape, leak_mode)
    outs = ["v_new"] + (["spike", "hist_new", "y"] if shape.spiking else [])
    mismatches = []

    async def bench(ctx):
        for vec in vecs:
            for name in ("v", "acc", "threshold", "leak", "reset_mode"):
                ctx.set(getattr(dut, name), vec[name])
            if shape.spiking:
                ctx.set(dut.hist, vec["hist"])
                ctx.set(dut.delay, vec["delay"])
            got = {name: ctx.get(getattr(dut, name)) for name in outs}
            exp = ref_neuron(shape, leak_mode, **vec)
            if got != exp:
                mismatches.append((vec, got, exp))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, (f"seed={seed} shape={shape} leak_mode={leak_mode}: "
                            f"{len(mismatches)} of {len(vecs)} differ, first (in, got, expected): "
                            f"{mismatches[0]}")
    if shape.spiking:   # the vectors exercised both outcomes
        fired = sum(ref_neuron(shape, leak_mode, **v)["spike"] for v in vecs)
        assert 0 < fired < len(vecs), f"seed={seed}: {fired} of {len(vecs)} vectors fire"


@pytest.mark.parametrize("leak_mode", ["shift", "mul"])
def test_neuron_update_handpicked(leak_mode):
    """Rails, threshold equality, reset modes, leak 0 / 256, negative rounding, delay taps."""
    shape = LayerShape(4, 4, False, True, 8, 8, 8)
    hi = 7 if leak_mode == "shift" else 256
    cases = [
        dict(v=127, acc=(1 << (shape.acc_bits - 1)) - 1, hist=0, delay=0, threshold=127, leak=hi,
             reset_mode=0),                                     # saturate high, fire, v' = 0
        dict(v=-128, acc=-(1 << (shape.acc_bits - 1)), hist=0xFF, delay=7, threshold=1, leak=hi,
             reset_mode=0),                                     # saturate low
        dict(v=-128, acc=-1, hist=0x80, delay=7, threshold=1, leak=0, reset_mode=1),
        dict(v=-5, acc=0, hist=0x01, delay=1, threshold=1, leak=1, reset_mode=0),
        dict(v=-1, acc=0, hist=0, delay=0, threshold=1, leak=hi, reset_mode=0),
        dict(v=10, acc=15, hist=0x55, delay=3, threshold=15, leak=0, reset_mode=0),  # == threshold
        dict(v=100, acc=100, hist=0x7F, delay=7, threshold=50, leak=hi, reset_mode=1),
        dict(v=100, acc=100, hist=0x7F, delay=7, threshold=50, leak=hi, reset_mode=0),
        dict(v=0, acc=126, hist=0, delay=0, threshold=127, leak=1, reset_mode=0),   # just below
    ]
    dut = NeuronUpdate(shape, leak_mode)
    results = []

    async def bench(ctx):
        for vec in cases:
            for name, val in vec.items():
                ctx.set(getattr(dut, name), val)
            results.append({k: ctx.get(getattr(dut, k)) for k in ("v_new", "spike", "hist_new", "y")})

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    for vec, got in zip(cases, results):
        assert got == ref_neuron(shape, leak_mode, **vec), f"{leak_mode} {vec}: got {got}"
    # a few values spelled out (not via the reference)
    assert results[0]["v_new"] == 0 and results[0]["spike"] == 1
    assert results[1]["v_new"] == -128 and results[1]["spike"] == 0 and results[1]["y"] == 1
    assert results[2]["v_new"] == -1 and results[2]["spike"] == 0        # leak 0 clears, then -1
    assert results[5] == {"v_new": 0, "spike": 1, "hist_new": 0xAB, "y": 1}
    assert results[6]["v_new"] == 0 and results[7]["v_new"] == 127 - 50   # reset to zero / subtract
    assert results[8]["spike"] == 0 and results[8]["v_new"] == 126
    if leak_mode == "mul":
        assert results[3]["v_new"] == -1 and results[4]["v_new"] == -1    # (-5*1)>>8, (-1*256)>>8
    else:
        assert results[3]["v_new"] == -2 and results[4]["v_new"] == 0     # -5+3, -1-(-1>>7)


# ----------------------------------------------------------------------------------------------
# Guard
# ----------------------------------------------------------------------------------------------

def guard_verdict(kind, addr, n_in):
    if kind == RESERVED:
        return "kind"
    if kind == SPIKE and addr >= n_in:
        return "addr"
    return None


@pytest.mark.parametrize("seed,n_in", [(1, 1), (2, 5), (3, 8), (4, 65535), (5, 300)])
def test_guard_matches_reference(seed, n_in):
    rng = random.Random(seed)
    dut = Guard(n_in)
    problems = []
    counts = {"kind": 0, "addr": 0}
    stats = {"passed": 0, "dropped": 0, "stalled": 0}

    def rand_addr():
        return rng.choice([0, n_in - 1, n_in, min(n_in + 1, 0xFFFF), 0xFFFF, rng.randrange(1 << 16),
                           rng.randrange(n_in)]) & 0xFFFF

    async def bench(ctx):
        for cyc in range(600):
            valid = rng.random() < 0.8
            kind = rng.choice([SPIKE, SPIKE, SPIKE, EOT, CLEAR, RESERVED])
            addr = rand_addr()
            o_ready = rng.random() < 0.6
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.i.payload, {"kind": kind, "addr": addr})
            ctx.set(dut.o.ready, o_ready)
            bad = guard_verdict(kind, addr, n_in)
            o_valid = ctx.get(dut.o.valid)
            i_ready = ctx.get(dut.i.ready)
            o_p = ctx.get(dut.o.payload)
            where = f"seed={seed} n_in={n_in} cycle={cyc} valid={valid} kind={kind} addr={addr}"
            exp_valid = int(valid and bad is None)
            if o_valid != exp_valid:
                problems.append(f"{where}: o.valid={o_valid}, expected {exp_valid}")
            if valid and bad is not None and not i_ready:
                problems.append(f"{where}: bad event not taken at once (i.ready=0)")
            if valid and bad is None and i_ready != int(o_ready):
                problems.append(f"{where}: good event i.ready={i_ready}, o.ready={o_ready}")
            if o_valid and (o_p.kind, o_p.addr) != (kind, addr):
                problems.append(f"{where}: payload changed to {(o_p.kind, o_p.addr)}")
            if valid:
                if bad:
                    counts[bad] += 1
                    stats["dropped"] += 1
                elif o_ready:
                    stats["passed"] += 1
                else:
                    stats["stalled"] += 1
            got = (ctx.get(dut.drop_kind), ctx.get(dut.drop_addr))
            if got != (int(valid and bad == "kind"), int(valid and bad == "addr")):
                problems.append(f"{where}: drop strobes {got}, verdict {bad}")
            await ctx.tick()
            if len(problems) > 5:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not problems, "\n".join(problems)
    assert min(stats.values()) > 20, f"seed={seed}: weak coverage {stats}"
    if n_in < 65535:
        assert counts["kind"] > 0 and counts["addr"] > 0, f"seed={seed}: {counts}"


# ----------------------------------------------------------------------------------------------
# StatusCounters
# ----------------------------------------------------------------------------------------------

def run_status_counters(n, seed, cycles, inc_p, read_gap, init=()):
    """Random increments (each counter with probability inc_p per cycle) and reads whenever
    `read_gap()` cycles have passed; every read must return the reference count up to and
    including its cycle, saturating at 2^32 - 1 (a pending counter that overflowed would show
    as a wrong count). Returns (problems, number of reads)."""
    rng = random.Random(seed)
    dut = StatusCounters(n, init)
    ref = list(init) + [0] * (n - len(init))
    problems, reads = [], [0]

    async def bench(ctx):
        wait_read, answer = read_gap(rng), None
        for cyc in range(cycles):
            inc = [int(rng.random() < inc_p) for _ in range(n)]
            ctx.set(dut.inc, sum(b << k for k, b in enumerate(inc)))
            if answer is not None:             # the read of the previous cycle
                got = ctx.get(dut.rd_data)
                if got != answer[1]:
                    problems.append(f"seed={seed} cycle={cyc}: counter {answer[0]} read {got}, "
                                    f"expected {answer[1]}")
                answer = None
            wait_read -= 1
            read = wait_read <= 0
            a = rng.randrange(n)
            ctx.set(dut.rd_en, read)
            ctx.set(dut.rd_addr, a)
            for k in range(n):
                ref[k] = min(ref[k] + inc[k], (1 << 32) - 1)
            if read:
                answer, wait_read = (a, ref[a]), read_gap(rng)
                reads[0] += 1
            await ctx.tick()
            if len(problems) > 5:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return problems, reads[0]


@pytest.mark.parametrize("n,seed,inc_p", [(5, 1, 1.0), (5, 2, 0.5), (2, 3, 0.9), (8, 4, 1.0),
                                          (3, 5, 0.1)])
def test_status_counters_match_reference(n, seed, inc_p):
    """Increments on every counter up to every cycle, reads as often as the readback port allows
    (one in three cycles) or at random gaps: the pending counters must not overflow."""
    gaps = lambda rng: rng.choice([3, 3, 3, 4, 7, 20])
    problems, reads = run_status_counters(n, seed, 1500, inc_p, gaps)
    assert not problems, "\n".join(problems)
    assert reads > 100, reads


def test_status_counters_saturate():
    """Counters that start just below 2^32 - 1 stop there, also when several pending increments
    cross it at once."""
    top = (1 << 32) - 1
    problems, reads = run_status_counters(4, 9, 300, 0.7, lambda rng: rng.choice([3, 5]),
                                          init=(top - 3, top - 10, top, 5))
    assert not problems, "\n".join(problems)
    assert reads > 50, reads


# ----------------------------------------------------------------------------------------------
# Collision-free block RAMs (hw/delaycore/core/block_ram.py)
# ----------------------------------------------------------------------------------------------

def test_collision_free_read_holds_and_board_build_marks_only_those_ports():
    """The read port is disabled in a cycle that writes its address (the word holds), and the
    board build's RTLIL pass marks the read ports of such memories, and only those, as
    don't-care on collision."""
    from amaranth.back import rtlil
    from amaranth.lib.memory import Memory
    from delaycore.core.block_ram import (collision_free_memory, collision_free,
                                     mark_collisions_dont_care)
    m = Module()
    m.submodules.free = free = collision_free_memory(shape=8, depth=16)
    f_wr, f_rd = free.write_port(), free.read_port()
    collision_free(m, f_rd, f_wr, compare_addresses=True)
    m.submodules.plain = plain = Memory(shape=8, depth=16, init=[])
    p_wr, p_rd = plain.write_port(), plain.read_port()
    got = []

    async def bench(ctx):
        for addr, data in ((3, 0x11), (4, 0x22)):
            ctx.set(f_wr.addr, addr), ctx.set(f_wr.data, data), ctx.set(f_wr.en, 1)
            await ctx.tick()
        ctx.set(f_rd.addr, 3)
        await ctx.tick()                               # reads word 3 while writing word 4
        got.append(ctx.get(f_rd.data))
        ctx.set(f_wr.en, 0), ctx.set(f_rd.addr, 4)
        await ctx.tick()                               # reads word 4
        got.append(ctx.get(f_rd.data))
        ctx.set(f_wr.en, 1), ctx.set(f_wr.addr, 3), ctx.set(f_wr.data, 0x33)
        ctx.set(f_rd.addr, 3)
        await ctx.tick()                               # writes word 3: the read is disabled
        got.append(ctx.get(f_rd.data))
        ctx.set(f_wr.en, 0)
        await ctx.tick()
        got.append(ctx.get(f_rd.data))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [0x11, 0x22, 0x22, 0x33], [hex(g) for g in got]

    text = rtlil.convert(m, ports=[f_wr.en, f_wr.addr, f_wr.data, f_rd.addr, f_rd.data,
                                   p_wr.en, p_wr.addr, p_wr.data, p_rd.addr, p_rd.data])
    marked_text, count = mark_collisions_dont_care(text)
    assert count == 1, count
    assert marked_text.count("COLLISION_X_MASK 1'1") == text.count("COLLISION_X_MASK 1'1") + 1
