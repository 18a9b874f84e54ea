"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), one byte per cycle."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

POLY = 0x1021
INIT = 0xFFFF


def crc16_byte(crc, byte):
    """The CRC after one more byte, MSB first: on ints, or on Amaranth values (unrolled logic)."""
    if isinstance(crc, int):
        for i in range(7, -1, -1):
            bit = (crc >> 15) ^ ((byte >> i) & 1)
            crc = ((crc << 1) & 0xFFFF) ^ (POLY if bit else 0)
        return crc
    crc, byte = Value.cast(crc), Value.cast(byte)
    for i in range(7, -1, -1):
        bit = crc[15] ^ byte[i]
        crc = Cat(C(0, 1), crc[:15]) ^ Mux(bit, POLY, 0)
    return crc


class Crc16(wiring.Component):
    """`clear` loads the initial value, else `en` folds `data` into `crc`.

    `crc` is the register; `next` is what it becomes if `en` is high."""

    clear: In(1)
    en: In(1)
    data: In(8)
    crc: Out(16, init=INIT)
    next: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.next.eq(crc16_byte(self.crc, self.data))
        with m.If(self.clear):
            m.d.sync += self.crc.eq(INIT)
        with m.Elif(self.en):
            m.d.sync += self.crc.eq(self.next)
        return m
