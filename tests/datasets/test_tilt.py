"""The cochlea's tilt removal (CochleaConfig.tilt_degree): a microphone's smooth colour goes, a
formant peak stays, and spikes made without it are unchanged (cache keys, manifests)."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import CochleaConfig, normalised_level, remove_tilt


def levels(slope_db=12.0, n=2, t=30, c=60, formant=None):
    """dB levels with a linear tilt of `slope_db` across the channels, all frames loud."""
    rng = np.random.default_rng(0)
    x = np.linspace(-1, 1, c)
    level = -10 + slope_db * x[None, None, :] + rng.normal(0, 0.5, (n, t, c))
    if formant is not None:
        level[:, :, formant] += 15
    return level


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_a_linear_tilt_is_removed(degree):
    cfg = CochleaConfig(n_channels=60, tilt_degree=degree)
    flat = remove_tilt(levels(12.0), cfg)
    slope = np.polyfit(np.linspace(-1, 1, 60), flat[0].mean(0), 1)[0]
    assert abs(slope) < 0.2                      # was 12 dB from one end to the middle


def test_a_formant_peak_survives():
    cfg = CochleaConfig(n_channels=60, tilt_degree=1)
    flat = remove_tilt(levels(12.0, formant=30), cfg)
    spectrum = flat[0].mean(0)
    assert spectrum[30] - np.median(spectrum) > 13


def test_off_is_bit_identical_and_keeps_old_keys():
    env = np.random.default_rng(1).random((2, 10, 16)) ** 3
    off, default = CochleaConfig(n_channels=16, tilt_degree=0), CochleaConfig(n_channels=16)
    assert np.array_equal(cochlea.encode(env, off), cochlea.encode(env, default))
    assert "tilt_degree" not in default.as_dict()
    assert CochleaConfig(tilt_degree=1).as_dict()["tilt_degree"] == 1
    assert CochleaConfig.with_overrides("tilt_degree=1").overrides_text() == "tilt_degree=1"


def test_silence_stays_silent():
    cfg = CochleaConfig(n_channels=8, tilt_degree=2)
    assert normalised_level(np.zeros((1, 5, 8)), cfg).max() == 0


@pytest.mark.parametrize("degree", [-1, 4])
def test_degree_out_of_range(degree):
    with pytest.raises(ValueError, match="tilt_degree"):
        CochleaConfig(tilt_degree=degree)
