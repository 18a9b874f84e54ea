"""Speaker-adversarial training (`--speaker-adversary S`): features a speaker cannot be read from.

A linear classifier reads which speaker said a recording from the network's hidden spike rates
(each hidden neuron's spikes over the recording / steps). It learns to tell the speakers apart;
the gradient it sends back into the network is reversed and scaled, so the network learns to
hide them (gradient reversal, Ganin & Lempitsky 2015; speaker-invariant training, Meng et al.
2018). The scale ramps from 0 to S over the run, DANN's schedule `S (2 / (1 + e^(-10 p)) - 1)`
with p the share of the training done, so that the digits are learned before the speakers are
hidden.

Only recordings of real speakers take part: the synthetic speakers of `--tts` share one speaker
index ("tts"), which is no speaker, and are left out. The classifier lives only while training:
nothing of it is exported, and the network it leaves is an ordinary one.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

STRENGTH_MAX = 10.0


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by -scale."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    return _ReverseGradient.apply(x, scale)


def ramp(strength: float, progress: float) -> float:
    """DANN's schedule: 0 at the start of training, 0.9999 x strength at its end (tanh(5 p))."""
    return strength * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


def real_speakers(speakers) -> int:
    """How many of a training split's speakers (info['speakers']) are real: all but "tts"."""
    speakers = tuple(speakers)
    return len(speakers) - (1 if speakers and speakers[-1] == "tts" else 0)


class SpeakerAdversary(torch.nn.Module):
    """Linear speaker classifier on the concatenated hidden spike rates of all hidden layers."""

    def __init__(self, n_features: int, n_speakers: int, seed: int):
        super().__init__()
        if n_speakers < 2:
            raise ValueError(f"a speaker adversary needs at least 2 speakers, got {n_speakers}")
        self.n_speakers = n_speakers
        self.linear = torch.nn.Linear(n_features, n_speakers)
        g = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(n_features)
        with torch.no_grad():
            self.linear.weight.copy_(torch.empty_like(self.linear.weight).uniform_(-bound, bound, generator=g))
            self.linear.bias.zero_()

    @staticmethod
    def rates(raw_spikes: list[torch.Tensor]) -> torch.Tensor:
        """[B, sum of hidden sizes]: each hidden neuron's spikes per step over the recording."""
        return torch.cat([s.float().mean(1) for s in raw_spikes], dim=1)

    def loss(self, raw_spikes: list[torch.Tensor], speakers: torch.Tensor, scale: float):
        """(cross-entropy over the batch's real-speaker recordings, how many it read right, how
        many it read); the gradient into the network is reversed and scaled by `scale`. A batch
        without real speakers gives a zero loss."""
        keep = speakers < self.n_speakers
        n = int(keep.sum())
        if n == 0:
            return torch.zeros((), device=speakers.device), 0, 0
        feats = reverse_gradient(self.rates(raw_spikes)[keep], scale)
        logits = self.linear(feats.to(self.linear.weight.dtype))
        target = speakers[keep]
        right = int((logits.argmax(1) == target).sum())
        return F.cross_entropy(logits, target), right, n
