"""On-chip adaptation to a new speaker (sw/onchip_learning/adapt.py, `delaysnn adapt`) and its
replay on the RTL (verification/runners/adapt_replay.py).

Fast: labels from file names and a CSV, every refusal one line (missing folder, bad CSV row,
unknown speaker, K out of range), the host-side input delays equal the input delay stage. On a
tiny LOSO run without george trained here (the default recipe's shape at 16 neurons, 1 epoch; the
FSDD data): one short fold end to end (report, plot, image; golden learner = replica), and a
shortened fold replayed on Verilator with 0 mismatches (every labelled sample, an evaluation
sample after each, two at the end).
"""

import argparse

import numpy as np
import pytest
import torch

from golden_model import CoreConfig, GoldenNetwork, random_params
from onchip_learning import adapt as A


def wav_folder(tmp_path, names):
    d = tmp_path / "words"
    d.mkdir()
    for n in names:
        (d / n).write_bytes(b"")
    return d


def test_labels_from_file_names(tmp_path):
    d = wav_folder(tmp_path, ["3_me_0.wav", "0_me_1.wav", "0_me_0.wav", "notes.txt"])
    assert [(p.name, y) for p, y in A.wav_labels(d)] == [("0_me_0.wav", 0), ("0_me_1.wav", 0),
                                                         ("3_me_0.wav", 3)]


def test_labels_from_csv_override_names(tmp_path):
    d = wav_folder(tmp_path, ["a.wav", "b.WAV", "7_x.wav"])
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\na.wav,4\nwords/b.WAV,9\n7_x.wav,1\n")
    assert [(p.name, y) for p, y in A.wav_labels(d, csv)] == [("7_x.wav", 1), ("a.wav", 4), ("b.WAV", 9)]


@pytest.mark.parametrize("rows, message", [
    ("a.wav,4,5\n", "expected 'file,label'"),
    ("file,label\na.wav,four\n", "is not a class number"),
    ("a.wav,12\n", "is not a digit 0-9"),
    ("b.wav,1\n", "a.wav: no label"),
])
def test_bad_labels_are_one_line(tmp_path, rows, message):
    d = wav_folder(tmp_path, ["a.wav"])
    csv = tmp_path / "labels.csv"
    csv.write_text(rows)
    with pytest.raises(A.AdaptError, match=message) as e:
        A.wav_labels(d, csv)
    assert "\n" not in str(e.value)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(A.AdaptError, match="no such folder"):
        A.wav_labels(tmp_path / "nope")
    with pytest.raises(A.AdaptError, match="no .wav files"):
        A.wav_labels(wav_folder(tmp_path, []))


def test_first_k_per_digit():
    assert A.first_k_per_digit([0, 0, 1, 0, 1, 2], 2) == ([0, 1, 2, 4, 5], [3])


def test_short_digits_are_those_with_fewer_than_k_words():
    """The boundary: a digit with exactly k words is not short, k - 1 is, and an absent digit
    counts 0."""
    labels = [0, 0, 1] + [d for d in range(2, 9) for _ in range(2)]     # no 9
    assert A.short_digits(labels, 2) == {1: 1, 9: 0}
    assert A.short_digits(labels, 1) == {9: 0}
    assert A.short_digits(labels + [9], 1) == {}
    assert A.short_digits_note({1: 1, 9: 0}, 2) == ("note: fewer than --k 2 labelled words for "
                                                    "2 digit(s) (1: 1, 9: 0); each adapts from "
                                                    "the words it has")


def test_k_is_bounded_by_fsdds_takes_only_for_an_fsdd_speaker():
    """An FSDD speaker has takes 0-4 to adapt from (5-49 test him); a user's own folder may
    hold any number of words per digit."""
    assert A.check_k(5) == 5 and A.check_k(8, own_words=True) == 8 and A.check_k(1, own_words=True) == 1
    with pytest.raises(A.AdaptError, match="--k 6: between 1 and 5"):
        A.check_k(6)
    with pytest.raises(A.AdaptError, match="--k 0: at least 1 recording per digit"):
        A.check_k(0, own_words=True)


