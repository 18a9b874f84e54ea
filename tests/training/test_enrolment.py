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
