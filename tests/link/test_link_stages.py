"""The host link's pipeline stages on their own (hw/delaycore/link_*.py).

The command decoder (`CommandDecoder`) against the host's model of the device's answers
(`hostlink.frames.check_request`): every command byte, payload lengths at each record-size and
READ-count boundary, with and without the learning engine, with a step open or not. And the
receive framer (`FrameReceiver`) at its timeout boundary: a byte that arrives in the last cycle
before the timeout keeps the frame open, one cycle later the frame is TRUNCATED.
"""

from amaranth.sim import Simulator

from corespec.link import MAX_PAYLOAD, ErrorCode, READ_BYTES
from delaycore.link.decode import Action, CommandDecoder
from delaycore.link.rx import FrameReceiver
from hostlink.frames import Frame, check_request, encode

MAX_READS = MAX_PAYLOAD // 8
# 0..15 covers every record size's remainders and LABEL's 2; then the READ count's edge
# (127 records fit a response, 128 do not), the largest payloads of each kind, and MAX_PAYLOAD.
LENGTHS = sorted(set(range(16)) | {MAX_READS * READ_BYTES - 1, MAX_READS * READ_BYTES,
                                   MAX_READS * READ_BYTES + 1, (MAX_READS + 1) * READ_BYTES,
                                   78 * 13, 340 * 3, MAX_PAYLOAD - 1, MAX_PAYLOAD})


def decode_all(learning: bool) -> list:
    """[(cmd, length, step_open, (action, error))] for every case, through the RTL decoder."""
    dut = CommandDecoder(learning)
    cases = [(cmd, n, so) for cmd in range(256) for n in LENGTHS for so in (False, True)]
    out = []

    async def bench(ctx):
        f = dut.frame
        for cmd, n, so in cases:
            ctx.set(f.cmd, cmd)
            ctx.set(f.length, n)
            ctx.set(f.whole_writes, n % 13 == 0)
            ctx.set(f.whole_reads, n % READ_BYTES == 0)
            ctx.set(f.whole_events, n % 3 == 0)
            ctx.set(f.reads, n // READ_BYTES)
            ctx.set(dut.job.step_open, so)
            ctx.set(f.done, 1)
            await ctx.tick()
            ctx.set(f.done, 0)
            assert ctx.get(dut.job.start), "the decoder answers in the cycle after `done`"
            out.append((cmd, n, so, (ctx.get(dut.job.action), ctx.get(dut.job.error))))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_decoder_agrees_with_check_request():
    for learning in (False, True):
        for cmd, n, step_open, (action, error) in decode_all(learning):
            want = check_request(Frame(cmd, bytes(n)), learning=learning, step_open=step_open)
            got = None if action != Action.FAIL else error
            where = f"cmd {cmd:#04x} len {n} learning={learning} step_open={step_open}"
            assert got == want, f"{where}: RTL {action}/{error}, host model {want}"
            if want is None:
                assert action.value == cmd, where


def receive(gap_before_last: int, timeout: int) -> list:
    """A PING frame through the FrameReceiver with `gap_before_last` idle cycles before its last
    byte -> what the receiver reported, in order: ("done",) or ("error", code)."""
    dut = FrameReceiver(timeout)
    raw = encode(0x01)
    events = []

    async def feed(ctx):
        for i, b in enumerate(raw):
            if i == len(raw) - 1:
                await ctx.tick().repeat(gap_before_last)
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, b)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(timeout + 10)

    async def watch(ctx):
        async for _, _, done, error, code in ctx.tick().sample(dut.frame.done, dut.frame.error,
                                                               dut.frame.code):
            if done or error:
                events.append(("done",) if done else ("error", ErrorCode(code)))
                ctx.set(dut.frame.release, 1)       # the response is out at once
            else:
                ctx.set(dut.frame.release, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_testbench(watch, background=True)
    sim.run()
    return events


def test_receiver_timeout_boundary():
    """The frame stays open through `timeout - 1` idle cycles between two of its bytes and ends
    as TRUNCATED after `timeout` (docs/link-implementation.md, timeout)."""
    timeout = 100
    assert receive(timeout - 1, timeout) == [("done",)]
    assert receive(timeout, timeout) == [("error", ErrorCode.TRUNCATED)]
