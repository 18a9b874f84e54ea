"""`python -m hostlink run --deployed` / `eval` (hostlink.deployed): a deployed network on WAV files.

A small FSDD-like network (32 cochlea channels, 60 steps, ternary with input delays, seeded random
weights) is written as a deploy folder. Through the Verilator model of the board top (UART pins,
24 MHz, 3 Mbaud, the pipelined driver) every readout value and prediction must equal the golden
model's, computed here independently of the command; `eval` must give the golden model's answers
on a folder of WAVs with and without label-carrying names; user errors must be one line on stderr
and exit 2.
"""

import json
import shutil

import pytest
import torch

from golden_model import CLEAR, CoreConfig, GoldenNetwork, encode_event, random_params, raster_words
from hostlink.cli import main
from hostlink.driver import readout
from verification.runners.deploy_folder import make_deploy_folder
from spike_datasets import CochleaConfig, data_root
from spike_datasets.fsdd import Recording, encode_recordings

CFG = CoreConfig(n_in=32, sizes=(24,), n_out=10, weight_bits=2, ternary=True, depth=8, v_bits=12,
                 input_delays=True, weights_per_word=8)
FRONT = {"n_channels": 32, "n_steps": 60, "dynamic_range_db": 60.0}   # denser input
SEED = 3
WAVS = {"3_jackson_0.wav": "3_jackson_0.wav", "7_lucas_1.wav": "7_lucas_1.wav",
        "mystery.wav": "5_nicolas_2.wav"}


@pytest.fixture(scope="module")
def params():
    return random_params(CFG, SEED, threshold_scale=0.3)


@pytest.fixture
def folders(tmp_path, params):
    """(deploy folder, WAV folder with two FSDD names and one anonymous file)."""
    dep = make_deploy_folder(tmp_path / "deploy", params, {"front_end": FRONT, "test_acc": 0.1})
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for name, src in WAVS.items():
        shutil.copy(data_root() / "fsdd" / "recordings" / src, wavs / name)
    return dep, wavs


def golden_expectation(params, wavs):
    """Per file (sorted): summed readout and prediction, from the front end and the golden model
    directly (not through hostlink.deployed)."""
    names = sorted(WAVS)
    recs = [Recording(wavs / n, 0, "", 0) for n in names]
    spikes = encode_recordings(recs, CochleaConfig(**FRONT), cache=False, progress=False).spikes
    net = GoldenNetwork(params)
    sums = []
    for x in spikes:
        items = net.run_stream([encode_event(CLEAR)] + raster_words(x)).outputs
        sums.append(torch.tensor(readout(items, CFG.n_out), dtype=torch.int64).sum(0))
    return names, [s.tolist() for s in sums], [int(s.argmax()) for s in sums], spikes


def run_cli(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_sim_board_run_equals_golden(folders, params, tmp_path, capsys):
    dep, wavs = folders
    names, sums, preds, spikes = golden_expectation(params, wavs)
    assert spikes.sum(dim=(1, 2)).min() + FRONT["n_steps"] > 2 * 165, "samples should fill the EVENTS window"
    assert len(set(preds)) > 1, f"seed {SEED}: one class for every sample proves little"
    out = tmp_path / "run.json"
    code, stdout, err = run_cli(["run", "--deployed", str(dep), "--wav-dir", str(wavs), "--sim",
                                 "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert [s["name"] for s in rep["samples"]] == names
    assert [s["readout_sum"] for s in rep["samples"]] == sums, "device readout != golden"
    assert rep["predictions"] == preds
    assert rep["predictions_equal_golden"] is True
    assert [s["label"] for s in rep["samples"]] == [3, 7, None]
    assert rep["accuracy"] == sum(p == y for p, y in zip(preds, [3, 7])) / 2
    assert rep["device_identity"]["board"] == "icebreaker"
    assert rep["device_identity"]["baud"] == 3_000_000 and rep["link"]["divider"] == 8
    st = rep["link"]["status"]
    assert st["bad_crc"] == st["truncated"] == 0 and st["steps"] == FRONT["n_steps"] * len(names)
    for s in rep["samples"]:
        assert s["link_seconds"] > 0 and s["bytes_to_device"] >= 3 * s["input_events"]
    assert rep["realtime_factor_end_to_end"] > 0
    assert "predictions_equal_golden: true" in stdout


def test_eval_wav_dir_golden_engine(folders, params, tmp_path, capsys):
    dep, wavs = folders
    names, sums, preds, _ = golden_expectation(params, wavs)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nmystery.wav,5\n")
    out = tmp_path / "eval.json"
    code, stdout, err = run_cli(["eval", "--deployed", str(dep), "--wav-dir", str(wavs),
                                 "--labels", str(labels), "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert [s["readout_sum"] for s in rep["samples"]] == sums
    assert rep["predictions"] == preds
    assert [s["label"] for s in rep["samples"]] == [3, 7, 5]
    assert rep["accuracy"] == sum(p == y for p, y in zip(preds, [3, 7, 5])) / 3
    # Without the CSV the anonymous file has no label: predictions only, accuracy over the rest.
    code, stdout, _ = run_cli(["eval", "--deployed", str(dep), "--wav-dir", str(wavs)], capsys)
    assert code == 0 and "mystery.wav" in stdout and "accuracy" in stdout


def refusal(argv, capsys, *needles):
    code, _, err = run_cli(argv, capsys)
    lines = [l for l in err.strip().splitlines() if l.strip() and "%|" not in l]   # no tqdm bars
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_refusals_without_a_device(folders, tmp_path, capsys):
    dep, wavs = folders
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(tmp_path / "nowhere")], capsys,
            "nowhere", "no such folder")
    refusal(["eval", "--deployed", str(tmp_path / "nodeploy"), "--wav-dir", str(wavs)], capsys,
            "nodeploy", "no such folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(empty)], capsys, "no .wav files")
    (wavs / "broken.wav").write_text("not audio")
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(wavs)], capsys, "broken.wav")
    (wavs / "broken.wav").unlink()
    # A front end with 12 channels for a network of 32 inputs: the first sample is named.
    man = json.loads((dep / "manifest.json").read_text())
    man["front_end"] = {**FRONT, "n_channels": 12}
    (dep / "manifest.json").write_text(json.dumps(man))
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(wavs)], capsys,
            "3_jackson_0.wav", "12 input channels", "n_in=32")


def test_refuses_device_of_another_configuration(folders, capsys):
    """deploy.json's board was built for another network (v_bits): the device's identity differs
    from the image's configuration, and nothing is written."""
    dep, wavs = folders
    d = json.loads((dep / "deploy.json").read_text())
    d["core_config"] = {**d["core_config"], "v_bits": 14}
    (dep / "deploy.json").write_text(json.dumps(d))
    refusal(["run", "--deployed", str(dep), "--wav-dir", str(wavs), "--sim", "--limit", "1"],
            capsys, "another network", "v_bits")
