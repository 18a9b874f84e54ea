"""Perturbed copies of recordings (spike_datasets.voices): the physics of each perturbation at
its exact figures, the option text, and that the cache of the unperturbed spikes is unchanged."""

import numpy as np
import pytest

from spike_datasets import CochleaConfig
from spike_datasets.fsdd import Recording, cache_key
from spike_datasets.voices import Perturbation, VoicesError, parse_voices, voices_text


def tone(freq=1000.0, seconds=1.0, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(x, rate=8000):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.argmax(spectrum) * rate / x.size


def fixed(speed=1.0, tilt=0.0, snr=None):
    """A Perturbation whose draws are exactly these values (the ranges' upper ends)."""
    class Fixed(Perturbation):
        def draw(self, index):
            return speed, tilt, snr
    return Fixed(speed=abs(speed - 1), tilt=abs(tilt), snr_db=None if snr is None else (snr, snr))


@pytest.mark.parametrize("speed", [0.9, 1.1, 1.25])
def test_speed_scales_length_and_every_frequency(speed):
    x = tone(1000.0)
    y = fixed(speed=speed).apply(x, 0)
    assert abs(y.size - x.size / speed) <= 1
    assert peak_hz(y) == pytest.approx(1000.0 * speed, abs=2.0)


def test_tilt_brightens_or_darkens_and_keeps_the_rms():
    x = (tone(300.0).astype(np.float64) + tone(3000.0)).astype(np.int16)
    clean = x / 32768.0
    for a, brighter in ((0.8, True), (-0.8, False)):
        y = fixed(tilt=a).apply(x, 0)
        spec = np.abs(np.fft.rfft(y))
        ratio = spec[3000] / spec[300]                    # 1 Hz bins: 8000 samples at 8 kHz
        assert (ratio > 1.5) if brighter else (ratio < 1 / 1.5)
        assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(clean ** 2)), rel=1e-4)


def test_noise_is_at_the_drawn_snr_and_seeded_per_recording():
    x = tone(500.0, seconds=4.0)
    y = fixed(snr=20.0).apply(x, 7)
    clean = x.astype(np.float32) / 32768.0
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((y - clean) ** 2))
    assert snr == pytest.approx(20.0, abs=0.1)
    p = Perturbation(snr_db=(10.0, 30.0))
    assert np.array_equal(p.apply(x, 7), p.apply(x, 7)) and not np.array_equal(p.apply(x, 7), p.apply(x, 8))


def test_draws_cover_their_ranges_and_differ_between_copies():
    a, b = parse_voices("copies=2,speed=0.1,tilt=0.5,snr=10:30")
    draws = np.array([a.draw(i) for i in range(400)], dtype=float)
    assert draws[:, 0].min() == pytest.approx(0.9, abs=0.011) and draws[:, 0].max() == pytest.approx(1.1, abs=0.011)
    assert -0.5 <= draws[:, 1].min() < -0.45 and 0.45 < draws[:, 1].max() <= 0.5
    assert 10 <= draws[:, 2].min() < 11 and 29 < draws[:, 2].max() <= 30
    assert a.draw(3) != b.draw(3)


def test_option_text():
    copies = parse_voices(" speed=0.1 , copies=2, snr=20 ")
    assert copies == (Perturbation(speed=0.1, snr_db=(20.0, 20.0), copy=0),
                      Perturbation(speed=0.1, snr_db=(20.0, 20.0), copy=1))
    assert voices_text(copies) == "copies=2,speed=0.1,snr=20:20"
    assert voices_text(parse_voices("tilt=0.5")) == "copies=1,tilt=0.5" and parse_voices("") == ()


@pytest.mark.parametrize("text, words", [("copies=2", "change something"), ("speed=0.6", "[0, 0.5]"),
                                         ("tilt=1", "[0, 1)"), ("pitch=2", "NAME=VALUE"),
                                         ("speed=fast", "a number"), ("snr=30:10", "LO <= HI"),
                                         ("copies=0,speed=0.1", "1..10"), ("copies=1.5,tilt=0.1", "whole")])
def test_bad_voices_are_one_line_errors(text, words):
    with pytest.raises(VoicesError) as err:
        parse_voices(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_cache_key_of_unperturbed_spikes_is_unchanged(tmp_path):
    path = tmp_path / "0_x_0.wav"
    path.write_bytes(b"RIFF")
    recs = [Recording(path, 0, "x", 0)]
    cfg = CochleaConfig(n_channels=8)
    assert cache_key(recs, cfg) == cache_key(recs, cfg, None)
    assert cache_key(recs, cfg, Perturbation(speed=0.1)) != cache_key(recs, cfg)
    assert cache_key(recs, cfg, Perturbation(speed=0.1)) != cache_key(recs, cfg, Perturbation(speed=0.1, copy=1))


def test_training_split_gains_its_perturbed_copies(monkeypatch):
    """delay_training.data.with_voices: the training recordings, then one copy per perturbation,
    in the same order with the same labels; the copies' spikes are those of the perturbed audio."""
    import torch
    import spike_datasets.fsdd as fsdd
    from delay_training.data import with_voices
    every = fsdd.list_recordings()
    few = [r for r in every if r.index in (0, 5, 6) and r.digit in (1, 2)
           and r.speaker in ("george", "jackson")]
    monkeypatch.setattr(fsdd, "list_recordings", lambda root=None: few)
    cfg = CochleaConfig(n_channels=16, n_steps=40)
    chosen = [few[i] for i in fsdd.split_indices(few, "train", "speaker", "george")]
    train = fsdd.encode_recordings(chosen, cfg, cache=False, progress=False)
    copies = parse_voices("copies=2,speed=0.1,snr=20:30")
    out = with_voices(train, copies, cfg, "speaker", "george", progress=False)
    n = len(chosen)
    assert n == 4 and out.n_samples == 3 * n
    assert torch.equal(out.labels, train.labels.repeat(3))
    assert torch.equal(out.spikes[:n], train.spikes)
    second = fsdd.encode_recordings(chosen, cfg, cache=False, progress=False, perturbation=copies[1])
    assert torch.equal(out.spikes[2 * n:], second.spikes)
    assert not torch.equal(out.spikes[n:2 * n], train.spikes)
