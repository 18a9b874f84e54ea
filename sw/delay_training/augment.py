"""Spike-level augmentation of training batches: new voices without new recordings.

A held-out speaker differs from the training speakers mostly by where the formants lie (vocal
tract length), how fast the word is spoken and when it starts. On the cochlea's ERB-spaced
channels a change of vocal tract length is close to a shift along the channel axis, and a change
of speaking rate a stretch along time; both can be applied to spike rasters directly, per sample,
inside the training loop, at no front-end cost. Each transform draws from a `torch.Generator`
seeded by (seed, epoch, batch), so a run is reproducible and a resumed run sees the same batches.

`--augment shift=24,stretch=0.15,time=5,mask=40,drop=0.1` (any subset):

* `shift=S`: move every channel by s ~ U{-S..S} channels (zero fill): formants up or down;
* `stretch=A`: resample time by f ~ U[1-A, 1+A] (nearest step; f > 1 slower): speaking rate;
* `time=S`: move the whole raster by U{-S..S} steps (zero fill): onset;
* `mask=W`: silence one band of U{0..W} adjacent channels (SpecAugment's frequency mask);
* `drop=P`: delete each spike with probability P.

Validation and test sets are never augmented.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from corespec.errors import UserError
from corespec.options import name_values


class AugmentError(UserError, ValueError):
    """An --augment setting that is not one of the transforms or out of its range."""


@dataclass(frozen=True)
class Augment:
    shift: int = 0
    stretch: float = 0.0
    time: int = 0
    mask: int = 0
    drop: float = 0.0

    def __post_init__(self) -> None:
        checks = {"shift": self.shift >= 0, "stretch": 0 <= self.stretch < 1, "time": self.time >= 0,
                  "mask": self.mask >= 0, "drop": 0 <= self.drop < 1}
        for name, ok in checks.items():
            if not ok:
                raise AugmentError(f"--augment {name}={getattr(self, name)}: expected "
                                   + ("a fraction in [0, 1)" if name in ("stretch", "drop")
                                      else "a whole number >= 0"))

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    @property
    def text(self) -> str:
        """The canonical option text, e.g. 'shift=24,stretch=0.15' ('' when off)."""
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in self.as_dict().items())

    def as_dict(self) -> dict:
        """The non-zero settings (what a run's identity and name record)."""
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def parse(cls, text: str | None) -> "Augment":
        """`shift=24,stretch=0.15` ('' / None: no augmentation)."""
        items = dict(name_values(text, cls.__dataclass_fields__, "--augment", AugmentError))
        kinds = {"shift": int, "time": int, "mask": int, "stretch": float, "drop": float}
        try:
            return cls(**{k: kinds[k](v) for k, v in items.items()})
        except ValueError as err:
            if isinstance(err, AugmentError):
                raise
            raise AugmentError(f"--augment {text!r}: {err}") from None

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Augmented copy of a batch `x [B, T, C]` (any dtype); `g` draws every random choice."""
        if not self.active:
            return x
        b, t, c = x.shape
        time_src = _stretch_index(b, t, self.stretch, self.time, g)          # [B, T]
        chan_src = _shift_index(b, c, self.shift, g)                          # [B, C]
        valid = (time_src >= 0) & (time_src < t)
        valid = valid[:, :, None] & ((chan_src >= 0) & (chan_src < c))[:, None, :]
        ti = time_src.clamp(0, t - 1)[:, :, None].expand(b, t, c)
        ci = chan_src.clamp(0, c - 1)[:, None, :].expand(b, t, c)
        out = x.gather(1, ti.to(x.device)).gather(2, ci.to(x.device))
        keep = valid
        if self.mask:
            width = torch.randint(0, self.mask + 1, (b, 1), generator=g)
            lo = (torch.rand(b, 1, generator=g) * (c - width + 1)).long()
            ch = torch.arange(c)[None, :]
            keep = keep & ~((ch >= lo) & (ch < lo + width))[:, None, :]
        if self.drop:
            keep = keep & (torch.rand(b, t, c, generator=g) >= self.drop)
        return out * keep.to(device=x.device, dtype=x.dtype)


def _stretch_index(b: int, t: int, stretch: float, shift: int, g: torch.Generator) -> torch.Tensor:
    """Source step of every output step: step k shows input step round((k - s) / f)."""
    k = torch.arange(t, dtype=torch.float64)[None, :]
    f = 1 + (2 * torch.rand(b, 1, generator=g, dtype=torch.float64) - 1) * stretch
    s = torch.randint(-shift, shift + 1, (b, 1), generator=g) if shift else torch.zeros(b, 1, dtype=torch.long)
    return torch.floor((k - s) / f + 0.5).long()


def _shift_index(b: int, c: int, shift: int, g: torch.Generator) -> torch.Tensor:
    """Source channel of every output channel: channel j shows input channel j - s."""
    s = torch.randint(-shift, shift + 1, (b, 1), generator=g) if shift else torch.zeros(b, 1, dtype=torch.long)
    return torch.arange(c)[None, :] - s
