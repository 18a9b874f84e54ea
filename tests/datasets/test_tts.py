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
from spike_datasets.accents import ENGLISH, L1S, accent_words, final_stress
from spike_datasets.tts import (ACCENTS, FESTIVAL_VOICES, FLITE_VOICES, VARIANTS, FestivalVoice, FliteVoice,
                                TtsError, TtsSpec, Voice, parse_tts, trim, tts_text)

PEAK = round(32767 * 10 ** (-1 / 20))          # -1 dBFS


def mid_f0(x):
    """Fundamental (Hz) of the 100 ms at the middle of a word at 8 kHz, by autocorrelation."""
    seg = x[x.size // 2 - 400:x.size // 2 + 400].astype(np.float64)
    ac = np.correlate(seg, seg, "full")[seg.size - 1:]
    return 8000 / (16 + np.argmax(ac[16:200]))


def stand_in(tmp_path, body="", rate=22050, exit_code=0):
    """An executable taking espeak-ng's or flite's arguments: logs them and writes 0.1 s silence,
    0.4 s of a 1 kHz cosine, 0.1 s silence at `rate` to the -w (espeak-ng) or -o (flite) file."""
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
        flag = "-w" if "-w" in sys.argv else "-o"
        scipy.io.wavfile.write(sys.argv[sys.argv.index(flag) + 1], r, (x * 32767).astype(np.int16))
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
    both = parse_tts("flite=30,voices=20,snr=10:40")
    assert (both.voices, both.flite) == (20, 30) and tts_text(both) == "voices=20,flite=30,takes=1,snr=10:40"
    assert parse_tts(tts_text(both)) == both and tts_text(parse_tts("flite=5")) == "voices=0,flite=5,takes=1"
    assert tts_text(parse_tts("voices=200,snr=10:40")) == "voices=200,takes=1,snr=10:40"   # old runs' names
    accented = parse_tts("accented=7,flite=2,voices=3,takes=2")
    assert accented.accented == 7 and tts_text(accented) == "voices=3,flite=2,accented=7,takes=2"
    assert parse_tts(tts_text(accented)) == accented
    assert tts_text(parse_tts("accented=4")) == "voices=0,accented=4,takes=1"
    festival = parse_tts("festival=9,flite=2,voices=3,takes=2,snr=10:40")
    assert festival.festival == 9 and tts_text(festival) == "voices=3,flite=2,festival=9,takes=2,snr=10:40"
    assert parse_tts(tts_text(festival)) == festival and tts_text(parse_tts("festival=1")) == "voices=0,festival=1,takes=1"


@pytest.mark.parametrize("text, words", [
    ("voices=0", "voices=N, flite=N, accented=N or festival=N with N >= 1"),
    ("takes=2", "festival=N with N >= 1"),
    ("voices=0,flite=0,accented=0,festival=0",
     "--tts 'voices=0,flite=0,accented=0,festival=0': expected voices=N, flite=N, accented=N or festival=N with N >= 1"),
    ("festival=2001", "festival=2001: expected a whole number in 0..2000"), ("festival=x", "whole number"),
    ("flite=2001", "flite=2001: expected a whole number in 0..2000"),
    ("accented=2001", "accented=2001: expected a whole number in 0..2000"), ("accented=x", "whole number"),
    ("flite=x", "whole number"),
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


def test_flite_speakers_are_seeded_nested_and_in_range():
    many = TtsSpec(flite=300).flite_speakers()
    assert TtsSpec(flite=20).flite_speakers() == many[:20] and TtsSpec(flite=20, seed=1).flite_speakers() != many[:20]
    assert TtsSpec(voices=5).flite_speakers() == [] and TtsSpec(flite=5).speakers() == []
    assert [v.name for v in many[:2]] == ["flite0", "flite1"] and {v.voice for v in many} == set(FLITE_VOICES)
    assert all(0.82 <= v.formant <= 1.22 and round(v.formant, 2) == v.formant for v in many)
    assert all(85 <= v.f0 <= 250 and 0.8 <= v.stretch <= 1.3 for v in many)
    assert min(v.formant for v in many) < 0.85 and max(v.formant for v in many) > 1.18
    takes = [many[0].take(t) for t in range(200)]
    assert all(0.9 * many[0].stretch <= s <= 1.1 * many[0].stretch for s, _ in takes)
    assert all(0.92 * many[0].f0 <= f <= 1.08 * many[0].f0 for _, f in takes)
    assert len(set(takes)) == 200 and takes[3] == many[0].take(3)


def test_accented_speakers_are_seeded_nested_and_in_range():
    many = TtsSpec(accented=300).accented_speakers()
    assert TtsSpec(accented=20).accented_speakers() == many[:20]
    assert TtsSpec(accented=20, seed=1).accented_speakers() != many[:20]
    assert TtsSpec(voices=5).accented_speakers() == [] and TtsSpec(accented=5).speakers() == []
    assert [v.name for v in many[:2]] == ["acc0", "acc1"]
    assert {v.l1 for v in many} == set(L1S) and {v.accent for v in many} == set(ACCENTS)
    assert all(0.4 <= v.strength <= 1.0 and len(v.phonemes) == 10 for v in many)
    assert min(v.strength for v in many) < 0.45 and max(v.strength for v in many) > 0.95
    assert all(110 <= v.wpm <= 210 and 15 <= v.pitch <= 85 for v in many)
    # an accent changes some words and leaves others: "two" has no sound any rule touches
    assert all(v.phonemes[2] == "t'u:" for v in many)
    assert sum(v.phonemes != ENGLISH for v in many) > 280
    v = many[5]
    assert v.phonemes == accent_words(v.l1, v.strength, [0, v.index, 0xACC, 1])


@pytest.mark.parametrize("l1, words", [
    ("german", {0: ("ts'eIroU", "s'eIroU"), 1: ("v'0n", "v'an"), 3: ("sr'i:",), 5: ("f'aIf",),
                8: ("'eIt",), 9: ("n'aIn",)}),
    ("french", {3: ("sr'i:", "tr'i:"), 6: ("s'i:ks",), 7: ("sEv'En",), 8: ("'Et",), 9: ("n'aIn",),
                0: ("zEr'0",)}),
    ("spanish", {7: ("s'EbEn",), 5: ("f'aIb",), 0: ("s'EroU",)}),
    ("portuguese", {6: ("s'i:ksi",), 8: ("'eIti",), 7: ("s'EvEN",), 3: ("fr'i:", "tr'i:", "sr'i:")}),
    ("japanese", {7: ("s'EbUn",), 5: ("f'aIbU",), 6: ("s'i:ksU",), 3: ("sl'i:",)}),
    ("mandarin", {9: ("n'aIN",), 5: ("f'aIw",), 3: ("sl'i:", "fl'i:")}),
])
def test_accent_rules_at_full_strength(l1, words):
    """Strength 1 keeps every rule: the L1's habits, and /ɪ/, schwa and the glides of aI, eI, i@
    told apart (nine keeps its aI; eight's eI is one vowel)."""
    for seed in range(8):
        got = accent_words(l1, 1.0, [seed])
        for digit, allowed in words.items():
            assert got[digit] in allowed, (seed, digit, got[digit])


def test_accent_strength_zero_is_english_and_one_draw_per_rule():
    for l1 in L1S:
        assert accent_words(l1, 0.0, [3]) == ENGLISH
    # a half-strength accent keeps some rules: between English and the full accent
    strong, weak = accent_words("french", 1.0, [5]), accent_words("french", 0.5, [5])
    assert strong != weak != ENGLISH
    assert final_stress("s'Ev@n") == "sEv'@n" and final_stress("t'u:") == "t'u:"
    assert final_stress("zEr'0") == "zEr'0" and final_stress("'Et") == "'Et"


def test_accented_command_reads_phonemes_in_an_english_voice(tmp_path):
    exe, log = stand_in(tmp_path)
    voice = TtsSpec(accented=1).accented_speakers()[0]
    tts.synthesise("seven", voice, 2, exe)
    wpm, pitch = voice.take(2)
    args = log.read_text().split()
    assert args == ["-v", f"{voice.accent}+{voice.variant}", "-s", str(wpm), "-p", str(pitch),
                    "-w", args[7], f"[[{voice.phonemes[7]}]]"]


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


def test_flite_command_line_and_vocal_tract_scaling(tmp_path):
    """A voice with formant 1.25 is read at 1.25 times its rate: the 1 kHz tone comes out at
    1.25 kHz and 0.4 s / 1.25 long; flite is asked for the drawn stretch and pitch pre-scaled."""
    exe, log = stand_in(tmp_path, rate=16000)
    voice = FliteVoice(2, "slt", 1.25, 200.0, 1.1)
    x = tts.synthesise("eight", voice, 4, exe)
    stretch, f0 = voice.take(4)
    args = log.read_text().split()
    assert args == ["-voice", "slt", "--setf", f"duration_stretch={stretch * 1.25:.4f}",
                    "--setf", f"int_f0_target_mean={f0 / 1.25:.2f}", "-o", args[7], "-t", "eight"]
    assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK
    assert abs(x.size - (2560 + 2 * 80)) <= 16
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    assert np.argmax(spectrum) * 8000 / x.size == pytest.approx(1250, abs=5)
    plain = tts.synthesise("eight", FliteVoice(2, "slt", 1.0, 200.0, 1.1), 4, exe)
    assert abs(plain.size - (3200 + 2 * 80)) <= 16                  # formant 1: only 16 -> 8 kHz


def test_a_failing_or_missing_flite_is_one_line(tmp_path, monkeypatch):
    exe, _ = stand_in(tmp_path, exit_code=1)
    with pytest.raises(TtsError) as err:
        tts.synthesise("two", FliteVoice(0, "awb", 1.0, 120.0, 1.0), 0, exe)
    assert str(err.value).startswith("flite failed on -voice awb --setf") and "voice not found" in str(err.value)
    assert " -o" not in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "flite" else f"/usr/bin/{name}")
    assert tts.missing_engines(TtsSpec(voices=2, flite=2)) == ["flite"]
    assert tts.missing_engines(TtsSpec(voices=2)) == []
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert tts.missing_engines(TtsSpec(voices=2, flite=2)) == ["espeak-ng", "flite"]
    with pytest.raises(TtsError, match="needs the Debian package.s. flite, not installed: run `make install`"):
        tts.check_engines(TtsSpec(flite=2))


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


def test_a_file_is_reused_only_under_the_recipe_it_was_made_with(tmp_path, monkeypatch):
    """The cache folder's key holds the engine's version and the voice lists, not each speaker's
    draws: a changed draw (here the take's speed formula) with no version bumped must make new
    audio for exactly the takes whose command changed; a file with no record (made before records
    were kept) is made again once."""
    exe, log = stand_in(tmp_path)
    monkeypatch.setattr(tts, "espeak", lambda: exe)
    calls = lambda: len(log.read_text().splitlines())
    spec = TtsSpec(voices=2)
    paths = tts.generate(spec, tmp_path / "out", progress=False)
    assert calls() == 20
    record = tmp_path / "out" / ".tts0.recipes.json"
    import json
    made = json.loads(record.read_text())
    assert sorted(made) == sorted(p.name for p in paths[:10])
    assert made["3_tts0_0.wav"] == tts.take_recipe(spec.speakers()[0], "three", 0)
    tts.generate(spec, tmp_path / "out", progress=False)
    assert calls() == 20                                       # same recipes: nothing made again
    # another speed for take 0 of tts1 only: its ten files are made again, tts0's are not
    original = Voice.take
    monkeypatch.setattr(Voice, "take", lambda self, take: (original(self, take)[0] + (self.index == 1),
                                                           original(self, take)[1]))
    tts.generate(spec, tmp_path / "out", progress=False)
    lines = log.read_text().splitlines()[20:]
    assert len(lines) == 10 and all("Voice" not in line for line in lines)
    assert [line.split(" -s ")[1].split()[0] for line in lines] == \
        [str(original(spec.speakers()[1], 0)[0] + 1)] * 10
    monkeypatch.setattr(Voice, "take", original)
    # a file whose record is gone is made again once, then reused
    record.unlink()
    tts.generate(spec, tmp_path / "out", progress=False)
    tts.generate(spec, tmp_path / "out", progress=False)
    assert calls() == 20 + 10 + 10 + 10                          # tts1 back to its old speed, tts0 once
    assert json.loads(record.read_text()) == made


def test_generate_flite_speakers(tmp_path, monkeypatch):
    exe, log = stand_in(tmp_path, rate=16000)
    monkeypatch.setattr(tts, "flite", lambda: exe)
    paths = tts.generate(TtsSpec(voices=3, flite=2), tmp_path / "out", progress=False, engine="flite")
    assert [p.name for p in paths[:3]] == ["0_flite0_0.wav", "1_flite0_0.wav", "2_flite0_0.wav"]
    assert len(paths) == 2 * 10 and len(log.read_text().splitlines()) == 20
    assert "-voice" in log.read_text().splitlines()[0] and log.read_text().splitlines()[0].endswith("-t zero")


def test_generate_accented_speakers(tmp_path, monkeypatch):
    exe, log = stand_in(tmp_path)
    monkeypatch.setattr(tts, "espeak", lambda: exe)
    paths = tts.generate(TtsSpec(voices=3, accented=2), tmp_path / "out", progress=False, engine="accented")
    assert [p.name for p in paths[:2]] == ["0_acc0_0.wav", "1_acc0_0.wav"] and len(paths) == 20
    lines = log.read_text().splitlines()
    assert len(lines) == 20 and all(line.endswith("]]") and "[[" in line for line in lines)
    monkeypatch.setattr(tts, "_espeak_version", lambda: "eSpeak NG 1.51")
    key = tts.accented_cache_key(TtsSpec(accented=2))
    assert key == tts.accented_cache_key(TtsSpec(voices=4, accented=90)) != tts.cache_key(TtsSpec(voices=2))
    from spike_datasets import accents
    monkeypatch.setitem(accents.RULES, "german", accents.RULES["german"][:-1])
    assert tts.accented_cache_key(TtsSpec(accented=2)) != key      # other rules, new audio
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "espeak-ng" else f"/usr/bin/{name}")
    assert tts.missing_engines(TtsSpec(accented=2)) == ["espeak-ng"]
    assert tts.missing_engines(TtsSpec(flite=2)) == []


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
    monkeypatch.setattr(tts, "_flite_version", lambda: "flite-2.2")
    flite_key = tts.flite_cache_key(TtsSpec(flite=2))
    assert flite_key == tts.flite_cache_key(TtsSpec(voices=7, flite=90)) != key
    monkeypatch.setattr(tts, "FLITE_VOICES", tts.FLITE_VOICES[:-1])
    assert tts.flite_cache_key(TtsSpec(flite=2)) != flite_key     # other flite voices, new audio


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
    monkeypatch.setattr(tts, "missing_engines", lambda spec: [])
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


def stand_in_engines(tmp_path, monkeypatch):
    """Every engine replaced by a stand-in and counted as installed."""
    exe, _ = stand_in(tmp_path)
    festival, _ = festival_stand_in(tmp_path)
    for name, value in (("espeak", exe), ("flite", exe), ("text2wave", festival), ("_espeak_version", "stand-in"),
                        ("_flite_version", "stand-in flite"), ("_festival_version", "stand-in festival")):
        monkeypatch.setattr(tts, name, lambda value=value: value)
    monkeypatch.setattr(tts, "missing_engines", lambda spec: [])
    monkeypatch.setenv("DELAYSNN_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("first, second, key", [
    ("voices=2", "flite=3", tts.flite_cache_key), ("flite=2", "festival=3", tts.festival_cache_key)])
