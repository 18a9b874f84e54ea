"""The parameter-load and readback port of a block behind the guard (a layer, the input delay
stage; docs/core.md 4 and 5): range checks, which memory a write goes to, and the readback word.

A write or read is applied while the block is held (the network's port engine sees to it). The
space alone (a register) steers the memory addresses; the range check only gates the write
enables, so it never runs into a block-RAM address. Readback addresses the memories in cycle c;
the block's read stage registers what they return at the end of c + 1, as it does for every
operation; the word is selected from those registers in c + 2 and returned registered (`data`)
from c + 3. No memory output runs into the select or the port engine.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import clog2
from corespec.spaces import Space
from delaycore.core.layouts import BlockWriteSignature, BlockReadSignature, DATA_BITS
from delaycore.core.layer.signatures import LoadSignature, ReadAddressSignature, ReadbackSourcesSignature


class PortDecoder(wiring.Component):
    """`write_sizes` / `read_sizes`: {space: words} the block writes / reads (anything else is out
    of range: a write is dropped and counted, a read returns 0). `readable`: {space: (shape,
    count)} of the words `sources` presents for readback; with a count of K (lanes) or 4
    (registers) the low bits of the address choose one. `lanes`: neuron j is word j // K of
    lane j % K."""

    def __init__(self, write_sizes: dict, read_sizes: dict, readable: dict, lanes: int = 1):
        self.write_sizes = write_sizes
        self.read_sizes = read_sizes
        self.readable = readable
        self.lanes = lanes
        super().__init__({
            "write": In(BlockWriteSignature()),
            "read": In(BlockReadSignature()),
            "load": Out(LoadSignature(write_sizes, lanes)),
            "read_addr": Out(ReadAddressSignature(lanes)),
            "sources": In(ReadbackSourcesSignature(readable)),
        })

    @staticmethod
    def in_range(m, space, addr, sizes: dict):
        """addr < the size of space (0 for a space not in `sizes`)."""
        ok = Signal()
        with m.Switch(space):
            for sp, size in sizes.items():
                with m.Case(sp):
                    m.d.comb += ok.eq(addr < size)
        return ok

    def elaborate(self, platform):
        m = Module()
        self.decode_write(m)
        self.decode_read(m)
        return m

    def decode_write(self, m):
        wr, load = self.write, self.load
        lane_bits = self.lanes.bit_length() - 1
        ok = self.in_range(m, wr.space, wr.addr, self.write_sizes)
        lane = wr.addr[:lane_bits] if self.lanes > 1 else C(0, 1)
        m.d.comb += [wr.dropped.eq(wr.en & ~ok), load.ok.eq(ok), load.addr.eq(wr.addr),
                     load.word.eq(wr.addr >> lane_bits), load.data.eq(wr.data)]
        m.d.comb += [load.lane[k].eq(ok & (lane == k)) for k in range(self.lanes)]
        with m.If(wr.en):
            with m.Switch(wr.space):
                for space in self.write_sizes:
                    with m.Case(space):
                        m.d.comb += getattr(load, space.name.lower()).eq(1)

    def decode_read(self, m):
        rd = self.read
        lane_bits = self.lanes.bit_length() - 1
        ok = self.in_range(m, rd.space, rd.addr, self.read_sizes)
        # What the request was, one and two cycles later: space, whether in range, and the low
        # address bits that choose a register or a lane.
        index_bits = max(clog2(count) for _, count in self.readable.values())
        space_q, space_q2 = Signal(Space), Signal(Space)
        index_q, index_q2 = Signal(index_bits), Signal(index_bits)
        ok_q, ok_q2 = Signal(), Signal()
        m.d.sync += [ok_q.eq(0), space_q2.eq(space_q), index_q2.eq(index_q), ok_q2.eq(ok_q)]
        with m.If(rd.en):
            m.d.sync += [space_q.eq(rd.space), index_q.eq(rd.addr), ok_q.eq(ok)]
        m.d.comb += [self.read_addr.en.eq(rd.en), self.read_addr.addr.eq(rd.addr),
                     self.read_addr.word.eq(rd.addr >> lane_bits)]
        word = Signal(DATA_BITS)
        m.d.sync += rd.data.eq(word)
        with m.If(ok_q2):
            with m.Switch(space_q2):
                for space, (_, count) in self.readable.items():
                    values = getattr(self.sources, space.name.lower())
                    with m.Case(space):
                        m.d.comb += word.eq(values[0] if count == 1
                                            else Array(values)[index_q2[:clog2(count)]])
