"""Tests of spike_datasets.

The Yin-Yang and FSDD tests read the real data at ../shared/data (or $DELAYSNN_DATA) and fail,
never skip, when it is missing. FSDD front-end tests use a handful of recordings and 32 channels
so that the whole file stays fast; the full 700-channel set is measured in docs/datasets.md.
"""

from __future__ import annotations

import collections
import shutil
import struct
import wave
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import spike_datasets as sd
from spike_datasets import cochlea, fsdd as fsdd_mod, paths
from spike_datasets.errors import CorruptDataError, DatasetError, MissingDataError
from spike_datasets.plots import raster
from spike_datasets.raster import main as raster_cli

SMALL = cochlea.CochleaConfig(n_channels=32)


# ---------------------------------------------------------------------------------------------
# helpers


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def tone(freq: float, seconds: float = 0.5, rate: int = 8000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(paths.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def recordings() -> list[fsdd_mod.Recording]:
    return fsdd_mod.list_recordings()


@pytest.fixture
def few(recordings) -> list[fsdd_mod.Recording]:
    """Four real recordings: two digits x two speakers, different lengths."""
    wanted = {(0, "george", 7), (0, "jackson", 7), (7, "lucas", 12), (7, "yweweler", 12)}
    picked = [r for r in recordings if (r.digit, r.speaker, r.index) in wanted]
    assert len(picked) == 4
    return picked


def small_fsdd_root(tmp_path: Path, recordings) -> Path:
    """A data root with 2 speakers x 2 digits x indices {0, 5, 10, 20} of real recordings."""
    folder = tmp_path / "data" / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    for r in recordings:
        if r.speaker in ("george", "nicolas") and r.digit in (3, 8) and r.index in (0, 5, 10, 20):
            shutil.copy(r.path, folder / r.path.name)
    return tmp_path / "data"


def assert_names(err: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    message = str(err.value)
    assert str(path) in message, message
    assert err.value.path == path
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------------------------------------
# the common container


def test_spike_dataset_interface():
    spikes = torch.zeros(6, 5, 3, dtype=torch.bool)
    spikes[torch.arange(6), torch.arange(6) % 5, torch.arange(6) % 3] = True
    ds = sd.SpikeDataset("toy", spikes, torch.arange(6) % 2, n_classes=2, meta={"k": torch.arange(6) * 10})
    assert ds.spikes.dtype == torch.uint8 and (ds.n_samples, ds.n_steps, ds.n_channels) == (6, 5, 3)
    x, y = ds[4]
    assert x.shape == (5, 3) and isinstance(y, int) and y == 0 and x[4, 1] == 1
    xb, yb = ds.batch([1, 4])
    assert xb.shape == (2, 5, 3) and yb.tolist() == [1, 0]
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    xl, yl = next(iter(loader))
    assert xl.shape == (4, 5, 3) and xl.dtype == torch.uint8 and yl.dtype == torch.int64
    sub = ds.subset([5, 2])
    assert sub.meta["k"].tolist() == [50, 20] and sub.labels.tolist() == [1, 0]
    assert torch.equal(sub.spikes[0], ds.spikes[5])
    assert ds.tensors[0] is ds.spikes and ds.mean_spikes_per_sample() == 1.0
    with pytest.raises(ValueError, match="labels must lie"):
        sd.SpikeDataset("bad", spikes, torch.full((6,), 2), n_classes=2)
    with pytest.raises(ValueError, match=r"\[N, T, C\]"):
        sd.SpikeDataset("bad", torch.zeros(6, 5), torch.zeros(6), n_classes=1)
    with pytest.raises(ValueError, match="one entry per sample"):
        sd.SpikeDataset("bad", spikes, torch.zeros(6), n_classes=1, meta={"k": torch.zeros(5)})


# ---------------------------------------------------------------------------------------------
# data root and cache directory


def test_default_data_root_is_shared_data_next_to_repo(monkeypatch):
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    repo = paths.repo_root()
    assert repo is not None and (repo / "pyproject.toml").is_file()
    assert (repo / "sw" / "spike_datasets" / "paths.py").is_file()
    assert paths.data_root() == (repo.parent / "shared" / "data").resolve()
    assert (paths.data_root() / "yinyang").is_dir() and (paths.data_root() / "fsdd").is_dir()


def test_data_root_override_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    assert paths.data_root() == tmp_path.resolve()
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(paths.DATA_ENV, str(missing))
    with pytest.raises(MissingDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, missing, "DELAYSNN_DATA")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, DatasetError)
    with pytest.raises(MissingDataError) as err:
        fsdd_mod.list_recordings()
    assert_names(err, missing)


def test_cache_dir_default_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    assert paths.cache_dir() == paths.repo_root() / "build" / "cache"
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "c"))
    assert paths.cache_dir() == (tmp_path / "c").resolve() and (tmp_path / "c").is_dir()


