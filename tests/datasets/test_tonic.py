"""Datasets in the ecosystem's shape: the tonic face of our data sets, tonic data sets in our
training, and `hostlink eval` of an exported network on a folder of WAV files.

The face must give exactly the spikes underneath (count, times, channels) in tonic's own dtype,
so that tonic's real transforms apply; the reverse must read a small SHD-format file through
`tonic.datasets.SHD` itself (no archive beside it: tonic would download) and train on it with
`python -m delay_training train --task tonic:SHD --tonic-root DIR`; eval must print one
prediction per file, write the CSV, and give an accuracy only when labels exist.
"""

import csv
import json
import shutil
import sys
from dataclasses import asdict

import h5py
import numpy as np
import pytest
import torch

import spike_datasets as sd
from golden_model import CLEAR, GoldenNetwork, encode_event, raster_words
from hostlink.driver import readout
from spike_datasets import CochleaConfig, TonicFace, data_root, from_tonic
from spike_datasets.events import AUDIO_DTYPE
from spike_datasets.fsdd import Recording, encode_recordings, list_recordings
from spike_datasets.tonic_face import MissingPackageError, open_tonic

import tonic.datasets   # not skipped when missing: `make install` installs it (docs/datasets.md)
import tonic.transforms as T

N_CLASSES = 20


