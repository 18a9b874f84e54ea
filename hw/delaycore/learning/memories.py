"""The learning engine's block RAMs (docs/learning.md, sections 2 and 6.1), behind one read and
one write port each (`MemoryPort`).

* `state_R`: pair R's four arrays in one 16-bit memory, word Cat(j, field) (`RField`; the traces
  stored zero-extended, elig_d_R as its 16 bits): one read data path for the STEP update, the
  readback and LEARN.
* pair H (two LIF layers or more): `trace_H`, `trace_alt_H`, `elig_w_H`, `elig_d_H`, and two
  scratch memories that never leave the engine: `psi` (4 bits per neuron of layer L, filled while
  pair R is stepped, used by pair H) and `signal` (`L_k`, filled at the start of LEARN).
* `score`, with the status counters (`LearnStatus`) as the 3 words after the scores.
* `err`: the ternary error per readout neuron (scratch).

No collision logic (block_ram.py): pair R's memory is read (the next field) while it is written
and compares addresses; the others never need a word read in a cycle that writes them.
"""

from enum import IntEnum

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from corespec.learning import Region, LearnStatus
from delaycore.core.block_ram import collision_free_memory, collision_free
from delaycore.learning.geometry import LearnerGeometry


class RField(IntEnum):
    """The field of a word Cat(j, field) of pair R's state memory: its region minus TRACE_R."""
    TRACE = Region.TRACE_R - Region.TRACE_R
    TRACE_ALT = Region.TRACE_ALT_R - Region.TRACE_R
    ELIG_W = Region.ELIG_W_R - Region.TRACE_R
    ELIG_D = Region.ELIG_D_R - Region.TRACE_R


class MemoryPort(wiring.Signature):
    """One block RAM of the engine as its user sees it: a registered read and a write.

    Members
    -------
    read_addr: :py:`In(addr_width)`
        The word to read.
    read_data: :py:`Out(shape)`
        The word at the previous cycle's `read_addr`. It holds (the block RAM's read enable is
        low) in a cycle that writes the memory (`block_ram.collision_free`; for `state_R` only
        when it writes the address read).
    write_addr: :py:`In(addr_width)`
    write_data: :py:`In(shape)`
    write_en: :py:`In(1)`
    """

    def __init__(self, *, depth: int, shape):
        self.depth, self.shape = depth, shape
        width = ceil_log2(depth)
        super().__init__({"read_addr": In(width), "read_data": Out(shape),
                          "write_addr": In(width), "write_data": In(shape), "write_en": In(1)})

    def __eq__(self, other):
        return (type(self) is type(other) and self.depth == other.depth
                and self.shape == other.shape)


class MemorySpec:
    """One memory: shape, depth (words), and `size`: the words a region reads back and a clear
    zeroes (the score memory has the status counters after its `n_out` scores)."""

    def __init__(self, shape, depth: int, size: int | None = None, *, cleared=True):
        self.shape, self.depth = shape, max(1, depth)
        self.size = depth if size is None else size
        self.cleared = cleared        # part of the state of spec section 2 (cleared by CLEAR)


def memory_specs(g: LearnerGeometry) -> dict[str, MemorySpec]:
    """The engine's memories, by name, for a network."""
    specs = {"state_R": MemorySpec(16, g.state_R_depth)}
    if g.has_H:
        specs.update(trace_H=MemorySpec(10, g.n_P), trace_alt_H=MemorySpec(10, g.n_P),
                     elig_w_H=MemorySpec(16, g.n_S), elig_d_H=MemorySpec(signed(16), g.n_S),
                     psi=MemorySpec(4, g.n_L, cleared=False),
                     signal=MemorySpec(signed(g.signal_bits), g.n_L, cleared=False))
    specs["score"] = MemorySpec(signed(32), g.n_out + len(LearnStatus), g.n_out)
    specs["err"] = MemorySpec(signed(2), g.n_out, cleared=False)
    return specs


class LearnerMemories(wiring.Component):
    """The engine's memories (`memory_specs`), one `MemoryPort` member each, named as the
    memory."""

    class Signature(wiring.Signature):
        """Members: one `Out(MemoryPort)` per memory of `memory_specs`, by its name."""

        def __init__(self, geometry: LearnerGeometry):
            self.geometry = geometry
            super().__init__({name: Out(MemoryPort(depth=s.depth, shape=s.shape))
                              for name, s in memory_specs(geometry).items()})

        def __eq__(self, other):
            return type(self) is type(other) and self.members == other.members

    def __init__(self, geometry: LearnerGeometry):
        self.specs = memory_specs(geometry)
        super().__init__(LearnerMemories.Signature(geometry))

    def elaborate(self, platform):
        m = Module()
        for name, spec in self.specs.items():
            memory = collision_free_memory(shape=spec.shape, depth=spec.depth,
                                           attrs={"ram_style": "block"})
            m.submodules[name] = memory
            read, write, port = memory.read_port(), memory.write_port(), getattr(self, name)
            m.d.comb += [read.addr.eq(port.read_addr), port.read_data.eq(read.data),
                         write.addr.eq(port.write_addr), write.data.eq(port.write_data),
                         write.en.eq(port.write_en)]
            collision_free(m, read, write, compare_addresses=name == "state_R")
        return m
