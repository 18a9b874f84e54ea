"""On-chip learning on a deployed board: `python -m hostlink run --deployed FOLDER --learn PRESET`
(and the `--image` mode's `--labels` / `--learn-regs`), docs/link.md "Running a deployed network".

A small network with the learning engine (16 cochlea channels, 16 LIF neurons, 4 classes, ternary,
depth 8, seeded random weights) is written as a deploy folder with the deploy command's
learning.json. Through the Verilator model of the board top, learning from the first samples
and evaluating the rest must equal the golden learner (GoldenLearner, driven here directly, not
through hostlink.deployed) item for item and in the learned parameters, and learning must have
happened. Every refusal is one line on stderr, exit 2, before anything is written (for the
device ones a recording of the commands sent shows no WRITE); labels a device ignores give a
loud warning and exit 1.
"""

import copy
import json
import shutil

import numpy as np
import pytest
import torch

import hostlink.cli as cli
import hostlink.deployed as deployed
import hostlink.driver as driver
import hostlink.transports as transports
from golden_model import CLEAR, EOT, SPIKE, CoreConfig, GoldenNetwork, random_params
from golden_model.learning import GoldenLearner, LearnRegisters
from golden_model.params import weight_words
from hostlink import frames as fr
from hostlink.image import save_image
from onchip_learning.presets import PRESETS, presets_file
from verification.runners.deploy_folder import make_deploy_folder
from spike_datasets import CochleaConfig, data_root
from spike_datasets.fsdd import Recording, encode_recordings

CFG = CoreConfig(n_in=16, sizes=(16,), n_out=4, weight_bits=2, ternary=True, depth=8, v_bits=12,
                 weights_per_word=8)
FRONT = {"n_channels": 16, "n_steps": 20, "dynamic_range_db": 60.0}
SEED = 0
WAVS = ["0_jackson_0.wav", "1_lucas_1.wav", "2_nicolas_2.wav", "3_jackson_0.wav"]
LEARN = 3                      # learn from the first three, evaluate the fourth


@pytest.fixture(scope="module")
def params():
    return random_params(CFG, SEED, threshold_scale=0.3)


def deploy_folder(path, params, learning=True, **deploy):
    dep = make_deploy_folder(path, params, {"front_end": FRONT}, learning=learning)
    if learning:
        (dep / "learning.json").write_text(json.dumps(presets_file()))
    if deploy:
        d = json.loads((dep / "deploy.json").read_text())
        (dep / "deploy.json").write_text(json.dumps({**d, **deploy}))
    return dep


@pytest.fixture
def folders(tmp_path, params):
    """(deploy folder with the engine, WAV folder of four FSDD files, labels 0..3)."""
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for name in WAVS:
        shutil.copy(data_root() / "fsdd" / "recordings" / name, wavs / name)
    return deploy_folder(tmp_path / "deploy", params), wavs


def run_cli(argv, capsys):
    code = cli.main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def golden_expectation(params, wavs, regs: dict, learn: int):
    """The golden learner fed as the board is: each of the first `learn` samples then its label,
    learning off, the rest. Per sample the output items; the learner (learned parameters)."""
    recs = [Recording(wavs / n, 0, "", 0) for n in WAVS]
    spikes = encode_recordings(recs, CochleaConfig(**FRONT), cache=False, progress=False).spikes
    lrn = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), LearnRegisters(**regs))
    items = []
    for i, (x, name) in enumerate(zip(spikes, WAVS)):
        if i == learn:
            lrn.regs.enable = 0
        out = lrn.run_sample(x.to(torch.int64), label=int(name[0]) if i < learn else None)
        it = [[CLEAR, 0, 0]]
        for step in out.tolist():
            it += [[SPIKE, j, v] for j, v in enumerate(step)] + [[EOT, 0, 0]]
        items.append(it)
    return items, lrn


def learned_words(p):
    """{(layer, space, addr): word} of the readout weights and the LIF layer's delays."""
    out = {(1, 0, a): w for a, w in enumerate(weight_words(CFG, p.layers[1].weight))}
    out.update({(0, 1, a): int(d) for a, d in enumerate(p.layers[0].delay.tolist())})
    return out


