"""Tests of the leave-one-speaker-out protocol (delay_training.loso, `delaysnn loso`).

* the speaker split: no speaker in two splits, validation only the other speakers' takes 0-4,
  test every recording of the held-out speaker (exact sets, made-up and real recordings);
* the protocol guard refuses a split that lets the held-out speaker into validation;
* per-digit accuracy on a known prediction set, a digit absent from the fold included;
* a tiny LOSO run (2 speakers, 1 seed, 1 epoch, 40 training samples) writes the report with
  every field, the plot and ordinary run folders; --resume reuses them;
* an unknown speaker is one line and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from delay_training import loso as L
from delaysnn import cli
from spike_datasets.fsdd import Recording, list_recordings, split_indices

SPEAKERS = ("ann", "bob", "cid", "dan", "eve")


def made_up_recordings() -> list[Recording]:
    """5 speakers x 10 digits x 50 takes, as FSDD names them (no file is read)."""
    return [Recording(Path(f"{d}_{s}_{i}.wav"), d, s, i)
            for s in SPEAKERS for d in range(10) for i in range(50)]


def split_sets(recordings, held_out: str) -> dict[str, set[tuple[str, int, int]]]:
    """(speaker, digit, take) of each split of the speaker protocol."""
    return {split: {(recordings[i].speaker, recordings[i].digit, recordings[i].index)
                    for i in split_indices(recordings, split, "speaker", held_out)}
            for split in ("train", "validation", "test")}


@pytest.mark.parametrize("held_out", SPEAKERS)
def test_speaker_split_exact_sets(held_out):
    recs = made_up_recordings()
    sets = split_sets(recs, held_out)
    others = [s for s in SPEAKERS if s != held_out]
    assert sets["test"] == {(held_out, d, i) for d in range(10) for i in range(50)}
    assert sets["validation"] == {(s, d, i) for s in others for d in range(10) for i in range(5)}
    assert sets["train"] == {(s, d, i) for s in others for d in range(10) for i in range(5, 50)}
    speakers = {k: {s for s, _, _ in v} for k, v in sets.items()}
    assert held_out not in speakers["validation"] | speakers["train"]
    assert not speakers["test"] & (speakers["validation"] | speakers["train"])


def test_speaker_split_on_the_real_recordings():
    recs = list_recordings()
    speakers = sorted({r.speaker for r in recs})
    assert len(speakers) == 5
    for held_out in speakers:
        sets = split_sets(recs, held_out)
        assert {s for s, _, _ in sets["test"]} == {held_out}
        assert len(sets["test"]) == sum(r.speaker == held_out for r in recs) == 500
        assert {s for s, _, _ in sets["validation"]} == set(speakers) - {held_out}
        assert {s for s, _, _ in sets["train"]} == set(speakers) - {held_out}
        assert (len(sets["train"]), len(sets["validation"])) == (1800, 200)


def test_held_out_guard_refuses_a_leaky_split():
    spec = {"protocol": "speaker", "speaker": "bob"}
    L.check_held_out(spec, {"train": ["ann"], "val": ["ann"], "test": ["bob"]})
    with pytest.raises(RuntimeError, match="split bug"):
        L.check_held_out(spec, {"train": ["ann"], "val": ["ann", "bob"], "test": ["bob"]})
    with pytest.raises(RuntimeError, match="split bug"):
        L.check_held_out(spec, {"train": ["ann"], "val": ["ann"], "test": ["ann", "bob"]})


def test_per_digit_accuracy_known_predictions():
    # digit 0: 2 of 3 right; digit 1: 0 of 1; digit 2: absent (predicted once, wrongly, for a 1
    # is not a recording of 2); digit 3: 1 of 1; digits 4-9 absent
    labels = [0, 0, 0, 1, 3]
    preds = [0, 0, 5, 2, 3]
    acc = L.per_digit_accuracy(labels, preds)
    assert acc[:4] == [pytest.approx(2 / 3), 0.0, None, 1.0]
    assert acc[4:] == [None] * 6
    # a fold's per-digit mean over seeds skips the seed lacking the digit, and is None only when
    # no seed has it
    rows = [{"seed": 0, "test_acc": 0.6, "val_acc": 0.5, "per_digit_acc": acc},
            {"seed": 1, "test_acc": 0.8, "val_acc": 0.7,
             "per_digit_acc": [1.0, 1.0, 0.5] + [None] * 7}]
    fold = L.fold_summary("ann", rows)
    assert fold["per_digit_acc_mean"][:4] == [pytest.approx(5 / 6), 0.5, 0.5, 1.0]
    assert fold["per_digit_acc_mean"][4:] == [None] * 6
    assert fold["test_acc_mean"] == pytest.approx(0.7)
    assert (fold["test_acc_min"], fold["test_acc_max"]) == (0.6, 0.8)


def test_tiny_loso_run_writes_report_and_plot(tmp_path):
    kw = dict(recipe={"epochs": 1, "sizes": (8,), "n_train": 40}, seeds=(0,),
              speakers="lucas,george", workers=1, train_dir=tmp_path / "train",
              reports_dir=tmp_path / "reports", progress=False)
    s = L.loso(**kw)
    name = "e1-h8-leak3.4-gain2.1-n40"
    report = tmp_path / "reports" / f"loso-{name}.json"
    data = json.loads(report.read_text())
    assert data["name"] == name and data["speakers"] == ["lucas", "george"]
    assert data["seeds"] == [0] and data["official"] is None and data["failed"] == []
    assert [f["speaker"] for f in data["folds"]] == ["lucas", "george"]
    assert [(r["speaker"], r["seed"]) for r in data["runs"]] == [("lucas", 0), ("george", 0)]
    for run in data["runs"]:
        held = run["speaker"]
        assert run["test_speakers"] == [held] and run["n_test"] == 500
        assert held not in run["val_speakers"] and len(run["val_speakers"]) == 4
        assert held not in run["train_speakers"]
        assert run["n_val"] == 200 and run["n_train"] == 40
        assert run["epochs"] == 1 and run["selected_epoch"] == 1
        assert len(run["per_digit_acc"]) == 10 and run["n_test_by_digit"] == [50] * 10
        # the per-digit figures add up to the run's test accuracy (50 recordings per digit)
        assert sum(run["per_digit_acc"]) / 10 == pytest.approx(run["test_acc"])
        folder = Path(run["folder"])
        assert folder.parent == tmp_path / "train" and (folder / "export" / "manifest.json").exists()
        assert (tmp_path / "reports" / f"train-{run['run']}.json").exists()
    fold_means = [f["test_acc_mean"] for f in data["folds"]]
    assert fold_means == [r["test_acc"] for r in data["runs"]]
    assert data["mean_test_acc"] == pytest.approx(sum(fold_means) / 2)
    assert data["std_test_acc_over_folds"] == pytest.approx(abs(fold_means[0] - fold_means[1]) / 2 ** 0.5)
    assert data["memory_bits"]["total"] > 0
    png = tmp_path / "reports" / f"loso-{name}.png"
    assert s["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # --resume: both runs are found finished and give the same rows without training
    again = L.loso(**kw, resume=True)
    assert [r.get("reused") for r in again["runs"]] == [True, True]
    assert [r["test_acc"] for r in again["runs"]] == [r["test_acc"] for r in data["runs"]]


def test_epoch_line_names_the_run_and_its_epoch():
    spec = {"protocol": "speaker", "speaker": "george", "seed": 1}
    rec = {"epoch": 3, "epochs": 30, "val_acc": 0.912, "best_val_acc": 0.915, "best_epoch": 2,
           "epoch_s": 57.6}
    assert L.epoch_line(spec, rec) == "  george held out, seed 1: epoch 3/30, val 0.9120, best 0.9150 @ 2, 58 s"
    assert L.epoch_line(dict(spec, protocol="official"), rec).startswith("  official split, seed 1: epoch 3/30")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_in_flight_says_each_epoch(workers, tmp_path, capfd):
    """A LOSO of long runs is not silent for a run's length: every epoch of every run prints a
    line (from the workers too), before the run's finished line."""
    L.loso(recipe={"epochs": 2, "sizes": (8,), "n_train": 40}, seeds=(0,), speakers="lucas,george",
           workers=workers, train_dir=tmp_path / "train", reports_dir=tmp_path / "reports")
    out = capfd.readouterr().out.splitlines()
    for speaker in ("lucas", "george"):
        epochs = [i for i, line in enumerate(out) if line.startswith(f"  {speaker} held out, seed 0: epoch ")]
        assert [out[i].split("epoch ")[1].split(",")[0] for i in epochs] == ["1/2", "2/2"]
        finished = next(i for i, line in enumerate(out) if f"] {speaker} held out, seed 0: " in line)
        assert epochs[-1] < finished


