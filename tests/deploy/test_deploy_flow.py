"""The flow in one piece, as a user runs it: a trained network (seqdet, seconds to train) ->
`python -m deploy` (configuration, fit check on the elaborated board top, repacked image; no
place-and-route) -> the Verilator model of the board top built for that deployment, UART at bit
level on its pins -> the unchanged host driver: every output item equals the golden model's.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    base = tmp_path_factory.mktemp("flow")
    run = base / "seqdet"
    subprocess.run([sys.executable, "-m", "delay_training", "train", "--task", "seqdet",
                    "--epochs", "2", "--quiet", "--out", str(run), "--report",
                    str(base / "train.json")], check=True, cwd=ROOT)
    r = subprocess.run([sys.executable, "-m", "deploy", str(run), "--board", "icebreaker",
                        "--no-bitstream", "--out-root", str(base / "deploy")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    (folder,) = (base / "deploy").iterdir()
    return run, folder


def test_deploy_derives_the_board_configuration(deployed):
    from delay_training.export import load_export
    from hostlink.image import read_image
    run, folder = deployed
    rep = json.loads((folder / "deploy.json").read_text())
    trained = load_export(run / "export").config
    cfg, writes, params = read_image(folder / "image.json")
    # Same network, packed for the UP5K: ternary weights 8 to a 16-bit word.
    assert cfg.sizes == trained.sizes and cfg.depth == trained.depth and cfg.weights_per_word == 8
    assert rep["baud"] == 3_000_000 and rep["clk_hz"] == 24_000_000
    assert rep["identity"]["config"]["weights_per_word"] == 8
    assert rep["placed"] is None and rep["estimate"]["fits"]


def test_deployed_network_on_the_board_model_equals_golden(deployed):
    from delay_training.data import load_task
    from golden_model import CLEAR, GoldenNetwork, encode_event, raster_words
    from hostlink.deployed import load_deployment, run_on_sim
    _, folder = deployed
    dep = load_deployment(folder)
    test = load_task("seqdet").test
    words = [raster_words(test.spikes[i]) for i in range(3)]
    run = run_on_sim(dep, words, progress=False, name="flow-seqdet")
    net = GoldenNetwork(dep.params)
    for i, w in enumerate(words):
        gold = [tuple(o) for o in net.run_stream([encode_event(CLEAR)] + w).outputs]
        assert run.items[i] == gold, f"sample {i}"
    assert run.identity["config"] == json.loads((folder / "deploy.json").read_text())["identity"]["config"]
    assert all(s > 0 for s in run.seconds)