# ---------------------------------------------------------------------------------------------
# sequence detection


def test_sequence_detection_shapes_and_classes():
    ds = sd.make_sequence_detection(n_samples=200, seed=3)
    assert ds.spikes.shape == (200, 32, 2) and ds.spikes.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64 and ds.labels.bincount().tolist() == [100, 100]
    s = ds.spikes.numpy()
    assert (s.sum(axis=1) == 1).all()  # exactly one spike per channel
    t_ch0, t_ch1 = s[:, :, 0].argmax(1), s[:, :, 1].argmax(1)
    labels = ds.labels.numpy()
    assert ((t_ch1 - t_ch0)[labels == 0] == 10).all()
    assert ((t_ch0 - t_ch1)[labels == 1] == 10).all()


def test_sequence_detection_separable_only_by_order():
    ds = sd.make_sequence_detection(n_samples=100, n_steps=40, lag=7, seed=1)
    s, labels = ds.spikes.numpy(), ds.labels.numpy()
    # channel-blind view (spikes per step) and time-blind view (spikes per channel) are the same
    # for every sample, so neither can separate the classes ...
    assert (s.sum(axis=2) == s[0].sum(axis=1)).all()
    assert (s.sum(axis=1) == 1).all()
    # ... while the order alone does, perfectly
    first = s.argmax(axis=1)  # [N, 2] spike step per channel
    assert ((first[:, 1] < first[:, 0]).astype(int) == labels).all()


def test_sequence_detection_seeds_and_jitter():
    a = sd.make_sequence_detection(n_samples=64, jitter=4, seed=0)
    b = sd.make_sequence_detection(n_samples=64, jitter=4, seed=0)
    c = sd.make_sequence_detection(n_samples=64, jitter=4, seed=1)
    assert torch.equal(a.spikes, b.spikes) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.spikes, c.spikes)
    onsets = a.meta["onset"]
    assert onsets.min() >= a.info["t0"] and onsets.max() <= a.info["t0"] + 4 and len(onsets.unique()) > 1
    fixed = sd.make_sequence_detection(n_samples=10, t0=3, lag=10)
    assert (fixed.spikes[:, 3].sum(1) == 1).all() and (fixed.spikes[:, 13].sum(1) == 1).all()
    with pytest.raises(ValueError, match="does not fit"):
        sd.make_sequence_detection(n_steps=12, lag=10, t0=5)


# ---------------------------------------------------------------------------------------------
# lag-pattern (delay) task


def test_delay_task_counts_and_channels_identical_across_classes():
    ds = sd.make_delay_task(n_samples=400, n_classes=4, n_channels=4, seed=0)
    s, labels = ds.spikes.numpy(), ds.labels.numpy()
    assert s.shape == (400, 100, 4) and ds.n_classes == 4
    assert np.bincount(labels).tolist() == [100] * 4
    assert (s.sum(axis=1) == 1).all()  # every channel fires exactly once in every sample
    times = s.argmax(axis=1)
    assert (np.diff(times, axis=1) > 0).all()  # same channel order in every class
    gaps = np.diff(times, axis=1)
    patterns = ds.info["patterns"]
    assert (gaps == patterns[labels]).all()
    assert np.isin(gaps, (5, 10, 15, 20)).all()
    assert len({tuple(p) for p in patterns}) == 4
    # onsets come from one range for all classes
    onset = ds.meta["onset"].numpy()
    for k in range(4):
        assert onset[labels == k].min() <= 5 and onset[labels == k].max() >= 30