def test_a_folder_of_only_labelled_words_adapts_and_says_nothing_was_left_to_evaluate(
        george_run, tmp_path, capsys):
    """Ten words, k = 1: every word adapts and none is left to test. The run writes its report,
    plot and adapted image and says that the speaker's accuracy was not measured (before, the
    summary line raised a TypeError on the missing figure). k = 7 is allowed for one's own words."""
    import json
    import shutil
    from spike_datasets.paths import data_root
    words = tmp_path / "ten_words"
    words.mkdir()
    for d in range(10):
        shutil.copy(data_root() / "fsdd" / "recordings" / f"{d}_george_1.wav", words / f"{d}_me_1.wav")
    for k, passes in ((1, ["--passes", "1"]), (7, [])):      # k = 7: the default 3 passes
        name = f"pytest-all-labelled-k{k}"
        assert A.run(parsed(["--run", str(george_run), "--wav-dir", str(words), "--k", str(k),
                             *passes, "--bptt", "--bptt-epochs", "1", "--name", name])) == 0
        out = capsys.readouterr().out
        assert "speaker: not measured (all 10 words adapted, none left to evaluate" in out
        assert (f"fewer than --k {k} labelled words for 10 digit(s)" in out) == (k == 7)
        rep = json.loads((A.REPO / "build" / "reports" / f"adapt-{name}.json").read_text())
        assert rep["short_digits"] == ({str(d): 1 for d in range(10)} if k == 7 else {})
        assert rep["test_samples"] == 0 and rep["speaker_accuracy"] == {"before": None, "after": None}
        assert rep["k"] == k and len(set(rep["adapt_samples"])) == 10 and A.Path(rep["plot"]).is_file()
        assert len(rep["adapt_samples"]) == 10 * rep["passes"] and rep["passes"] == (1 if k == 1 else 3)


