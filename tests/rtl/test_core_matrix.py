"""The core against the golden model on the regression's quick configurations, on both engines.

`verilator`: the cocotb bench on Verilator runs each configuration's two cases in order (they
share one build): cycle-exact without backpressure, then random backpressure with state readback
every step (the quick part of `delaysnn check rtl`).
`amaranth`: the same cycle-exact case in amaranth.sim: every output item, the cycle it leaves the
core and the cycle each input word is taken equal the golden model and its schedule.
"""

import pytest

from amaranth_core import run_case
from verification.cases.matrix import full_matrix, QUICK
from verification.runners.cosim import run


def verilator(cases):
    for case in cases:
        r = run(case)
        assert r["passed"], (f"{case['name']} seed {case['seed']}: {r.get('error')} "
                             f"(first mismatch {r.get('first_mismatch')}; log {r['work_dir']})")
        assert r["outputs_checked"] == len(case["expect"]["outputs"])


def amaranth(cases):
    case = next(c for c in cases if c["mode"] == "cycle")
    r = run_case(case)
    want = case["expect"]
    seed = f"{case['name']} seed {case['seed']}"
    assert r["outputs"] == want["outputs"], seed
    assert r["output_cycles"] == want["output_cycles"], seed
    assert r["input_accept_cycles"] == want["input_accept_cycles"], seed


@pytest.mark.parametrize("engine", [verilator, amaranth], ids=["verilator", "amaranth"])
@pytest.mark.parametrize("config_name", sorted(QUICK))
def test_core_matches_golden(config_name, engine):
    cases = full_matrix(1, {config_name})
    assert len(cases) == 2
    engine(cases)