def test_sim_learning_run_equals_golden_learner(folders, params, tmp_path, capsys, monkeypatch):
    dep, wavs = folders
    runs = []
    real = deployed.run_on_sim
    monkeypatch.setattr(deployed, "run_on_sim", lambda *a, **k: runs.append(real(*a, **k)) or runs[-1])
    gold_items, lrn = golden_expectation(params, wavs, PRESETS["readout"], LEARN)
    want = learned_words(lrn.net.params)
    image = learned_words(params)
    assert sum(want[k] != image[k] for k in want) > 0, f"seed {SEED}: golden learns nothing"
    out = tmp_path / "run.json"
    code, stdout, err = run_cli(["run", "--deployed", str(dep), "--wav-dir", str(wavs), "--sim",
                                 "--learn", "readout", "--learn-samples", str(LEARN),
                                 "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    got_items = [[list(i) for i in x] for x in runs[0].items]
    assert got_items == gold_items, \
        "device output items != golden learner's"
    assert rep["predictions_equal_golden"] is True and rep["parameters_equal_golden"] is True
    assert [s["phase"] for s in rep["samples"]] == ["learn"] * LEARN + ["eval"]
    lr = rep["learning"]
    assert lr["counters"] == {"learned": LEARN, "rejected_labels": 0, "ignored_labels": 0}
    got = {tuple(r): w for r, w in zip(lr["parameters"]["records"], lr["parameters"]["words"])}
    assert got == want, "learned parameters read back != golden learner's"
    assert lr["registers"] == {**dict(zip(driver.LEARN_REGISTERS, (v for _, v in lrn.regs.words())))}
    assert lr["registers"]["enable"] == 0 and lr["registers"]["lfsr"] == lrn.regs.lfsr
    assert lr["state_equal_golden"] is True and lr["parameters_changed"] > 0
    evaluated = [s for s in rep["samples"] if s["phase"] == "eval"]
    assert rep["labelled"] == 1 and rep["accuracy"] == float(evaluated[0]["prediction"] == 3)
    assert "parameters_equal_golden: true" in stdout and "learned=3" in stdout


# -- refusals -------------------------------------------------------------------------------------
class RecordingTransport(transports.SimTransport):
    """The RTL in amaranth.sim as a serial port: remembers the command of every frame sent."""
    sent: list = []

    def write(self, data: bytes):
        RecordingTransport.sent.append(data[1])
        super().write(data)


@pytest.fixture
def port(monkeypatch):
    """`--port sim`: a device of CFG built with or without the engine (opened[0] says which);
    `opened` lists the ports opened, RecordingTransport.sent the commands."""
    opened = []

    def serial(port, baud=None, learning=False):
        opened.append(port)
        return RecordingTransport(CFG, learning=learning)

    RecordingTransport.sent = []
    monkeypatch.setattr(transports, "SerialTransport", serial)
    monkeypatch.setattr(cli, "SerialTransport", serial)
    return opened


def refusal(argv, capsys, *needles):
    code, _, err = run_cli(argv, capsys)
    lines = [l for l in err.strip().splitlines() if l.strip() and "%|" not in l]   # no tqdm bars
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_refusals_before_the_device_is_opened(folders, params, port, tmp_path, capsys):
    dep, wavs = folders
    run = ["run", "--deployed", str(dep), "--wav-dir", str(wavs), "--port", "sim"]
    refusal(run + ["--learn", "readuot"], capsys, "no learning preset 'readuot'",
            "readout", "hidden-delays")
    regs = tmp_path / "regs.json"
    regs.write_text(json.dumps({"enable": 7, "lr_shift_r": 4}))
    refusal(run + ["--learn", str(regs)], capsys, "regs.json", "no learning register 'lr_shift_r'")
    regs.write_text(json.dumps({"enable": 7, "trace_inc_R": 1024}))
    refusal(run + ["--learn", str(regs)], capsys, "trace_inc_R = 1024", "[0, 1023]")
    refusal(run + ["--learn", "off"], capsys, "bit 0 (learning on) clear", "ignore the labels")
    regs.write_text(json.dumps({"lr_shift_R": 4}))            # enable left at its reset value 0
    refusal(run + ["--learn", str(regs)], capsys, "enable = 0")
    refusal(run + ["--learn", "readout", "--learn-samples", "5"], capsys, "--learn-samples 5")
    shutil.copy(wavs / WAVS[0], wavs / "mystery.wav")
    refusal(run + ["--learn", "readout"], capsys, "mystery.wav", "no label to learn from")
    assert port == [], "a refusal opened the device"
    nolearn = deploy_folder(tmp_path / "nolearn", params, learning=False,
                            learning_reason="learning engine: off (too large for the board)")
    refusal(["run", "--deployed", str(nolearn), "--wav-dir", str(wavs), "--port", "sim",
             "--learn", "readout"], capsys,
            "the deployed network has no learning engine: learning engine: off (too large")
    assert port == [] and RecordingTransport.sent == []


def test_device_without_the_engine_is_refused_before_any_write(folders, params, port, tmp_path,
                                                               capsys):
    """deploy.json says the board has the engine, the board's identity says it has not (another
    bitstream flashed): IDENT is sent, no WRITE, no LABEL. Likewise for --image with --labels."""
    dep, wavs = folders
    refusal(["run", "--deployed", str(dep), "--wav-dir", str(wavs), "--port", "sim", "--learn",
             "readout", "--learn-samples", "1"], capsys, "no learning engine")
    assert port == ["sim"] and fr.IDENT in RecordingTransport.sent
    assert fr.WRITE not in RecordingTransport.sent and fr.LABEL not in RecordingTransport.sent
    img, x, y = image_mode_files(tmp_path, params)
    RecordingTransport.sent = []
    refusal(["run", "--image", str(img), "--input", str(x), "--labels", str(y), "--port", "sim"],
            capsys, "no learning engine")
    assert fr.IDENT in RecordingTransport.sent and fr.WRITE not in RecordingTransport.sent


# -- the --image mode: labels the device ignores -------------------------------------------------
def image_mode_files(tmp_path, params):
    img, x, y = tmp_path / "image.json", tmp_path / "x.npy", tmp_path / "y.npy"
    save_image(img, params)
    rng = np.random.default_rng(SEED)
    np.save(x, (rng.random((2, 6, CFG.n_in)) < 0.4).astype(np.int64))
    np.save(y, np.array([1, 2]))
    return img, x, y


def test_ignored_labels_warn_loudly_and_exit_1(params, tmp_path, capsys):
    """--labels without --learn-regs: the engine is at its reset registers (learning off, or on a
    board whatever an earlier session left), so the labels are ignored: a loud warning, exit 1.
    With registers that switch learning on the same run learns (exit 0); with registers that
    switch it off it is refused before the link opens."""
    img, x, y = image_mode_files(tmp_path, params)
    run = ["run", "--image", str(img), "--input", str(x), "--labels", str(y), "--sim"]
    code, out, err = run_cli(run, capsys)
    assert code == 1, err
    warn = [l for l in err.splitlines() if l.startswith("WARNING")]
    assert len(warn) == 1 and "did not learn from 2 label(s)" in warn[0]
    assert "ignored_labels=2" in warn[0]
    regs = tmp_path / "regs.json"
    regs.write_text(json.dumps({"enable": 3, "lr_shift_R": 4, "trace_shift_R": 2,
                                "trace_inc_R": 64, "margin": 1000}))
    code, out, err = run_cli(run + ["--learn-regs", str(regs)], capsys)
    assert code == 0 and "WARNING" not in err, err
    assert "learned=2" in out and "ignored_labels=0" in out
    regs.write_text(json.dumps({"enable": 2, "lr_shift_R": 4}))
    refusal(run + ["--learn-regs", str(regs)], capsys, "regs.json", "bit 0 (learning on) clear")
    np.save(y, np.array([1, 4]))
    refusal(run, capsys, "label 4 outside the classes 0..3")
