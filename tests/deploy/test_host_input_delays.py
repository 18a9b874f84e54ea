"""`delaysnn deploy RUN --learning --host-input-delays`: a network trained with --input-delays
deployed with the learning engine, the input delay stage moved to the host (docs/deploy.md,
"Input delays on the host").

A small network with input delays (16 cochlea channels, 16 LIF neurons, 4 classes, ternary, depth
8, seeded random weights and delays) is exported as a training run would export it and deployed
with --no-bitstream. The deployed folder must hold the network without the stage and record the
delays; `eval` (golden model) and `run --sim` (the Verilator model of the board top with the
engine) must give every readout value of the original network, computed here from the export's
parameters with the stage on its own; `run --learn` must equal a golden learner fed spikes delayed
here by a plain loop. Refusals are one line. Without its stage the network is the test's of
tests/deploy/test_run_learning.py, so its Verilator build is shared.
"""

import copy
import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

import hostlink.cli as hcli
from deploy import cli as dcli
from deploy import derive
from delay_training.export import (_config_dict, _params_payload, atomic_torch_save,
                                   atomic_write_json, manifest_layers, params_digest)
from golden_model import (CLEAR, EOT, SPIKE, CoreConfig, GoldenNetwork, NetworkParams,
                          encode_event, random_params, raster_words)
from golden_model.learning import GoldenLearner, LearnRegisters
from golden_model.params import weight_words
from hostlink.driver import readout
from onchip_learning.presets import PRESETS
from spike_datasets import CochleaConfig, data_root
from spike_datasets.fsdd import Recording, encode_recordings

CFG = CoreConfig(n_in=16, sizes=(16,), n_out=4, weight_bits=2, ternary=True, depth=8, v_bits=12,
                 input_delays=True)
FRONT = {"n_channels": 16, "n_steps": 20, "dynamic_range_db": 60.0}
SEED = 0
WAVS = ["0_jackson_0.wav", "1_lucas_1.wav", "2_nicolas_2.wav", "3_jackson_0.wav"]
LEARN = 3                      # learn from the first three, evaluate the fourth


@pytest.fixture(scope="module")
def params():
    p = random_params(CFG, SEED, threshold_scale=0.3)
    assert len(set(p.input_delay.tolist())) > 2, "the delays should differ between channels"
    return p


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, params):
    """build/train/<run> as training leaves it: export/ with params.pt and manifest.json (task,
    front end)."""
    run = tmp_path_factory.mktemp("train") / "fsdd-tiny-in"
    folder = run / "export"
    folder.mkdir(parents=True)
    payload = _params_payload(params)
    payload["config"] = _config_dict(CFG)
    atomic_torch_save(payload, folder / "params.pt")
    atomic_write_json(folder / "manifest.json", {
        "version": 1, "task": "fsdd", "front_end": FRONT, "core_config": _config_dict(CFG),
        "layers": manifest_layers(params), "sha256": params_digest(params), "file": "params.pt",
        "file_sha256": hashlib.sha256((folder / "params.pt").read_bytes()).hexdigest(),
        "prediction_rule": "argmax over classes of the readout summed over all steps (int64); "
                           "first class on ties"})
    return run