def test_a_later_engines_speakers_follow_the_earlier_ones(tmp_path, monkeypatch, first, second, key):
    """espeak-ng, then flite, then festival: adding an engine appends its speakers and leaves the
    others' spikes as they were; each engine's audio in its own cache folder."""
    from delay_training.data import load_task
    stand_in_engines(tmp_path, monkeypatch)
    config = "n_channels=16,n_steps=20"
    plain = load_task("fsdd-loso", test_speaker="george", front_end=config)
    first_only = load_task("fsdd-loso", test_speaker="george", front_end=config, tts=first)
    both = load_task("fsdd-loso", test_speaker="george", front_end=config, tts=f"{first},{second}")
    second_only = load_task("fsdd-loso", test_speaker="george", front_end=config, tts=second)
    n, m = plain.train.n_samples, first_only.train.n_samples
    assert (both.train.n_samples, second_only.train.n_samples) == (m + 30, n + 30)
    assert np.array_equal(both.train.spikes[:m], first_only.train.spikes)       # the earlier engine unchanged
    assert np.array_equal(both.train.spikes[m:], second_only.train.spikes[n:])
    assert both.train.spikes[m:].sum() > 0 and both.train.labels[m:].tolist() == list(range(10)) * 3
    assert both.train.info["speakers"][-1] == "tts" and (both.train.meta["speaker"][n:] == len(both.train.info["speakers"]) - 1).all()
    assert sum(p.parent.name == key(parse_tts(second)) for p in (tmp_path / "cache" / "tts").glob("*/0_*_0.wav")) == 3


