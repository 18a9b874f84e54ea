"""Lag patterns: a task that a feed-forward network with short membranes cannot solve without delays.

Every sample contains exactly one spike on every channel, always in the same channel order
(0, 1, ..., C-1). A class is a tuple of C-1 gaps between consecutive channels, each drawn from
`lags` (default 5, 10, 15, 20 steps). Counts, the set of active channels and the order are the
same for every class; the only information is how far apart the spikes are. The whole pattern
starts at a random onset, drawn from the same range for every class, so the absolute time of the
first spike says nothing either. See docs/datasets.md for the argument why weights alone fail.
"""

from __future__ import annotations

import itertools

import numpy as np

from .base import SpikeDataset


def lag_patterns(n_classes: int, n_channels: int, lags: tuple[int, ...], pattern_seed: int = 0) -> np.ndarray:
    """The class definitions: `[n_classes, n_channels - 1]` distinct gap tuples.

    Drawn with their own seed so that train and test sets generated with different sample seeds
    share the same classes.
    """
    if n_channels < 2:
        raise ValueError("need at least 2 channels")
    n_possible = len(lags) ** (n_channels - 1)
    if not 2 <= n_classes <= n_possible:
        raise ValueError(f"{n_classes} classes requested, but {len(lags)} lags and {n_channels} channels "
                         f"give only {n_possible} distinct patterns")
    rng = np.random.default_rng(pattern_seed)
    lag_array = np.asarray(lags, dtype=np.int64)
    if n_possible <= 4096:  # small space: shuffle all patterns, take the first ones
        every = np.array(list(itertools.product(lag_array, repeat=n_channels - 1)), dtype=np.int64)
        return every[rng.permutation(n_possible)[:n_classes]]
    patterns: dict[tuple[int, ...], None] = {}
    while len(patterns) < n_classes:  # huge space: collisions are rare
        patterns.setdefault(tuple(rng.choice(lag_array, size=n_channels - 1)), None)
    return np.array(list(patterns), dtype=np.int64)


def make_delay_task(
    n_samples: int = 1000,
    n_classes: int = 4,
    n_channels: int = 4,
    n_steps: int = 100,
    lags: tuple[int, ...] = (5, 10, 15, 20),
    jitter: int = 0,
    seed: int = 0,
    pattern_seed: int = 0,
) -> SpikeDataset:
    """Generate `n_samples` lag-pattern samples (balanced classes, order shuffled by `seed`).

    `jitter` moves every spike independently by up to +-jitter steps; it must stay below half the
    smallest lag so that the channel order, and the isolation of spikes, survive.
    """
    lags = tuple(int(x) for x in lags)
    if min(lags) < 1:
        raise ValueError("lags must be positive")
    if jitter < 0 or 2 * jitter >= min(lags):
        raise ValueError(f"jitter {jitter} must be >= 0 and below half the smallest lag {min(lags)}")
    patterns = lag_patterns(n_classes, n_channels, lags, pattern_seed)
    offsets = np.concatenate([np.zeros((n_classes, 1), np.int64), np.cumsum(patterns, axis=1)], axis=1)
    longest = int(offsets[:, -1].max())
    latest_onset = n_steps - 1 - longest - jitter
    if latest_onset < jitter:
        raise ValueError(f"patterns span up to {longest} steps (+-{jitter} jitter): "
                         f"does not fit in {n_steps} steps")

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_samples) % n_classes)
    onsets = rng.integers(jitter, latest_onset + 1, size=n_samples)
    times = onsets[:, None] + offsets[labels]
    if jitter:
        times = times + rng.integers(-jitter, jitter + 1, size=times.shape)
    spikes = np.zeros((n_samples, n_steps, n_channels), dtype=np.uint8)
    spikes[np.arange(n_samples)[:, None], times, np.arange(n_channels)[None, :]] = 1
    return SpikeDataset(
        name="delay_task", spikes=spikes, labels=labels, n_classes=n_classes,
        class_names=tuple("gaps " + ",".join(map(str, p)) for p in patterns),
        meta={"onset": onsets, "spike_times": times},
        info={"patterns": patterns, "lags": lags, "jitter": jitter, "seed": seed,
              "pattern_seed": pattern_seed},
    )
