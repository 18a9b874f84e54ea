"""delay_training.shift_study: each front end's channels move within their own block with zero
fill; the three uses of the shift (chosen by margin, by labels, averaged) pick what they say on
scores built to separate them; bad options are one line."""

import numpy as np
import pytest

from delay_training import shift_study as st


def ramp(n_channels: int) -> np.ndarray:
    return (np.arange(n_channels, dtype=np.uint8) + 1)[None, None, :].repeat(2, axis=1)   # [1, 2, C]


def test_a_shift_moves_each_block_on_its_own_and_fills_with_zeros():
    x = ramp(7)                                                   # blocks of 4 and 3: 1 2 3 4 | 5 6 7
    assert st.shift_channels(x, 0, [4, 3]).tolist() == x.tolist()
    assert st.shift_channels(x, 1, [4, 3])[0, 0].tolist() == [0, 1, 2, 3, 0, 5, 6]
    assert st.shift_channels(x, -2, [4, 3])[0, 0].tolist() == [3, 4, 0, 0, 7, 0, 0]
    assert st.shift_channels(x, 3, [4, 3])[0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0]   # the edge of a block
    assert not st.shift_channels(x, 9, [4, 3]).any()               # past every block: silence
    with pytest.raises(ValueError, match="do not cover 7"):
        st.shift_channels(x, 1, [4, 4])


def test_margin_is_the_gap_between_the_two_best_standardised_scores():
    scores = np.array([[0, 0, 10, 4], [1, 1, 1, 1]])
    m = st.normalised_margin(scores)
    z = (np.array([0, 0, 10, 4]) - 3.5) / np.array([0, 0, 10, 4]).std()
    assert m[0] == pytest.approx(z[2] - z[3])
    assert m[1] == 0.0                                             # all equal: no margin, no division by 0


def one_hot(labels, n=10, high=5.0, low=0.0):
    s = np.full((len(labels), n), low)
    s[np.arange(len(labels)), labels] = high
    return s


def test_the_three_uses_pick_what_they_say():
    """Shift +6 is right on every sample but barely (small margin); shift -6 is confident and
    right on half; 0 is right on half with a middling margin. By margin: -6; by labels: +6; the
    average of the standardised scores follows the confident shift where it is confident."""
    y = np.arange(10)
    wrong = (y + 1) % 10
    half = np.where(y < 5, y, wrong)
    scores = {6: one_hot(y, high=1.0) + one_hot(wrong, high=0.9),      # right, margin small
              -6: one_hot(half, high=50.0),                           # half right, margin large
              0: one_hot(half, high=5.0) + one_hot(np.where(y < 5, wrong, y), high=4.0)}
    out = st.summarise(scores, y)
    assert out["per_shift"]["6"]["acc"] == 1.0 and out["per_shift"]["-6"]["acc"] == 0.5
    assert out["unshifted"] == 0.5
    assert out["margin"] == {"shift": -6, "acc": 0.5}
    assert out["oracle"] == {"shift": 6, "acc": 1.0}
    assert out["average"]["acc"] == 0.5


def test_ties_between_shifts_go_to_the_smallest_shift():
    y = np.arange(10)
    scores = {s: one_hot(y) for s in (-12, -6, 0, 6, 12)}
    out = st.summarise(scores, y)
    assert out["margin"]["shift"] == 0 and out["oracle"]["shift"] == 0
    del scores[0]
    out = st.summarise(scores, y)
    assert out["margin"]["shift"] == -6 and out["oracle"]["shift"] == -6 and out["unshifted"] is None


@pytest.mark.parametrize("argv, message", [
    (["x", "--shifts=-6,6"], "with 0 among them (the unshifted figure checks the report)"),
    (["x", "--shifts", "0,a"], "--shifts '0,a': expected channel shifts"),
    (["x", "--seeds", "0,b"], "--seeds '0,b': expected training seeds"),
    (["no-such-report"], "loso-no-such-report.json"),
])
def test_bad_options_are_one_line(argv, message):
    with pytest.raises(SystemExit) as e:
        st.main(argv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_average_weighs_each_shift_alike_whatever_its_scale():
    """Shift 0 scores in the thousands and prefers the wrong class by 1 %; shift 6 in units and
    prefers the right one clearly. Raw sums would follow shift 0; standardised ones follow 6."""
    y = np.arange(10)
    wrong = (y + 1) % 10
    scores = {0: one_hot(wrong, high=1000.0) + one_hot(y, high=990.0), 6: one_hot(y, high=5.0)}
    assert (sum(scores.values()).argmax(axis=1) == y).mean() == 0.0
    assert st.summarise(scores, y)["average"]["acc"] == 1.0
