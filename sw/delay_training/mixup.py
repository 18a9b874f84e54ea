"""Spike mixup: train on blends of two recordings, against the blend of their labels.

Mixup (Zhang et al., 2018) trains on `lam * x_a + (1 - lam) * x_b` against `lam * y_a +
(1 - lam) * y_b`, `lam ~ Beta(alpha, alpha)`; for sounds, between-class learning (Tokozume et
al., 2018) mixes the waveforms. The core's inputs are 0/1 spikes, so a sum of rasters is not an
input it can take. Here each spike position (step, channel) of the blend is taken from the
sample with probability `lam` and from its partner otherwise: the blend is a 0/1 raster whose
expected rate is the mixup of the two rates, and the loss is `lam * CE(y_a) + (1 - lam) *
CE(y_b)`. Why it could help a new voice: a network that must say "60 % seven, 40 % two" for a
blend cannot rest on the few spikes that tell the training speakers' words apart.

`--mixup ALPHA` (0: off). Partners are a random permutation of the batch; `lam` is drawn per
sample. Everything comes from a `numpy.random.Generator` seeded by (seed, epoch), so a run is
reproducible and a resumed run sees the same blends. Validation and test sets are never mixed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

MIXUP_SEED_OFFSET = 700_001   # the blends' generator is neither the batch order's nor --augment's


class Blend(NamedTuple):
    """A mixed batch: `spikes [B, T, C]`, the labels of the sample (`labels`) and of its partner
    (`partner_labels`), and each sample's share `lam [B]` in (0, 1)."""
    spikes: torch.Tensor
    labels: torch.Tensor
    partner_labels: torch.Tensor
    lam: torch.Tensor


def mixup_generator(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, MIXUP_SEED_OFFSET])


def blend(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator) -> Blend:
    """Mix each sample of `x [B, T, C]` (labels `y [B]`) with a partner from the same batch."""
    b = x.shape[0]
    partner = torch.from_numpy(rng.permutation(b)).to(x.device)
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=b)).to(device=x.device, dtype=torch.float32)
    own = torch.from_numpy(rng.random(x.shape) < lam.cpu().numpy()[:, None, None]).to(x.device)
    return Blend(torch.where(own, x, x[partner]), y, y[partner], lam)


def blend_loss(logits: torch.Tensor, mixed: Blend, label_smoothing: float = 0.0) -> torch.Tensor:
    """`lam * CE(label) + (1 - lam) * CE(partner's label)`, averaged over the batch."""
    own = F.cross_entropy(logits, mixed.labels, reduction="none", label_smoothing=label_smoothing)
    other = F.cross_entropy(logits, mixed.partner_labels, reduction="none",
                            label_smoothing=label_smoothing)
    return (mixed.lam * own + (1 - mixed.lam) * other).mean()


def main_labels(mixed: Blend) -> torch.Tensor:
    """The label with the larger share in each blend (what the training accuracy counts)."""
    return torch.where(mixed.lam >= 0.5, mixed.labels, mixed.partner_labels)
