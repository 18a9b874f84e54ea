"""delay_training.enrolment: a speaker-normalised LOSO network tested with the held-out speaker's
reference from N of his words. Its spikes with every word enrolled must be the LOSO test set's
(the script stops otherwise), fewer words must give other spikes, and bad options are one line."""

import numpy as np
import pytest

from delay_training import enrolment
from spike_datasets import CochleaConfig, load_fsdd

SMALL = CochleaConfig(n_channels=48, speaker_norm=1)


def test_every_word_enrolled_is_the_loso_test_set_and_fewer_are_not():
    test = load_fsdd("test", protocol="speaker", test_speaker="george", config=SMALL, progress=False)
    every = np.arange(test.n_samples)
    spikes, labels = enrolment.speaker_spikes("george", SMALL, every)
    assert np.array_equal(spikes.numpy(), test.spikes.numpy())
    assert np.array_equal(labels.numpy(), test.labels.numpy())
    ten = np.sort(np.random.default_rng(0).choice(test.n_samples, 10, replace=False))
    fewer, _ = enrolment.speaker_spikes("george", SMALL, ten)
    assert not np.array_equal(fewer.numpy(), spikes.numpy())


@pytest.mark.parametrize("argv, message", [
    (["x", "--words", "5,,10"], "--words '5,,10': expected sizes 1..499"),
    (["x", "--words", "0"], "expected sizes 1..499 and at least one draw"),
    (["x", "--words", "500"], "expected sizes 1..499 and at least one draw"),
    (["x", "--draws", "0"], "expected sizes 1..499 and at least one draw"),
    (["no-such-report"], "loso-no-such-report.json"),
])
def test_bad_options_are_one_line(argv, message):
    with pytest.raises(SystemExit) as e:
        enrolment.main(argv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_towers_report_is_scored_on_the_golden_model(tmp_path, monkeypatch):
    """A towers network (loso --ensemble) is an export, not a training run: its front ends come
    from its manifest and its predictions from the golden model; the figure with every word
    enrolled must equal the report's."""
    import dataclasses

    import torch
    from delay_training.export import write_export
    from delay_training.loso_ensemble import golden_predictions
    from delay_training.towers import merge_params
    from golden_model import CoreConfig, random_params
    a = random_params(CoreConfig(n_in=3, sizes=(4,), n_out=10, weight_bits=2, ternary=True, depth=8), 0)
    b = random_params(CoreConfig(n_in=2, sizes=(3,), n_out=10, weight_bits=2, ternary=True, depth=8), 0)
    b.layers = [dataclasses.replace(lb, **{k: getattr(la, k) for k in ("threshold", "leak", "weight_shift",
                                                                      "reset_mode")})
                for la, lb in zip(a.layers, b.layers)]
    m = merge_params(a, b)
    write_export(m, tmp_path / "t", {}, {"task": "fsdd-loso", "front_end": [
        CochleaConfig(n_channels=3, speaker_norm=1).as_dict(), CochleaConfig(n_channels=2).as_dict()]})

    def spikes_of(speaker, config, chosen):            # stand-in: the enrolled set picks the spikes
        g = torch.Generator().manual_seed(len(chosen))
        return (torch.rand(500, 20, config.n_channels, generator=g) < 0.3).to(torch.uint8), torch.arange(500) % 10
    monkeypatch.setattr(enrolment, "speaker_spikes", spikes_of)
    every_spikes, labels = spikes_of("george", CochleaConfig(n_channels=5), np.arange(500))
    acc = float((golden_predictions(m, every_spikes.numpy()) == labels.numpy()).mean())
    run = {"folder": str(tmp_path / "t"), "speaker": "george", "seed": 0, "test_acc": acc}
    out = enrolment.fold_accuracy(run, {"ensemble_of": ["A", "B"]}, [10], 2)
    assert out["all"] == acc and len(out["10"]["draws"]) == 2
    ten = np.sort(np.random.default_rng(0).choice(500, 10, replace=False))
    rest = np.setdiff1d(np.arange(500), ten)
    s10, _ = spikes_of("george", CochleaConfig(n_channels=5), ten)
    assert out["10"]["draws"][0] == float((golden_predictions(m, s10.numpy()[rest]) == labels.numpy()[rest]).mean())
    with pytest.raises(SystemExit, match="not the same test"):
        enrolment.fold_accuracy({**run, "test_acc": acc + 0.01}, {"ensemble_of": ["A", "B"]}, [10], 1)
