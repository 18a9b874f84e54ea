"""`delaysnn enrol` and the enrolled speaker reference (hostlink.speaker_reference).

A speaker-normalised network (front end speaker_norm=1) hears each word less its speaker's
long-term spectrum. Enrolment computes that spectrum once from the user's words and keeps it in
the deploy folder; `eval` then hears every word, one or many, against it: each word's spikes are
those of the enrolment's reference, computed here from the cochlea directly, not the reference
the evaluated words make. A wrong reference file or an impossible enrolment is one line and
writes nothing.
"""

import json
import shutil

import numpy as np
import pytest
import torch

from golden_model import CLEAR, CoreConfig, GoldenNetwork, encode_event, random_params, raster_words
from hostlink import speaker_reference as R
from hostlink.cli import main
from hostlink.driver import readout
from spike_datasets import CochleaConfig, data_root
from spike_datasets.cochlea import cochlea_spikes, enrolment_reference
from spike_datasets.fsdd import read_wav
from verification.runners.deploy_folder import make_deploy_folder

CFG = CoreConfig(n_in=32, sizes=(24,), n_out=10, weight_bits=2, ternary=True, depth=8, v_bits=12,
                 input_delays=True, weights_per_word=8)
FRONT = {"n_channels": 32, "n_steps": 60, "dynamic_range_db": 60.0, "speaker_norm": 1}
ENROL = [f"{d}_jackson_0.wav" for d in range(4)]
WORD = "7_jackson_3.wav"


def _copy(folder, names):
    folder.mkdir()
    for n in names:
        shutil.copy(data_root() / "fsdd" / "recordings" / n, folder / n)
    return folder


PARAMS = random_params(CFG, 3, threshold_scale=0.3)


@pytest.fixture
def setup(tmp_path):
    """(deploy folder of a speaker-normalised network, enrolment words, a folder of one word)."""
    dep = make_deploy_folder(tmp_path / "deploy", PARAMS, {"front_end": FRONT, "test_acc": 0.1})
    return dep, _copy(tmp_path / "enrol", ENROL), _copy(tmp_path / "one", [WORD])


def run_cli(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def heard(spikes, params):
    """(input events, summed readout) of a word's spikes on the golden model, as `eval` reports them."""
    items = GoldenNetwork(params).run_stream([encode_event(CLEAR)] + raster_words(spikes)).outputs
    return int(spikes.sum()), torch.tensor(readout(items, CFG.n_out), dtype=torch.int64).sum(0).tolist()


def as_reported(rep):
    row = rep["samples"][0]
    return row["input_events"], row["readout_sum"]


def spikes_heard(dep, wavs, capsys, *extra):
    """`eval`'s JSON report of the words in `wavs`, and its stdout."""
    out = wavs.parent / "eval.json"
    code, stdout, err = run_cli(["eval", "--deployed", str(dep), "--wav-dir", str(wavs),
                                 "--output", str(out), *extra], capsys)
    assert code == 0, err
    return json.loads(out.read_text()), stdout


def test_an_enrolled_reference_hears_a_word_as_the_enrolment_did(setup, capsys):
    """One speaker's words with `enrol` marking the first four: the same spikes as a fixed
    reference from those four alone, for every word, and for a word heard by itself."""
    config = CochleaConfig(**FRONT)
    src = data_root() / "fsdd" / "recordings"
    waves = [read_wav(src / n) for n in ENROL + [WORD, "2_jackson_9.wav"]]
    marked = cochlea_spikes(waves, config, speakers=["u"] * 6, enrol=[True] * 4 + [False] * 2)
    ref = enrolment_reference(waves[:4], config)
    assert np.array_equal(cochlea_spikes(waves, config, reference=ref), marked)
    assert np.array_equal(cochlea_spikes(waves[4:5], config, reference=ref)[0], marked[4])
    assert not np.array_equal(cochlea_spikes(waves[4:5], config, speakers=["u"])[0], marked[4])
    with pytest.raises(ValueError, match="speaker reference: 31 values for 32 channels"):
        cochlea_spikes(waves, config, reference=ref[:31])


def test_enrol_then_eval_uses_the_folders_reference(setup, capsys):
    dep, enrol, one = setup
    code, stdout, err = run_cli(["enrol", "--deployed", str(dep), "--wav-dir", str(enrol)], capsys)
    assert code == 0, err
    assert f"4 words of {enrol} -> {dep / R.FILE_NAME}" in stdout and "fewer than 50" in stdout
    record = json.loads((dep / R.FILE_NAME).read_text())
    assert record["kind"] == R.KIND and record["words"] == 4 and record["files"] == ENROL
    config = CochleaConfig(**FRONT)
    ref = enrolment_reference([read_wav(enrol / n) for n in ENROL], config)
    assert np.array_equal(record["reference"][0], ref)            # float64 survives JSON exactly
    word = [read_wav(one / WORD)]
    enrolled = cochlea_spikes(word, config, reference=ref)[0]
    own = cochlea_spikes(word, config, speakers=["u"])[0]
    assert not np.array_equal(enrolled, own)
    rep, stdout = spikes_heard(dep, one, capsys)
    assert f"speaker reference: {dep / R.FILE_NAME} (4 words enrolled)" in stdout
    assert as_reported(rep) == heard(enrolled, PARAMS) != heard(own, PARAMS)
    # without the folder's file: the reference the word makes; with --reference FILE: that file
    shutil.move(dep / R.FILE_NAME, dep.parent / "me.json")
    rep, stdout = spikes_heard(dep, one, capsys)
    assert "speaker reference" not in stdout and as_reported(rep) == heard(own, PARAMS)
    rep, _ = spikes_heard(dep, one, capsys, "--reference", str(dep.parent / "me.json"))
    assert as_reported(rep) == heard(enrolled, PARAMS)


def refusal(argv, capsys, *needles):
    code, _, err = run_cli(argv, capsys)
    lines = [l for l in err.strip().splitlines() if l.strip() and "%|" not in l]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def _reference_file(path, **change):
    record = {"kind": R.KIND, "front_end": CochleaConfig(**FRONT).as_dict(), "words": 1,
              "files": ["x.wav"], "reference": [[0.0] * 32]}
    path.write_text(json.dumps({**record, **change}))
    return path


@pytest.mark.parametrize("change, needles", [
    ({"kind": "something else"}, ["not a speaker reference JSON"]),
    ({"front_end": {"n_channels": 48, "speaker_norm": 1}}, ["made for another front end", "delaysnn enrol"]),
    ({"reference": [[0.0] * 31]}, ["reference of view 0 must be 32 finite numbers"]),
    ({"reference": [[float("nan")] * 32]}, ["32 finite numbers"]),
    ({"reference": [[0.0] * 32, None]}, ["one entry per view (1)"]),
])
def test_a_wrong_reference_file_is_one_line(setup, tmp_path, capsys, change, needles):
    dep, _, one = setup
    bad = _reference_file(tmp_path / "bad.json", **change)
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(one), "--reference", str(bad)],
            capsys, str(bad), *needles)


