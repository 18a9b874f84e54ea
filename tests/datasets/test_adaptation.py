"""The cochlea's adaptation (CochleaConfig.adapt_ms, adapt_gain): a rise is answered at once, a
held level fades with the running mean's time constant, a constant colour goes, and spikes made
without it are unchanged (cache keys, manifests)."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import CochleaConfig, adapt_levels, normalised_level


def step(onset=5, t=40, c=3, level=1.0):
    """Scaled levels: channel 0 rises from 0 to `level` at `onset` and holds it."""
    scaled = np.zeros((1, t, c))
    scaled[0, onset:, 0] = level
    return scaled


@pytest.mark.parametrize("tau_ms", [10, 50, 100])
def test_a_held_level_fades_with_the_time_constant(tau_ms):
    cfg = CochleaConfig(n_channels=3, adapt_ms=tau_ms)
    out = adapt_levels(step(), cfg)
    alpha = 1 - np.exp(-1000 * cfg.dt / tau_ms)
    k = np.arange(35)
    assert out[0, :5].max() == 0                                 # nothing before the onset
    np.testing.assert_allclose(out[0, 5:, 0], (1 - alpha) ** k, rtol=1e-12, atol=1e-15)
    assert out[0, :, 1:].max() == 0                              # a silent channel stays silent


def test_half_the_gain_holds_half_the_level():
    out = adapt_levels(step(t=200), CochleaConfig(n_channels=3, adapt_ms=50, adapt_gain=0.5))
    assert out[0, 5, 0] == 1.0                                   # the onset is the peak
    assert out[0, -1, 0] == pytest.approx(0.5, abs=1e-9)         # then 1 - 0.5 x the level


def test_a_constant_colour_fades_and_a_change_stays():
    """A channel that is 0.3 louder throughout (voice or microphone colour) ends where its
    neighbour does; the later rise of one channel is answered in full."""
    scaled = np.full((1, 100, 2), 0.4)
    scaled[0, :, 1] += 0.3
    scaled[0, 60:, 0] += 0.5
    out = adapt_levels(scaled, CochleaConfig(n_channels=2, adapt_ms=50))
    assert abs(out[0, 55, 1] - out[0, 55, 0]) < 1e-3             # the colour has gone by step 55
    assert out[0, 60, 0] > 10 * out[0, 59, 0]                    # the rise stands out


def test_the_peak_is_one_again_and_silence_stays_silent():
    env = np.random.default_rng(3).random((2, 30, 16)) ** 3
    cfg = CochleaConfig(n_channels=16, adapt_ms=100)
    assert normalised_level(env, cfg).max(axis=(1, 2)) == pytest.approx([1.0, 1.0])
    assert normalised_level(np.zeros((1, 5, 16)), cfg).max() == 0


def test_off_is_bit_identical_and_keeps_old_keys():
    env = np.random.default_rng(1).random((2, 10, 16)) ** 3
    off, default = CochleaConfig(n_channels=16, adapt_ms=0), CochleaConfig(n_channels=16)
    assert np.array_equal(cochlea.encode(env, off), cochlea.encode(env, default))
    assert "adapt_ms" not in default.as_dict() and "adapt_gain" not in default.as_dict()
    on = CochleaConfig.with_overrides("adapt_ms=100,adapt_gain=0.5")
    assert on.as_dict()["adapt_ms"] == 100 and on.as_dict()["adapt_gain"] == 0.5
    assert on.overrides_text() == "adapt_ms=100,adapt_gain=0.5"
    assert CochleaConfig(**on.as_dict()) == on
    assert not np.array_equal(cochlea.encode(env, on), cochlea.encode(env, default))


@pytest.mark.parametrize("text, message", [
    ("adapt_ms=-5", "adapt_ms must be 0 .off. or 5..10000 ms"),
    ("adapt_ms=4", "adapt_ms must be 0 .off. or 5..10000 ms"),
    ("adapt_ms=20000", "adapt_ms must be 0 .off. or 5..10000 ms"),
    ("adapt_ms=100,adapt_gain=0", r"adapt_gain must be in \(0, 1\], got 0"),
    ("adapt_ms=100,adapt_gain=1.5", r"adapt_gain must be in \(0, 1\], got 1.5"),
    ("adapt_gain=0.5", r"adapt_gain=0.5 needs adapt_ms > 0"),
])
def test_impossible_settings_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        CochleaConfig.with_overrides(text)
