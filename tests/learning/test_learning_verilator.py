"""The learning engine (LearningNetwork) on Verilator with cocotb, against GoldenLearner.

Two small configurations of verification/runners/learning_cosim.py's matrix, random backpressure on every stream,
everything read back after every phase. `python -m verification.runners.learning_cosim` (part of `make sim`) runs
the whole matrix.
"""

import pytest

from verification.runners.learning_cosim import matrix_cases, run, QUICK


@pytest.mark.parametrize("name", QUICK)
def test_learning_rtl_on_verilator(name):
    (case,) = matrix_cases(1, {name})
    r = run(case)
    assert r["passed"], (f"{case['name']} seed {case['seed']}: {r.get('error')} "
                         f"(first mismatch {r.get('first_mismatch')}; log {r['work_dir']})")
    assert r["compared"] == sum(len(o["reads"]) for o in case["ops"] if o["op"] == "check")
