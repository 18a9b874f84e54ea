"""The one container every loader returns.

Training code, the golden model and the raster plots all consume `[N, T, C]` binary spike tensors
with integer labels; keeping one type means a new data set needs no new plumbing downstream.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset


@dataclass(eq=False)
class SpikeDataset(Dataset):
    """Dense binary spikes `[N, T, C]` (uint8, 0/1) and labels `[N]` (int64).

    `meta` holds per-sample tensors of length N (speaker, onset, dropped spikes, ...);
    `info` holds everything that describes the whole set (encoding, split, source files).
    `dt` is the duration of one step in seconds, or None for tasks defined in abstract steps.
    Indexing gives `(spikes [T, C], int label)`; `batch` gives `([B, T, C], [B])`, which is also
    what a DataLoader with the default collate function produces.
    """

    name: str
    spikes: torch.Tensor
    labels: torch.Tensor
    n_classes: int
    dt: float | None = None
    class_names: tuple[str, ...] | None = None
    meta: dict[str, torch.Tensor] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spikes = torch.as_tensor(self.spikes)
        self.labels = torch.as_tensor(self.labels)
        if self.spikes.dtype == torch.bool:
            self.spikes = self.spikes.to(torch.uint8)
        if self.spikes.dtype != torch.uint8 or self.spikes.dim() != 3:
            raise ValueError(f"{self.name}: spikes must be a uint8 [N, T, C] tensor, got "
                             f"{self.spikes.dtype} {tuple(self.spikes.shape)}")
        if self.spikes.numel() and int(self.spikes.max()) > 1:
            raise ValueError(f"{self.name}: spikes must be 0/1")
        self.labels = self.labels.to(torch.int64)
        if self.labels.shape != (self.spikes.shape[0],):
            raise ValueError(f"{self.name}: labels shape {tuple(self.labels.shape)} does not match "
                             f"{self.spikes.shape[0]} samples")
        if self.labels.numel() and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < self.n_classes:
            raise ValueError(f"{self.name}: labels must lie in 0..{self.n_classes - 1}")
        if self.class_names is not None and len(self.class_names) != self.n_classes:
            raise ValueError(f"{self.name}: {len(self.class_names)} class names for {self.n_classes} classes")
        self.meta = {k: torch.as_tensor(v) for k, v in self.meta.items()}
        for key, value in self.meta.items():
            if value.shape[:1] != (self.spikes.shape[0],):
                raise ValueError(f"{self.name}: meta[{key!r}] has {tuple(value.shape)}, "
                                 f"expected one entry per sample")

    @property
    def n_samples(self) -> int:
        return self.spikes.shape[0]

    @property
    def n_steps(self) -> int:
        return self.spikes.shape[1]

    @property
    def n_channels(self) -> int:
        return self.spikes.shape[2]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Same attribute as torch's TensorDataset."""
        return self.spikes, self.labels

    def __len__(self) -> int:
        return self.n_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.spikes[index], int(self.labels[index])

    def batch(self, indices: Sequence[int] | torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        return self.spikes[idx], self.labels[idx]

    def subset(self, indices: Sequence[int] | torch.Tensor | np.ndarray, name: str | None = None,
               **info: Any) -> "SpikeDataset":
        """A new data set holding the given samples (meta follows; info is extended)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        return SpikeDataset(
            name=name or self.name, spikes=self.spikes[idx], labels=self.labels[idx],
            n_classes=self.n_classes, dt=self.dt, class_names=self.class_names,
            meta={k: v[idx] for k, v in self.meta.items()}, info={**self.info, **info},
        )

    def fingerprint(self) -> str:
        """sha256 (hex) of what a network sees of this set: shape, spikes, labels, class count and
        every meta tensor, in sample order. Two runs whose sets have equal fingerprints trained
        on the same bits, whatever cache or audio they came from."""
        digest = hashlib.sha256(f"{tuple(self.spikes.shape)}|{self.n_classes}".encode())
        digest.update(np.packbits(self.spikes.contiguous().numpy(), axis=-1).tobytes())   # 0/1 uint8
        digest.update(self.labels.numpy().astype("<i8").tobytes())
        for key in sorted(self.meta):
            value = self.meta[key].contiguous().numpy()
            digest.update(f"|{key}|{value.dtype.str}|{value.shape}|".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()

    def mean_spikes_per_sample(self) -> float:
        return float(self.spikes.sum(dtype=torch.int64)) / max(self.n_samples, 1)

    def __repr__(self) -> str:
        step = f"{self.dt * 1e3:g} ms" if self.dt else "abstract"
        return (f"SpikeDataset({self.name!r}, N={self.n_samples}, T={self.n_steps}, "
                f"C={self.n_channels}, classes={self.n_classes}, step={step}, "
                f"mean spikes/sample={self.mean_spikes_per_sample():.1f})")
