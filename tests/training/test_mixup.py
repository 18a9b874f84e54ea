"""--mixup: spike blends of two recordings against the blend of their labels (mixup.py).

* every spike position of a blend holds the sample's or its partner's value at that position,
  the sample's share of positions follows its `lam`, the same (seed, epoch) gives the same blend;
* the loss is lam x CE(label) + (1 - lam) x CE(partner's label), computed here by hand;
* the option's name, identity, refusals, and a reproducible training run that differs from one
  without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from delay_training.mixup import Blend, blend, blend_loss, main_labels, mixup_generator
from delay_training.train import TrainConfig, make_config, train


def test_a_blend_takes_each_spike_from_the_sample_or_its_partner_at_that_position():
    """Sample i is all ones and every other sample all zeros except one marker channel, so the
    share of a blend's positions taken from each source can be read off exactly."""
    b, t, c = 8, 400, 40
    x = torch.zeros(b, t, c)
    for i in range(b):
        x[i, :, i] = 1            # channel i marks sample i
    y = torch.arange(b)
    mixed = blend(x, y, 0.4, mixup_generator(3, 0))
    partner = mixed.partner_labels        # labels are the sample indices here
    assert sorted(partner.tolist()) == list(range(b))     # a permutation of the batch
    assert torch.equal(mixed.labels, y)
    for i in range(b):
        out, j = mixed.spikes[i], int(partner[i])
        assert set(out.unique().tolist()) <= {0.0, 1.0}   # still a 0/1 raster
        others = [k for k in range(c) if k not in (i, j)]
        assert out[:, others].sum() == 0                  # nothing from a third sample
        if j != i:   # positions of channel i come from the sample, of channel j from the partner
            lam, tol = float(mixed.lam[i]), 4 * np.sqrt(0.25 / t)
            assert abs(float(out[:, i].mean()) - lam) < tol, (i, lam)
            assert abs(float(out[:, j].mean()) - (1 - lam)) < tol, (i, lam)
    assert bool(((mixed.lam > 0) & (mixed.lam < 1)).all())


def test_the_share_follows_the_beta_draw_and_the_seed():
    x = torch.ones(4000, 1, 1)
    y = torch.zeros(4000, dtype=torch.long)
    small = blend(x, y, 0.2, mixup_generator(0, 0)).lam
    large = blend(x, y, 8.0, mixup_generator(0, 0)).lam
    # Beta(a, a) has variance 1 / (4 (2a + 1)): 0.179 at a = 0.2, 0.0147 at a = 8
    assert abs(float(small.var()) - 1 / (4 * 1.4)) < 0.02
    assert abs(float(large.var()) - 1 / (4 * 17)) < 0.003
    assert abs(float(small.mean()) - 0.5) < 0.03
    x = torch.rand(6, 20, 10).round()
    y = torch.arange(6)
    a, a2 = blend(x, y, 0.4, mixup_generator(1, 2)), blend(x, y, 0.4, mixup_generator(1, 2))
    assert torch.equal(a.spikes, a2.spikes) and torch.equal(a.lam, a2.lam)
    assert not torch.equal(a.lam, blend(x, y, 0.4, mixup_generator(1, 3)).lam)   # next epoch


def test_the_loss_is_the_blend_of_the_two_cross_entropies():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    mixed = Blend(torch.zeros(2, 1, 1), torch.tensor([2, 1]), torch.tensor([0, 2]),
                  torch.tensor([0.7, 0.2]))
    logp = torch.log_softmax(logits, 1)
    by_hand = ((0.7 * -logp[0, 2] + 0.3 * -logp[0, 0]) + (0.2 * -logp[1, 1] + 0.8 * -logp[1, 2])) / 2
    assert torch.allclose(blend_loss(logits, mixed), by_hand, atol=1e-6, rtol=0)
    # with label smoothing, each cross-entropy is the smoothed one
    smooth = lambda k: 0.9 * -logp[:, k] + 0.1 * -logp.mean(1)
    by_hand = ((0.7 * smooth(2)[0] + 0.3 * smooth(0)[0]) + (0.2 * smooth(1)[1] + 0.8 * smooth(2)[1])) / 2
    assert torch.allclose(blend_loss(logits, mixed, 0.1), by_hand, atol=1e-6, rtol=0)
    assert main_labels(mixed).tolist() == [2, 2]


def test_the_option_is_named_only_when_on_and_refused_outside_its_range():
    cfg = make_config("delaytask", mixup=0.4)
    assert cfg.identity()["mixup"] == 0.4 and "mix0.4" in cfg.name
    off = make_config("delaytask")
    assert "mixup" not in off.identity() and "mix" not in off.name
    for alpha in (-0.1, 10.5):
        with pytest.raises(ValueError, match=f"--mixup {alpha:g}: expected a Beta shape alpha in \\[0, 10\\]"):
            TrainConfig(task="delaytask", mixup=alpha)
    with pytest.raises(ValueError, match="--speaker-adversary with --mixup: a blend holds two speakers"):
        TrainConfig(task="fsdd-loso", mixup=0.4, speaker_adversary=0.5)


def test_a_mixup_run_is_reproducible_and_not_the_plain_run(tmp_path):
    def run(tag, **kw):
        out = tmp_path / tag
        cfg = make_config("seqdet", epochs=2, seed=4, n_train=200, out=str(out),
                          report=str(out / "r.json"), plots=False, **kw)
        return [{k: v for k, v in h.items() if k != "epoch_s"} for h in train(cfg, progress=False)["history"]]
    first, again, plain = run("a", mixup=0.4), run("b", mixup=0.4), run("c")
    assert first == again
    assert [h["train_loss"] for h in first] != [h["train_loss"] for h in plain]