@pytest.mark.parametrize("argv, message", [
    (["--speaker", "bob"], "not an FSDD speaker"),
    (["--speaker", "george", "--k", "0"], "between 1 and 5"),
    (["--speaker", "george", "--k", "6"], "between 1 and 5"),
    (["--speaker", "george", "--passes", "0"], "at least 1"),
    (["--wav-dir", "/no/such/dir"], "no such folder"),
    ([], "give --speaker"),
])
def test_cli_refusals_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        A.main(argv + ["--run", "/no/such/run"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err


def test_default_network_is_the_best_loso_recipes_seed0_run():
    """`make adapt SPEAKER=X` starts from the run `delaysnn loso` makes for the recipe of
    docs/results.md at seed 0 (so a finished LOSO run is reused, not trained again)."""
    from delay_training.loso import run_spec
    from delay_training.train import make_config
    recipe = {"epochs": 20, "sizes": [128], "leak": [3, 4], "init_gain": [2.0, 1.0],
              "input_delays": True, "front_end": "tilt_degree=1", "tts": "voices=200,flite=200,takes=2,snr=10:40"}
    spec = run_spec("fsdd-loso", recipe, 0, "nicolas", None, None, False)
    assert A.default_config("nicolas").name == make_config("fsdd-loso", **spec["overrides"]).name
    assert A.default_config("nicolas").name != A.default_config("george").name
    cfg = A.default_config("george")
    assert (cfg.front_end, cfg.tts, cfg.sizes, cfg.input_delays) == (
        "tilt_degree=1", "voices=200,flite=200,takes=2,snr=10:40", (128,), True)


def test_recipe_names_the_run_and_an_unknown_speaker_is_one_line():
    ns = argparse.Namespace(run=None, speaker="george", recipe="no-such-run-{speaker}")
    with pytest.raises(A.AdaptError, match="no-such-run-george: no export/manifest.json"):
        A.run_folder(ns)
    ns = argparse.Namespace(run=None, speaker="alice", recipe=None)
    with pytest.raises(A.AdaptError, match="--speaker alice: expected one of george, jackson"):
        A.run_folder(ns)


def test_default_network_without_espeak_is_one_line(tmp_path, monkeypatch):
    import shutil
    from types import SimpleNamespace
    run = SimpleNamespace(out=str(tmp_path / "run"), tts=A.DEFAULT_TRAINING["tts"])
    monkeypatch.setattr(A, "default_config", lambda speaker, front_end="": run)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(A.AdaptError, match="need espeak-ng and flite: run `make install`"):
        A.train_default("george")
    (tmp_path / "run" / "export").mkdir(parents=True)
    (tmp_path / "run" / "export" / "manifest.json").write_text("{}")
    assert A.train_default("george") == tmp_path / "run"      # a trained network needs no espeak-ng


def test_a_recipe_with_stray_braces_is_one_line():
    ns = argparse.Namespace(run=None, speaker="george", recipe="run-{x}")
    with pytest.raises(A.AdaptError, match="with {speaker} where the speaker goes"):
        A.run_folder(ns)


def test_unknown_run_folder_is_one_line(tmp_path):
    ns = argparse.Namespace(run=tmp_path, speaker="george", recipe=A.DEFAULT_RECIPE)
    with pytest.raises(A.AdaptError, match="no export/manifest.json"):
        A.run_folder(ns)


def test_host_side_input_delays_equal_the_stage():
    """The core with the engine is built without the input delay stage; the host delays the
    input instead: every readout value is the same."""
    cfg = CoreConfig(n_in=12, sizes=(8,), n_out=3, weight_bits=2, ternary=True, depth=8,
                     v_bits=12, input_delays=True)
    p = random_params(cfg, 3, threshold_scale=0.3)
    x = (torch.rand(4, 20, 12, generator=torch.Generator().manual_seed(1)) < 0.3).to(torch.int64)
    ref = GoldenNetwork(p).run(x)["readout"]
    got = GoldenNetwork(A.host_delayed(p)).run(torch.as_tensor(A.delay_input(p, x)).to(torch.int64))["readout"]
    assert torch.equal(ref, got)


def test_presentation_is_seeded_per_pass():
    o = A.presentation(10, 2, 0)
    assert sorted(o[:10]) == sorted(o[10:]) == list(range(10)) and o[:10] != o[10:]
    assert o == A.presentation(10, 2, 0) != A.presentation(10, 2, 1)


def test_one_short_fold_end_to_end(george_run):
    # preset "readout" (lr_shift_R 8): on the tiny run the "adapt" preset (lr_shift_R 19) changes
    # about one parameter in 10 samples; this one changes dozens, so golden = replica means
    # something
    args = parsed(["--speaker", "george", "--run", str(george_run), "--k", "1", "--preset", "readout",
                   "--passes", "1", "--every", "5", "--bptt", "--bptt-epochs", "2", "--bptt-lr", "2e-3",
                   "--name", "pytest-george-k1"])
    rep = A.adapt(args, progress=False)
    assert rep["golden_equal"] and rep["learned"] == 10
    assert rep["readout_weights_changed"] + rep["delays_changed"] > 0
    assert 0 < rep["hinge_fired"] <= 10
    assert rep["curve"]["seen"] == [0, 5, 10] and rep["test_samples"] == 450
    assert rep["other_samples"] == 200 and len(rep["adapt_samples"]) == 10
    assert 0 <= rep["bptt"]["speaker_accuracy"] <= 1
    for key in ("report", "plot", "adapted_image"):
        assert A.Path(rep[key]).is_file()
    # no speaker_norm: no reference kept, none copied into the adapted folders
    assert rep["speaker_reference"] is None
    assert not list(A.Path(rep["adapted_deployed"]).glob("speaker-reference.json"))


def parsed(argv):
    ap = argparse.ArgumentParser()
    A.add_arguments(ap)
    return ap.parse_args(argv)


def test_bptt_reference_changes_what_it_is_told(george_run):
    """pair-r: readout weights and hidden delays only (hidden weights and input delays exactly
    as trained); all: the hidden weights and input delays move too."""
    from hostlink.deployed import load_deployment
    P = load_deployment(george_run / "export").params
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(30, 100, 700,
                    generator=g) < 0.08).to(torch.uint8).numpy()
    y = torch.arange(30) % 10
    R = A.bptt_reference(george_run, x, y, epochs=3, lr=2e-2, progress=False, params="pair-r")
    assert torch.equal(R.layers[0].weight, P.layers[0].weight)
    assert torch.equal(R.input_delay, P.input_delay)
    assert not torch.equal(R.layers[-1].weight, P.layers[-1].weight)
    Q = A.bptt_reference(george_run, x, y, epochs=3, lr=2e-2, progress=False, params="all")
    assert not torch.equal(Q.layers[0].weight, P.layers[0].weight)
    assert not torch.equal(Q.input_delay, P.input_delay)
    with pytest.raises(A.AdaptError, match="--bptt-params 'hidden'"):
        A.bptt_reference(george_run, x, y, epochs=1, progress=False, params="hidden")


def test_bptt_reference_augments_the_batch_from_its_seed(george_run):
    """--bptt-augment: another batch every epoch, so another network than without it; the same
    seed gives the same network, another seed another; a wrong spec names the option."""
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(20, 100, 700, generator=g) < 0.08).to(torch.uint8).numpy()
    y = torch.arange(20) % 10

    def ref(augment, seed=0):
        Q = A.bptt_reference(george_run, x, y, epochs=3, lr=2e-2, progress=False, seed=seed,
                             augment=augment)
        return torch.cat([Q.layers[-1].weight.flatten().float(), Q.layers[0].delay.flatten().float()])

    plain, aug = ref(""), ref("shift=8,time=5,drop=0.2")
    assert not torch.equal(plain, aug)
    assert torch.equal(aug, ref("shift=8,time=5,drop=0.2"))
    assert not torch.equal(aug, ref("shift=8,time=5,drop=0.2", seed=1))
    with pytest.raises(A.AdaptError, match="--bptt-augment shift=-1"):
        A.bptt_reference(george_run, x, y, epochs=1, progress=False, augment="shift=-1")