def test_delay_task_needs_memory_longer_than_the_smallest_lag():
    """Windows shorter than the smallest lag see the same multiset of contents in every sample
    (so any time-invariant, time-summed readout of them is class-blind); per-channel delays that
    re-align a class pattern make that pattern's spikes coincide, which identifies the class."""
    ds = sd.make_delay_task(n_samples=40, n_classes=4, n_channels=4, seed=5)
    s, labels = ds.spikes.numpy(), ds.labels.numpy()
    width = min(ds.info["lags"])
    padded = np.pad(s, ((0, 0), (width - 1, width - 1), (0, 0)))
    views = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # [N, steps, C, width]
    bags = [collections.Counter(v.tobytes() for v in sample if v.any()) for sample in views]
    assert all(bag == bags[0] for bag in bags)
    assert len(set(labels[:8])) > 1
    offsets = np.concatenate([np.zeros((4, 1), int), np.cumsum(ds.info["patterns"], axis=1)], axis=1)
    times = s.argmax(axis=1)  # [N, C]
    aligned = times[:, None, :] + (offsets[:, -1:] - offsets)[None]  # delays of class k: [N, K, C]
    coincident = (aligned == aligned[..., :1]).all(axis=2)
    assert (coincident.argmax(axis=1) == labels).all() and (coincident.sum(axis=1) == 1).all()


def test_delay_task_seeds_jitter_and_errors():
    a = sd.make_delay_task(n_samples=50, seed=0)
    b = sd.make_delay_task(n_samples=50, seed=0)
    c = sd.make_delay_task(n_samples=50, seed=1)
    assert torch.equal(a.spikes, b.spikes) and not torch.equal(a.spikes, c.spikes)
    assert np.array_equal(a.info["patterns"], c.info["patterns"])  # classes do not depend on the sample seed
    other_classes = sd.make_delay_task(n_samples=50, pattern_seed=1).info["patterns"]
    assert not np.array_equal(a.info["patterns"], other_classes)
    j = sd.make_delay_task(n_samples=200, jitter=2, seed=0)
    s = j.spikes.numpy()
    assert (s.sum(axis=1) == 1).all()
    gaps = np.diff(s.argmax(axis=1), axis=1)
    err = gaps - j.info["patterns"][j.labels.numpy()]
    assert np.abs(err).max() <= 4 and np.abs(err).max() > 0 and gaps.min() >= 1
    many = sd.make_delay_task(n_samples=20, n_classes=10, n_channels=12, n_steps=300, lags=(5, 20))
    assert len({tuple(p) for p in many.info["patterns"]}) == 10
    with pytest.raises(ValueError, match="distinct patterns"):
        sd.make_delay_task(n_classes=5, n_channels=2)
    with pytest.raises(ValueError, match="half the smallest lag"):
        sd.make_delay_task(jitter=3)
    with pytest.raises(ValueError, match="does not fit"):
        sd.make_delay_task(n_steps=40)


# ---------------------------------------------------------------------------------------------
# Yin-Yang


def test_yinyang_published_splits():
    sizes = {}
    for split in ("train", "validation", "test"):
        ds = sd.load_yinyang(split)
        sizes[split] = len(ds)
        assert ds.spikes.shape == (len(ds), 32, 5) and ds.spikes.dtype == torch.uint8
        raw_x = np.load(paths.data_root() / "yinyang" / f"{split}_samples.npy")
        raw_y = np.load(paths.data_root() / "yinyang" / f"{split}_labels.npy")
        assert np.array_equal(ds.labels.numpy(), raw_y)
        s = ds.spikes.numpy()
        assert (s.sum(axis=1) == 1).all()
        assert (s[:, 0, 4] == 1).all()  # bias channel at step 0
        steps = s[:, :, :4].argmax(axis=1)
        assert np.array_equal(steps, np.floor(raw_x * 31 + 0.5).astype(int))
        assert np.abs(steps / 31 - raw_x).max() <= 0.5 / 31 + 1e-12
    assert sizes == {"train": 5000, "validation": 1000, "test": 1000}


