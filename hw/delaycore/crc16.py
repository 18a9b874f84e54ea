"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), one byte per cycle."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

POLY = 0x1021
INIT = 0xFFFF


def crc16_byte(crc, byte: int):
    """Next CRC after one byte, MSB first. Works on ints and on Amaranth values alike."""
    for i in range(7, -1, -1):
        bit = (crc >> 15) ^ ((byte >> i) & 1) if isinstance(crc, int) else crc[15] ^ byte[i]
        if isinstance(crc, int):
            crc = ((crc << 1) & 0xFFFF) ^ (POLY if bit else 0)
        else:
            crc = Cat(C(0, 1), crc[:15]) ^ Mux(bit, POLY, 0)
    return crc


class Crc16(wiring.Component):
    """`clear` loads the initial value, else `en` folds `data` into `crc` (both in one cycle).

    `crc` is the register; `next` is what it becomes if `en` is high (for checks in the same
    cycle as the last byte)."""

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