def write_shd(path, n: int, seed: int, n_channels: int = 700) -> list[tuple[np.ndarray, np.ndarray]]:
    """A small file in the SHD layout (field notes 5; float32 seconds, uint16 units, as the
    published files). Spike times are whole microseconds + 0.5 us, so that tonic's truncation
    to microseconds and our binning in seconds can only agree; some fall past 1 s."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = []
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype("float32")))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.dtype("uint16")))
        for i in range(n):
            k = int(rng.integers(20, 120))
            us = np.sort(rng.integers(0, 1_200_000, k))
            t, u = ((us + 0.5) / 1e6).astype(np.float32), rng.integers(0, n_channels, k).astype(np.uint16)
            times[i], units[i] = t, u
            samples.append((us, u.astype(np.int64)))
        f["labels"] = rng.integers(0, N_CLASSES, n).astype(np.uint16)
        f["extra/speaker"] = rng.integers(0, 4, n).astype(np.uint16)
        f["extra/keys"] = np.array([f"digit-{k}".encode() for k in range(N_CLASSES)])
    return samples


@pytest.fixture(scope="module")
def shd_root(tmp_path_factory):
    """<root>/SHD/shd_{train,test}.h5 as a user unpacks them: no .zip archive beside them."""
    root = tmp_path_factory.mktemp("tonic")
    write_shd(root / "SHD" / "shd_train.h5", 30, seed=1)
    write_shd(root / "SHD" / "shd_test.h5", 10, seed=2)
    return root


@pytest.fixture(scope="module")
def fsdd_three():
    """Three real recordings through the default (700-channel) front end."""
    recs = list_recordings()[::997][:3]
    return encode_recordings(recs, CochleaConfig(), cache=False, progress=False)


# -- the face ------------------------------------------------------------------------------------

def test_fsdd_face_equals_the_raster_in_tonics_dtype(fsdd_three):
    face = TonicFace.from_dataset(fsdd_three)
    assert face.dtype == tonic.datasets.SHD.dtype and face.ordering == tonic.datasets.SHD.ordering
    assert face.sensor_size == (700, 1, 1) and face.step_us == 10_000
    assert face.classes == [str(d) for d in range(10)] and len(face) == 3
    for i in range(len(face)):
        events, target = face[i]
        raster = fsdd_three.spikes[i].numpy()
        steps, channels = np.nonzero(raster)
        assert events.dtype == AUDIO_DTYPE and events.size == raster.sum() > 500
        assert np.array_equal(events["t"], steps * 10_000)
        assert np.array_equal(events["x"], channels) and np.all(events["p"] == 1)
        assert target == int(fsdd_three.labels[i])
    # and back: our own binning of the face's events is the raster again, bit for bit
    again = from_tonic(face, dt=0.01, n_steps=fsdd_three.n_steps)
    assert torch.equal(again.spikes, fsdd_three.spikes) and torch.equal(again.labels, fsdd_three.labels)
    assert again.info["dropped"] == again.info["merged"] == 0


def test_shd_face_equals_the_file_and_tonics_shd(shd_root):
    path = shd_root / "SHD" / "shd_train.h5"
    written = write_shd(shd_root / "copy" / "shd_train.h5", 30, seed=1)      # same seed: same spikes
    face = TonicFace.from_hdf5(path)
    theirs = open_tonic("SHD", "train", shd_root)
    assert len(face) == len(theirs) == 30
    assert face.classes == [f"digit-{k}" for k in range(N_CLASSES)]
    for i in range(len(face)):
        (ours, y), (ref, y_ref) = face[i], theirs[i]
        us, units = written[i]
        assert ours.dtype == ref.dtype and np.array_equal(ours, ref), f"sample {i} differs from tonic"
        assert ours.size == us.size and np.array_equal(ours["t"], us) and np.array_equal(ours["x"], units)
        assert y == int(y_ref)


def test_tonic_transforms_apply_to_the_face(fsdd_three):
    raster = fsdd_three.spikes[0].numpy()
    n_steps = raster.shape[0]
    frames = TonicFace.from_dataset(fsdd_three, transform=T.ToFrame(
        sensor_size=(700, 1, 1), time_window=10_000, start_time=0, end_time=n_steps * 10_000))[0][0]
    assert frames.shape == (n_steps, 1, 700) and np.array_equal(frames[:, 0, :], raster)
    events, target = TonicFace.from_dataset(
        fsdd_three, transform=T.Downsample(time_factor=1e-3, spatial_factor=0.5),
        target_transform=lambda y: y + 100)[0]
    steps, channels = np.nonzero(raster)
    assert np.array_equal(events["t"], steps * 10) and np.array_equal(events["x"], channels // 2)
    assert target == int(fsdd_three.labels[0]) + 100
    # sets defined in abstract steps: one step = 1 ms
    seq = sd.make_sequence_detection(n_samples=4, seed=0)
    events, _ = TonicFace.from_dataset(seq)[0]
    steps, channels = np.nonzero(seq.spikes[0].numpy())
    assert np.array_equal(events["t"], steps * 1000) and np.array_equal(events["x"], channels)
    yy = sd.load_yinyang("test")
    face = TonicFace.from_dataset(yy, transform=T.ToFrame(sensor_size=(5, 1, 1), time_window=1000,
                                                         start_time=0, end_time=yy.n_steps * 1000))
    assert face.classes == ["yin", "yang", "dot"]
    assert np.array_equal(face[7][0][:, 0, :], yy.spikes[7].numpy())


# -- the reverse: tonic data sets into our training ------------------------------------------------

class Listed:
    """Any dataset yielding tonic audio events (not tonic's own class)."""
    sensor_size = (4, 1, 1)

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def audio(t, x):
    ev = np.zeros(len(t), dtype=AUDIO_DTYPE)
    ev["t"], ev["x"], ev["p"] = t, x, 1
    return ev


def test_from_tonic_bin_edges_drops_and_merges():
    # 9_999 us is step 0, 10_000 us step 1; two spikes in one bin merge; 50_000 us is past 5 steps
    ds = from_tonic(Listed([(audio([0, 9_999, 10_000, 10_500, 49_999, 50_000], [0, 1, 2, 2, 3, 0]),
                             np.int64(2))]), dt=0.01, n_steps=5)
    expected = np.zeros((5, 4), np.uint8)
    expected[0, [0, 1]] = 1
    expected[1, 2] = 1
    expected[4, 3] = 1
    assert np.array_equal(ds.spikes[0].numpy(), expected)
    assert ds.meta["dropped"].tolist() == [1] and ds.meta["merged"].tolist() == [1]
    assert ds.labels.tolist() == [2] and ds.n_classes == 3 and ds.dt == 0.01


def test_from_tonic_through_tonic_shd_equals_load_hdf5(shd_root):
    ours = sd.load_hdf5(shd_root / "SHD" / "shd_test.h5", dt=0.01, n_steps=100, n_classes=N_CLASSES)
    via_tonic = sd.load_tonic("SHD", "test", shd_root)
    assert torch.equal(via_tonic.spikes, ours.spikes) and torch.equal(via_tonic.labels, ours.labels)
    assert via_tonic.info["dropped"] == ours.info["dropped"] > 0
    assert via_tonic.class_names == ours.class_names and via_tonic.n_classes == N_CLASSES


def test_from_tonic_refuses_what_is_not_audio_events():
    def refused(samples, *needles, **kw):
        with pytest.raises(sd.CorruptDataError) as err:
            from_tonic(Listed(samples), **kw)
        assert "\n" not in str(err.value) and isinstance(err.value, sd.DatasetError)
        for n in needles:
            assert n in str(err.value), str(err.value)
    frames = T.ToFrame(sensor_size=(4, 1, 1), time_window=1000)(audio([0, 5000], [1, 2]))
    refused([(audio([0], [0]), 1), (frames, 1)], "Listed: sample 1", "expected tonic audio events")
    refused([(audio([0], [4]), 1)], "sample 0", "x = 4 outside 0..3")
    refused([(audio([0], [3]), 1)], "x = 3 outside 0..2", n_channels=3)
    refused([(audio([-1], [0]), 1)], "times must be finite and >= 0")
    refused([(audio([0], [0]), 1.5)], "target 1.5")
    camera = np.zeros(1, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    camera["y"] = 3
    refused([(camera, 0)], "2-D sensor")


def test_tonic_task_trains_one_epoch(shd_root, tmp_path):
    from delay_training.__main__ import main
    from delay_training.data import load_task
    out, report = tmp_path / "run", tmp_path / "report.json"
    code = main(["train", "--task", "tonic:SHD", "--tonic-root", str(shd_root), "--epochs", "1",
                 "--sizes", "16", "--dbits", "3", "--batch-size", "9", "--out", str(out),
                 "--report", str(report), "--quiet", "--threads", "1"])
    assert code == 0
    rep = json.loads(report.read_text())
    data = rep["data"]
    assert (data["n_train"], data["n_val"], data["n_test"]) == (27, 3, 10)     # 10 % held out
    assert (data["n_channels"], data["n_classes"], data["n_steps"]) == (700, N_CLASSES, 100)
    assert data["tonic_set"] == "SHD" and data["validation"].startswith("10% of the training")
    assert len(rep["history"]) == 1 and rep["task"] == "tonic:SHD"
    assert ":" not in rep["name"] and rep["name"].startswith("tonic-SHD")
    assert rep["export"]["test_prediction_agreement"] == 1.0
    assert json.loads((out / "export" / "manifest.json").read_text())["task"] == "tonic:SHD"
    # the held-out validation and the training part together are the whole training file
    whole = sd.load_hdf5(shd_root / "SHD" / "shd_train.h5", n_classes=N_CLASSES)
    splits = load_task("tonic:SHD", tonic_root=str(shd_root))
    both = torch.cat([splits.train.spikes, splits.val.spikes])
    assert both.shape == whole.spikes.shape and int(both.sum()) == int(whole.spikes.sum())


def test_missing_file_or_tonic_is_one_line(tmp_path, monkeypatch):
    from delay_training.data import load_task
    from corespec.errors import UserError
    with pytest.raises(sd.MissingDataError) as err:
        load_task("tonic:SHD", tonic_root=str(tmp_path))
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "SHD" / "shd_train.h5") + ": missing file")
    assert "--tonic-root" in msg and "\n" not in msg
    # the .h5 there but broken: named, not a traceback from inside tonic
    (tmp_path / "SHD").mkdir()
    (tmp_path / "SHD" / "shd_train.h5").write_text("not hdf5")
    with pytest.raises(sd.CorruptDataError, match="shd_train.h5: tonic.datasets.SHD cannot read it"):
        open_tonic("SHD", "train", tmp_path)
    monkeypatch.setitem(sys.modules, "tonic", None)
    monkeypatch.setitem(sys.modules, "tonic.datasets", None)
    with pytest.raises(MissingPackageError) as err:
        open_tonic("SHD", "train", tmp_path)
    assert isinstance(err.value, UserError) and str(err.value).startswith("tonic: cannot import it")
    assert "pip install" in str(err.value) and "\n" not in str(err.value)