@pytest.fixture(scope="module")
def deployed(run_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    dcli.main([str(run_folder), "--board", "icebreaker", "--learning", "--host-input-delays",
               "--no-bitstream", "--out-root", str(root)])
    return root / "fsdd-tiny-in-icebreaker-hostdelays"


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wavs")
    for name in WAVS:
        shutil.copy(data_root() / "fsdd" / "recordings" / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def spikes(wavs):
    recs = [Recording(wavs / n, 0, "", 0) for n in WAVS]
    return encode_recordings(recs, CochleaConfig(**FRONT), cache=False, progress=False).spikes


def readout_sums(params, spikes) -> list[list[int]]:
    """Per sample the readout summed over the steps, the golden network of `params` fed each
    raster as event words from a CLEAR."""
    net = GoldenNetwork(params)
    out = []
    for x in spikes:
        items = net.run_stream([encode_event(CLEAR)] + raster_words(torch.as_tensor(x))).outputs
        out.append(np.asarray(readout(items, params.config.n_out), dtype=np.int64).sum(0).tolist())
    return out


def loop_delayed(x, delays):
    """The input delay stage by hand: y[t, c] = (x[t - d_c, c] > 0), 0 before the start."""
    x = np.asarray(x)
    y = np.zeros(x.shape, dtype=np.uint8)
    for c, d in enumerate(delays):
        for t in range(d, x.shape[0]):
            y[t, c] = x[t - d, c] > 0
    return y


def without_stage(params):
    """The layers of `params` on a core without the input delay stage (built here, not by deploy)."""
    return NetworkParams(dataclasses.replace(params.config, input_delays=False),
                         copy.deepcopy(params.layers), None)


def run_cli(argv, capsys):
    code = hcli.main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# -- the deployed folder --------------------------------------------------------------------------
def test_deployed_folder_records_the_host_delays(deployed, params):
    assert sorted(p.name for p in deployed.iterdir()) == ["deploy.json", "image.json",
                                                          "learning.json", "manifest.json"]
    rep = json.loads((deployed / "deploy.json").read_text())
    assert rep["host_input_delays"] == params.input_delay.tolist()
    assert rep["learning"] is True and "input delays on the host" in rep["learning_reason"]
    assert rep["core_config"]["input_delays"] is False
    image = json.loads((deployed / "image.json").read_text())
    assert image["config"]["input_delays"] is False
    cfg = derive.board_config(without_stage(params).config)
    assert rep["identity"] == derive.make_target(cfg, "icebreaker", True).identity()
    assert json.loads((deployed / "learning.json").read_text())["presets"]["readout"]
    from hostlink.deployed import load_deployment
    dep = load_deployment(deployed)
    assert dep.host_input_delays == params.input_delay.tolist() and not dep.config.input_delays


def test_host_delays_equal_the_stage_with_fewer_max_events_than_channels():
    """host_delayed + apply_input_delays == the stage, also where max_events < n_in (the stage
    emits up to n_in spikes a step: the network without it takes as many)."""
    cfg = CoreConfig(n_in=12, sizes=(8,), n_out=3, weight_bits=2, ternary=True, depth=8, v_bits=12,
                     input_delays=True, max_events=4)
    p = random_params(cfg, 1, threshold_scale=0.3)
    g = torch.Generator().manual_seed(2)
    x = torch.zeros(5, 20, 12, dtype=torch.int64)
    for b in range(5):
        for t in range(20):
            x[b, t, torch.randperm(12, generator=g)[:4]] = 1          # 4 spikes a step
    ref = GoldenNetwork(p).run(x)["readout"]
    hp = derive.host_delayed(p)
    assert hp.config.max_events == 12 and not hp.config.input_delays
    y = derive.delay_input(p, x.numpy())
    assert np.array_equal(y[0], loop_delayed(x[0].numpy(), p.input_delay.tolist()))
    assert np.array_equal(derive.apply_input_delays(x[0].numpy(), p.input_delay.tolist()), y[0])
    assert torch.equal(GoldenNetwork(hp).run(torch.as_tensor(y).to(torch.int64))["readout"], ref)


# -- the original network's answers through the folder ---------------------------------------------
def test_eval_equals_the_original_network(deployed, wavs, params, spikes, tmp_path, capsys):
    want = readout_sums(params, spikes)
    # the delays matter here: the layers alone on the raw spikes answer otherwise
    assert readout_sums(without_stage(params), spikes) != want
    out = tmp_path / "eval.json"
    code, stdout, err = run_cli(["eval", "--deployed", str(deployed), "--wav-dir", str(wavs),
                                 "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert [s["readout_sum"] for s in rep["samples"]] == want
    assert rep["predictions"] == [int(np.argmax(s)) for s in want]
    assert rep["host_input_delays"] is True and "input delays: applied on the host" in stdout


def test_sim_run_equals_the_original_network(deployed, wavs, params, spikes, tmp_path, capsys):
    """The board model with the engine (no stage), the host delaying each sample."""
    want = readout_sums(params, spikes)
    out = tmp_path / "run.json"
    code, stdout, err = run_cli(["run", "--deployed", str(deployed), "--wav-dir", str(wavs),
                                 "--sim", "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert [s["readout_sum"] for s in rep["samples"]] == want, "device readout != original network"
    assert rep["predictions"] == [int(np.argmax(s)) for s in want]
    assert rep["predictions_equal_golden"] is True
    ident = rep["device_identity"]
    assert ident["learning"] is True and ident["config"]["input_delays"] is False


def test_sim_learning_run(deployed, wavs, params, spikes, tmp_path, capsys):
    """run --learn on the folder: the device learns as a golden learner of the layers without the
    stage fed the spikes delayed by hand; the first sample (before any label) still gives the
    original network's readout."""
    x = [loop_delayed(s.numpy(), params.input_delay.tolist()) for s in spikes]
    lrn = GoldenLearner(GoldenNetwork(without_stage(params)), LearnRegisters(**PRESETS["readout"]))
    for i, xi in enumerate(x):
        if i == LEARN:
            lrn.regs.enable = 0
        lrn.run_sample(torch.as_tensor(xi, dtype=torch.int64),
                       label=int(WAVS[i][0]) if i < LEARN else None)
    out = tmp_path / "learn.json"
    code, stdout, err = run_cli(["run", "--deployed", str(deployed), "--wav-dir", str(wavs),
                                 "--sim", "--learn", "readout", "--learn-samples", str(LEARN),
                                 "--output", str(out)], capsys)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert rep["predictions_equal_golden"] is True and rep["parameters_equal_golden"] is True
    assert rep["samples"][0]["readout_sum"] == readout_sums(params, spikes[:1])[0]
    lr = rep["learning"]
    assert lr["counters"]["learned"] == LEARN and lr["parameters_changed"] > 0
    p = lrn.net.params
    want = {(1, 0, a): w for a, w in enumerate(weight_words(derive.board_config(p.config),
                                                            p.layers[1].weight))}
    want.update({(0, 1, a): int(d) for a, d in enumerate(p.layers[0].delay.tolist())})
    got = {tuple(r): w for r, w in zip(lr["parameters"]["records"], lr["parameters"]["words"])}
    assert got == want, "learned parameters != the golden learner's on host-delayed spikes"


# -- refusals -------------------------------------------------------------------------------------
def deploy_refusal(argv, capsys, *needles):
    with pytest.raises(SystemExit) as e:
        dcli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("deploy: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_deploy_refusals_are_one_line(run_folder, tmp_path, capsys):
    out = tmp_path / "deploy"
    common = ["--board", "icebreaker", "--no-bitstream", "--out-root", str(out)]
    deploy_refusal([str(run_folder), "--learning", *common], capsys, "input delay",
                   "--host-input-delays")
    deploy_refusal([str(run_folder), "--host-input-delays", "--no-learning", *common], capsys,
                   "--no-learning", "expected --learning")
    plain = tmp_path / "plain"                    # the same layers, trained without --input-delays
    shutil.copytree(run_folder, plain)
    p = without_stage(random_params(CFG, SEED, threshold_scale=0.3))
    payload = _params_payload(p)
    payload["config"] = _config_dict(p.config)
    atomic_torch_save(payload, plain / "export" / "params.pt")
    man = json.loads((plain / "export" / "manifest.json").read_text())
    man.update(core_config=_config_dict(p.config), layers=manifest_layers(p), sha256=params_digest(p),
               file_sha256=hashlib.sha256((plain / "export" / "params.pt").read_bytes()).hexdigest())
    atomic_write_json(plain / "export" / "manifest.json", man)
    deploy_refusal([str(plain), "--host-input-delays", *common], capsys, "no input delay stage",
                   "nothing to move")
    assert not out.exists()


def test_automatic_learning_names_the_flag(run_folder, tmp_path, capsys):
    """Without --learning the engine is left out, and the line saying why names the way out."""
    dcli.main([str(run_folder), "--board", "icebreaker", "--no-bitstream", "--out-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert "learning engine: off (the network has the input delay stage" in err, err
    assert "--host-input-delays" in err.splitlines()[0]


def test_run_refuses_a_bad_delay_record(deployed, wavs, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(deployed, bad)
    d = json.loads((bad / "deploy.json").read_text())
    (bad / "deploy.json").write_text(json.dumps({**d, "host_input_delays": d["host_input_delays"][:-1]}))
    code, _, err = run_cli(["eval", "--deployed", str(bad), "--wav-dir", str(wavs)], capsys)
    lines = [l for l in err.strip().splitlines() if l.strip() and "%|" not in l]
    assert code == 2 and len(lines) == 1 and "host_input_delays" in lines[0] and "16 delays" in lines[0]


def test_make_deploy_passes_the_flag():
    import subprocess
    r = subprocess.run(["make", "-n", "-o", "install", "deploy", "EXPORT=x", "BOARD=icebreaker",
                        "HOST_INPUT_DELAYS=1"], capture_output=True, text=True,
                       cwd=dcli.ROOT)
    assert "--host-input-delays" in r.stdout, r.stdout + r.stderr