def test_rehearsal_set_is_seeded_training_data_outside_the_forgetting_set(george_run):
    from hostlink.deployed import front_end, load_deployment
    cochlea = front_end(load_deployment(george_run / "export"))
    x, y, names = A.rehearsal_set(cochlea, "george", 40, seed=1, progress=False)
    assert len(x) == len(y) == len(names) == 40 and x.shape[1:] == (100, 700)
    speakers = {n.split("_")[1] for n in names}
    assert "george" not in speakers and len(speakers) >= 3
    assert min(int(n.split("_")[2][:-4]) for n in names) >= 5        # takes 0-4 measure forgetting
    assert [int(n.split("_")[0]) for n in names] == y.tolist()
    assert names == A.rehearsal_set(cochlea, "george", 40, seed=1, progress=False)[2]
    assert names != A.rehearsal_set(cochlea, "george", 40, seed=2, progress=False)[2]
    assert len(A.rehearsal_set(cochlea, "george", 1800, progress=False)[2]) == 1800   # 4 x 450
    with pytest.raises(A.AdaptError, match="between 0 and 1800"):
        A.rehearsal_set(cochlea, "george", 1801, progress=False)


@pytest.mark.parametrize("option", [["--bptt-rehearse", "10"], ["--bptt-params", "all"],
                                    ["--bptt-augment", "drop=0.1"]])
