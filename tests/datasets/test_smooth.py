"""The cochlea's smoothing across channels (CochleaConfig.smooth_erb): a Gaussian of `smooth_erb`
ERB on the envelopes, which blurs a voice's resolved pitch harmonics and keeps its formants;
spikes made without it are unchanged."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import CochleaConfig, channels_per_erb, normalised_level, smooth_channels


def test_channel_spacing_is_the_erb_rate_span():
    config = CochleaConfig()                     # 700 channels, 100-3800 Hz: 3.36 .. 26.68 ERB
    lo, hi = (21.4 * np.log10(1 + 0.00437 * f) for f in (100.0, 3800.0))
    assert channels_per_erb(config) == pytest.approx(699 / (hi - lo))
    assert channels_per_erb(CochleaConfig(n_channels=1)) == 1.0


def test_a_harmonic_comb_is_blurred_and_a_formant_kept():
    """Harmonics 4 channels apart (as a 120 Hz voice's are at a few hundred Hz with 700 channels)
    ride on a formant 60 channels wide: 1 ERB (about 30 channels) flattens the comb and keeps the
    formant's peak where it was."""
    c = np.arange(700)
    formant = np.exp(-0.5 * ((c - 250) / 60) ** 2)
    comb = formant * (1 + np.cos(2 * np.pi * c / 4)) / 2
    env = np.broadcast_to(comb, (1, 3, 700)).copy()
    out = smooth_channels(env, CochleaConfig(smooth_erb=1.0))
    assert out.shape == env.shape
    ripple = lambda x: np.abs(np.diff(x[0, 0, 200:300])).max() / x[0, 0, 200:300].max()
    assert ripple(env) > 0.5 and ripple(out) < 0.02
    assert abs(int(np.argmax(out[0, 0])) - 250) <= 2
    assert out.sum() == pytest.approx(env.sum(), rel=1e-6)          # reflected edges keep the energy


def test_sigma_is_smooth_erb_times_the_channel_spacing():
    config = CochleaConfig(n_channels=100, smooth_erb=0.5)
    env = np.zeros((1, 1, 100))
    env[0, 0, 50] = 1.0
    out = smooth_channels(env, config)[0, 0]
    sigma = np.sqrt(((np.arange(100) - 50) ** 2 * out).sum() / out.sum())
    assert sigma == pytest.approx(0.5 * channels_per_erb(config), rel=0.02)


def test_off_is_bit_identical_and_keeps_old_keys():
    env = np.random.default_rng(1).random((2, 10, 16)) ** 3
    assert np.array_equal(cochlea.encode(env, CochleaConfig(n_channels=16, smooth_erb=0)),
                          cochlea.encode(env, CochleaConfig(n_channels=16)))
    assert not np.array_equal(cochlea.encode(env, CochleaConfig(n_channels=16, smooth_erb=1)),
                              cochlea.encode(env, CochleaConfig(n_channels=16)))
    assert "smooth_erb" not in CochleaConfig().as_dict()
    assert CochleaConfig(smooth_erb=1).as_dict()["smooth_erb"] == 1
    assert CochleaConfig.with_overrides("smooth_erb=1.5").overrides_text() == "smooth_erb=1.5"
    assert normalised_level(np.zeros((1, 5, 8)), CochleaConfig(n_channels=8, n_steps=5, smooth_erb=1)).max() == 0


@pytest.mark.parametrize("value, ok", [(0, True), (4, True), (-0.01, False), (4.01, False)])
def test_smooth_erb_range(value, ok):
    if ok:
        assert CochleaConfig(smooth_erb=value).smooth_erb == value
    else:
        with pytest.raises(ValueError, match=r"smooth_erb must be in 0 \(off\) .. 4 ERB"):
            CochleaConfig(smooth_erb=value)
