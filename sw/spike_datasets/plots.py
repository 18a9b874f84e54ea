"""Raster plots, to see with one's own eyes what a network will be fed.

Uses matplotlib's object API with the Agg canvas, so it works headless and never switches the
caller's global backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .base import SpikeDataset


def raster(dataset: SpikeDataset, indices: Sequence[int], path: str | Path, columns: int | None = None,
           marker_size: float | None = None, dpi: int = 120) -> Path:
    """Save a PNG with one raster panel per sample (time on x, channel on y, label in the title).

    Up to 64 channels spikes are drawn as tick marks; above that as a black-and-white image with
    one cell per (step, channel), tall enough (at the default dpi) to give every channel a pixel row.
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("no samples to plot")
    columns = columns or min(len(indices), 4)
    rows = -(-len(indices) // columns)
    dense = dataset.n_channels > 64  # draw as an image: every spike is one cell, no marker overlap
    height = min(8.0, 2.5 + dataset.n_channels / 100)
    fig = Figure(figsize=(4.5 * columns, height * rows), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    scale, unit = (dataset.dt, "s") if dataset.dt else (1, "step")
    for k, i in enumerate(indices):
        ax = fig.add_subplot(rows, columns, k + 1)
        spikes, label = dataset[i]
        grid = spikes.numpy()
        if dense:
            ax.imshow(grid.T, origin="lower", aspect="auto", cmap="gray_r", interpolation="nearest",
                      vmin=0, vmax=1, extent=(-0.5 * scale, (dataset.n_steps - 0.5) * scale,
                                             -0.5, dataset.n_channels - 0.5))
        else:
            t, c = np.nonzero(grid)
            ax.scatter(t * scale, c, s=marker_size or 60, marker="|", c="k", linewidths=1.5)
            ax.set_xlim(-0.5 * scale, (dataset.n_steps - 0.5) * scale)
            ax.set_ylim(-0.5, dataset.n_channels - 0.5)
        name = dataset.class_names[label] if dataset.class_names else str(label)
        ax.set_title(f"#{i}: label {label} ({name}), {int(grid.sum())} spikes", fontsize=9)
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("channel")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"{dataset.name}: T={dataset.n_steps}, C={dataset.n_channels}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
