"""The sequence demonstration (sw/onchip_learning/demos.py) replayed on the RTL (Verilator): the
first samples of `sequence_demo`'s run, in `learn_online`'s order, from all delays 0; after every
LEARN the learned delays and weights, the lfsr and the counter read back from the RTL equal the
golden trajectory, and so does every output item. `python -m verification.runners.learning_replay` runs the whole
demos (build/reports/onchip-rtl-*.json)."""

from verification.runners.learning_replay import replay

SAMPLES = 24


def test_sequence_demo_replays_bit_exactly_on_verilator():
    rep = replay("sequence", SAMPLES, seed=0, report=False, test_accuracy=True,
                 work_name="pytest-sequence")
    assert not rep["stalled"], rep
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["samples"] == SAMPLES
    assert rep["phases_compared"] == {"CLEAR": SAMPLES, "STEP": 32 * SAMPLES, "LEARN": SAMPLES}
    # per sample: 2 scores; 16 + 8 delays, 16 * 8 + 8 * 2 weights, lfsr, learned; then the image
    assert rep["readback_words_compared"] >= SAMPLES * (2 + 24 + 144 + 2)
    assert rep["output_items_compared"] == SAMPLES * (1 + 32 * 3)
    # the delays of the RTL moved away from 0, to a network that solves the task
    assert rep["delays_changed_by_rtl"] > 0 and rep["weights_changed_by_rtl"] == 0
    assert rep["test_accuracy_start"] == 0.5
    assert rep["test_accuracy_golden_network_on_rtl_image"] == 1.0


def test_sequence_replay_with_backpressure():
    """Random valid gaps and ready gaps on every stream change nothing but the cycle count."""
    rep = replay("sequence", 4, seed=0, valid_p=0.5, ready_p=0.5, report=False,
                 work_name="pytest-sequence-bp")
    assert not rep["stalled"] and rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["delays_changed_by_rtl"] > 0
