"""Spike events <-> time-binned rasters: the one conversion every event source goes through.

Event-based tools (tonic, the SHD/SSC files) hold spikes as lists of (time, channel); the kit's
networks take dense `[T, C]` rasters. Both directions live here so that the SHD loader, the tonic
face and the tonic reverse bin a spike into the same step.
"""

from __future__ import annotations

import numpy as np

# tonic's audio layout, as `tonic.datasets.SHD.dtype` (1.7.0): t in microseconds, x the channel,
# p a polarity that audio sets to 1.
AUDIO_DTYPE = np.dtype([("t", "<i8"), ("x", "<i8"), ("p", "<i8")])
ORDERING = AUDIO_DTYPE.names

# Keeps t = k * dt in step k despite float rounding (0.03 / 0.01 = 2.9999999999999996).
STEP_TOLERANCE = 1e-9


def time_steps(times: np.ndarray, dt: float) -> np.ndarray:
    """The step of each spike time: k with k*dt <= t < (k+1)*dt (times and dt in one unit)."""
    return np.floor(np.asarray(times, dtype=np.float64) / dt + STEP_TOLERANCE).astype(np.int64)


def bin_steps(sample: np.ndarray, steps: np.ndarray, channels: np.ndarray, n_samples: int,
              n_steps: int, n_channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense `[N, T, C]` uint8 spikes from per-spike (sample, step, channel).

    Returns (spikes, dropped, merged) with per-sample counts: `dropped` spikes fell at or after
    step `n_steps`; `merged` ones shared a (step, channel) bin with another spike, which a 0/1
    raster cannot hold. Callers check channels and non-negative steps; the counts keep what the
    window loses visible instead of silent.
    """
    sample = np.asarray(sample, dtype=np.int64)
    steps = np.asarray(steps, dtype=np.int64)
    channels = np.asarray(channels, dtype=np.int64)
    inside = steps < n_steps
    dropped = np.bincount(sample[~inside], minlength=n_samples)
    spikes = np.zeros((n_samples, n_steps, n_channels), dtype=np.uint8)
    spikes[sample[inside], steps[inside], channels[inside]] = 1
    merged = np.bincount(sample[inside], minlength=n_samples) - spikes.sum(axis=(1, 2), dtype=np.int64)
    return spikes, dropped, merged


def raster_to_events(raster, step_us: int) -> np.ndarray:
    """A `[T, C]` 0/1 raster as tonic audio events: one event per spike at t = step * step_us,
    sorted by time, then channel (the order a raster is read in), polarity 1."""
    grid = np.asarray(raster)
    if grid.ndim != 2:
        raise ValueError(f"expected a [T, C] raster, got shape {grid.shape}")
    steps, channels = np.nonzero(grid)
    events = np.empty(steps.size, dtype=AUDIO_DTYPE)
    events["t"] = steps * int(step_us)
    events["x"] = channels
    events["p"] = 1
    return events
