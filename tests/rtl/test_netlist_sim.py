"""The core after yosys synth_ice40 (gate-level netlist with yosys's iCE40 cell models) on
Verilator, under the same cocotb testbench and golden-model case as the RTL regression.

About 3 minutes cold on a loaded 2-core machine (the Verilator build of the netlist dominates);
the second test reuses that build.
"""

import copy

from verification.cases.matrix import full_matrix
from verification.runners import netlist


def small_case():
    return full_matrix(1, {"w8-d1"})[0]          # w8-d1-cycle: 6-5-2, D=1, cycle-exact


def test_netlist_matches_golden():
    case = small_case()
    r = netlist.run(case)
    assert r["passed"], f"{case['name']}: {r.get('error')} (first mismatch {r.get('first_mismatch')}; log {r['sim_log']})"
    assert r["outputs_checked"] == len(case["expect"]["outputs"]) > 0
    assert r["cells"]["SB_LUT4"] > 0 and r["cells"]["SB_RAM40_4K"] > 0


def test_netlist_scoreboard_catches_a_wrong_expectation():
    """The same netlist model, one expected output value off by one: the scoreboard must say so."""
    case = copy.deepcopy(small_case())
    case["name"] += "-wrong-expectation"
    kind, addr, value = case["expect"]["outputs"][0]
    case["expect"]["outputs"][0] = [kind, addr, value + 1]
    r = netlist.run(case)
    assert not r["passed"]
    assert r["first_mismatch"]["field"] == "output[0] (kind, addr, value)"
    assert r["first_mismatch"]["got"] == [kind, addr, value]


def test_synth_ice40_names_a_failing_synthesis(tmp_path):
    """Bad Verilog: the error names the file and carries yosys's own message; no stale counts."""
    from delaycore.boards.synth_ice40 import synth_ice40
    import pytest
    with pytest.raises(RuntimeError, match=r"synth_ice40 of .*broken\.v failed(.|\n)*syntax error"):
        synth_ice40("module broken(input a; endmodule\n", "broken", tmp_path)
    assert not (tmp_path / "broken-stat.txt").exists()


def test_synth_ice40_counts_cells(tmp_path):
    from delaycore.boards.synth_ice40 import synth_ice40, cell_summary
    cells = synth_ice40("module add(input clk, input [7:0] a, b, output reg [8:0] s);\n"
                        "always @(posedge clk) s <= a + b;\nendmodule\n", "add", tmp_path)
    summary = cell_summary(cells)
    assert summary["flip_flops"] == 9 and summary["SB_CARRY"] >= 7 and summary["SB_LUT4"] >= 8
