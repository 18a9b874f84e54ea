"""The wider-readout study (onchip_learning.readout_bits_study): a b-bit readout computes exactly
what the ternary one did, pair R then steps inside the b-bit rails, and bad options are one line."""

import pytest
import torch

from golden_model import CoreConfig, random_params
from golden_model.learning import LearnRegisters
from onchip_learning import readout_bits_study as S
from onchip_learning.fast_pair_r import FastPairR, delayed, readout_scores
from onchip_learning.presets import FSDD_REGS


def small(seed=5, shift=7):
    cfg = CoreConfig(n_in=12, sizes=(16,), n_out=4, weight_bits=2, ternary=True, depth=8, v_bits=24)
    p = random_params(cfg, seed, threshold_scale=0.3)
    p.layers[-1].weight_shift = shift
    return p


def spikes(seed=2, n=6, T=30, h=16, p=0.3):
    return torch.rand(n, T, h, generator=torch.Generator().manual_seed(seed)) < p


def scores(params, s):
    return readout_scores(delayed(s, params.layers[0].delay.to(torch.int64)), params)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_a_wider_readout_computes_the_same_scores(bits):
    p, s = small(), spikes()
    w = S.widen_readout(p, bits)
    assert torch.equal(scores(w, s), scores(p, s))
    assert torch.equal(w.layers[-1].weight, p.layers[-1].weight * (1 << (bits - 2)))
    assert w.layers[-1].weight_shift == 7 - (bits - 2)
    assert w.config.weight_range == ((-1, 1) if bits == 2 else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
    assert torch.equal(w.layers[0].weight, p.layers[0].weight)          # the hidden layer is untouched


def test_pair_r_steps_finer_and_stays_within_the_rails():
    p, s = small(), spikes(n=8)
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    regs = LearnRegisters(**FSDD_REGS)
    order = list(range(8)) * 3
    for bits, lr in ((2, 4), (4, 2), (8, 0)):
        q = S.run_variant(p, regs, s, labels, order, bits, lr)
        w = q.layers[-1].weight
        lo, hi = q.config.weight_range
        assert lo <= int(w.min()) and int(w.max()) <= hi
        assert not torch.equal(w, S.widen_readout(p, bits).layers[-1].weight)   # it learned
        if bits == 8:
            assert int(w.max()) == hi or int(w.min()) == lo                       # a rail is met
            assert bool((w % (1 << 6) != 0).any())                               # off the ternary grid
    # two bits at lr 4 is exactly the replica of the engine
    F = FastPairR(p, LearnRegisters(**dict(FSDD_REGS, lr_shift_R=4)), s)
    for i in order:
        F.learn_sample(i, labels[i])
    assert torch.equal(F.params.layers[-1].weight, S.run_variant(p, regs, s, labels, order, 2, 4).layers[-1].weight)


@pytest.mark.parametrize("bits", [4, 8])
def test_the_delays_learn_exactly_as_with_the_ternary_readout(bits):
    # the delay gradient sums readout weights: it grows with the width, and so must the threshold
    from golden_model.learning import LEARN_ON, LEARN_D_R
    p, s = small(), spikes(n=8)
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    regs = LearnRegisters(**dict(FSDD_REGS, enable=LEARN_ON | LEARN_D_R, delay_thresh_R=20))
    order = list(range(8)) * 3
    ternary = S.run_variant(p, regs, s, labels, order, 2, 8)
    wide = S.run_variant(p, regs, s, labels, order, bits, 8)
    assert not torch.equal(ternary.layers[0].delay, p.layers[0].delay)          # delays moved
    assert torch.equal(wide.layers[0].delay, ternary.layers[0].delay)


def test_summary_means_over_folds_and_seeds():
    rows = [dict(bits=4, lr_shift_R=16, margin=16384, seed=s, speaker_after=a, others_before=0.9, others_after=o)
            for s, a, o in ((0, 0.8, 0.9), (0, 0.9, 0.88), (1, 1.0, 0.85))]
    (got,) = S.summary(rows)
    assert got["speaker"] == pytest.approx(0.9) and got["folds"] == 3
    assert got["forgotten_points"] == pytest.approx(100 * (0 + 0.02 + 0.05) / 3)
    assert got["worst_forgotten_points"] == pytest.approx(5.0)
    assert got["per_seed"] == {0: pytest.approx(0.85), 1: pytest.approx(1.0)}


@pytest.mark.parametrize("argv, message", [
    (["--variants", "4-16"], "expected bits:lr_shift_R[:margin]"),
    (["--variants", "9:16"], "bits in 2..8"),
    (["--variants", "2:19:-1"], "a margin >= 0"),
    (["--variants", "2:19:1:2"], "a margin >= 0"),
    (["--seeds", "a"], "comma-separated integers"),
    (["--run", "build/train/x"], "a template with {speaker} and {seed}"),
    (["--run", "x-{speaker}-s{seed}-{name}"], "only {speaker} and {seed} may be in braces"),
    (["--speakers", "bob"], "bob not among the FSDD speakers"),
])
def test_bad_options_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        S.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_a_margin_past_the_register_makes_a_right_word_teach():
    # every sample right by more than the preset's margin: nothing learns; a margin beyond the
    # largest score gap makes every word a near miss
    p, s = small(), spikes(n=8)
    labels = [int(v) for v in scores(p, s).argmax(1)]
    regs = LearnRegisters(**dict(FSDD_REGS, margin=0))
    order = list(range(8))
    same = S.run_variant(p, regs, s, labels, order, 2, 4)
    assert torch.equal(same.layers[-1].weight, p.layers[-1].weight)
    moved = S.run_variant(p, regs, s, labels, order, 2, 4, margin=1 << 40)
    assert not torch.equal(moved.layers[-1].weight, p.layers[-1].weight)
    assert S.parse_variants("2:19,4:16:262144") == [(2, 19, None), (4, 16, 262144)]


def test_a_readout_shift_too_small_for_the_width_is_one_line():
    with pytest.raises(S.StudyError, match="weight_shift 3: too small for 8 bits"):
        S.widen_readout(small(shift=3), 8)