def test_reference_refusals(setup, tmp_path, capsys):
    dep, enrol, one = setup
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(one), "--reference", str(tmp_path / "no.json")],
            capsys, "no.json: no such file")
    (tmp_path / "text.json").write_text("not json")
    refusal(["eval", "--deployed", str(dep), "--wav-dir", str(one), "--reference", str(tmp_path / "text.json")],
            capsys, "text.json")
    refusal(["eval", "--deployed", str(dep), "--split", "test", "--reference", str(tmp_path / "x.json")],
            capsys, "--reference goes with --wav-dir")


def test_enrol_refusals_write_nothing(setup, tmp_path, capsys):
    dep, enrol, _ = setup
    plain = make_deploy_folder(tmp_path / "plain", PARAMS,
                               {"front_end": dict(FRONT, speaker_norm=0), "test_acc": 0.1})
    refusal(["enrol", "--deployed", str(plain), "--wav-dir", str(enrol)], capsys,
            str(plain), "has no speaker_norm")
    refusal(["enrol", "--deployed", str(dep), "--wav-dir", str(tmp_path / "nowhere")], capsys,
            "nowhere: no such folder")
    silent = tmp_path / "silent"
    silent.mkdir()
    import scipy.io.wavfile
    scipy.io.wavfile.write(silent / "0_me_0.wav", 8000, np.zeros(4000, np.int16))
    refusal(["enrol", "--deployed", str(dep), "--wav-dir", str(silent)], capsys, "every recording is silent")
    assert not (dep / R.FILE_NAME).exists() and not (plain / R.FILE_NAME).exists()
    # a second enrolment replaces the first
    assert run_cli(["enrol", "--deployed", str(dep), "--wav-dir", str(enrol)], capsys)[0] == 0
    out = tmp_path / "elsewhere.json"
    assert run_cli(["enrol", "--deployed", str(dep), "--wav-dir", str(_copy(tmp_path / "two", ENROL[:2])),
                    "--out", str(out)], capsys)[0] == 0
    assert json.loads(out.read_text())["words"] == 2 and json.loads((dep / R.FILE_NAME).read_text())["words"] == 4
