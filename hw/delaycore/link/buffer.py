"""The host link's frame buffer (docs/link-implementation.md): one block RAM that the pipeline's
stages take turns on, since the link works on one frame at a time.

    FrameReceiver  --fill-->  +-------------+  --fetch-->  PortEngine   (records, one byte a cycle)
    PortEngine     --store--> | FrameBuffer |
                              +-------------+  --send--->  Transmitter  (the response payload)

The receiver fills it with a request's payload, the port engine reads the records back and
stores the response's payload over them (READ writes each result where records already used
were), and the transmitter sends that payload. Only one stage drives a port in any cycle, so the
two writers and the two readers share the RAM's one write and one read port without arbitration:
the buffer just selects the one that is active.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from delaycore.core.block_ram import collision_free_memory, collision_free

BUF_DEPTH = 1024                        # bytes: a whole payload (corespec.link.MAX_PAYLOAD)
BUF_ADDR_BITS = (BUF_DEPTH - 1).bit_length()
BufferPosition = range(BUF_DEPTH + 1)   # a position, or one past the last byte


class BufferWriteSignature(wiring.Signature):
    """A byte written into the frame buffer, from the writer's side.

    Members
    -------
    en : :py:`Out(1)`
        Write `data` at `addr` in this cycle.
    addr : :py:`Out(BUF_ADDR_BITS)`
    data : :py:`Out(8)`
    """

    def __init__(self):
        super().__init__({"en": Out(1), "addr": Out(BUF_ADDR_BITS), "data": Out(8)})


class CursorSignature(wiring.Signature):
    """A read cursor into the frame buffer, from the reader's side: bytes in order, one a cycle.

    Members
    -------
    load : :py:`Out(1)`
        Move the cursor to `start` (in the next cycle).
    start : :py:`Out(BufferPosition)`
    step : :py:`Out(1)`
        Move the cursor to the next byte, and address that byte at once (so that stepping in
        every cycle reads one byte a cycle).
    pos : :py:`In(BufferPosition)`
        The cursor.
    data : :py:`In(8)`
        The byte the cursor addressed in the previous cycle: `buf[pos]` from the second cycle
        at a loaded position on, and in every cycle while stepping.
    """

    def __init__(self):
        super().__init__({"load": Out(1), "start": Out(BufferPosition), "step": Out(1),
                          "pos": In(BufferPosition), "data": In(8)})


class FrameBuffer(wiring.Component):
    """`BUF_DEPTH` bytes of block RAM with two writers and two cursors, each pair merged onto one
    port of the RAM: `store` wins over `fill` and `fetch` over `send` (they never meet: one
    stage works at a time)."""

    fill: In(BufferWriteSignature())
    store: In(BufferWriteSignature())
    fetch: In(CursorSignature())
    send: In(CursorSignature())

    def elaborate(self, platform):
        m = Module()
        # No byte is read in the cycle after one that writes it (block_ram.py).
        m.submodules.ram = ram = collision_free_memory(shape=8, depth=BUF_DEPTH)
        wr, rd = ram.write_port(), ram.read_port()
        collision_free(m, rd, wr)
        storing = self.store.en
        m.d.comb += [wr.en.eq(self.fill.en | storing),
                     wr.addr.eq(Mux(storing, self.store.addr, self.fill.addr)),
                     wr.data.eq(Mux(storing, self.store.data, self.fill.data))]

        pos = Signal(BufferPosition)
        load = self.fetch.load | self.send.load
        step = self.fetch.step | self.send.step
        with m.If(load):
            m.d.sync += pos.eq(Mux(self.fetch.load, self.fetch.start, self.send.start))
        with m.Elif(step):
            m.d.sync += pos.eq(pos + 1)
        m.d.comb += rd.addr.eq(Mux(step, pos + 1, pos))
        for cursor in (self.fetch, self.send):
            m.d.comb += [cursor.pos.eq(pos), cursor.data.eq(rd.data)]
        return m