def test_train_option_is_canonical_and_audio_only():
    from delay_training.train import TrainConfig
    cfg = TrainConfig(task="fsdd-loso", tts="takes=1, voices=50", epochs=1)
    assert cfg.tts == "voices=50,takes=1" and cfg.identity()["tts"] == "voices=50,takes=1"
    assert "tts" not in TrainConfig(task="fsdd-loso", epochs=1).identity()   # old checkpoints resume
    with pytest.raises(ValueError, match="spoken-digit"):
        TrainConfig(task="yinyang", tts="voices=5")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make install installs it)")
def test_real_espeak_voices_differ_and_sound_like_a_word():
    low = tts.synthesise("one", Voice(0, "en-us", "m3", 150, 20), 0)
    high = tts.synthesise("one", Voice(1, "en-gb", "f2", 150, 80), 0)
    for x in (low, high):
        assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK
        assert 0.25 < x.size / 8000 < 1.2
    assert 50 < mid_f0(low) < 100 and mid_f0(high) > 1.4 * mid_f0(low)      # a voiced word at its own pitch
    assert np.array_equal(low, tts.synthesise("one", Voice(0, "en-us", "m3", 150, 20), 0))


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (make install installs it)")
@pytest.mark.parametrize("name", FLITE_VOICES)
def test_real_flite_voices_follow_their_pitch_and_vocal_tract(name):
    """Every voice speaks a word, deterministically, at the length asked for whatever its scale;
    every voice but rms at the pitch asked for (rms keeps its own, as tts.py says)."""
    low = tts.synthesise("one", FliteVoice(0, name, 1.0, 110.0, 1.0), 0)
    high = tts.synthesise("one", FliteVoice(0, name, 1.0, 220.0, 1.0), 0)
    short = tts.synthesise("one", FliteVoice(0, name, 1.2, 220.0, 1.0), 0)
    for x in (low, high, short):
        assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK and 0.2 < x.size / 8000 < 1.2
    if name == "rms":
        assert np.array_equal(low, high)
    else:
        assert 1.5 < mid_f0(high) / mid_f0(low) < 2.5                      # the pitch asked for, as heard
    assert 0.85 < short.size / high.size < 1.15                    # stretch pre-scaled: same length
    assert np.array_equal(low, tts.synthesise("one", FliteVoice(0, name, 1.0, 110.0, 1.0), 0))