def test_reference_options_need_the_bptt_reference(option, capsys):
    with pytest.raises(SystemExit) as e:
        A.main(["--speaker", "george", *option, "--run", "/no/such/run"])
    assert e.value.code == 2
    assert "add --bptt" in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_wrong_augment_spec_is_one_line_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        A.main(["--speaker", "george", "--bptt", "--bptt-augment", "shift=-1", "--run", "/no/such/run"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("error: --bptt-augment shift=-1: expected a whole number >= 0")


def test_rehearsal_for_another_speaker_than_the_run_left_out_is_one_line(george_run, monkeypatch):
    # a LOSO run names its held-out speaker in loso-result.json; the tiny run here is a plain one
    monkeypatch.setattr(A, "_run_speaker", lambda run: "george")
    args = parsed(["--speaker", "lucas", "--run", str(george_run), "--k", "1", "--bptt",
                   "--bptt-rehearse", "10", "--name", "pytest-lucas-on-george-run"])
    with pytest.raises(A.AdaptError, match="trained without george, not lucas"):
        A.adapt(args, progress=False)


def test_bptt_reference_of_every_parameter_with_rehearsal_end_to_end(george_run, capsys):
    import json
    args = parsed(["--speaker", "george", "--run", str(george_run), "--k", "1", "--passes", "1",
                   "--bptt", "--bptt-params", "all", "--bptt-rehearse", "20", "--bptt-epochs",
                   "2", "--bptt-lr", "2e-2", "--every", "10", "--name", "pytest-george-all"])
    assert A.run(args) == 0                                 # the command, as a user runs it
    full = json.loads((A.REPO / "build" / "reports" / "adapt-pytest-george-all.json").read_text())
    rep = full["bptt"]
    assert f"BPTT reference image {rep['image']}" in capsys.readouterr().out
    assert A.Path(full["plot"]).is_file()
    assert rep["params"] == "all" and rep["rehearse"] == 20 and len(rep["rehearsed"]) == 20
    assert rep["hidden_weights_changed"] > 0 and "input_delays_changed" in rep
    from hostlink.image import read_image
    from hostlink.deployed import load_deployment
    Q, P = read_image(rep["image"])[2], load_deployment(george_run / "export").params
    assert (Q.layers[0].weight != P.layers[0].weight).sum() == rep["hidden_weights_changed"]
    # the reference's accuracy is its own network's, hidden spikes and all, not the old layer's
    from hostlink.deployed import front_end
    fold = A.fsdd_fold(front_end(load_deployment(george_run / "export")), "george", 1, progress=False)
    assert rep["speaker_accuracy"] == A.accuracy(Q, A.hidden_spikes(Q, fold.test_x), fold.test_y)
    assert 0 <= rep["speaker_accuracy"] <= 1 and 0 <= rep["others_accuracy"] <= 1
    # the reference as a deploy folder: the board image without the input delay stage, the
    # host applying the adapted delays; every readout value is the image's with its stage
    from golden_model import GoldenNetwork
    dep = load_deployment(rep["deployed"])
    assert dep.host_input_delays == Q.input_delay.tolist() != P.input_delay.tolist()
    assert dep.deploy["adapted"]["name"] == "pytest-george-all"
    x = torch.as_tensor(fold.test_x[:4]).to(torch.int64)
    want = GoldenNetwork(Q).run(x)["readout"]
    got = GoldenNetwork(dep.params).run(torch.as_tensor(A.delay_input(Q, fold.test_x[:4])).to(torch.int64))["readout"]
    assert torch.equal(want, got)
    assert load_deployment(full["adapted_deployed"]).host_input_delays == P.input_delay.tolist()
    # ... and the user's command takes it as it is
    import shutil
    from hostlink.cli import main
    from spike_datasets.paths import data_root
    words = A.Path(rep["deployed"]).parent / "words"
    words.mkdir(exist_ok=True)
    for d in range(3):
        shutil.copy(data_root() / "fsdd" / "recordings" / f"{d}_george_7.wav", words)
    assert main(["eval", "--deployed", rep["deployed"], "--wav-dir", str(words)]) == 0
    assert "accuracy:" in capsys.readouterr().out


def test_default_names_keep_each_reference_apart():
    """Without --name, runs that differ in the reference's settings write different folders."""
    base = ["--wav-dir", "my_words", "--k", "2", "--passes", "5"]
    names = [A.report_name(parsed(base + extra)) for extra in (
        [], ["--bptt"], ["--bptt", "--bptt-params", "all"],
        ["--bptt", "--bptt-params", "all", "--bptt-rehearse", "200", "--bptt-epochs", "30"])]
    assert names == ["my_words-k2-p5-s0", "my_words-k2-p5-s0-bptt-e3", "my_words-k2-p5-s0-bptt-all-e3",
                     "my_words-k2-p5-s0-bptt-all-r200-e30"]
    assert A.report_name(parsed(base + ["--bptt", "--name", "mine"])) == "mine"
    augmented = [A.report_name(parsed(base + ["--bptt", "--bptt-augment", spec]))
                 for spec in ("drop=0.10,shift=8", "shift=8,drop=0.1")]
    assert augmented == ["my_words-k2-p5-s0-bptt-e3-augshift8.drop0.1"] * 2


def test_bptt_label_names_what_the_reference_changed():
    assert A.bptt_label({"params": "pair-r", "rehearse": 0}) == "BPTT ref"
    assert A.bptt_label({"params": "pair-r", "rehearse": 5}) == "BPTT ref (5 rehearsed)"
    assert A.bptt_label({"params": "all", "rehearse": 0}) == "BPTT ref (all)"
    assert A.bptt_label({"params": "all", "rehearse": 200}) == "BPTT ref (all, 200 rehearsed)"


def test_own_words_on_an_official_split_network_rehearse_every_speaker(official_run, tmp_path):
    """A network of the official split learned all five speakers: the user's words adapt it,
    the official test set (every speaker's takes 0-4) measures forgetting, and the host-side
    reference rehearses from every speaker's takes 5-49."""
    import json
    import shutil
    from spike_datasets.paths import data_root
    words = tmp_path / "my_words"
    words.mkdir()
    for d in range(10):                        # one speaker's takes 0-2 as "my" words
        for t in range(3):
            shutil.copy(data_root() / "fsdd" / "recordings" / f"{d}_nicolas_{t}.wav",
                        words / f"{d}_me_{t}.wav")
    args = parsed(["--run", str(official_run), "--wav-dir", str(words), "--k", "1", "--passes",
                   "1", "--every", "10", "--bptt", "--bptt-params", "all", "--bptt-rehearse", "30",
                   "--bptt-epochs", "1", "--name", "pytest-official-own-words", "--no-plot"])
    assert A.run(args) == 0
    rep = json.loads((A.REPO / "build" / "reports" / "adapt-pytest-official-own-words.json").read_text())
    assert rep["plot"] is None and not (A.REPO / "build" / "plots" / "adapt-pytest-official-own-words.png").exists()
    assert rep["learned"] == 10 and rep["test_samples"] == 20 and rep["other_samples"] == 250
    assert rep["others_accuracy"]["before"] is not None
    names = rep["bptt"]["rehearsed"]
    assert len(names) == 30 and min(int(n.split("_")[2][:-4]) for n in names) >= 5
    assert len({n.split("_")[1] for n in names}) == 5     # no speaker held out of the pool
    from hostlink.deployed import front_end, load_deployment
    cochlea = front_end(load_deployment(official_run / "export"))
    assert len(A.rehearsal_set(cochlea, None, 2250, progress=False)[2]) == 2250     # 5 x 450
    with pytest.raises(A.AdaptError, match="between 0 and 2250"):
        A.rehearsal_set(cochlea, None, 2251, progress=False)


def test_with_speaker_norm_the_users_reference_comes_from_his_labelled_words(tmp_path):
    """--wav-dir with a speaker-normalised front end: the k words per digit he labels set his
    reference; a word he is tested on changes no other word's spikes, a labelled one changes
    them all."""
    import shutil
    from spike_datasets import CochleaConfig
    from spike_datasets.paths import data_root
    cochlea = CochleaConfig(n_channels=48, speaker_norm=1)
    src = data_root() / "fsdd" / "recordings"

    def fold(swap: str | None):
        words = tmp_path / f"words-{swap}"
        words.mkdir()
        for d in range(10):
            for t in range(2):
                shutil.copy(src / f"{d}_jackson_{t}.wav", words / f"{d}_me_{t}.wav")
        if swap:                                   # another speaker's recording in this place
            shutil.copy(src / f"{swap[0]}_lucas_0.wav", words / swap)
        return A.wav_fold(cochlea, words, None, 1, None, progress=False)

    base, tested, labelled = fold(None), fold("3_me_1.wav"), fold("3_me_0.wav")
    assert [p.name for p in base.enrol_paths] == [f"{d}_me_0.wav" for d in range(10)]
    assert len(base.adapt_x) == len(base.test_x) == 10
    assert np.array_equal(tested.adapt_x, base.adapt_x)
    changed = [i for i in range(10) if not np.array_equal(tested.test_x[i], base.test_x[i])]
    assert changed == [3]
    assert all(not np.array_equal(labelled.test_x[i], base.test_x[i]) for i in range(10))


def test_with_speaker_norm_an_fsdd_speakers_reference_comes_from_his_first_k_takes():
    """The held-out FSDD speaker is known by his k labelled takes only: his test takes' spikes
    change with k and differ from those his 500 recordings' reference gives; the other speakers'
    (forgetting set) keep their training-time reference."""
    from spike_datasets import CochleaConfig
    cochlea = CochleaConfig(n_channels=48, speaker_norm=1)
    one, two = A.fsdd_fold(cochlea, "george", 1, progress=False), A.fsdd_fold(cochlea, "george", 2, progress=False)
    assert one.test_x.shape == (450, 100, 48) and np.array_equal(one.test_y, two.test_y)
    assert not np.array_equal(one.test_x, two.test_x)
    assert np.array_equal(one.other_x, two.other_x)
    x, y, spk, take = A.fsdd_recordings(cochlea, progress=False)
    every = x[(spk == "george") & (take >= 5)]
    assert not np.array_equal(one.test_x, every) and not np.array_equal(two.test_x, every)


def test_the_kept_reference_hears_his_test_words_as_the_adaptation_did(tmp_path):
    """What `adapt` keeps in the adapted folders (speaker-reference.json, from the words he
    adapted with) gives his test words the spikes the adaptation was evaluated on: `eval` of the
    adapted folder on his other words reproduces the report's figure."""
    from hostlink import speaker_reference as R
    from hostlink.deployed import load_deployment
    from spike_datasets import CochleaConfig
    from spike_datasets.fsdd import encode_recordings, list_recordings
    from verification.runners.deploy_folder import make_deploy_folder
    cochlea = CochleaConfig(n_channels=48, speaker_norm=1)
    fold = A.fsdd_fold(cochlea, "george", 2, progress=False)
    assert sorted(p.name for p in fold.enrol_paths) == sorted(f"{d}_george_{t}.wav" for d in range(10) for t in (0, 1))
    params = random_params(CoreConfig(n_in=48, sizes=(8,), n_out=10, weight_bits=2, ternary=True,
                                      depth=8, input_delays=True), 0)
    dep = load_deployment(make_deploy_folder(tmp_path / "dep", params, {"front_end": cochlea.as_dict()}))
    folders = [tmp_path / "deployed", tmp_path / "bptt-deployed"]
    kept = A.keep_reference(dep, fold.enrol_paths, folders)
    assert kept == str(folders[0] / R.FILE_NAME) and (folders[1] / R.FILE_NAME).is_file()
    ref = R.load(kept, cochlea).references
    test = [r for r in list_recordings() if r.speaker == "george" and r.index >= 5]
    assert np.array_equal(np.asarray(encode_recordings(test, cochlea, progress=False, reference=ref).spikes),
                          fold.test_x)
    assert A.keep_reference(dep, (), folders[:1]) is None


def test_a_deployed_folder_of_another_network_with_the_same_name_is_not_reused(george_run, official_run):
    """Both tiny runs live in folders named `run`: each gets its own network deployed, never
    the other's left in build/deploy/run-icebreaker-hostdelays."""
    import json
    from hostlink.deployed import load_deployment
    assert george_run.name == official_run.name
    for run in (george_run, official_run, george_run):
        out = A.deployed_folder(run, "icebreaker", None)
        deployed = json.loads((out / "deploy.json").read_text())["export_sha256"]
        assert deployed == load_deployment(run / "export").manifest["sha256"]


def test_too_many_rehearsed_recordings_stop_before_anything_runs(george_run):
    args = parsed(["--speaker", "george", "--run", str(george_run), "--k", "1", "--bptt",
                   "--bptt-rehearse", "1801", "--name", "pytest-george-rehearse-too-many"])
    with pytest.raises(A.AdaptError, match="--bptt-rehearse 1801: between 0 and 1800"):
        A.adapt(args, progress=False)
    assert not (A.REPO / "build" / "adapt" / "pytest-george-rehearse-too-many").exists()
    assert not (A.REPO / "build" / "reports" / "adapt-pytest-george-rehearse-too-many.json").exists()


def test_shortened_fold_replays_bit_exactly_on_verilator(george_run):
    from verification.runners.adapt_replay import replay
    # preset "readout" (lr_shift_R 8): "fine-tune" (16) changes nothing in 3 samples of the tiny run
    rep = replay("george", 1, run=george_run, preset="readout", limit=3, eval_each=1, final_eval=2,
                 report=False, work_name="pytest-george")
    assert not rep["stalled"], rep
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["labelled_samples"] == 3 and rep["evaluated_samples"] == 5
    assert rep["golden_learned_params_changed"] > 0


def test_a_fold_with_nothing_to_learn_says_why(monkeypatch, capsys):
    rep = {"name": "x", "speaker_accuracy": {"before": 0.9, "after": 0.9},
           "others_accuracy": {"before": 0.98, "after": 0.98}, "golden_equal": True, "learned": 120,
           "hinge_fired": 0, "registers": {"margin": 16384, "enable": 39}, "report": "r.json", "plot": None,
           "adapted_image": "i.json", "adapted_deployed": "d"}
    monkeypatch.setattr(A, "adapt", lambda args: rep)
    assert A.run(parsed(["--speaker", "george"])) == 0
    out = capsys.readouterr().out
    assert "nothing to learn: every one of the 120 labelled presentations was right by at least the margin (16384)" in out
    monkeypatch.setattr(A, "adapt", lambda args: dict(rep, hinge_fired=1))
    A.run(parsed(["--speaker", "george"]))
    assert "nothing to learn" not in capsys.readouterr().out
    # learning off (preset "off"): no hinge fired, but that is not the reason
    monkeypatch.setattr(A, "adapt", lambda args: dict(rep, registers={"margin": 0, "enable": 0}))
    A.run(parsed(["--speaker", "george"]))
    assert "nothing to learn" not in capsys.readouterr().out


def test_the_replica_counts_the_samples_the_hinge_fires_on():
    from golden_model import CoreConfig, random_params
    from golden_model.learning import LearnRegisters
    from onchip_learning.fast_pair_r import FastPairR, delayed, readout_scores
    from onchip_learning.presets import FSDD_REGS
    cfg = CoreConfig(n_in=12, sizes=(16,), n_out=4, weight_bits=2, ternary=True, depth=8, v_bits=24)
    p = random_params(cfg, 5, threshold_scale=0.3)
    s = torch.rand(6, 30, 16, generator=torch.Generator().manual_seed(2)) < 0.3
    score = readout_scores(delayed(s, p.layers[0].delay.to(torch.int64)), p)
    right, wrong = [int(v) for v in score.argmax(1)], [(int(v) + 1) % 4 for v in score.argmax(1)]
    from golden_model.learning import LEARN_ON
    regs = dict(FSDD_REGS, margin=0, enable=LEARN_ON)       # nothing changes between samples
    F = FastPairR(p, LearnRegisters(**regs), s)
    for i in range(6):
        F.learn_sample(i, right[i])               # right, margin 0: never fires
    assert F.hinge_fired == 0
    F = FastPairR(p, LearnRegisters(**regs), s)
    F.learn_sample(0, wrong[0])
    F.learn_sample(1, wrong[1])
    F.learn_sample(2, right[2])
    assert F.hinge_fired == 2
    F.regs.margin = 1 << 40                       # right, but within the margin: fires
    F.learn_sample(2, right[2])
    assert F.hinge_fired == 3


@pytest.mark.parametrize("problem, message", [
    ("corrupt", "3_me_9.wav: not a readable WAV file"),
    ("csv-missing", "nosuch.csv: cannot read"),
    ("csv-label", "labels.csv:2: label 'eleven' is not a class number"),
])
def test_a_bad_word_folder_is_one_line_before_anything_is_deployed(george_run, tmp_path, problem,
                                                                   message, capsys):
    """--wav-dir: every label and WAV header is read before the network is deployed, so a bad
    file leaves no deployed folder behind (before, the deploy ran first)."""
    import shutil
    from spike_datasets.paths import data_root
    run = tmp_path / "pytest-wav-refusal-run"
    shutil.copytree(george_run, run)
    words = tmp_path / "words"
    words.mkdir()
    for d in range(10):
        shutil.copy(data_root() / "fsdd" / "recordings" / f"{d}_george_1.wav", words / f"{d}_me_1.wav")
    labels = tmp_path / "labels.csv"
    if problem == "corrupt":
        (words / "3_me_9.wav").write_bytes(b"not a wav")
    elif problem == "csv-label":
        labels.write_text("file,label\n0_me_1.wav,eleven\n")
    argv = ["--run", str(run), "--wav-dir", str(words), "--k", "1", "--no-plot"]
    if problem != "corrupt":
        argv += ["--labels", str(tmp_path / "nosuch.csv") if problem == "csv-missing" else str(labels)]
    with pytest.raises(SystemExit) as e:
        A.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (A.REPO / "build" / "deploy" / f"{run.name}-icebreaker-hostdelays").exists()
