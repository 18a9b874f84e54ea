"""Two front ends side by side (`--front-end A+B`): parsing, the joined splits, the manifest record,
and the one line that run / eval / adapt give for such a network."""
from __future__ import annotations

import pytest
import torch

import delay_training.data as data
from delay_training.data import Splits, load_task, side_by_side
from delay_training.train import front_end_record, make_config
from spike_datasets import CochleaConfig, SpikeDataset
from spike_datasets.cochlea import front_end_views, views_text


def test_views_parse_and_print_back():
    views = front_end_views("tilt_degree=1+speaker_norm=1,n_channels=350")
    assert views == (CochleaConfig(tilt_degree=1), CochleaConfig(speaker_norm=1, n_channels=350))
    assert views_text(views) == "tilt_degree=1+n_channels=350,speaker_norm=1"
    assert front_end_views(views_text(views)) == views
    assert front_end_views("") == (CochleaConfig(),)
    assert front_end_views("tilt_degree=1") == (CochleaConfig(tilt_degree=1),)


@pytest.mark.parametrize("text, message", [
    ("tilt_degree=1+speaker_norm=1+smooth_erb=1", r"at most two views \(A\+B\), got 3"),
    ("tilt_degree=1+dt=0.02", "the views must share dt and n_steps"),
    ("tilt_degree=1+n_steps=50", "the views must share dt and n_steps"),
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


def _set(n_channels: int, fill: int, labels=(0, 1, 2)) -> SpikeDataset:
    x = torch.full((len(labels), 4, n_channels), fill, dtype=torch.uint8)
    return SpikeDataset(name="fsdd/speaker/x", spikes=x, labels=torch.tensor(labels), n_classes=10,
                        dt=0.01, meta={"speaker": torch.tensor([0, 1, 1])}, info={"speakers": ("a", "b")})


def test_side_by_side_puts_view_a_first_and_keeps_order_and_meta():
    a = Splits(_set(3, 0), _set(3, 0), _set(3, 0), {"protocol": "speaker", "n_channels": 3})
    b = Splits(_set(2, 1), _set(2, 1), _set(2, 1), {"protocol": "speaker", "n_channels": 2})
    s = side_by_side([a, b])
    for split in (s.train, s.val, s.test):
        assert split.spikes.shape == (3, 4, 5)
        assert torch.equal(split.spikes[..., :3], torch.zeros(3, 4, 3, dtype=torch.uint8))
        assert torch.equal(split.spikes[..., 3:], torch.ones(3, 4, 2, dtype=torch.uint8))
        assert torch.equal(split.labels, torch.tensor([0, 1, 2]))
        assert torch.equal(split.meta["speaker"], torch.tensor([0, 1, 1]))
    assert s.info["n_channels"] == 5 and s.info["views"] == [3, 2] and s.info["protocol"] == "speaker"
    other = Splits(_set(2, 1, labels=(2, 1, 0)), _set(2, 1), _set(2, 1), {"n_channels": 2})
    with pytest.raises(ValueError, match="do not hold the same recordings"):
        side_by_side([a, other])


def test_load_task_encodes_each_view_with_its_own_cochlea(monkeypatch):
    seen = []

    def fake_load_fsdd(split, protocol, test_speaker, config, progress):
        seen.append((split, config))
        return _set(config.n_channels, config.tilt_degree)
    monkeypatch.setattr(data.sd, "load_fsdd", fake_load_fsdd)
    s = load_task("fsdd-loso", test_speaker="b", front_end="tilt_degree=1,n_channels=3+n_channels=2")
    assert [c for _, c in seen] == [CochleaConfig(tilt_degree=1, n_channels=3)] * 3 + [CochleaConfig(n_channels=2)] * 3
    assert s.train.n_channels == 5 and int(s.train.spikes[..., :3].min()) == 1 and int(s.train.spikes[..., 3:].max()) == 0
    assert s.info["views"] == [3, 2] and s.info["test_speaker"] == "b"


def test_a_two_view_network_is_refused_by_run_in_one_line(tmp_path):
    from hostlink.deployed import RunError, front_end

    class Dep:
        folder = tmp_path
        manifest = {"task": "fsdd-loso", "front_end": [CochleaConfig().as_dict()] * 2}
        deploy = {}
    with pytest.raises(RunError, match="trained on 2 front ends side by side"):
        front_end(Dep())