def festival_stand_in(tmp_path, rate=16000):
    """An executable taking text2wave's arguments: logs them and its standard input as JSON and
    writes 0.4 s of a 1 kHz cosine at `rate` to the -o file."""
    log = tmp_path / "festival.log"
    script = tmp_path / "text2wave"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys, numpy as np, scipy.io.wavfile
        open({str(log)!r}, "a").write(json.dumps([sys.argv[1:], sys.stdin.read()]) + "\\n")
        t = np.arange(int(0.4 * {rate})) / {rate}
        x = 0.3 * np.cos(2 * np.pi * 1000 * t)
        scipy.io.wavfile.write(sys.argv[sys.argv.index("-o") + 1], {rate}, (x * 32767).astype(np.int16))
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def logged(log):
    import json
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_festival_speakers_are_seeded_nested_and_in_range():
    many = TtsSpec(festival=300).festival_speakers()
    assert TtsSpec(festival=20).festival_speakers() == many[:20]
    assert TtsSpec(festival=20, seed=1).festival_speakers() != many[:20]
    assert TtsSpec(flite=5).festival_speakers() == [] and TtsSpec(festival=5).flite_speakers() == []
    assert [v.name for v in many[:2]] == ["fest0", "fest1"] and {v.voice for v in many} == set(FESTIVAL_VOICES)
    assert all(0.82 <= v.formant <= 1.22 and 85 <= v.f0 <= 250 and 0.8 <= v.stretch <= 1.3 for v in many)
    assert min(v.formant for v in many) < 0.85 and max(v.formant for v in many) > 1.18
    takes = [many[0].take(t) for t in range(200)]
    assert all(0.9 * many[0].stretch <= s <= 1.1 * many[0].stretch for s, _ in takes)
    assert all(0.92 * many[0].f0 <= f <= 1.08 * many[0].f0 for _, f in takes)
    assert len(set(takes)) == 200 and takes != [FliteVoice(*vars(many[0]).values()).take(t) for t in range(200)]


