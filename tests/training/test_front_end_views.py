"""Two front ends side by side (`--front-end A+B`, spike_datasets.cochlea.Views): parsing, the
encoding (each view's spikes, A's channels first), the manifest record and the deployed network's
front end read back from it."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io.wavfile

import spike_datasets.fsdd as fsdd
from delay_training.train import front_end_record, make_config
from spike_datasets import CochleaConfig
from spike_datasets.cochlea import Views, front_end_config, front_end_from_record, front_end_text


def test_views_parse_and_print_back():
    views = front_end_config("tilt_degree=1+speaker_norm=1,n_channels=350")
    assert views == Views((CochleaConfig(tilt_degree=1), CochleaConfig(speaker_norm=1, n_channels=350)))
    assert (views.n_channels, views.n_steps, views.dt, views.speaker_norm) == (1050, 100, 0.01, 1)
    assert front_end_text(views) == "tilt_degree=1+n_channels=350,speaker_norm=1"
    assert front_end_config(front_end_text(views)) == views
    assert front_end_from_record(views.as_dict()) == views
    assert front_end_config("") == CochleaConfig()
    assert front_end_config("tilt_degree=1") == CochleaConfig(tilt_degree=1)
    assert front_end_from_record(CochleaConfig(tilt_degree=1).as_dict()) == CochleaConfig(tilt_degree=1)


@pytest.mark.parametrize("text, message", [
    ("tilt_degree=1+speaker_norm=1+smooth_erb=1", r"at most two views \(A\+B\), got 3"),
    ("tilt_degree=1+dt=0.02", "the views must share dt, n_steps and sample_rate"),
    ("tilt_degree=1+n_steps=50", "the views must share dt, n_steps and sample_rate"),
    ("tilt_degree=1+speaker_norm=2", "speaker_norm must be 0 .off. or 1 .on., got 2"),
])
def test_impossible_views_are_refused_naming_the_setting(text, message):
    with pytest.raises(ValueError, match=message):
        make_config("fsdd-loso", front_end=text)


def test_config_name_and_manifest_record():
    cfg = make_config("fsdd-loso", front_end="tilt_degree=1+speaker_norm=1")
    assert cfg.front_end == "tilt_degree=1+speaker_norm=1"
    assert "+" not in cfg.name and "-and-" in cfg.name
    rec = front_end_record("fsdd-loso", cfg.front_end)["front_end"]
    assert rec == [CochleaConfig(tilt_degree=1).as_dict(), CochleaConfig(speaker_norm=1).as_dict()]
    assert front_end_record("fsdd-loso", "tilt_degree=1")["front_end"] == CochleaConfig(tilt_degree=1).as_dict()


def test_encoding_puts_view_a_first_each_with_its_own_cochlea(monkeypatch, tmp_path):
    """Three recordings through two stand-in cochleas: view A's spikes are all 1 in its 3 channels,
    view B's all 0 in its 2; every view is encoded (and cached) as a front end of its own."""
    seen = []

    def cochlea_spikes(waves, config, speakers, enrol, progress, reference=None):
        seen.append((config, tuple(speakers)))
        return np.full((len(waves), config.n_steps, config.n_channels), config.tilt_degree, dtype=np.uint8)
    monkeypatch.setattr(fsdd, "cochlea_spikes", cochlea_spikes)
    monkeypatch.setenv("DELAYSNN_CACHE", str(tmp_path / "cache"))
    recs = []
    for d, i in ((3, 0), (1, 4), (7, 2)):
        path = tmp_path / f"{d}_ann_{i}.wav"
        scipy.io.wavfile.write(path, 8000, np.full(800, 100 * (d + 1), dtype=np.int16))
        recs.append(fsdd.Recording(path, d, "ann", i))
    views = front_end_config("tilt_degree=1,n_channels=3,n_steps=4+n_channels=2,n_steps=4")
    data = fsdd.encode_recordings(recs, views, progress=False)
    assert data.spikes.shape == (3, 4, 5)
    assert int(data.spikes[..., :3].min()) == 1 and int(data.spikes[..., 3:].max()) == 0
    assert data.labels.tolist() == [3, 1, 7] and data.meta["index"].tolist() == [0, 4, 2]
    assert [c for c, _ in seen] == list(views.configs) and data.info["config"] == views.as_dict()
    again = fsdd.encode_recordings(recs, views, progress=False)     # both views from the cache now
    assert len(seen) == 2 and again.info["cache_hit"] and np.array_equal(again.spikes, data.spikes)


def test_a_deployed_network_of_two_views_reads_both_back(tmp_path):
    from hostlink.deployed import RunError, front_end

    class Dep:
        folder = tmp_path
        manifest = {"task": "fsdd-loso", "front_end": [CochleaConfig(tilt_degree=1).as_dict(),
                                                       CochleaConfig(speaker_norm=1).as_dict()]}
        deploy = {}
    assert front_end(Dep()) == Views((CochleaConfig(tilt_degree=1), CochleaConfig(speaker_norm=1)))
    Dep.manifest = {"task": "fsdd-loso", "front_end": [CochleaConfig().as_dict()] * 3}
    with pytest.raises(RunError, match="bad front_end settings .front end: expected two views"):
        front_end(Dep())
