"""The cochlea's noise floor (CochleaConfig.denoise_pct, denoise_over_db): a steady hiss goes, a
word far above it stays, the floor is taken only over the steps a recording fills, the
over-subtraction sits exactly where the spec puts it, and spikes made without it are unchanged
(cache keys, manifests)."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import CochleaConfig, cochlea_spikes, frames_heard, subtract_noise_floor


def test_a_steady_hiss_goes_and_a_word_above_it_stays():
    env = np.full((1, 40, 2), 0.01)
    env[0, 10:20, 0] = 1.0                                        # a word in channel 0
    cfg = CochleaConfig(n_channels=2, denoise_pct=10)             # floor 0.01, 6 dB over
    out = subtract_noise_floor(env, np.array([40]), cfg)
    assert out[0, :, 1].max() == 0                                # hiss only: nothing left
    assert out[0, :10, 0].max() == 0 and out[0, 20:, 0].max() == 0
    gain = 10 ** 0.6
    np.testing.assert_allclose(out[0, 10:20, 0], np.sqrt(1 - gain * 0.01 ** 2), rtol=1e-6)


def test_the_floor_is_taken_over_the_heard_steps_only():
    """20 steps of hiss, then 20 of zero padding: counting the padding would put the 10th
    percentile at 0 and leave the hiss."""
    env = np.zeros((1, 40, 1))
    env[0, :20, 0] = 0.5
    cfg = CochleaConfig(n_channels=1, denoise_pct=10)
    assert subtract_noise_floor(env, np.array([20]), cfg).max() == 0
    np.testing.assert_array_equal(subtract_noise_floor(env, np.array([40]), cfg), env)


@pytest.mark.parametrize("over_db", [0.0, 6.0, 12.0])
def test_the_over_subtraction_boundary(over_db):
    """A frame exactly at the raised floor gives 0, one just above it gives more than 0."""
    floor, gain = 0.1, 10 ** (over_db / 10)
    edge = floor * np.sqrt(gain)
    env = np.full((1, 50, 1), floor)
    env[0, 40, 0], env[0, 41, 0] = edge, edge * 1.001
    out = subtract_noise_floor(env, np.array([50]), CochleaConfig(n_channels=1, denoise_pct=20,
                                                                   denoise_over_db=over_db))
    assert out[0, 40, 0] == pytest.approx(0, abs=1e-7)
    assert out[0, 41, 0] == pytest.approx(np.sqrt((edge * 1.001) ** 2 - gain * floor ** 2), rel=1e-6)
    assert out[0, 41, 0] > 0


def test_each_recording_has_its_own_floor():
    env = np.stack([np.full((30, 1), 0.1), np.full((30, 1), 0.2)])
    env[1, 5, 0] = 1.0
    out = subtract_noise_floor(env, np.array([30, 30]), CochleaConfig(n_channels=1, denoise_pct=10))
    assert out[0].max() == 0
    assert out[1, 5, 0] == pytest.approx(np.sqrt(1 - 10 ** 0.6 * 0.04), rel=1e-6)


def test_frames_heard_counts_whole_steps_within_the_window():
    cfg = CochleaConfig(n_channels=4)                             # hop 80 samples, 100 steps
    waves = [np.zeros(n) for n in (0, 79, 80, 159, 160, 8000, 100_000)]
    np.testing.assert_array_equal(frames_heard(waves, cfg), [1, 1, 1, 1, 2, 100, 100])


def test_hiss_spikes_go_and_a_tone_stays_end_to_end():
    """A tone in white noise through the whole front end: with the noise floor on, the channels
    away from the tone fall silent and the tone's channel keeps firing."""
    rng = np.random.default_rng(0)
    t = np.arange(6000) / 8000
    tone = np.where((t > 0.25) & (t < 0.5), np.sin(2 * np.pi * 1000 * t), 0.0)
    wave = ((tone + 0.05 * rng.standard_normal(t.size)) * 8000).astype(np.int16)
    base = dict(n_channels=16, f_min=200.0, f_max=3500.0)
    cfgs = CochleaConfig(**base), CochleaConfig(**base, denoise_pct=20)
    plain, clean = (cochlea_spikes([wave], c)[0].astype(float) for c in cfgs)
    tone_ch = int(np.argmin(abs(cochlea.centre_frequencies(cfgs[0]) - 1000)))
    far = [c for c in range(16) if abs(c - tone_ch) > 4]
    assert clean[:, far].sum() < 0.2 * plain[:, far].sum()        # the hiss goes
    assert clean[25:50, tone_ch].sum() >= 0.8 * plain[25:50, tone_ch].sum()


def test_off_is_bit_identical_and_keeps_old_keys():
    env = np.random.default_rng(1).random((2, 10, 16)) ** 3
    waves = [np.random.default_rng(2).standard_normal(3000).astype(np.float32)]
    off, default = CochleaConfig(n_channels=16, denoise_pct=0), CochleaConfig(n_channels=16)
    assert np.array_equal(cochlea.encode(env, off), cochlea.encode(env, default))
    assert np.array_equal(cochlea_spikes(waves, off), cochlea_spikes(waves, default))
    assert "denoise_pct" not in default.as_dict() and "denoise_over_db" not in default.as_dict()
    on = CochleaConfig.with_overrides("denoise_pct=10,denoise_over_db=3")
    assert on.as_dict()["denoise_pct"] == 10 and on.as_dict()["denoise_over_db"] == 3
    assert on.overrides_text() == "denoise_pct=10,denoise_over_db=3"
    assert CochleaConfig(**on.as_dict()) == on


@pytest.mark.parametrize("text, message", [
    ("denoise_pct=-1", r"denoise_pct must be 0 \(off\) .. 50 \(the median frame\), got -1"),
    ("denoise_pct=51", r"denoise_pct must be 0 \(off\) .. 50 \(the median frame\), got 51"),
    ("denoise_pct=10,denoise_over_db=-1", "denoise_over_db must be in 0..20 dB, got -1"),
    ("denoise_pct=10,denoise_over_db=21", "denoise_over_db must be in 0..20 dB, got 21"),
    ("denoise_over_db=3", "denoise_over_db=3 needs denoise_pct > 0"),
    ("denoise_pct=ten", "denoise_pct='ten': expected a number"),
])
def test_impossible_settings_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        CochleaConfig.with_overrides(text)