# -- eval of an exported network on a folder of WAV files -------------------------------------------

FRONT = {"n_channels": 32, "n_steps": 60, "dynamic_range_db": 60.0}
WAVS = {"3_jackson_0.wav": "3_jackson_0.wav", "7_lucas_1.wav": "7_lucas_1.wav",
        "kitchen.wav": "5_nicolas_2.wav", "hallway.wav": "1_george_4.wav"}


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory):
    """What a training run writes to <run>/export (delay_training.export, as train.finish calls
    it), for a small seeded network on a 32-channel front end."""
    from delay_training.export import export
    from delay_training.model import DelaySNN, ModelConfig
    mc = ModelConfig(n_in=32, sizes=(24,), n_out=10, wbits=1.58, dbits=3, leak=(3, 4),
                     init_gain=(3.0, 1.0))
    folder = tmp_path_factory.mktemp("run") / "export"
    export(DelaySNN(mc, seed=5), folder,
           extra={"task": "fsdd", "front_end": asdict(CochleaConfig(**FRONT)), "test_acc": 0.1})
    return folder


def golden_predictions(folder, wav_dir, names):
    """Each file's prediction from the front end and the golden model directly."""
    from delay_training.export import load_export
    spikes = encode_recordings([Recording(wav_dir / n, 0, "", 0) for n in names],
                               CochleaConfig(**FRONT), cache=False, progress=False).spikes
    net = GoldenNetwork(load_export(folder))
    preds = []
    for x in spikes:
        out = net.run_stream([encode_event(CLEAR)] + raster_words(x)).outputs
        preds.append(int(np.argmax(np.asarray(readout(out, 10), dtype=np.int64).sum(0))))
    return preds


