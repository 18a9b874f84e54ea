"""Spike-level augmentation (delay_training.augment) and the front-end option of training:
each transform at its exact boundary, reproducibility, and that runs without them are unchanged."""

import pytest
import torch

from delay_training.augment import Augment, AugmentError
from delay_training.train import TrainConfig, front_end_record, make_config


def raster(b=6, t=30, c=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, t, c, generator=g) < 0.3).to(torch.uint8)


def shifted(x, dt, dc):
    """x moved by dt steps and dc channels, zero filled (the reference)."""
    out = torch.zeros_like(x)
    t, c = x.shape[-2:]
    for k in range(t):
        for j in range(c):
            if 0 <= k - dt < t and 0 <= j - dc < c:
                out[..., k, j] = x[..., k - dt, j - dc]
    return out


def test_off_is_the_identity_object():
    x = raster()
    assert Augment()(x, torch.Generator().manual_seed(1)) is x
    assert not Augment.parse("").active and Augment.parse("").text == ""


def test_channel_shift_is_an_exact_move_within_the_range():
    x = raster()
    y = Augment(shift=3)(x, torch.Generator().manual_seed(5))
    seen = set()
    for i in range(x.shape[0]):
        matches = [s for s in range(-3, 4) if torch.equal(y[i], shifted(x[i], 0, s))]
        assert matches, f"sample {i} is not a channel move of at most 3"
        seen.add(matches[0])
    assert len(seen) > 1                      # drawn per sample, not once per batch


def test_time_shift_reaches_both_ends_of_its_range():
    x = raster(b=64, t=12, c=5)
    y = Augment(time=2)(x, torch.Generator().manual_seed(0))
    seen = set()
    for i in range(x.shape[0]):
        seen |= {s for s in range(-2, 3) if torch.equal(y[i], shifted(x[i], s, 0))}
    assert {-2, 2} <= seen and seen <= set(range(-2, 3))


def test_stretch_resamples_time_by_nearest_step():
    x = raster(b=1, t=20, c=4)
    g = torch.Generator().manual_seed(3)
    y = Augment(stretch=0.5)(x, g)
    # recover the factor the generator drew and check every step against round(k / f)
    g = torch.Generator().manual_seed(3)
    f = 1 + (2 * torch.rand(1, 1, generator=g, dtype=torch.float64) - 1) * 0.5
    for k in range(20):
        src = int(torch.floor(k / f[0, 0] + 0.5))
        expect = x[0, src] if src < 20 else torch.zeros(4, dtype=x.dtype)
        assert torch.equal(y[0, k], expect), k


def test_mask_silences_one_contiguous_band_and_drop_thins():
    x = torch.ones(50, 3, 40, dtype=torch.uint8)
    y = Augment(mask=10)(x, torch.Generator().manual_seed(0))
    for i in range(50):
        zero = (y[i].sum(0) == 0).nonzero().flatten()
        assert len(zero) <= 10
        if len(zero):
            assert int(zero[-1] - zero[0]) + 1 == len(zero)            # one band
    assert any((y[i].sum(0) == 0).sum() == 10 for i in range(50))      # the full width occurs
    kept = Augment(drop=0.25)(torch.ones(20, 50, 50), torch.Generator().manual_seed(0)).mean()
    assert 0.73 < float(kept) < 0.77


def test_same_generator_seed_same_batch():
    a = Augment(shift=5, stretch=0.1, time=3, mask=4, drop=0.1)
    x = raster()
    assert torch.equal(a(x, torch.Generator().manual_seed(9)), a(x, torch.Generator().manual_seed(9)))
    assert not torch.equal(a(x, torch.Generator().manual_seed(9)), a(x, torch.Generator().manual_seed(10)))


@pytest.mark.parametrize("text, field", [("shift=-1", "shift"), ("stretch=1", "stretch"),
                                         ("drop=1.5", "drop"), ("jitter=2", "jitter"),
                                         ("shift", "shift"), ("shift=abc", "shift")])
def test_bad_settings_are_one_line_errors(text, field):
    with pytest.raises(AugmentError) as err:
        Augment.parse(text)
    assert field in str(err.value) and "\n" not in str(err.value)


def test_canonical_text_and_run_identity():
    assert Augment.parse(" stretch=0.10, shift=24 ").text == "shift=24,stretch=0.1"
    plain = make_config("fsdd-loso", sizes=(128,), test_speaker="george")
    aug = make_config("fsdd-loso", sizes=(128,), test_speaker="george", augment="shift=24")
    assert "augment" not in plain.identity() and "front_end" not in plain.identity()
    assert aug.identity()["augment"] == "shift=24" and aug.name != plain.name


def test_front_end_option_is_recorded_for_the_export():
    cfg = make_config("fsdd-loso", front_end="dynamic_range_db=50.0")
    assert cfg.front_end == "dynamic_range_db=50"
    assert front_end_record(cfg.task, cfg.front_end)["front_end"]["dynamic_range_db"] == 50
    assert front_end_record("fsdd")["front_end"]["dynamic_range_db"] == 30


@pytest.mark.parametrize("task, text, words", [("yinyang", "dynamic_range_db=50", "spoken-digit"),
                                               ("fsdd", "range=50", "expected NAME=VALUE"),
                                               ("fsdd", "dynamic_range_db=-5", "positive")])
def test_front_end_option_refuses_what_cannot_be(task, text, words):
    with pytest.raises(ValueError) as err:
        TrainConfig(task=task, front_end=text)
    assert words in str(err.value)
