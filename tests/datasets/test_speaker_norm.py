"""The cochlea's speaker normalisation (CochleaConfig.speaker_norm): each recording's levels less
its speaker's long-term spectrum, the mean over his recordings in the set, so that a voice's and a
microphone's colour goes and the word stays; spikes made without it are unchanged."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import (CochleaConfig, cochlea_spikes, level_db, scaled_level, speaker_reference,
                                    voiced_spectrum)

SMALL = CochleaConfig(n_channels=32, n_steps=40, f_max=3800.0)


def test_reference_is_each_speakers_mean_shape_without_loudness():
    spectra = np.array([[0.0, 2.0, 4.0], [10.0, 12.0, 14.0],      # speaker a: one shape, 10 dB apart
                        [1.0, 1.0, 7.0]])                          # speaker b
    ref = speaker_reference(spectra, np.array([0, 0, 5]))
    assert np.allclose(ref[0], [-2, 0, 2]) and np.allclose(ref[1], [-2, 0, 2])
    assert np.allclose(ref[2], [-2, -2, 4])
    assert np.allclose(ref.mean(axis=1), 0)
    with pytest.raises(ValueError, match="one speaker per recording"):
        speaker_reference(spectra, np.array([0, 1]))


def test_a_microphone_colour_is_removed_exactly():
    """Speaker b says speaker a's words through a bumpy channel gain (not a polynomial, so tilt
    removal cannot take it): after speaker normalisation both give the same scaled levels; without
    it they do not."""
    rng = np.random.default_rng(0)
    env = 0.5 + rng.random((4, 20, 32))                           # every frame voiced
    colour = 10 ** (np.sin(np.arange(32) / 2.0) * 6 / 20)          # +-6 dB ripple
    config = CochleaConfig(n_channels=32, n_steps=20, speaker_norm=1)
    levels = level_db(np.concatenate([env, env * colour]), config)
    ref = speaker_reference(voiced_spectrum(levels, config), np.array([0] * 4 + [1] * 4))
    normed = scaled_level(levels, config, ref)
    assert np.allclose(normed[:4], normed[4:], atol=1e-9)
    plain = scaled_level(levels, config)
    assert np.abs(plain[:4] - plain[4:]).max() > 0.1


def test_spikes_depend_on_the_speakers_own_recordings_only():
    rng = np.random.default_rng(1)
    waves = [(rng.standard_normal(3000) * 3000 * (1 + i % 3)).astype(np.int16) for i in range(5)]
    config = CochleaConfig(n_channels=32, n_steps=40, speaker_norm=1)
    both = cochlea_spikes(waves, config, speakers=["a", "a", "a", "b", "b"])
    alone = cochlea_spikes(waves[:3], config, speakers=["a"] * 3)
    assert np.array_equal(both[:3], alone)                         # b's recordings do not move a's
    fewer = cochlea_spikes(waves[:2], config, speakers=["a"] * 2)
    assert not np.array_equal(both[:2], fewer)                     # a's third recording does
    with pytest.raises(ValueError, match="speaker of every recording"):
        cochlea_spikes(waves, config)
    with pytest.raises(ValueError, match="speaker of every recording"):
        cochlea_spikes(waves, config, speakers=["a"])


def ref_normalised_level(envelope, config):
    """The front end's levels as they were before speaker normalisation (commit bc96e8d), kept
    here as the reference that speaker_norm = 0 must reproduce bit for bit."""
    env = np.asarray(envelope, dtype=np.float64)
    if config.smooth_erb:
        env = cochlea.smooth_channels(env, config)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = 20 * np.log10(env)
        if config.tilt_degree:
            c = level.shape[2]
            peak = level.max(axis=(1, 2), keepdims=True)
            voiced = level.max(axis=2, keepdims=True) > peak - config.dynamic_range_db
            clipped = np.maximum(level, peak - config.dynamic_range_db - 20)
            spectrum = np.where(voiced, clipped, 0.0).sum(1) / np.maximum(voiced.sum(1), 1)
            basis = np.vander(np.linspace(-1, 1, c), config.tilt_degree + 1)
            fit = basis @ np.linalg.lstsq(basis, spectrum.T, rcond=None)[0]
            fit = fit.T - fit.T.mean(axis=1, keepdims=True)
            level = level - fit[:, None, :]
        peak = level.max(axis=(1, 2), keepdims=True)
        scaled = np.clip(1 + (level - peak) / config.dynamic_range_db, 0, 1)
    scaled = np.where(np.isfinite(peak), scaled, 0.0)
    return cochlea.stretch_span(scaled, config.span_steps) if config.span_steps else scaled


@pytest.mark.parametrize("settings", [{}, {"tilt_degree": 1}, {"tilt_degree": 2, "smooth_erb": 1.0, "span_steps": 20}])
def test_off_reproduces_the_levels_before_speaker_norm(settings):
    rng = np.random.default_rng(9)
    env = rng.random((3, 40, 32)) ** 4
    env[1] = 0                                                     # a silent recording
    config = CochleaConfig(n_channels=32, n_steps=40, **settings)
    assert np.array_equal(cochlea.normalised_level(env, config), ref_normalised_level(env, config))


def test_off_is_bit_identical_and_keeps_old_keys():
    rng = np.random.default_rng(2)
    waves = [(rng.standard_normal(3000) * 2000).astype(np.int16) for _ in range(3)]
    off = cochlea_spikes(waves, SMALL)
    assert np.array_equal(off, cochlea_spikes(waves, SMALL, speakers=["a", "b", "c"]))
    env = rng.random((2, 10, 16)) ** 3
    config = CochleaConfig(n_channels=16, n_steps=10)
    assert np.array_equal(cochlea.encode(env, config), cochlea.fire(scaled_level(level_db(env, config), config), config))
    # one recording per speaker: normalisation takes each recording's own shape off
    one_each = cochlea_spikes(waves, CochleaConfig(n_channels=32, n_steps=40, speaker_norm=1), speakers=["a", "b", "c"])
    assert not np.array_equal(off, one_each)
    assert "speaker_norm" not in CochleaConfig().as_dict()
    assert CochleaConfig(speaker_norm=1).as_dict()["speaker_norm"] == 1
    assert CochleaConfig.with_overrides("speaker_norm=1").overrides_text() == "speaker_norm=1"


def test_a_silent_recording_stays_silent():
    waves = [np.zeros(3000, np.int16), (np.random.default_rng(3).standard_normal(3000) * 2000).astype(np.int16)]
    out = cochlea_spikes(waves, CochleaConfig(n_channels=32, n_steps=40, speaker_norm=1), speakers=["a", "a"])
    assert out[0].sum() == 0 and out[1].sum() > 0


@pytest.mark.parametrize("value", [2, -1])
def test_speaker_norm_is_on_or_off(value):
    with pytest.raises(ValueError, match="speaker_norm must be 0"):
        CochleaConfig(speaker_norm=value)


def test_only_the_enrolled_and_voiced_recordings_make_the_reference():
    spectra = np.array([[0.0, 2.0, 4.0], [4.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 7.0]])
    ref = speaker_reference(spectra, np.array([0, 0, 0, 1]), counted=np.array([True, False, True, False]))
    assert np.allclose(ref[:3], [-2, 0, 2])          # the silent one (all 0) does not dilute it
    assert np.allclose(ref[3], 0)                    # a speaker without an enrolled word: no reference


def _waves(n, seed):
    rng = np.random.default_rng(seed)
    return [(np.convolve(rng.standard_normal(3000), rng.standard_normal(4 + i), "same") * 2000).astype(np.int16)
            for i in range(n)]


def test_enrolled_words_alone_set_a_speakers_spikes():
    """With `enrol`, changing a word that is not enrolled changes only that word's spikes; changing
    an enrolled one changes every word of its speaker."""
    config = CochleaConfig(n_channels=32, n_steps=40, speaker_norm=1)
    waves, other = _waves(4, 5), _waves(4, 6)
    enrol = [True, True, False, False]
    base = cochlea_spikes(waves, config, speakers=["u"] * 4, enrol=enrol)
    assert np.array_equal(base[:2], cochlea_spikes(waves[:2], config, speakers=["u"] * 2))
    test_changed = cochlea_spikes(waves[:3] + other[3:], config, speakers=["u"] * 4, enrol=enrol)
    assert np.array_equal(test_changed[:3], base[:3]) and not np.array_equal(test_changed[3], base[3])
    enrolled_changed = cochlea_spikes(other[:1] + waves[1:], config, speakers=["u"] * 4, enrol=enrol)
    assert not np.array_equal(enrolled_changed[2], base[2])
    with pytest.raises(ValueError, match="enrol marks 2 recordings, not 4"):
        cochlea_spikes(waves, config, speakers=["u"] * 4, enrol=[True, False])


def test_cache_key_names_speakers_and_enrolment_only_with_speaker_norm(tmp_path):
    import scipy.io.wavfile
    from spike_datasets.fsdd import Recording, cache_key
    recs = []
    for i, w in enumerate(_waves(3, 7)):
        path = tmp_path / f"{i}_x_{i}.wav"
        scipy.io.wavfile.write(path, 8000, w)
        recs.append(Recording(path, i, "x", i))
    moved = [Recording(r.path, r.digit, "y" if r.index == 2 else "x", r.index) for r in recs]
    off, on = CochleaConfig(), CochleaConfig(speaker_norm=1)
    assert cache_key(recs, off) == cache_key(moved, off) == cache_key(recs, off, enrol=[True, False, False])
    keys = {cache_key(recs, on), cache_key(moved, on), cache_key(recs, on, enrol=[True, False, False]),
            cache_key(recs, on, enrol=[True, True, False])}
    assert len(keys) == 4


def test_a_wav_folder_is_one_speaker_and_few_words_are_warned(tmp_path, capsys):
    import scipy.io.wavfile
    from hostlink.deployed import SPEAKER_NORM_WORDS, wav_samples
    waves = _waves(3, 8)
    for i, w in enumerate(waves):
        scipy.io.wavfile.write(tmp_path / f"{i}_me_{i}.wav", 8000, w)
    config = CochleaConfig(n_channels=32, n_steps=40, speaker_norm=1)
    samples = wav_samples(tmp_path, config, progress=False)
    expected = cochlea_spikes(waves, config, speakers=["me"] * 3)
    assert all(np.array_equal(s.spikes, e) for s, e in zip(samples, expected))
    err = capsys.readouterr().err
    assert "3 recording(s) make the speaker's reference" in err and f"fewer than {SPEAKER_NORM_WORDS}" in err
    wav_samples(tmp_path, CochleaConfig(n_channels=32, n_steps=40), progress=False)
    assert capsys.readouterr().err == ""
