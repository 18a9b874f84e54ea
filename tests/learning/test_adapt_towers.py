"""`delaysnn adapt` on a towers network (delaysnn loso --ensemble; sw/onchip_learning/towers.py).

The engine adapts the merged network as any one-layer network (golden learner = replica); the
BPTT reference is each member fine-tuned on its own channels of the same samples, the two merged.
On two tiny LOSO runs without george (the default recipe's shape, 16 neurons, 1 epoch), one
through the default front end and one with the microphone tilt removed: one seed, so one initial
step and the same registers; two front ends, so the towers' halves of a sample differ.
"""

import argparse
import json

import numpy as np
import pytest
import torch

from onchip_learning import adapt as A
from onchip_learning import towers as T


@pytest.fixture(scope="module")
def george_towers(george_run, tmp_path_factory):
    from delay_training.towers import write_towers
    from delay_training.train import make_config, train
    tmp = tmp_path_factory.mktemp("adapt-towers")
    cfg = make_config("fsdd-loso", test_speaker="george", input_delays=True, sizes=(16,), epochs=1,
                      n_train=200, seed=0, front_end="tilt_degree=1", out=str(tmp / "b"), report=str(tmp / "b.json"),
                      plots=False, threads=1)
    train(cfg, progress=False)
    write_towers(george_run / "export", tmp / "b" / "export", tmp / "pytest-towers")
    return tmp / "pytest-towers", [george_run, tmp / "b"]


def parsed(argv):
    ap = argparse.ArgumentParser()
    A.add_arguments(ap)
    return ap.parse_args(argv)


def test_a_towers_folder_adapts_end_to_end_and_its_reference_is_the_members_merged(george_towers, capsys):
    from delay_training.towers import merge_params
    from hostlink.deployed import front_end, load_deployment
    from hostlink.image import read_image
    folder, runs = george_towers
    assert T.members(folder) == runs and A.export_folder(folder) == folder
    assert T.members(runs[0]) is None and A.export_folder(runs[0]) == runs[0] / "export"
    args = parsed(["--speaker", "george", "--run", str(folder), "--k", "1", "--preset", "readout",
                   "--passes", "1", "--every", "5", "--bptt", "--bptt-params", "all",
                   "--bptt-rehearse", "10", "--bptt-epochs", "2", "--bptt-lr", "2e-2",
                   "--name", "pytest-towers-george"])
    assert A.run(args) == 0                            # golden learner = replica on the merge
    rep = json.loads((A.REPO / "build" / "reports" / "adapt-pytest-towers-george.json").read_text())
    assert rep["learned"] == 10 and rep["readout_weights_changed"] + rep["delays_changed"] > 0
    assert rep["bptt"]["towers_members"] == [str(r) for r in runs]
    # the reference, again by hand: each member's own fine-tuning on its channels, then merged
    P = load_deployment(folder).params
    fold = A.fsdd_fold(front_end(load_deployment(folder)), "george", 1, progress=False)
    xr, yr, _ = A.rehearsal_set(front_end(load_deployment(folder)), "george", 10, 0, progress=False)
    x, y = np.concatenate([fold.adapt_x, xr]), np.concatenate([fold.adapt_y, yr])
    n_a = load_deployment(runs[0] / "export").config.n_in
    assert x.shape[-1] == P.config.n_in == 2 * n_a and not np.array_equal(x[..., :n_a], x[..., n_a:])
    opts = dict(epochs=2, lr=2e-2, seed=0, params="all", progress=False)
    want = merge_params(A.bptt_reference(runs[0], x[..., :n_a], y, **opts),
                        A.bptt_reference(runs[1], x[..., n_a:], y, **opts))
    Q = read_image(rep["bptt"]["image"])[2]
    for got, ref in zip(Q.layers, want.layers):
        assert torch.equal(got.weight, ref.weight) and torch.equal(got.delay, ref.delay)
    assert torch.equal(Q.input_delay, want.input_delay)
    h = load_deployment(runs[0] / "export").config.sizes[0]
    assert not Q.layers[0].weight[:n_a, h:].any() and not Q.layers[0].weight[n_a:, :h].any()
    assert not torch.equal(Q.layers[0].weight, P.layers[0].weight)
    assert rep["bptt"]["speaker_accuracy"] == A.accuracy(Q, A.hidden_spikes(Q, fold.test_x), fold.test_y)
    assert "BPTT reference" in capsys.readouterr().out


def test_members_trained_without_different_speakers_are_one_line():
    held = {"a": "george", "b": "lucas"}
    with pytest.raises(T.TowersError, match="trained without different speakers .george and lucas."):
        T.held_out_speaker([A.Path("a"), A.Path("b")], lambda r: held[r.name])
    assert T.held_out_speaker([A.Path("a"), A.Path("a")], lambda r: held[r.name]) == "george"


def test_samples_that_do_not_match_the_members_are_one_line():
    x = np.zeros((2, 3, 7), np.uint8)
    a, b = T.split_inputs(x[..., :5], [3, 2])
    assert a.shape == (2, 3, 3) and b.shape == (2, 3, 2)
    with pytest.raises(T.TowersError, match="members take 3 \\+ 2 channels, the samples have 7"):
        T.split_inputs(x, [3, 2])