def test_yinyang_options():
    ds = sd.load_yinyang("validation", n_steps=100, bias=False)
    assert ds.spikes.shape == (1000, 100, 4)
    values = ds.meta["values"].numpy()
    steps = ds.spikes.numpy().argmax(axis=1)
    assert np.array_equal(steps, np.floor(values * 99 + 0.5).astype(int))
    assert ds.class_names == ("yin", "yang", "dot")
    with pytest.raises(ValueError, match="split"):
        sd.load_yinyang("dev")


@pytest.fixture
def yy_root(tmp_path, monkeypatch) -> Path:
    """A writable copy of the Yin-Yang test split, made the data root."""
    folder = tmp_path / "yinyang"
    folder.mkdir()
    for name in ("test_samples.npy", "test_labels.npy"):
        shutil.copy(paths.data_root() / "yinyang" / name, folder / name)
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    return folder


def test_yinyang_bad_files(yy_root):
    assert len(sd.load_yinyang("test")) == 1000
    with pytest.raises(MissingDataError) as err:
        sd.load_yinyang("train")
    assert_names(err, yy_root / "train_samples.npy", "(n, 4)")

    samples = yy_root / "test_samples.npy"
    good = np.load(samples)
    np.save(samples, good[:, :3])
    with pytest.raises(CorruptDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, samples, "(n, 4)", "(1000, 3)")
    assert isinstance(err.value, ValueError)

    np.save(samples, good * 2)
    with pytest.raises(CorruptDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, samples, "[0, 1]")

    samples.write_bytes(b"this is not numpy")
    with pytest.raises(CorruptDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, samples, "not a .npy file")

    np.save(samples, good)
    samples.write_bytes(samples.read_bytes()[:1000])  # header intact, data cut short
    with pytest.raises(CorruptDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, samples, "not a readable .npy file")

    np.save(samples, good)
    labels = yy_root / "test_labels.npy"
    np.save(labels, np.load(labels)[:-1])
    with pytest.raises(CorruptDataError) as err:
        sd.load_yinyang("test")
    assert_names(err, labels, "999 labels for 1000 samples")


# ---------------------------------------------------------------------------------------------
# FSDD: files and splits (metadata only, no front end)


def test_fsdd_listing(recordings):
    assert len(recordings) == 2500
    assert sorted({r.speaker for r in recordings}) == ["george", "jackson", "lucas", "nicolas", "yweweler"]
    assert {r.digit for r in recordings} == set(range(10)) and {r.index for r in recordings} == set(range(50))


def test_fsdd_official_split_sizes(recordings):
    parts = {s: fsdd_mod.split_indices(recordings, s) for s in ("train", "validation", "test")}
    assert {s: len(p) for s, p in parts.items()} == {"train": 2000, "validation": 250, "test": 250}
    assert len(np.unique(np.concatenate(list(parts.values())))) == 2500
    test = [recordings[i] for i in parts["test"]]
    assert collections.Counter((r.speaker, r.digit) for r in test) == {
        (s, d): 5 for s in ("george", "jackson", "lucas", "nicolas", "yweweler") for d in range(10)}
    assert {r.index for r in test} == set(range(5))
    assert {recordings[i].index for i in parts["validation"]} == set(range(5, 10))


@pytest.mark.parametrize("speaker", ["george", "jackson", "lucas", "nicolas", "yweweler"])
def test_fsdd_leave_one_speaker_out_sizes(recordings, speaker):
    parts = {s: fsdd_mod.split_indices(recordings, s, "speaker", speaker)
             for s in ("train", "validation", "test")}
    assert {s: len(p) for s, p in parts.items()} == {"train": 1800, "validation": 200, "test": 500}
    assert {recordings[i].speaker for i in parts["test"]} == {speaker}
    rest = np.concatenate([parts["train"], parts["validation"]])
    assert speaker not in {recordings[i].speaker for i in rest}
    assert len(np.unique(np.concatenate(list(parts.values())))) == 2500


def test_fsdd_split_argument_errors(recordings):
    with pytest.raises(ValueError, match="test_speaker"):
        fsdd_mod.split_indices(recordings, "test", "speaker", "theo")
    with pytest.raises(ValueError, match="protocol"):
        fsdd_mod.split_indices(recordings, "test", "random")
    with pytest.raises(ValueError, match="split"):
        fsdd_mod.split_indices(recordings, "dev")


