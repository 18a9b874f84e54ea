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


@pytest.mark.parametrize("speed", [0.9, 1.1, 1.25])
def test_speed_scales_length_and_every_frequency(speed):
    x = tone(1000.0)
    y = Perturbation(speed=speed).apply(x, 0)
    assert abs(y.size - x.size / speed) <= 1
    assert peak_hz(y) == pytest.approx(1000.0 * speed, abs=2.0)


def test_noise_is_at_the_requested_snr_and_seeded_per_recording():
    x = tone(500.0, seconds=4.0)
    p = Perturbation(snr_db=20.0)
    y = p.apply(x, 7)
    clean = x.astype(np.float32) / 32768.0
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((y - clean) ** 2))
    assert snr == pytest.approx(20.0, abs=0.1)
    assert np.array_equal(y, p.apply(x, 7)) and not np.array_equal(y, p.apply(x, 8))


def test_option_text():
    copies = parse_voices(" speed=0.9:1.1 , snr=20 ")
    assert copies == (Perturbation(0.9, 20.0), Perturbation(1.1, 20.0))
    assert voices_text(copies) == "speed=0.9:1.1,snr=20"
    assert voices_text(parse_voices("snr=15")) == "snr=15" and parse_voices("") == ()


@pytest.mark.parametrize("text, words", [("speed=1", "differ"), ("speed=0.9:0.9", "differ"),
                                         ("speed=3", "[0.5, 2]"), ("pitch=2", "expected speed"),
                                         ("speed=fast", "numbers"), ("snr=100", "[-10, 80]")])
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
    assert cache_key(recs, cfg, Perturbation(speed=1.1)) != cache_key(recs, cfg)
    assert cache_key(recs, cfg, Perturbation(speed=1.1)) != cache_key(recs, cfg, Perturbation(speed=0.9))