def test_festival_command_line_stdin_and_vocal_tract_scaling(tmp_path):
    """A diphone voice is asked for the drawn duration and pitch pre-scaled by the formant scale;
    the HTS voice for the inverse of the duration as its speed rate; the word goes to stdin; a
    formant 1.25 voice comes out 1.25x higher and shorter."""
    exe, log = festival_stand_in(tmp_path)
    diphone = FestivalVoice(4, "ked_diphone", 1.25, 200.0, 1.1)
    x = tts.synthesise("eight", diphone, 3, exe)
    stretch, f0 = diphone.take(3)
    (args, stdin), = logged(log)
    assert args == ["-eval", "(voice_ked_diphone)", "-eval",
                    f"(begin (Parameter.set 'Duration_Stretch {stretch * 1.25:.4f}) (set! int_lr_params "
                    f"(cons (list 'target_f0_mean {f0 / 1.25:.2f}) int_lr_params)))", "-o", args[5]]
    assert stdin == "eight\n"
    assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK and abs(x.size - 2560) <= 16   # 0.4 s / 1.25
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    assert np.argmax(spectrum) * 8000 / x.size == pytest.approx(1250, abs=5)
    hts = FestivalVoice(5, "cmu_us_slt_arctic_hts", 0.9, 120.0, 1.2)
    tts.synthesise("two", hts, 0, exe)
    stretch, _ = hts.take(0)
    args, stdin = logged(log)[1]
    assert args[:4] == ["-eval", "(voice_cmu_us_slt_arctic_hts)", "-eval",
                        f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {1 / (stretch * 0.9):.4f}))))']
    assert stdin == "two\n"


