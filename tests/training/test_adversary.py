"""Speaker-adversarial training (delay_training.adversary, `--speaker-adversary S`).

The reversed gradient's sign and scale, DANN's ramp at its ends, the synthetic "tts" speaker left
out, the option's bounds and tasks, the run name, and a training run on a small stand-in for the
spoken digits: the adversary's state is checkpointed (a resumed run equals an uninterrupted one)
and the network it trains differs from the one trained without it.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import delay_training.train as train_module
from delay_training.__main__ import main as cli_main
from delay_training.adversary import SpeakerAdversary, ramp, real_speakers, reverse_gradient
from delay_training.data import Splits
from delay_training.train import make_config, train
from spike_datasets.base import SpikeDataset


def test_reverse_gradient_is_identity_forward_and_minus_scale_backward():
    x = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.25)
    assert torch.equal(y, x.detach())
    (y * torch.tensor([1.0, 2.0, -4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-0.25, -0.5, 1.0]))


def test_ramp_starts_at_zero_and_ends_near_the_strength():
    assert ramp(0.5, 0.0) == 0.0
    assert ramp(0.5, 1.0) == pytest.approx(0.5 * (2 / (1 + math.exp(-10)) - 1))
    assert ramp(0.5, 1.0) == pytest.approx(0.49995, abs=1e-5)
    assert ramp(2.0, 0.1) == pytest.approx(2.0 * (2 / (1 + math.exp(-1)) - 1))
    assert ramp(1.0, 0.3) < ramp(1.0, 0.6) < 1.0


def test_real_speakers_leaves_out_the_pooled_tts_speaker():
    assert real_speakers(("george", "jackson", "lucas", "tts")) == 3
    assert real_speakers(("george", "jackson", "lucas", "nicolas")) == 4
    with pytest.raises(ValueError, match="at least 2 speakers, got 1"):
        SpeakerAdversary(8, 1, seed=0)


def test_loss_reads_real_speakers_only_and_reverses_its_gradient_into_the_rates():
    adv = SpeakerAdversary(3, 2, seed=0)
    raw = [torch.tensor([[[1.0, 0, 0], [1, 1, 0]],       # 2 recordings, 2 steps, 3 neurons
                         [[0.0, 0, 1], [0, 0, 1]],
                         [[1.0, 1, 1], [1, 1, 1]]], requires_grad=True)]
    speakers = torch.tensor([0, 1, 2])                    # index 2 = "tts": left out
    loss, right, seen = adv.loss(raw, speakers, scale=0.5)
    assert seen == 2
    rates = raw[0].detach().mean(1)[:2]
    expected = F.cross_entropy(adv.linear(rates), speakers[:2])
    assert loss.item() == pytest.approx(expected.item())
    assert right == int((adv.linear(rates).argmax(1) == speakers[:2]).sum())
    loss.backward()
    leaf = raw[0].detach().clone().requires_grad_(True)   # the same loss without reversal
    F.cross_entropy(adv.linear(leaf.mean(1)[:2]), speakers[:2]).backward()
    assert torch.allclose(raw[0].grad, -0.5 * leaf.grad)
    assert torch.equal(raw[0].grad[2], torch.zeros(2, 3))  # the tts recording gets no gradient
    assert adv.linear.weight.grad is not None             # the classifier itself learns normally
    zero, right, seen = adv.loss(raw, torch.tensor([2, 2, 2]), scale=0.5)
    assert (zero.item(), right, seen) == (0.0, 0, 0)


def test_option_bounds_tasks_and_run_name():
    assert "speaker_adversary" not in make_config("fsdd-loso").identity()
    assert make_config("fsdd-loso").name == make_config("fsdd-loso", speaker_adversary=0.0).name
    cfg = make_config("fsdd-loso", speaker_adversary=0.5)
    assert cfg.identity()["speaker_adversary"] == 0.5 and "adv0.5" in cfg.name
    with pytest.raises(ValueError, match=r"--speaker-adversary -0.1: expected a strength in \[0, 10\]"):
        make_config("fsdd-loso", speaker_adversary=-0.1)
    with pytest.raises(ValueError, match=r"--speaker-adversary 11: expected"):
        make_config("fsdd-loso", speaker_adversary=11.0)
    with pytest.raises(ValueError, match="needs recordings with speakers: tasks fsdd, fsdd-loso, not yinyang"):
        make_config("yinyang", speaker_adversary=0.5)


def test_cli_refuses_a_task_without_speakers_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--task", "delaytask", "--speaker-adversary", "1", "--out", str(tmp_path / "o")])
    assert e.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err         # argparse's usage line, then the one line that says why
    assert err.strip().splitlines()[-1].endswith(
        "error: --speaker-adversary needs recordings with speakers: tasks fsdd, fsdd-loso, not delaytask")
    assert not (tmp_path / "o").exists()


def _stand_in_digits(seed: int = 0) -> Splits:
    """Three real speakers and the pooled tts one, 2 digits; speaker 1 louder on channel 3."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.arange(n) % 2
        speakers = torch.arange(n) % 4                     # 3 = "tts"
        x = (torch.rand(n, 20, 8, generator=g) < 0.1).to(torch.uint8)
        x[labels == 1, 5:10, 0:2] = 1
        x[speakers == 1, :, 3] = 1
        return SpikeDataset(name="fsdd-loso", spikes=x, labels=labels, n_classes=2, dt=0.01,
                            class_names=("0", "1"), meta={"speaker": speakers},
                            info={"speakers": ("a", "b", "c", "tts")})
    return Splits(split(96), split(32), split(32))


def _config(tmp_path, name, **kw):
    return make_config("fsdd-loso", sizes=(6,), epochs=3, batch_size=32, seed=1, plots=False,
                       out=str(tmp_path / name), report=str(tmp_path / f"{name}.json"), **kw)


def test_training_with_the_adversary_resumes_exactly_and_moves_the_network(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "load_task", lambda *a, **k: _stand_in_digits())
    ref = train(_config(tmp_path, "ref", speaker_adversary=2.0), progress=False)
    assert [set(h) >= {"speaker_acc"} for h in ref["history"]] == [True] * 3
    assert all(0.0 <= h["speaker_acc"] <= 1.0 for h in ref["history"])
    plain = train(_config(tmp_path, "plain"), progress=False)
    assert "speaker_acc" not in plain["history"][0]
    latents = lambda name: torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)["model"]
    moved, still = latents("ref"), latents("plain")
    assert moved.keys() == still.keys()                    # nothing of the adversary in the network
    assert any(not torch.equal(moved[k], still[k]) for k in moved)   # its reversed gradient moved it

    saves, real_save = [], train_module.atomic_torch_save

    def stop_after_first(obj, path):                       # the run dies after epoch 1's checkpoint
        real_save(obj, path)
        saves.append(obj)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "atomic_torch_save", stop_after_first)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, "cut", speaker_adversary=2.0), progress=False)
    assert set(saves[0]["adversary"]) == {"model", "optimizer"}
    monkeypatch.setattr(train_module, "atomic_torch_save", real_save)
    got = train(_config(tmp_path, "cut", speaker_adversary=2.0), resume=True, progress=False)
    strip = lambda hist: [{k: v for k, v in h.items() if k != "epoch_s"} for h in hist]
    assert strip(got["history"]) == strip(ref["history"])
