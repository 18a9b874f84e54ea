"""More voices from the same recordings: speed perturbation and noise, before the cochlea.

Speed perturbation (Ko et al. 2015, Kaldi's `speed` recipe) resamples a recording by a factor s
and plays it back at the original rate: the word is s times shorter and every frequency,
formants and pitch alike, is s times higher, much as a speaker with a shorter vocal tract would
say it. Noise at a chosen SNR stands for another room and microphone. Both are scipy/numpy
one-liners (`scipy.signal.resample_poly`, a seeded Gaussian), applied to the training recordings
only; each perturbed copy goes through the cochlea once and is cached like the originals
(`fsdd.encode_recordings`, keyed by the perturbation too).

`--voices speed=0.9:1.1,snr=20` gives one training copy per speed factor (each with noise at
20 dB SNR when given) next to the originals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import scipy.signal

from corespec.errors import UserError


class VoicesError(UserError, ValueError):
    """A --voices setting that is not a perturbation or out of its range."""


@dataclass(frozen=True)
class Perturbation:
    """One perturbed copy: speed factor (1: unchanged) and noise SNR in dB (None: no noise)."""

    speed: float = 1.0
    snr_db: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.5 <= self.speed <= 2.0:
            raise VoicesError(f"--voices speed {self.speed:g}: expected a factor in [0.5, 2]")
        if self.snr_db is not None and not -10 <= self.snr_db <= 80:
            raise VoicesError(f"--voices snr {self.snr_db:g}: expected dB in [-10, 80]")

    @property
    def identity(self) -> bool:
        return self.speed == 1.0 and self.snr_db is None

    def as_dict(self) -> dict:
        return asdict(self)

    def apply(self, wave: np.ndarray, index: int) -> np.ndarray:
        """The perturbed recording (float32, full scale 1); `index` seeds its own noise."""
        x = np.asarray(wave)
        x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        if self.speed != 1.0:
            ratio = Fraction(self.speed).limit_denominator(40)   # e.g. 0.9 -> up 10, down 9
            x = scipy.signal.resample_poly(x, ratio.denominator, ratio.numerator).astype(np.float32)
        if self.snr_db is not None and x.size:
            rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
            rng = np.random.default_rng([self.seed, index, int(round(self.snr_db * 100))])
            x = x + (rms * 10 ** (-self.snr_db / 20) * rng.standard_normal(x.size)).astype(np.float32)
        return x


def parse_voices(text: str | None) -> tuple[Perturbation, ...]:
    """`speed=0.9:1.1,snr=20` -> one Perturbation per speed (each with the noise); `snr=20`
    alone -> one noisy copy at speed 1; '' / None -> none."""
    speeds, snr = [], None
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = (x.strip() for x in part.partition("="))
        try:
            if name == "speed" and sep:
                speeds = [float(v) for v in value.split(":") if v.strip()]
            elif name == "snr" and sep:
                snr = float(value)
            else:
                raise VoicesError(f"--voices {part.strip()!r}: expected speed=S1:S2:... and/or snr=DB")
        except ValueError as err:
            if isinstance(err, VoicesError):
                raise
            raise VoicesError(f"--voices {part.strip()!r}: expected numbers") from None
    copies = tuple(Perturbation(s, snr) for s in (speeds or ([1.0] if snr is not None else [])))
    if len(set(copies)) != len(copies) or any(c.identity for c in copies):
        raise VoicesError(f"--voices {text!r}: each copy must differ from the originals and from each other")
    return copies


def voices_text(copies: tuple[Perturbation, ...]) -> str:
    """The canonical --voices text of a set of copies ('' for none)."""
    if not copies:
        return ""
    speeds = ":".join(f"{c.speed:g}" for c in copies)
    snr = copies[0].snr_db
    return ("" if all(c.speed == 1.0 for c in copies) else f"speed={speeds}") \
        + ("" if snr is None else ("," if any(c.speed != 1.0 for c in copies) else "") + f"snr={snr:g}")
