"""The cochlea's speaking-rate normalisation (CochleaConfig.span_steps): each word's voiced span
is resampled in time onto a fixed number of steps; spikes made without it are unchanged."""

import numpy as np
import pytest

from spike_datasets import cochlea
from spike_datasets.cochlea import CochleaConfig, normalised_level, stretch_span


def test_the_span_is_linearly_resampled_onto_the_first_steps():
    x = np.zeros((2, 10, 3))
    x[0, 2:5, 0] = [0.5, 0.6, 1.0]                # span: steps 2..4; channel 1 stays at 0
    x[0, 3, 2] = 0.4
    x[0, 1, 1] = x[0, 8, 1] = 0.49                # just under SPAN_LEVEL: noise, not the word
    y = stretch_span(x, 5)
    assert np.allclose(y[0, :, 0], [0.5, 0.55, 0.6, 0.8, 1.0, 0, 0, 0, 0, 0])
    assert np.allclose(y[0, :, 2], [0, 0.2, 0.4, 0.2, 0, 0, 0, 0, 0, 0])
    assert y[0, :, 1].max() == 0 and y[1].max() == 0          # silence stays silent
    x[0, 8, 1] = 0.5                              # at SPAN_LEVEL: the span reaches step 8
    assert np.allclose(stretch_span(x, 7)[0, :7, 0], [0.5, 0.6, 1.0, 0, 0, 0, 0])
    one = np.zeros((1, 6, 2))
    one[0, 4, 1] = 0.7                            # one loud step: held for the whole span
    assert np.allclose(stretch_span(one, 3)[0, :, 1], [0.7, 0.7, 0.7, 0, 0, 0])


def test_a_slow_and_a_fast_speaker_give_the_same_word():
    """The same envelope shape spoken over 20 and over 40 steps, at different onsets."""
    def word(length, onset):
        t = np.linspace(0, 1, length)
        x = np.zeros((1, 100, 2))
        x[0, onset:onset + length, 0] = 0.6 + 0.4 * np.sin(3 * np.pi * t) ** 2
        x[0, onset:onset + length, 1] = 0.3 * t ** 2
        return x
    fast, slow = stretch_span(word(25, 3), 30), stretch_span(word(50, 30), 30)
    assert np.abs(fast - slow).max() < 0.03 and fast[0, 30:].max() == 0
    assert np.abs(word(25, 3)[0, :30] - word(50, 30)[0, :30]).max() > 0.5     # unstretched: far apart


def test_encoding_with_a_span_fires_only_within_it():
    env = np.zeros((1, 100, 16))
    env[0, 10:80] = np.random.default_rng(2).random((70, 16)) + 0.5
    spikes = cochlea.encode(env, CochleaConfig(n_channels=16, span_steps=40))
    assert spikes[0, :40].sum() > 0 and spikes[0, 40:].sum() == 0
    plain = cochlea.encode(env, CochleaConfig(n_channels=16))
    assert plain[0, 40:80].sum() > 0


def test_off_is_bit_identical_and_keeps_old_keys():
    env = np.random.default_rng(1).random((2, 10, 16)) ** 3
    assert np.array_equal(cochlea.encode(env, CochleaConfig(n_channels=16, span_steps=0)),
                          cochlea.encode(env, CochleaConfig(n_channels=16)))
    assert "span_steps" not in CochleaConfig().as_dict()
    assert CochleaConfig(span_steps=50).as_dict()["span_steps"] == 50
    assert CochleaConfig.with_overrides("span_steps=50").overrides_text() == "span_steps=50"
    assert normalised_level(np.zeros((1, 5, 8)), CochleaConfig(n_channels=8, n_steps=5, span_steps=3)).max() == 0


@pytest.mark.parametrize("span", [-1, 1, 101])
def test_span_out_of_range(span):
    with pytest.raises(ValueError, match=r"span_steps must be 0 \(off\) or 2..n_steps \(100\)"):
        CochleaConfig(span_steps=span)