def eval_cli(argv, capsys):
    from hostlink.cli import main
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_eval_wav_folder_without_labels(export_folder, tmp_path, capsys):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for name in ("kitchen.wav", "hallway.wav"):
        shutil.copy(data_root() / "fsdd" / "recordings" / WAVS[name], wavs / name)
    names = sorted(["kitchen.wav", "hallway.wav"])
    preds = golden_predictions(export_folder, wavs, names)
    table = tmp_path / "pred.csv"
    code, out, err = eval_cli(["eval", "--deployed", str(export_folder), "--wav-dir", str(wavs),
                               "--csv", str(table)], capsys)
    assert code == 0, err
    lines = [l for l in out.splitlines() if l.split()[0].endswith(".wav")]
    assert [l.split()[0] for l in lines] == names
    assert [int(l.split("prediction")[1].split()[0]) for l in lines] == preds
    assert all("label  -" in l for l in lines) and "accuracy" not in out
    rows = list(csv.DictReader(table.open()))
    assert [(r["file"], int(r["prediction"]), r["label"]) for r in rows] == \
        [(n, p, "") for n, p in zip(names, preds)]


def test_eval_wav_folder_with_labels(export_folder, tmp_path, capsys):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for name, src in WAVS.items():
        shutil.copy(data_root() / "fsdd" / "recordings" / src, wavs / name)
    names = sorted(WAVS)
    preds = golden_predictions(export_folder, wavs, names)
    # the CSV's labels: one right, one wrong, so that the accuracy lies strictly inside (0, 1)
    kitchen, hallway = preds[names.index("kitchen.wav")], preds[names.index("hallway.wav")]
    truth = {"3_jackson_0.wav": 3, "7_lucas_1.wav": 7, "kitchen.wav": kitchen,
             "hallway.wav": (hallway + 1) % 10}
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\nkitchen.wav,{kitchen}\nhallway.wav,{truth['hallway.wav']}\n")
    table, report = tmp_path / "pred.csv", tmp_path / "eval.json"
    code, out, err = eval_cli(["eval", "--deployed", str(export_folder), "--wav-dir", str(wavs),
                               "--labels", str(labels), "--csv", str(table), "--output",
                               str(report)], capsys)
    assert code == 0, err
    accuracy = sum(p == truth[n] for n, p in zip(names, preds)) / 4
    assert 0 < accuracy < 1
    assert f"accuracy: {accuracy:.4f} (4 labelled samples)" in out
    rep = json.loads(report.read_text())
    assert rep["predictions"] == preds and rep["accuracy"] == accuracy
    assert rep["predictions_equal_golden"] is True
    rows = list(csv.DictReader(table.open()))
    assert [(r["file"], int(r["prediction"]), int(r["label"])) for r in rows] == \
        [(n, p, truth[n]) for n, p in zip(names, preds)]
