"""The learning engine's register file (docs/learning.md, section 5; `corespec.learning.
LearnRegisters`): written from space LEARN, region REGS, read back there, and read by the
datapath.

Registers the datapath reads only at known moments (`margin` while LEARN finds the error, the
delay thresholds at its delay steps), and without pair H those of pair H (which then only store
and read back), live in a small block RAM (16 x 16 bits, word = register number, zero at
configuration like the registers' reset); the rest are flip-flops, each a member of `value`.
"""

from dataclasses import fields

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.learning import LearnRegisters
from delaycore.core.block_ram import collision_free_memory, collision_free
from delaycore.core.layouts import DATA_BITS
from delaycore.learning.datapath import lfsr_step

REG_NAMES = [f.name for f in fields(LearnRegisters)]
REG_WIDTHS = dict(zip(REG_NAMES, LearnRegisters.WIDTHS))
INDEX_BITS = (len(REG_NAMES) - 1).bit_length()
RAM_BITS = 16


def registers_in_ram(has_H: bool) -> list[str]:
    """The registers kept in the block RAM (all at most `RAM_BITS` wide)."""
    names = ["margin", "delay_thresh_R", "delay_thresh_H"]
    if not has_H:
        names += ["lr_shift_H", "trace_shift_H", "trace_inc_H", "elig_shift_H", "psi_shift"]
    assert all(REG_WIDTHS[n] <= RAM_BITS for n in names)
    return names


class RegisterWrite(wiring.Signature):
    """A write of one register, as a load to space LEARN, region REGS decodes it.

    Members
    -------
    en: :py:`In(1)`
        Write register `index` (below the number of registers) in this cycle.
    index: :py:`In(INDEX_BITS)`
        The register number (`LearnRegisters.number`); also the block RAM's write address.
    data: :py:`In(DATA_BITS)`
        The load's data, truncated to the register's width (an `lfsr` of 0 becomes 1).
    """

    def __init__(self):
        super().__init__({"en": In(1), "index": In(INDEX_BITS), "data": In(DATA_BITS)})

    def __eq__(self, other):
        return type(self) is type(other)


class LearnerRegisters(wiring.Component):
    """The registers; `value` holds the flip-flop ones, the block RAM ones are read through
    `ram_addr` / `ram_data` (registered, one cycle)."""

    class Signature(wiring.Signature):
        """Members
        -------
        write: :py:`Out(RegisterWrite())`
            (its members are inputs of the register file, as `RegisterWrite` lists them)
        advance_lfsr: :py:`In(1)`
            Step the LFSR (a stochastic rounding drew from it).
        value: :py:`Out(...)`
            One member per flip-flop register, named as in `LearnRegisters`.
        lfsr_next: :py:`Out(32)`
            What the LFSR steps to (the rounding's random bits).
        ram_addr: :py:`In(INDEX_BITS)`, ram_data: :py:`Out(RAM_BITS)`
            A read of a block RAM register, its data the next cycle.
        readback_index: :py:`In(INDEX_BITS)`, readback_data: :py:`Out(32)`
            Any register for the readback (the block RAM ones from `ram_data`).
        """

        def __init__(self, has_H: bool):
            self.has_H = has_H
            in_ram = registers_in_ram(has_H)
            value = wiring.Signature({n: Out(w, init=1 if n == "lfsr" else 0)
                                      for n, w in REG_WIDTHS.items() if n not in in_ram})
            super().__init__({"write": Out(RegisterWrite()), "advance_lfsr": In(1),
                              "value": Out(value), "lfsr_next": Out(32),
                              "ram_addr": In(INDEX_BITS), "ram_data": Out(RAM_BITS),
                              "readback_index": In(INDEX_BITS), "readback_data": Out(32)})

        def __eq__(self, other):
            return type(self) is type(other) and self.has_H == other.has_H

    def __init__(self, has_H: bool):
        self.in_ram = registers_in_ram(has_H)
        super().__init__(LearnerRegisters.Signature(has_H))

    def elaborate(self, platform):
        m = Module()
        ram = collision_free_memory(shape=RAM_BITS, depth=1 << INDEX_BITS,
                                    attrs={"ram_style": "block"})
        m.submodules["regmem"] = ram
        ram_write, ram_read = ram.write_port(), ram.read_port()
        collision_free(m, ram_read, ram_write)
        m.d.comb += [ram_read.addr.eq(self.ram_addr), self.ram_data.eq(ram_read.data),
                     ram_write.addr.eq(self.write.index)]
        lfsr = self.value.lfsr
        m.d.comb += self.lfsr_next.eq(lfsr_step(lfsr))
        with m.If(self.write.en):
            with m.Switch(self.write.index):
                for number, name in enumerate(REG_NAMES):
                    with m.Case(number):
                        self._write(m, name, ram_write)
        with m.If(self.advance_lfsr):
            m.d.sync += lfsr.eq(self.lfsr_next)
        readable = Array(ram_read.data if n in self.in_ram else getattr(self.value, n)
                         for n in REG_NAMES)
        m.d.comb += self.readback_data.eq(readable[self.readback_index])
        return m

    def _write(self, m, name, ram_write):
        """Register `name` <- the write's data (truncated to its width; an lfsr never 0)."""
        data = self.write.data
        if name == "lfsr":
            m.d.sync += self.value.lfsr.eq(Mux(data[:32] == 0, 1, data[:32]))
        elif name in self.in_ram:
            m.d.comb += [ram_write.en.eq(1), ram_write.data.eq(data[:REG_WIDTHS[name]])]
        else:
            m.d.sync += getattr(self.value, name).eq(data)