# ---------------------------------------------------------------------------------------------
# FSDD: cochlea front end


def test_filterbank_design():
    fc = cochlea.centre_frequencies(SMALL)
    assert fc[0] == pytest.approx(100) and fc[-1] == pytest.approx(3800) and (np.diff(fc) > 0).all()
    erb_rate = 21.4 * np.log10(1 + 0.00437 * fc)
    assert np.allclose(np.diff(erb_rate), np.diff(erb_rate)[0])
    n_fft = 16384
    response = np.abs(cochlea.frequency_response(SMALL, n_fft))
    at_centre = response[np.arange(32), np.round(fc * n_fft / 8000).astype(int)]
    assert np.allclose(at_centre, 1, atol=1e-3)  # scipy normalises the gain at the centre to 1
    error = np.abs(response.argmax(axis=1) * 8000 / n_fft - fc) / fc
    assert error[fc < 3500].max() < 0.002  # peaks where they should be ...
    assert error.max() < 0.02  # ... except near Nyquist, where the upper skirt is cut off


def test_fft_filterbank_matches_lfilter(recordings):
    import scipy.signal

    wav = fsdd_mod.read_wav(recordings[3].path)
    env = cochlea.cochleagram([wav], SMALL)[0]
    b, a = cochlea.filter_coefficients(SMALL)
    x = np.zeros(SMALL.n_samples)
    clip = wav[:SMALL.n_samples].astype(np.float64) / 32768
    x[:clip.size] = clip - clip.mean()
    channels = [0, 15, 31]
    y = np.stack([scipy.signal.lfilter(b[c], a[c], x) for c in channels])
    ref = np.maximum(y, 0).reshape(len(channels), SMALL.n_steps, SMALL.hop).mean(-1).T
    assert np.abs(env[:, channels] - ref).max() < 1e-5 * ref.max()


