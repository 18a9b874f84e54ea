"""Learning curves, a raster of one test sample through the network, and delay histograms (PNG).

Uses matplotlib's Agg canvas directly; never changes the global backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _fig(w, h):
    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def learning_curves(history: list[dict], path: Path, title: str) -> Path:
    fig = _fig(9, 3.5)
    ep = [h["epoch"] for h in history]
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(ep, [h["train_loss"] for h in history], label="train")
    ax.plot(ep, [h["val_loss"] for h in history], label="validation")
    ax.set_xlabel("epoch"), ax.set_ylabel("cross-entropy"), ax.legend()
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(ep, [100 * h["train_acc"] for h in history], label="train")
    ax.plot(ep, [100 * h["val_acc"] for h in history], label="validation")
    if history:
        best = max(history, key=lambda h: (h["val_acc"], -h["epoch"]))
        ax.axvline(best["epoch"], color="grey", ls=":", label=f"selected (epoch {best['epoch']})")
    ax.set_xlabel("epoch"), ax.set_ylabel("accuracy (%)"), ax.legend()
    fig.suptitle(title)
    fig.savefig(path)
    return path


@torch.no_grad()
def network_raster(model, ds, index: int, path: Path, title: str) -> Path:
    x, label = ds[index]
    out = model(x.unsqueeze(0).to(next(model.parameters()).device))
    panels = [("input", x.numpy())] + [(f"LIF layer {l + 1} (delayed spikes)", y[0].cpu().numpy())
                                       for l, y in enumerate(out["spikes"])]
    fig = _fig(8, 2.2 * (len(panels) + 1))
    T = x.shape[0]
    for k, (name, grid) in enumerate(panels):
        ax = fig.add_subplot(len(panels) + 1, 1, k + 1)
        t, c = np.nonzero(grid)
        if grid.shape[1] > 64:
            ax.imshow(grid.T > 0, aspect="auto", cmap="Greys", interpolation="nearest", origin="lower")
        else:
            ax.scatter(t, c, marker="|", s=30, color="k")
            ax.set_ylim(-0.5, grid.shape[1] - 0.5)
        ax.set_xlim(-0.5, T - 0.5)
        ax.set_ylabel(name, fontsize=8)
    ax = fig.add_subplot(len(panels) + 1, 1, len(panels) + 1)
    ro = out["readout"][0].cpu().double().numpy()
    for j in range(ro.shape[1]):
        ax.plot(ro[:, j], label=str(j), lw=2 if j == label else 1)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_xlabel("step"), ax.set_ylabel("readout membrane", fontsize=8)
    ax.legend(fontsize=6, ncol=min(ro.shape[1], 10))
    pred = int(ro.sum(0).argmax())
    fig.suptitle(f"{title}: test sample {index}, label {label}, predicted {pred}")
    fig.savefig(path)
    return path


def delay_histogram(model, path: Path, title: str) -> Path:
    """One panel per LIF layer, and one for the input channels when they have delays."""
    cfg = model.config
    panels = [(f"layer {l + 1}", "neurons", model.int_delays(l).numpy()) for l in range(len(cfg.sizes))]
    if cfg.input_delays:
        panels.insert(0, ("input channels", "channels", model.int_input_delays().numpy()))
    fig = _fig(4 * len(panels), 3)
    for i, (name, unit, d) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.hist(d, bins=np.arange(cfg.depth + 1) - 0.5, color="C0")
        ax.set_xlabel("delay (steps)"), ax.set_ylabel(unit)
        ax.set_title(f"{name}: mean {d.mean():.1f}, max {d.max()}", fontsize=9)
    fig.suptitle(f"{title}: learned axonal delays (D = {cfg.depth})")
    fig.savefig(path)
    return path


def all_plots(model, splits, history, out: Path, name: str) -> dict:
    out = Path(out)
    return {"learning_curves": str(learning_curves(history, out / "curves.png", name)),
            "raster": str(network_raster(model, splits.test, 0, out / "raster.png", name)),
            "delays": str(delay_histogram(model, out / "delays.png", name))}
