"""Sequence detection: the smallest task that needs an order-sensitive network.

Both classes contain exactly one spike on each of the two channels; only which channel fires
first differs, so spike counts carry no information and a network must relate the two arrival
times, `lag` steps apart.
"""

from __future__ import annotations

import numpy as np

from .base import SpikeDataset


def make_sequence_detection(
    n_samples: int = 1000,
    n_steps: int = 32,
    lag: int = 10,
    t0: int | None = None,
    jitter: int = 0,
    seed: int = 0,
) -> SpikeDataset:
    """Class 0: channel 0 at `t0`, channel 1 at `t0 + lag`; class 1: the reverse.

    `t0` defaults to centring the pair in the window; with `jitter > 0` each sample draws its onset
    uniformly from `t0 .. t0 + jitter`. The seed draws the (balanced) label order and the jitter;
    the class definition itself never depends on it, so sets made with different seeds agree.
    """
    if n_samples < 1 or lag < 1 or jitter < 0:
        raise ValueError("need n_samples >= 1, lag >= 1 and jitter >= 0")
    if t0 is None:
        t0 = (n_steps - 1 - lag - jitter) // 2
    if t0 < 0 or t0 + jitter + lag > n_steps - 1:
        raise ValueError(f"onset {t0} + jitter {jitter} + lag {lag} does not fit in {n_steps} steps")

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_samples) % 2)
    onsets = t0 + rng.integers(0, jitter + 1, size=n_samples)
    first = labels  # class 0: channel 0 first; class 1: channel 1 first
    spikes = np.zeros((n_samples, n_steps, 2), dtype=np.uint8)
    rows = np.arange(n_samples)
    spikes[rows, onsets, first] = 1
    spikes[rows, onsets + lag, 1 - first] = 1
    return SpikeDataset(
        name="sequence", spikes=spikes, labels=labels, n_classes=2,
        class_names=("0 then 1", "1 then 0"), meta={"onset": onsets},
        info={"lag": lag, "t0": t0, "jitter": jitter, "seed": seed},
    )