def test_the_synthetic_speakers_are_prepared_once_with_a_progress_bar(tmp_path, capfd):
    """The runs share the --tts speakers: LOSO makes them before any run starts, on screen (a
    worker's own load is silent)."""
    L.loso(recipe={"epochs": 1, "sizes": (8,), "n_train": 40, "tts": "voices=2"}, seeds=(0,),
           speakers="lucas", workers=1, train_dir=tmp_path / "train", reports_dir=tmp_path / "reports")
    out, err = capfd.readouterr()
    prepared = out.index("preparing the synthetic speakers (voices=2,")
    assert prepared < out.index("  lucas held out, seed 0: epoch 1/1")
    assert "espeak-ng voices" in err


def test_resume_starts_a_new_run_without_the_hint_for_another_name(tmp_path, capfd):
    kw = dict(recipe={"epochs": 1, "sizes": (8,), "n_train": 40}, seeds=(3,), speakers="lucas",
              workers=1, train_dir=tmp_path / "train", reports_dir=tmp_path / "reports", progress=False)
    s = L.loso(**kw, resume=True)
    assert [r.get("reused") for r in s["runs"]] == [False]
    out = "".join(capfd.readouterr())
    assert "no checkpoint" not in out and "give its --name" not in out


def test_unknown_speaker_is_one_line(capsys):
    assert cli.main(["loso", "--speakers", "lucas,bob", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("delaysnn: error: --speakers lucas,bob: unknown speaker 'bob'; "
                          "expected 'all' or a comma-separated list of george, jackson, lucas")


@pytest.mark.parametrize("text", ["lucas,lucas", ","])
def test_speaker_list_repeated_or_empty(text):
    with pytest.raises(L.LosoError, match="no speaker, or one twice"):
        L.choose_speakers(text, ["george", "lucas"])
    assert L.choose_speakers("lucas", ["george", "lucas"]) == ["lucas"]
    assert L.choose_speakers("all", ["george", "lucas"]) == ["george", "lucas"]


@pytest.mark.parametrize("argv, message", [
    (["--speaker-adversary", "-1"], "--speaker-adversary -1: expected a strength in [0, 10]"),
    (["--real-speakers", "-2"], "--real-speakers -2: expected the number of real training speakers"),
    (["--real-speakers", "5"], "--real-speakers 5: expected 1 to 4 (the speakers left when one of "
                               "the 5 is held out)"),
    # the network's shape and registers (ModelConfig), refused before a worker starts
    (["--leak", "3,99"], "--leak: 3 value(s) for 2 LIF layer(s) + readout, got 2"),
    (["--sizes", "128", "--leak", "3,16"], "--leak: values in 0..15 for shift mode"),
    (["--sizes", "128", "--v-bits", "25"], "--v-bits: 8..24, got 25"),
    (["--sizes", "128", "--leak", "3,4,5"], "--leak: 2 value(s) for 1 LIF layer(s) + readout, got 3"),
    (["--sizes", "128", "--leak-mode", "mul", "--leak", "240,257"], "--leak: values in 0..256 for mul mode"),
])
def test_an_impossible_training_option_is_one_line_before_anything_runs(argv, message, capsys, tmp_path):
    assert cli.main(["loso", *argv, "--seeds", "0", "--train-dir", str(tmp_path / "t"),
                     "--reports-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"delaysnn: error: {message}")
    assert not (tmp_path / "t").exists() and not (tmp_path / "r").exists()
