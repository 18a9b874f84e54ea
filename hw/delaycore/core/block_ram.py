"""Block RAMs whose read never collides with a write: no collision logic in the FPGA.

An `amaranth.lib.memory` read port promises either the old word (non-transparent) or the new
word (transparent) when it reads the address written in the same cycle. The iCE40 and ECP5
block RAMs promise neither between their two ports, so yosys builds the promise from logic: the
write is delayed a cycle behind registers and the read data is bypassed, about one flip-flop and
one LUT per data bit (on the UP5K learning build, 14 memories cost about 500 logic cells).

`collision_free` removes that logic by never letting a collision happen: the read port is
disabled (`en` low: its data holds, in simulation as in the block RAM) in every cycle the write
port writes, or, with `compare_addresses`, only when it writes the address read (an address
comparator instead of a wire). Only the meaning of such a read changes (held word instead of old
or new word), and every block that uses it has bit-exact tests against its golden model that
would see a phase depending on one. The memory gets the yosys attribute `no_rw_check`, and the
board build (`boards/build.py`) sets `COLLISION_X_MASK` on its read ports
(`mark_collisions_dont_care`), which is what yosys's own `memory_dff -no-rw-check` does for
Verilog sources.
"""

import re

from amaranth import *
from amaranth.lib.memory import Memory

ATTRS = {"no_rw_check": 1}


def collision_free_memory(*, shape, depth, **kw) -> Memory:
    """A Memory marked for `collision_free` (its read ports must be non-transparent)."""
    return Memory(shape=shape, depth=depth, init=kw.pop("init", []),
                  attrs={**kw.pop("attrs", {}), **ATTRS}, **kw)


def collision_free(m: Module, read_port, write_port, *, en=C(1, 1), compare_addresses=False):
    """Drive `read_port.en`: `en`, but low in a cycle where `write_port` writes (its read
    address)."""
    assert not read_port.transparent_for, "a collision-free read port is not transparent"
    clash = write_port.en.any()
    if compare_addresses:
        clash &= read_port.addr == write_port.addr
    m.d.comb += read_port.en.eq(en & ~clash)


_MEMRD = re.compile(r'(cell \$memrd_v2 \S+\n(?:\s*parameter [^\n]*\n)*?'
                    r'\s*parameter \\MEMID "\\\\(\S+)"\n(?:\s*parameter [^\n]*\n)*?'
                    r'\s*parameter \\COLLISION_X_MASK )(\d+)\'([01]+)')
_MARKED = re.compile(r'attribute \\no_rw_check 1\n\s*memory [^\n]*\\(\S+)\n')


def mark_collisions_dont_care(rtlil: str) -> tuple[str, int]:
    """RTLIL text with COLLISION_X_MASK all ones on every read port of a memory that has the
    `no_rw_check` attribute; and how many ports it marked."""
    out, count = [], 0
    for module in rtlil.split("\nmodule "):
        marked = set(_MARKED.findall(module))

        def mark(match):
            nonlocal count
            if match.group(2) not in marked:
                return match.group(0)
            count += 1
            width = int(match.group(3))
            return f"{match.group(1)}{width}'{'1' * width}"
        out.append(_MEMRD.sub(mark, module) if marked else module)
    return "\nmodule ".join(out), count