def test_a_failing_or_missing_festival_is_one_line(tmp_path, monkeypatch):
    script = tmp_path / "text2wave"
    # as the real text2wave does on an unknown voice: SIOD's error, exit status 0, no file
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('SIOD ERROR: unbound variable :\\n  voice_ked_diphone\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(TtsError) as err:
        tts.synthesise("two", FestivalVoice(0, "ked_diphone", 1.0, 120.0, 1.0), 0, str(script))
    assert str(err.value).startswith("festival failed on -eval (voice_ked_diphone)")
    assert str(err.value).endswith("'two': SIOD ERROR: unbound variable : voice_ked_diphone")
    assert "\n" not in str(err.value) and " -o" not in str(err.value)
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "text2wave" else f"/usr/bin/{name}")
    monkeypatch.setattr(tts, "FESTIVAL_VOICE_DIR", tmp_path / "voices")
    (tmp_path / "voices" / "english" / "kal_diphone").mkdir(parents=True)
    (tmp_path / "voices" / "us" / "cmu_us_slt_arctic_hts").mkdir(parents=True)
    assert tts.missing_engines(TtsSpec(voices=2, festival=1)) == ["festival", "festvox-kdlpc16k"]
    assert tts.missing_engines(TtsSpec(voices=2)) == []
    with pytest.raises(TtsError) as err:
        tts.check_engines(TtsSpec(festival=2))
    assert str(err.value) == ("--tts needs the Debian package(s) festival, festvox-kdlpc16k, not installed: run "
                              "`make install` (it installs them) or `apt-get install festival festvox-kdlpc16k`")
    with pytest.raises(TtsError, match="needs text2wave, which is not installed: run `make install` "
                                       r"\(it installs the Debian package festival\)"):
        tts.text2wave()