def test_front_end_on_real_recordings(few):
    waves = [fsdd_mod.read_wav(r.path) for r in few]
    spikes = cochlea.cochlea_spikes(waves, SMALL)
    assert spikes.shape == (4, 100, 32) and spikes.dtype == np.uint8 and spikes.max() == 1
    counts = spikes.sum(axis=(1, 2))
    assert (counts > 100).all() and (counts < 0.5 * 100 * 32).all()
    for wav, s in zip(waves, spikes):
        end = -(-(wav.size + cochlea.impulse_tail(SMALL)) // SMALL.hop)
        assert s[end + 1:].sum() == 0  # nothing after the recording (plus filter ring-down)
    # spikes depend on the shape of the sound, not its level
    quiet = cochlea.cochlea_spikes([(w // 4).astype(np.int16) for w in waves], SMALL)
    assert (quiet != spikes).mean() < 0.01


def test_front_end_tone_excites_matching_channels():
    fc = cochlea.centre_frequencies(SMALL)
    for freq in (300.0, 1000.0, 2500.0):
        s = cochlea.cochlea_spikes([tone(freq)], SMALL)[0]
        per_channel = s.sum(axis=0)
        best = fc[per_channel.argmax()]
        assert abs(best - freq) / freq < 0.15, (freq, best)
        assert per_channel[np.abs(fc - freq) / freq > 1.0].sum() < 0.1 * per_channel.sum()
    silent = cochlea.cochlea_spikes([np.zeros(4000, np.int16)], SMALL)
    assert silent.sum() == 0


def test_encoder_rates():
    config = cochlea.CochleaConfig(n_channels=3, n_steps=40, dynamic_range_db=20)
    env = np.zeros((1, 40, 3))
    env[0, :, 0] = 1.0  # peak level: one spike per step
    env[0, :, 1] = 10 ** (-10 / 20)  # 10 dB down of a 20 dB range: every other step
    env[0, :, 2] = 10 ** (-30 / 20)  # below the range: silent
    s = cochlea.encode(env, config)[0]
    assert s[:, 0].sum() == 40 and abs(int(s[:, 1].sum()) - 20) <= 1 and s[:, 2].sum() == 0
    slow = cochlea.CochleaConfig(n_channels=3, n_steps=40, dynamic_range_db=20, max_rate=0.5)
    half = cochlea.encode(env, slow)[0]
    assert abs(int(half[:, 0].sum()) - 20) <= 1


def test_cochlea_config_validation():
    with pytest.raises(ValueError, match="whole number of samples"):
        cochlea.CochleaConfig(dt=0.00123)
    with pytest.raises(ValueError, match="f_max"):
        cochlea.CochleaConfig(f_max=5000)
    with pytest.raises(ValueError, match="max_rate"):
        cochlea.CochleaConfig(max_rate=2)


# ---------------------------------------------------------------------------------------------
# FSDD: cache


def test_fsdd_cache_round_trip_and_corruption(few, cache):
    first = fsdd_mod.encode_recordings(few, SMALL, progress=False)
    path = first.info["cache_file"]
    assert not first.info["cache_hit"] and path.parent == cache.resolve() and path.is_file()
    assert list(cache.iterdir()) == [path]  # no temp file left behind
    second = fsdd_mod.encode_recordings(few, SMALL, progress=False)
    assert second.info["cache_hit"] and second.info["cache_file"] == path
    assert torch.equal(first.spikes, second.spikes) and torch.equal(first.labels, second.labels)
    assert torch.equal(first.meta["n_audio"], second.meta["n_audio"])
    assert first.labels.tolist() == [r.digit for r in few]

    good = path.read_bytes()
    for corrupt in (good[: len(good) // 2], good[:200] + bytes(b ^ 0xFF for b in good[200:260]) + good[260:],
                    b"garbage"):
        path.write_bytes(corrupt)
        with pytest.warns(UserWarning, match="cache file"):
            again = fsdd_mod.encode_recordings(few, SMALL, progress=False)
        assert not again.info["cache_hit"] and torch.equal(again.spikes, first.spikes)
        assert fsdd_mod.load_cache(path) is not None  # rewritten, valid again

    other = fsdd_mod.encode_recordings(few[:2], SMALL, progress=False)
    assert other.info["cache_file"] != path  # the file list is part of the key
    finer = cochlea.CochleaConfig(n_channels=32, dt=0.005)
    assert fsdd_mod.cache_key(few, SMALL) != fsdd_mod.cache_key(few, finer)


def test_fsdd_cache_key_follows_file_content(tmp_path, few):
    copies = []
    for r in few:
        shutil.copy(r.path, tmp_path / r.path.name)
        copies.append(fsdd_mod.Recording(tmp_path / r.path.name, r.digit, r.speaker, r.index))
    key = fsdd_mod.cache_key(copies, SMALL)
    assert key == fsdd_mod.cache_key(few, SMALL)
    data = bytearray(copies[0].path.read_bytes())
    data[-1] ^= 1
    copies[0].path.write_bytes(bytes(data))
    assert fsdd_mod.cache_key(copies, SMALL) != key


def test_load_fsdd_end_to_end(tmp_path, recordings, cache, monkeypatch):
    monkeypatch.setenv(paths.DATA_ENV, str(small_fsdd_root(tmp_path, recordings)))
    parts = {s: sd.load_fsdd(s, config=SMALL, progress=False) for s in ("train", "validation", "test")}
    assert {s: len(d) for s, d in parts.items()} == {"train": 8, "validation": 4, "test": 4}
    test = parts["test"]
    assert test.spikes.shape == (4, 100, 32) and test.dt == 0.01 and test.n_classes == 10
    assert set(test.labels.tolist()) == {3, 8} and test.meta["index"].tolist() == [0, 0, 0, 0]
    assert test.info["speakers"] == ("george", "nicolas") and test.info["cache_hit"]  # filled by "train"
    assert set(parts["train"].meta["index"].tolist()) == {10, 20}
    loso = sd.load_fsdd("test", protocol="speaker", test_speaker="nicolas", config=SMALL, progress=False)
    assert len(loso) == 8 and set(loso.meta["speaker"].tolist()) == {1}
    assert len(list(cache.iterdir())) == 1  # every split came from the same cache entry


# ---------------------------------------------------------------------------------------------
# FSDD: bad files


def test_read_wav_errors(tmp_path, recordings):
    good = recordings[0].path.read_bytes()
    assert fsdd_mod.read_wav(recordings[0].path).dtype == np.int16

    cut = tmp_path / "cut.wav"
    cut.write_bytes(good[:30])
    with pytest.raises(CorruptDataError) as err:
        fsdd_mod.read_wav(cut)
    assert_names(err, cut, "8000 Hz mono 16-bit PCM WAV")

    short = tmp_path / "short.wav"
    short.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptDataError) as err:
        fsdd_mod.read_wav(short)
    assert_names(err, short, "truncated")

    text = tmp_path / "text.wav"
    text.write_text("RIFF? no, just text " * 10)
    with pytest.raises(CorruptDataError) as err:
        fsdd_mod.read_wav(text)
    assert_names(err, text, "not a readable WAV")

    fast = write_wav(tmp_path / "fast.wav", tone(440), rate=16000)
    with pytest.raises(CorruptDataError) as err:
        fsdd_mod.read_wav(fast)
    assert_names(err, fast, "expected 8000 Hz", "got 16000 Hz")

    stereo = write_wav(tmp_path / "stereo.wav", np.repeat(tone(440), 2), channels=2)
    with pytest.raises(CorruptDataError) as err:
        fsdd_mod.read_wav(stereo)
    assert_names(err, stereo, "2 channel(s)")

    with pytest.raises(MissingDataError) as err:
        fsdd_mod.read_wav(tmp_path / "absent.wav")
    assert_names(err, tmp_path / "absent.wav")


def test_fsdd_bad_tree(tmp_path, monkeypatch, cache):
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    with pytest.raises(MissingDataError) as err:
        sd.load_fsdd("test", config=SMALL)
    assert_names(err, tmp_path / "fsdd")
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    with pytest.raises(MissingDataError) as err:
        sd.load_fsdd("test", config=SMALL)
    assert_names(err, folder, "no .wav")
    write_wav(folder / "1_ann_0.wav", tone(500))
    bad = folder / "1_ann_0.wav.bak.wav"
    bad.write_bytes(b"")
    with pytest.raises(CorruptDataError) as err:
        sd.list_recordings()
    assert_names(err, bad, "{digit}_{speaker}_{index}.wav")
    bad.unlink()
    broken = folder / "2_ann_0.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(CorruptDataError) as err:
        sd.load_fsdd("test", config=SMALL, progress=False)
    assert_names(err, broken)
    write_wav(broken, tone(500), rate=11025)
    with pytest.raises(CorruptDataError) as err:
        sd.load_fsdd("test", config=SMALL, progress=False)
    assert_names(err, broken, "got 11025 Hz")
    write_wav(broken, tone(500))
    assert len(sd.load_fsdd("test", config=SMALL, progress=False)) == 2


# ---------------------------------------------------------------------------------------------
# SHD / SSC HDF5


def write_hdf5(path: Path, times, units, labels, speaker=None, keys=None, skip=()) -> Path:
    with h5py.File(path, "w") as f:
        if "spikes/times" not in skip:
            d = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
            for i, t in enumerate(times):
                d[i] = np.asarray(t, dtype=np.float16)
        if "spikes/units" not in skip:
            d = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
            for i, u in enumerate(units):
                d[i] = np.asarray(u, dtype=np.uint16)
        f["labels"] = np.asarray(labels, dtype=np.uint8)
        if speaker is not None:
            f["extra/speaker"] = np.asarray(speaker)
        if keys is not None:
            f["extra/keys"] = np.array([k.encode() for k in keys])
    return path


def test_hdf5_binning(tmp_path):
    times = [[0.0, 0.009, 0.01, 0.0101, 0.25, 0.5, 1.2], [0.125, 0.125], []]
    units = [[0, 1, 2, 2, 699, 5, 6], [3, 3], []]
    path = write_hdf5(tmp_path / "shd_mini.h5", times, units, [2, 0, 1], speaker=[4, 7, 4],
                      keys=["zero", "one", "two"])
    ds = sd.load_hdf5(path, dt=0.01, n_steps=100)
    assert ds.spikes.shape == (3, 100, 700) and ds.spikes.dtype == torch.uint8
    s = ds.spikes.numpy()
    expect = {(0, 0, 0), (0, 0, 1), (0, 1, 2), (0, 25, 699), (0, 50, 5), (1, 12, 3)}
    assert set(map(tuple, np.argwhere(s))) == expect
    assert ds.meta["dropped"].tolist() == [1, 0, 0] and ds.info["dropped"] == 1  # 1.2 s is past 1 s
    assert ds.meta["merged"].tolist() == [1, 1, 0] and ds.info["merged"] == 2
    assert ds.labels.tolist() == [2, 0, 1] and ds.meta["speaker"].tolist() == [4, 7, 4]
    assert ds.class_names == ("zero", "one", "two") and ds.n_classes == 3 and ds.dt == 0.01
    assert sd.load_hdf5(path).n_steps == 100
    whole = sd.load_hdf5(path, dt=0.01, max_time=np.inf)
    assert whole.n_steps == 121 and whole.info["dropped"] == 0 and whole.spikes[0, 120, 6] == 1
    by_time = sd.load_hdf5(path, dt=0.002, max_time=0.3, n_classes=20)
    assert by_time.n_steps == 150 and by_time.info["dropped"] == 2 and by_time.n_classes == 20
    assert by_time.class_names is None and by_time.spikes[0, 125, 699] == 1
    with pytest.raises(ValueError, match="not both"):
        sd.load_hdf5(path, n_steps=10, max_time=0.1)


def test_hdf5_errors(tmp_path):
    missing = tmp_path / "absent.h5"
    with pytest.raises(MissingDataError) as err:
        sd.load_hdf5(missing)
    assert_names(err, missing, "spikes/times")

    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(CorruptDataError) as err:
        sd.load_hdf5(text)
    assert_names(err, text, "not a readable HDF5")

    no_times = write_hdf5(tmp_path / "no_times.h5", [[0.1]], [[1]], [0], skip=("spikes/times",))
    with pytest.raises(CorruptDataError) as err:
        sd.load_hdf5(no_times)
    assert_names(err, no_times, "missing dataset 'spikes/times'")

    wide = write_hdf5(tmp_path / "wide.h5", [[0.1], [0.2, 0.3]], [[1], [5, 700]], [0, 1])
    with pytest.raises(CorruptDataError) as err:
        sd.load_hdf5(wide)
    assert_names(err, wide, "sample 1", "unit 700 out of range 0..699")
    assert len(sd.load_hdf5(wide, n_channels=701)) == 2

    ragged = write_hdf5(tmp_path / "ragged.h5", [[0.1, 0.2]], [[1]], [0])
    with pytest.raises(CorruptDataError) as err:
        sd.load_hdf5(ragged)
    assert_names(err, ragged, "2 spike times but 1 units")

    count = write_hdf5(tmp_path / "count.h5", [[0.1], [0.2]], [[1], [2]], [0])
    with pytest.raises(CorruptDataError) as err:
        sd.load_hdf5(count)
    assert_names(err, count, "1 labels")


# ---------------------------------------------------------------------------------------------
# plots


def test_raster_png(tmp_path, few, cache):
    small = sd.make_sequence_detection(n_samples=10)
    out = raster(small, [0, 1, 2], tmp_path / "seq.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dense = fsdd_mod.encode_recordings(few, cochlea.CochleaConfig(n_channels=80), progress=False)
    out = raster(dense, [0, 2], tmp_path / "sub" / "fsdd.png")
    width, height = struct.unpack(">II", out.read_bytes()[16:24])
    assert out.stat().st_size > 10_000 and height >= 2 * 80
    with pytest.raises(ValueError):
        raster(small, [], tmp_path / "none.png")


def test_raster_cli(tmp_path, capsys):
    out = raster_cli(["--task", "delay", "--out", str(tmp_path / "delay.png"), "-n", "3"])
    assert out.is_file() and "wrote" in capsys.readouterr().out
    out = raster_cli(["--task", "yinyang", "--split", "validation", "--out", str(tmp_path / "yy.png")])
    assert out.is_file()
