"""The RTL on Verilator (cocotb) against the golden model: the quick part of `make sim`.

One test per configuration runs its two cases in order (they share one Verilator build):
cycle-exact without backpressure, then random backpressure with state readback every step.
"""

import pytest

from verification.cases.matrix import full_matrix, QUICK
from verification.runners.cosim import run


@pytest.mark.parametrize("config_name", sorted(QUICK))
def test_rtl_matches_golden(config_name):
    cases = full_matrix(1, {config_name})
    assert len(cases) == 2
    for case in cases:
        r = run(case)
        assert r["passed"], (f"{case['name']} seed {case['seed']}: {r.get('error')} "
                             f"(first mismatch {r.get('first_mismatch')}; log {r['work_dir']})")
        assert r["outputs_checked"] == len(case["expect"]["outputs"])