def test_generate_festival_speakers_and_their_cache_folder(tmp_path, monkeypatch):
    exe, log = festival_stand_in(tmp_path)
    monkeypatch.setattr(tts, "text2wave", lambda: exe)
    paths = tts.generate(TtsSpec(flite=3, festival=2, takes=2), tmp_path / "out", progress=False, engine="festival")
    assert [p.name for p in paths[:3]] == ["0_fest0_0.wav", "0_fest0_1.wav", "1_fest0_0.wav"] and len(paths) == 40
    assert [stdin for _, stdin in logged(log)[:3]] == ["zero\n", "zero\n", "one\n"]
    monkeypatch.setattr(tts, "_festival_version", lambda: "festival 2.5.0")
    monkeypatch.setattr(tts, "_flite_version", lambda: "flite-2.2")
    key = tts.festival_cache_key(TtsSpec(festival=2))
    assert key == tts.festival_cache_key(TtsSpec(voices=7, festival=90)) != tts.flite_cache_key(TtsSpec(flite=2))
    assert tts.festival_cache_key(TtsSpec(festival=2, seed=1)) != key
    monkeypatch.setattr(tts, "FESTIVAL_VOICES", dict(list(FESTIVAL_VOICES.items())[:2]))
    assert tts.festival_cache_key(TtsSpec(festival=2)) != key      # other voices, new audio


def _festival_installed() -> bool:
    return shutil.which("text2wave") is not None and not tts.missing_engines(TtsSpec(festival=1))


@pytest.mark.skipif(not _festival_installed(), reason="festival or its voices not installed (make install installs them)")
@pytest.mark.parametrize("name", FESTIVAL_VOICES)
def test_real_festival_voices_follow_their_pitch_and_vocal_tract(name):
    """Every voice speaks a word, deterministically, at the length asked for whatever its scale;
    the diphone voices at the pitch asked for (the HTS voice keeps its own, as tts.py says)."""
    low = tts.synthesise("one", FestivalVoice(0, name, 1.0, 110.0, 1.0), 0)
    high = tts.synthesise("one", FestivalVoice(0, name, 1.0, 220.0, 1.0), 0)
    short = tts.synthesise("one", FestivalVoice(0, name, 1.2, 220.0, 1.0), 0)
    slow = tts.synthesise("one", FestivalVoice(0, name, 1.0, 220.0, 1.3), 0)
    for x in (low, high, short, slow):
        assert x.dtype == np.int16 and int(np.abs(x).max()) == PEAK and 0.15 < x.size / 8000 < 1.2
    if name.endswith("_hts"):
        assert np.array_equal(low, high)
    else:
        assert 1.5 < mid_f0(high) / mid_f0(low) < 2.5                      # the pitch asked for, as heard
    assert 0.85 < short.size / high.size < 1.15                    # stretch pre-scaled: same length
    assert 1.15 < slow.size / high.size < 1.45                     # 1.3x the duration
    assert np.array_equal(low, tts.synthesise("one", FestivalVoice(0, name, 1.0, 110.0, 1.0), 0))


def test_training_with_a_missing_festival_voice_refuses_before_synthesising(tmp_path, monkeypatch):
    """`delaysnn train --tts festival=N` (not only loso) names the missing voice package in one
    line, before any audio is made or cached."""
    from delay_training.data import load_task
    monkeypatch.setattr(tts, "FESTIVAL_VOICE_DIR", tmp_path / "voices")
    (tmp_path / "voices" / "english" / "kal_diphone").mkdir(parents=True)
    (tmp_path / "voices" / "english" / "ked_diphone").mkdir(parents=True)
    monkeypatch.setattr(tts, "generate", lambda *a, **k: pytest.fail("audio made"))
    monkeypatch.setenv("DELAYSNN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(TtsError) as err:
        load_task("fsdd-loso", test_speaker="george", front_end="n_channels=16,n_steps=20", tts="festival=2")
    assert "festvox-us-slt-hts" in str(err.value) and "make install" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "cache" / "tts").exists()
