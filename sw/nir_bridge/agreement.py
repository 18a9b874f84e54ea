"""How closely the quantised core follows the graph it came from: the float reference
(reference.simulate) and the golden model on the same samples (docs/nir.md, "Agreement").

Prediction agreement: the fraction of samples whose predicted class is the same. Spike agreement,
per spiking layer: the fraction of (sample, step, neuron) entries where both emit the same delayed
spike (mostly silent entries, so also) the spike overlap |both| / |either|.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from delay_training.model import predict
from golden_model import GoldenNetwork, NetworkParams

from .errors import NirError
from .importer import Imported
from .reference import simulate


@dataclass
class Samples:
    x: torch.Tensor                       # [N, T, n_in] int64 spike counts
    labels: torch.Tensor | None
    what: str                             # e.g. "yinyang test (1000 samples)"
    splits: object | None = None          # delay_training.data.Splits for a task (fine-tuning)


def _npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise NirError(f"{path}: not a readable .npy of {what} ({e})") from None


def load_samples(spec: str, n_in: int, limit: int | None) -> Samples:
    """--data: a training task (its test split), a .npy of spike counts [N, T, n_in] (or one
    sample [T, n_in]), or a folder with spikes.npy and optionally labels.npy ([N] classes)."""
    from delay_training.data import TASKS, load_task
    if spec in TASKS:
        splits = load_task(spec)
        ds = splits.test
        x, labels, what = ds.spikes, ds.labels, f"{spec} test split"
    else:
        path = Path(spec)
        folder = path if path.is_dir() else None
        if folder is None and not path.is_file():
            raise NirError(f"--data {spec}: not a task ({', '.join(TASKS)}), a .npy file or a "
                           f"folder with spikes.npy")
        file = folder / "spikes.npy" if folder else path
        if not file.is_file():
            raise NirError(f"{file}: no such file (a --data folder holds spikes.npy [N, T, n_in] "
                           f"and optionally labels.npy [N])")
        arr = _npy(file, "spike counts [N, T, n_in]")
        x = torch.as_tensor(arr[None] if arr.ndim == 2 else arr)
        lab = folder / "labels.npy" if folder else None
        labels = torch.as_tensor(_npy(lab, "classes [N]")).to(torch.int64) if lab and lab.is_file() else None
        splits, what = None, str(file)
        if x.dim() != 3 or x.dtype.is_floating_point and not torch.equal(x, x.round()) or (x < 0).any():
            raise NirError(f"{file}: expected non-negative integer spike counts [N, T, n_in], got "
                           f"{x.dtype} {tuple(x.shape)}")
        if labels is not None and labels.shape != (x.shape[0],):
            raise NirError(f"{lab}: {tuple(labels.shape)} labels for {x.shape[0]} samples")
    if x.shape[2] != n_in:
        raise NirError(f"--data {spec}: {x.shape[2]} input channels, the graph has {n_in}")
    if limit is not None:
        x = x[:limit]
        labels = labels[:limit] if labels is not None else None
    return Samples(x.to(torch.int64), labels, f"{what} ({x.shape[0]} samples)", splits)


def agreement(imp: Imported, params: NetworkParams, samples: Samples, batch: int = 256) -> dict:
    """Float reference of the graph against the golden model of `params` on the samples."""
    golden = GoldenNetwork(params)
    names = [l.neuron for l in imp.chain.layers][:len(params.config.sizes)]
    equal = [0] * len(names)
    both = [0] * len(names)
    either = [0] * len(names)
    entries = [0] * len(names)
    agree, pred_ref, pred_core = 0, [], []
    for i in range(0, samples.x.shape[0], batch):
        xb = samples.x[i:i + batch]
        ref = simulate(imp.chain, xb, imp.resets, imp.reference, imp.readout)
        core = golden.run(xb)
        pc = predict(core["readout"])
        agree += int((pc == ref["prediction"]).sum())
        pred_ref.append(ref["prediction"])
        pred_core.append(pc)
        for k, (a, b) in enumerate(zip(ref["spikes"], core["spikes"])):
            a, b = a.bool(), b.bool()
            equal[k] += int((a == b).sum())
            both[k] += int((a & b).sum())
            either[k] += int((a | b).sum())
            entries[k] += a.numel()
    n = samples.x.shape[0]
    out = {"data": samples.what, "samples": n, "prediction_agreement": agree / max(n, 1),
           "spike_agreement": {m: equal[k] / max(entries[k], 1) for k, m in enumerate(names)},
           "spike_overlap": {m: both[k] / either[k] if either[k] else 1.0 for k, m in enumerate(names)}}
    if samples.labels is not None:
        out["accuracy_reference"] = float((torch.cat(pred_ref) == samples.labels).float().mean())
        out["accuracy_core"] = float((torch.cat(pred_core) == samples.labels).float().mean())
    return out