@pytest.mark.parametrize("towers_of", [["a/export"], "a/export", [1, 2]])
def test_a_towers_manifest_without_two_members_is_one_line(tmp_path, towers_of):
    (tmp_path / "manifest.json").write_text(json.dumps({"towers_of": towers_of}))
    with pytest.raises(T.TowersError, match="towers_of should name two export folders"):
        T.members(tmp_path)


def test_a_missing_member_is_one_line_naming_it(tmp_path, george_towers):
    _, runs = george_towers
    (tmp_path / "manifest.json").write_text(json.dumps({"towers_of": [str(runs[0] / "export"),
                                                                      str(tmp_path / "b" / "export")]}))
    with pytest.raises(T.TowersError, match=f"towers_of names {tmp_path / 'b' / 'export'}, which is not there"):
        T.members(tmp_path)
    # the engine adapts the towers folder alone; only the BPTT reference needs the members
    assert T.members(tmp_path, must_exist=False)[1] == tmp_path / "b" and T.is_towers(tmp_path)
    assert A._run_speaker(tmp_path) is None


def test_a_relative_member_is_taken_from_the_repository(tmp_path, george_towers, monkeypatch):
    _, runs = george_towers
    monkeypatch.setattr(T, "REPO", runs[0].parent)
    (tmp_path / "manifest.json").write_text(json.dumps({"towers_of": [f"{runs[0].name}/export",
                                                                      str(runs[1] / "export")]}))
    assert T.members(tmp_path) == [runs[0], runs[1]]


def test_a_towers_fold_replays_bit_exactly_on_verilator(george_towers):
    """adapt_replay takes the towers folder as `delaysnn adapt --run` does: two labelled samples
    and an evaluation after each on the RTL, every output and readback equal to the golden learner."""
    from verification.runners.adapt_replay import replay
    folder, _ = george_towers
    rep = replay("george", 1, run=folder, preset="readout", limit=2, eval_each=1, final_eval=1,
                 report=False, work_name="pytest-towers-george")
    assert not rep["stalled"], rep
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["labelled_samples"] == 2 and rep["evaluated_samples"] == 3
    assert rep["golden_learned_params_changed"] > 0


def test_towers_default_members_are_the_loso_recipes_seed0_runs():
    """`adapt --towers` merges the runs `delaysnn loso` makes at seed 0 for the two recipes of
    docs/results.md (two-take with tilt removal; the same with speaker normalisation)."""
    from delay_training.loso import run_spec
    from delay_training.train import make_config
    recipe = {"epochs": 20, "sizes": [128], "leak": [3, 4], "init_gain": [2.0, 1.0],
              "input_delays": True, "tts": "voices=200,flite=200,takes=2,snr=10:40"}
    for front_end in ("tilt_degree=1", "speaker_norm=1"):
        spec = run_spec("fsdd-loso", dict(recipe, front_end=front_end), 0, "lucas", None, None, False)
        assert A.default_config("lucas", front_end).name == make_config("fsdd-loso", **spec["overrides"]).name
    assert A.TOWERS_FRONT_ENDS == ("tilt_degree=1", "speaker_norm=1")


def test_towers_default_merges_the_members_once(george_towers, tmp_path, monkeypatch, capsys):
    folder, runs = george_towers
    monkeypatch.setattr(A, "REPO", tmp_path)
    made = dict(zip(A.TOWERS_FRONT_ENDS, runs))
    monkeypatch.setattr(A, "train_default", lambda speaker, progress=True, front_end="": made[front_end])
    out = A.towers_default("george")
    assert out == tmp_path / "build" / "towers" / A.TOWERS_NAME / f"{A.TOWERS_NAME}-george-s0"
    assert T.members(out) == [r.resolve() for r in runs] and "merging" in capsys.readouterr().out
    from hostlink.deployed import load_deployment
    assert load_deployment(out).manifest["sha256"] == load_deployment(folder).manifest["sha256"]
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert A.towers_default("george") == out and (out / "manifest.json").stat().st_mtime_ns == stamp
    ns = argparse.Namespace(run=None, speaker="george", recipe=None, towers=True)
    assert A.run_folder(ns) == out
    args = parsed(["--speaker", "george", "--towers", "--k", "2", "--passes", "5"])
    assert A.report_name(args, out) == f"{A.TOWERS_NAME}-george-s0-george-k2-p5-s0"
    assert A.report_name(args, runs[0]) == "george-k2-p5-s0"


@pytest.mark.parametrize("extra, message", [
    (["--run", "x"], "--towers and --run: give one"),
    (["--recipe", "r-{speaker}"], "--towers and --recipe: give one"),
])
def test_towers_with_another_network_option_is_one_line(extra, message, capsys):
    with pytest.raises(SystemExit) as e:
        A.main(["--speaker", "george", "--towers", *extra])
    assert e.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_towers_without_a_speaker_is_one_line():
    ns = argparse.Namespace(run=None, speaker=None, recipe=None, towers=True)
    with pytest.raises(A.AdaptError, match="--towers: needs --speaker"):
        A.run_folder(ns)
