"""The weight memory of a layer: one address for reads and writes, one-cycle read latency.

On an iCE40 UP5K a large 16-bit-wide weight memory is built from SB_SPRAM256KA blocks (yosys
does not infer them); everywhere else, and in simulation, it is an amaranth.lib.memory Memory.
The datapath never needs the read data held across a stall (accumulates do not stall), so the
SPRAM's lack of a read enable does not matter.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from delaycore.core.block_ram import collision_free_memory, collision_free

SPRAM_WORDS = 16384


class WeightMemory(wiring.Component):
    def __init__(self, width: int, depth: int):
        self.width = width
        self.depth = depth
        super().__init__({
            "addr": In(range(max(2, depth))),
            "wr_data": In(width),
            "wr_en": In(1),
            "rd_data": Out(width),
        })

    @staticmethod
    def use_spram(platform, width: int, depth: int) -> bool:
        device = getattr(platform, "device", "") or ""
        return device.startswith("iCE40UP") and width == 16 and depth > 2048

    def elaborate(self, platform):
        m = Module()
        if not self.use_spram(platform, self.width, self.depth):
            # Written only while its layer is held: the word read in a write cycle is not used
            # (no collision logic, block_ram.py).
            m.submodules.mem = mem = collision_free_memory(shape=self.width, depth=self.depth)
            wr, rd = mem.write_port(), mem.read_port()
            collision_free(m, rd, wr)
            m.d.comb += [wr.addr.eq(self.addr), rd.addr.eq(self.addr), wr.data.eq(self.wr_data),
                         wr.en.eq(self.wr_en), self.rd_data.eq(rd.data)]
            return m
        banks = -(-self.depth // SPRAM_WORDS)
        if banks > 4:
            raise ValueError(f"weight memory of {self.depth} x 16 needs {banks} SPRAMs; UP5K has 4")
        bank_q = Signal(range(max(2, banks)))
        m.d.sync += bank_q.eq(self.addr >> 14)
        outs = []
        for b in range(banks):
            dout = Signal(16, name=f"spram{b}_dout")
            sel = (self.addr >> 14) == b
            m.submodules[f"spram{b}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=self.addr[:14], i_DATAIN=self.wr_data, i_MASKWREN=C(0b1111, 4),
                i_WREN=self.wr_en & sel, i_CHIPSELECT=C(1, 1), i_CLOCK=ClockSignal(),
                i_STANDBY=C(0, 1), i_SLEEP=C(0, 1), i_POWEROFF=C(1, 1), o_DATAOUT=dout)
            outs.append(dout)
        m.d.comb += self.rd_data.eq(Array(outs)[bank_q])
        return m
