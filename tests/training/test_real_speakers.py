"""Fewer real training speakers (`--real-speakers N`, delay_training.data.real_speaker_subset): which
speakers a fold keeps, that every speaker is kept equally often over the folds, that the synthetic
speaker and the test split are untouched, the option's bounds and tasks, and one line for a user's
mistake.
"""
from __future__ import annotations

from collections import Counter

import pytest
import torch

import delay_training.data as data_module
from delay_training.__main__ import main as cli_main
from delay_training.data import TaskError, load_task, only_speakers, real_speaker_subset
from delay_training.train import make_config
from spike_datasets.base import SpikeDataset
from spike_datasets.fsdd import Recording

FSDD = ("george", "jackson", "lucas", "nicolas", "yweweler")


@pytest.mark.parametrize("held, n, kept", [
    ("george", 1, ["jackson"]),
    ("george", 2, ["jackson", "lucas"]),
    ("nicolas", 2, ["george", "yweweler"]),        # wraps round after the last name
    ("yweweler", 1, ["george"]),
    ("yweweler", 3, ["george", "jackson", "lucas"]),
    ("lucas", 4, ["george", "jackson", "nicolas", "yweweler"]),   # the largest: all the others
])
def test_the_speakers_after_the_held_out_one_wrapping_round(held, n, kept):
    assert real_speaker_subset(FSDD, held, n) == kept
    assert real_speaker_subset(reversed(FSDD), held, n) == kept    # by name, not by given order


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_speaker_is_kept_equally_often_over_the_folds(n):
    counts = Counter(s for held in FSDD for s in real_speaker_subset(FSDD, held, n))
    assert counts == Counter({s: n for s in FSDD})
    assert all(held not in real_speaker_subset(FSDD, held, n) for held in FSDD)


@pytest.mark.parametrize("n, expected", [(0, "expected 1 to 4"), (5, "expected 1 to 4"),
                                         (-1, "expected 1 to 4")])
def test_a_count_the_fold_cannot_have_is_one_user_error(n, expected):
    with pytest.raises(TaskError, match=rf"--real-speakers {n}: {expected} \(the speakers left when "
                                        r"one of the 5 is held out\), or 0 for all of them"):
        real_speaker_subset(FSDD, "george", n)
    with pytest.raises(ValueError, match="test_speaker must be one of"):   # a bug, not a user's mistake
        real_speaker_subset(FSDD, "theo", 1)


def _split(speakers: list[int], names=("george", "jackson", "lucas", "tts")) -> SpikeDataset:
    n = len(speakers)
    return SpikeDataset(name="fsdd/speaker/train", spikes=torch.zeros(n, 1, 1, dtype=torch.uint8),
                        labels=torch.arange(n), n_classes=10, dt=0.01,
                        class_names=tuple(map(str, range(10))),
                        meta={"speaker": torch.tensor(speakers)}, info={"speakers": names})


def test_only_speakers_keeps_the_chosen_and_the_synthetic_ones_in_file_order():
    got = only_speakers(_split([0, 3, 1, 2, 1, 3, 0]), ["jackson"])
    assert got.meta["speaker"].tolist() == [3, 1, 1, 3]
    assert got.labels.tolist() == [1, 2, 4, 5]                    # which samples, in order
    assert got.info["real_speakers"] == ["jackson"]
    no_tts = only_speakers(_split([0, 1, 2, 0], ("george", "jackson", "lucas")), ["george", "lucas"])
    assert no_tts.meta["speaker"].tolist() == [0, 2, 0]


def _stand_in_fsdd(monkeypatch):
    """load_fsdd and list_recordings over FSDD's five speakers, one sample per speaker and split
    (meta['speaker'] indexes the five names, as the real loader sets it)."""
    def load_fsdd(split, protocol, test_speaker, config, progress):
        kept = [i for i, s in enumerate(FSDD) if (s == test_speaker) == (split == "test")]
        return _split(kept, FSDD)
    monkeypatch.setattr(data_module.sd, "load_fsdd", load_fsdd)
    monkeypatch.setattr(data_module.sd, "list_recordings",
                        lambda: [Recording(None, 0, s, 0) for s in FSDD])


def test_load_task_trains_and_validates_on_the_subset_and_tests_on_the_held_out_speaker(monkeypatch):
    _stand_in_fsdd(monkeypatch)
    names = lambda ds: [FSDD[int(i)] for i in ds.meta["speaker"]]
    s = load_task("fsdd-loso", test_speaker="lucas", real_speakers=2)
    assert names(s.train) == names(s.val) == ["nicolas", "yweweler"]
    assert names(s.test) == ["lucas"]
    assert s.info["real_speakers"] == ["nicolas", "yweweler"]
    assert (s.info["n_train"], s.info["n_val"]) == (2, 2)
    full = load_task("fsdd-loso", test_speaker="lucas")            # 0: every training speaker
    assert names(full.train) == ["george", "jackson", "nicolas", "yweweler"]
    assert "real_speakers" not in full.info
    with pytest.raises(TaskError, match="--real-speakers 5: expected 1 to 4"):
        load_task("fsdd-loso", test_speaker="lucas", real_speakers=5)


def test_option_tasks_bounds_and_run_name():
    assert "real_speakers" not in make_config("fsdd-loso").identity()   # old runs keep resuming
    cfg = make_config("fsdd-loso", real_speakers=2)
    assert cfg.identity()["real_speakers"] == 2 and "real2" in cfg.name
    assert make_config("fsdd-loso", real_speakers=3).name != cfg.name
    with pytest.raises(ValueError, match=r"--real-speakers applies to leave one speaker out "
                                         r"\(task fsdd-loso\), not fsdd"):
        make_config("fsdd", real_speakers=2)
    with pytest.raises(ValueError, match=r"--real-speakers -1: expected the number of real training "
                                         r"speakers to keep, 1 or more \(0: all\)"):
        make_config("fsdd-loso", real_speakers=-1)


def test_the_command_line_refuses_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--task", "yinyang", "--real-speakers", "2", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(
        "error: --real-speakers applies to leave one speaker out (task fsdd-loso), not yinyang")
    _stand_in_fsdd(monkeypatch)          # the data decide the upper bound: refused before any write
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--task", "fsdd-loso", "--real-speakers", "5", "--test-speaker", "george",
                  "--out", str(tmp_path / "o"), "--report", str(tmp_path / "r.json")])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "error: --real-speakers 5: expected 1 to 4 (the speakers left when one of the 5 is held "
        "out), or 0 for all of them")
    assert not (tmp_path / "o").exists() and not (tmp_path / "r.json").exists()
