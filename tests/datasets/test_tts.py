"""Synthetic speakers (spike_datasets.tts): the option text, the speakers' draws, the exact trim and
level, the espeak-ng command line (through a stand-in executable, so these run without
espeak-ng), the cache of generated files, the training split they join, and, where espeak-ng is
installed (make install installs it), real synthesis."""

import shutil
import stat
import sys
import textwrap

import numpy as np
import pytest
import scipy.io.wavfile

from spike_datasets import tts
from spike_datasets.tts import ACCENTS, VARIANTS, TtsError, TtsSpec, Voice, parse_tts, trim, tts_text

PEAK = round(32767 * 10 ** (-1 / 20))          # -1 dBFS


def stand_in(tmp_path, body="", rate=22050, exit_code=0):
    """An executable taking espeak-ng's arguments: logs them and writes 0.1 s silence, 0.4 s of a
    1 kHz cosine, 0.1 s silence at `rate` to the -w file."""
    log = tmp_path / "calls.log"
    script = tmp_path / "espeak-ng"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, numpy as np, scipy.io.wavfile
        open({str(log)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
        {body}
        if {exit_code}:
            sys.stderr.write("voice not found\\n"); sys.exit({exit_code})
        r = {rate}
        t = np.arange(int(0.4 * r)) / r
        x = np.concatenate([np.zeros(int(0.1 * r)), 0.3 * np.cos(2 * np.pi * 1000 * t), np.zeros(int(0.1 * r))])
        scipy.io.wavfile.write(sys.argv[sys.argv.index("-w") + 1], r, (x * 32767).astype(np.int16))
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def test_option_text_round_trips_and_defaults():
    assert parse_tts("") == TtsSpec() and parse_tts(None).voices == 0
    spec = parse_tts(" voices=200 , takes=2 ")
    assert (spec.voices, spec.takes, spec.seed) == (200, 2, 0)
    assert tts_text(spec) == "voices=200,takes=2" and parse_tts(tts_text(spec)) == spec
    assert tts_text(parse_tts("voices=3,seed=4")) == "voices=3,takes=1,seed=4"
    assert tts_text(TtsSpec()) == ""
    noisy = parse_tts("voices=4,snr=10:40")
    assert noisy.snr_db == (10.0, 40.0) and tts_text(noisy) == "voices=4,takes=1,snr=10:40"
    assert noisy.noise().snr_db == (10.0, 40.0) and parse_tts("voices=4").noise() is None


@pytest.mark.parametrize("text, words", [
    ("voices=0", "voices=N with N >= 1"), ("takes=2", "voices=N with N >= 1"),
    ("voices=2001", "0..2000"), ("voices=5,takes=0", "1..10"), ("voices=5,takes=11", "1..10"),
    ("voices=-1", "whole number"), ("voices=2.5", "whole number"), ("speed=3", "NAME one of"),
    ("voices", "NAME=VALUE"), ("voices=3,snr=loud", "LO:HI"), ("voices=3,snr=40:10", "LO <= HI"),
    ("voices=3,snr=-20:10", "-10 <= LO"),
])
def test_bad_settings_are_one_line_errors(text, words):
    with pytest.raises(TtsError) as err:
        parse_tts(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_speakers_are_seeded_nested_and_in_range():
    many = TtsSpec(voices=300).speakers()
    assert TtsSpec(voices=20).speakers() == many[:20]
    assert TtsSpec(voices=20, seed=1).speakers() != many[:20]
    assert [v.name for v in many[:3]] == ["tts0", "tts1", "tts2"]
    assert all(110 <= v.wpm <= 210 and 15 <= v.pitch <= 85 for v in many)
    assert {v.accent for v in many} == set(ACCENTS)
    assert len({v.variant for v in many}) > len(VARIANTS) * 0.9
    assert min(v.wpm for v in many) < 120 and max(v.wpm for v in many) > 200


def test_takes_vary_speed_and_pitch_within_bounds():
    v = Voice(7, "en-us", "m3", 150, 50)
    takes = [v.take(t) for t in range(200)]
    assert all(135 <= wpm <= 165 and 44 <= p <= 56 for wpm, p in takes)
    assert len(set(takes)) > 50 and takes[3] == v.take(3)
    assert all(0 <= p <= 99 for _, p in (Voice(1, "en-us", "m3", 150, 0).take(t) for t in range(50)))
    assert all(0 <= p <= 99 for _, p in (Voice(1, "en-us", "m3", 150, 99).take(t) for t in range(50)))


def test_trim_keeps_the_word_and_a_10_ms_margin():
    x = np.zeros(8000)
    x[1000:2000] = 1.0
    x[3000] = 0.0101                      # 39.9 dB under the peak: part of the word
    assert trim(x).size == 3001 - 1000 + 2 * 80
    x[3000] = 0.0099                      # 40.1 dB under: silence
    y = trim(x)
    assert y.size == 1000 + 2 * 80 and y[80] == 1.0 and y[79] == 0.0
    x = np.zeros(500)
    x[10] = 1.0                           # margin clipped at the start of the file
    assert trim(x).size == 10 + 1 + 80
    assert trim(np.zeros(100)).size == 100


def test_synthesise_resamples_trims_and_levels(tmp_path):
    exe, log = stand_in(tmp_path)
    voice = Voice(3, "en-gb-scotland", "f2", 160, 40)
    x = tts.synthesise("seven", voice, 1, exe)
    wpm, pitch = voice.take(1)
    assert log.read_text().split() == ["-v", "en-gb-scotland+f2", "-s", str(wpm), "-p", str(pitch),
                                       "-w", log.read_text().split()[7], "seven"]
    assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK
    # 0.4 s at 8 kHz plus the margins; the resampling filter rings for under 2 ms at the tone's edges
    assert abs(x.size - (3200 + 2 * 80)) <= 16
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    assert np.argmax(spectrum) * 8000 / x.size == pytest.approx(1000, abs=5)


def test_synthesise_at_8_khz_is_not_resampled(tmp_path):
    exe, _ = stand_in(tmp_path, rate=8000)
    x = tts.synthesise("one", Voice(0, "en-us", "m1", 150, 50), 0, exe)
    assert x.size == 3200 + 2 * 80


def test_a_failing_or_missing_espeak_is_one_line(tmp_path, monkeypatch):
    exe, _ = stand_in(tmp_path, exit_code=1)
    with pytest.raises(TtsError) as err:
        tts.synthesise("two", Voice(0, "en-us", "m1", 150, 50), 0, exe)
    assert "voice not found" in str(err.value) and "-v en-us+m1 -s" in str(err.value)
    assert " -w" not in str(err.value)                          # no temporary file names
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(TtsError) as err:
        tts.espeak()
    assert "make install" in str(err.value) and "\n" not in str(err.value)


def test_generate_names_every_take_and_reuses_files(tmp_path, monkeypatch):
    exe, log = stand_in(tmp_path)
    monkeypatch.setattr(tts, "espeak", lambda: exe)
    spec = TtsSpec(voices=2, takes=2)
    paths = tts.generate(spec, tmp_path / "out", progress=False)
    assert [p.name for p in paths[:5]] == ["0_tts0_0.wav", "0_tts0_1.wav", "1_tts0_0.wav",
                                           "1_tts0_1.wav", "2_tts0_0.wav"]
    assert len(paths) == 2 * 10 * 2 and len(log.read_text().splitlines()) == 40
    rate, x = scipy.io.wavfile.read(paths[0])
    assert rate == 8000 and x.dtype == np.int16
    assert "zero" in log.read_text().splitlines()[0] and "nine" in log.read_text().splitlines()[-1]
    assert tts.generate(spec, tmp_path / "out", progress=False) == paths
    assert len(log.read_text().splitlines()) == 40               # nothing synthesised twice
    more = tts.generate(TtsSpec(voices=3, takes=2), tmp_path / "out", progress=False)
    assert more[:40] == paths and len(log.read_text().splitlines()) == 60   # only the third voice is new


def test_cache_folder_is_shared_by_specs_of_one_seed(monkeypatch):
    monkeypatch.setattr(tts, "_espeak_version", lambda: "eSpeak NG 1.51")
    assert tts.cache_key(TtsSpec(voices=2)) == tts.cache_key(TtsSpec(voices=500, takes=3))
    assert tts.cache_key(TtsSpec(voices=2)) != tts.cache_key(TtsSpec(voices=2, seed=1))
    key = tts.cache_key(TtsSpec(voices=2))
    monkeypatch.setattr(tts, "_espeak_version", lambda: "eSpeak NG 1.52")
    assert tts.cache_key(TtsSpec(voices=2)) != key                # a new espeak-ng, new audio
    monkeypatch.setattr(tts, "_espeak_version", lambda: "eSpeak NG 1.51")
    monkeypatch.setattr(tts, "VARIANTS", tts.VARIANTS[:-1])
    assert tts.cache_key(TtsSpec(voices=2)) != key                # other voices, new audio


def test_loso_with_tts_refuses_once_without_espeak(monkeypatch):
    from delay_training import loso
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(loso, "execute", lambda *a, **k: pytest.fail("runs started"))
    with pytest.raises(TtsError, match="make install"):
        loso.loso({"tts": "voices=2", "epochs": 1}, seeds=(0,), progress=False)


def test_training_split_gains_one_tts_speaker(tmp_path, monkeypatch):
    from delay_training.data import load_task
    exe, _ = stand_in(tmp_path)
    monkeypatch.setattr(tts, "espeak", lambda: exe)
    monkeypatch.setattr(tts, "_espeak_version", lambda: "stand-in")
    monkeypatch.setenv("DELAYSNN_CACHE", str(tmp_path / "cache"))
    config = "n_channels=16,n_steps=20"
    plain = load_task("fsdd-loso", test_speaker="george", front_end=config)
    more = load_task("fsdd-loso", test_speaker="george", front_end=config, tts="voices=2,takes=3")
    n = plain.train.n_samples
    assert more.train.n_samples == n + 2 * 10 * 3
    assert more.train.info["speakers"][-1] == "tts" and "tts" not in more.test.info["speakers"]
    assert (more.train.meta["speaker"][n:] == len(more.train.info["speakers"]) - 1).all()
    assert more.train.labels[n:].tolist() == [d for d in range(10) for _ in range(3)] * 2
    assert np.array_equal(more.train.spikes[:n], plain.train.spikes)
    assert np.array_equal(more.val.spikes, plain.val.spikes) and np.array_equal(more.test.spikes, plain.test.spikes)
    assert more.train.spikes[n:].sum() > 0
    noisy = load_task("fsdd-loso", test_speaker="george", front_end=config, tts="voices=2,takes=3,snr=0:0")
    assert noisy.train.spikes[n:].sum() > more.train.spikes[n:].sum()     # noise fills the silence
    assert np.array_equal(noisy.train.spikes[:n], plain.train.spikes)


def test_train_option_is_canonical_and_audio_only():
    from delay_training.train import TrainConfig
    cfg = TrainConfig(task="fsdd-loso", tts="takes=1, voices=50", epochs=1)
    assert cfg.tts == "voices=50,takes=1" and cfg.identity()["tts"] == "voices=50,takes=1"
    assert "tts" not in TrainConfig(task="fsdd-loso", epochs=1).identity()   # old checkpoints resume
    with pytest.raises(ValueError, match="spoken-digit"):
        TrainConfig(task="yinyang", tts="voices=5")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make install installs it)")
def test_real_espeak_voices_differ_and_sound_like_a_word():
    def f0(x):
        """Fundamental (Hz) of the 100 ms at the middle of the word, by autocorrelation."""
        seg = x[x.size // 2 - 400:x.size // 2 + 400].astype(np.float64)
        ac = np.correlate(seg, seg, "full")[seg.size - 1:]
        return 8000 / (16 + np.argmax(ac[16:200]))
    low = tts.synthesise("one", Voice(0, "en-us", "m3", 150, 20), 0)
    high = tts.synthesise("one", Voice(1, "en-gb", "f2", 150, 80), 0)
    for x in (low, high):
        assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK
        assert 0.25 < x.size / 8000 < 1.2
    assert 50 < f0(low) < 100 and f0(high) > 1.4 * f0(low)      # a voiced word at its own pitch
    assert np.array_equal(low, tts.synthesise("one", Voice(0, "en-us", "m3", 150, 20), 0))
