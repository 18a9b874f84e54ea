"""More voices from the same recordings: speed, microphone tilt and noise, before the cochlea.

The five FSDD speakers differ less in what they say than in how it reaches the file: vocal tract
length (formant positions), speaking rate, and microphone and room (george's recordings carry
twice the others' share of energy above 2.5 kHz; nicolas's noise floor is 18 dB under the peak,
lucas's 49 dB). Each perturbed copy of a training recording draws, from its own seed:

* a speed factor s ~ U[1-S, 1+S] (Ko et al. 2015, Kaldi's `speed`): the recording is resampled
  by s (`scipy.signal.resample_poly`) and played at 8 kHz, s times shorter with every frequency,
  formants and pitch alike, s times higher;
* a spectral tilt a ~ U[-A, A]: a first-order filter y[n] = x[n] - a x[n-1] (`scipy.signal.lfilter`;
  a > 0 brightens like a thin microphone, a < 0 darkens), then rescaled to the original RMS;
* a noise level: Gaussian noise at an SNR ~ U[lo, hi] dB of the recording's RMS.

`--voices copies=2,speed=0.1,tilt=0.6,snr=10:30` adds two such copies of every training
recording (every setting optional; `copies` defaults to 1). Each copy goes through the cochlea
once and is cached like the originals (`fsdd.encode_recordings`, keyed by the copy too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import scipy.signal

from corespec.errors import UserError
from corespec.options import name_values


class VoicesError(UserError, ValueError):
    """A --voices setting that is not a perturbation or out of its range."""


@dataclass(frozen=True)
class Perturbation:
    """The ranges of one perturbed copy; `copy` (0, 1, ...) and the recording index seed the draws."""

    speed: float = 0.0                  # s ~ U[1 - speed, 1 + speed]
    tilt: float = 0.0                   # a ~ U[-tilt, tilt]
    snr_db: tuple[float, float] | None = None
    copy: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.speed <= 0.5:
            raise VoicesError(f"--voices speed={self.speed:g}: expected a spread in [0, 0.5] "
                              "(factors 1 - spread .. 1 + spread)")
        if not 0 <= self.tilt < 1:
            raise VoicesError(f"--voices tilt={self.tilt:g}: expected a coefficient in [0, 1)")
        if self.snr_db is not None and not -10 <= self.snr_db[0] <= self.snr_db[1] <= 80:
            raise VoicesError(f"--voices snr={self.snr_db[0]:g}:{self.snr_db[1]:g}: expected "
                              "LO:HI dB with -10 <= LO <= HI <= 80")

    @property
    def identity(self) -> bool:
        return self.speed == 0 and self.tilt == 0 and self.snr_db is None

    def as_dict(self) -> dict:
        return asdict(self)

    def draw(self, index: int) -> tuple[float, float, float | None]:
        """(speed factor, tilt coefficient, SNR dB or None) of recording `index` in this copy."""
        u = np.random.default_rng([self.copy, index, 0x5EED]).random(3)
        speed = round(1 + (2 * u[0] - 1) * self.speed, 2)      # 0.01 steps: short resampling filters
        tilt = (2 * u[1] - 1) * self.tilt
        snr = None if self.snr_db is None else self.snr_db[0] + u[2] * (self.snr_db[1] - self.snr_db[0])
        return speed, tilt, snr

    def apply(self, wave: np.ndarray, index: int) -> np.ndarray:
        """The perturbed recording (float32, full scale 1)."""
        x = np.asarray(wave)
        x = x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)
        speed, tilt, snr = self.draw(index)
        if speed != 1.0:
            ratio = Fraction(speed).limit_denominator(100)
            x = scipy.signal.resample_poly(x, ratio.denominator, ratio.numerator)
        rms = float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
        if tilt and rms > 0:
            y = scipy.signal.lfilter([1.0, -tilt], [1.0], x)
            x = y * rms / max(float(np.sqrt(np.mean(y ** 2))), 1e-12)
        if snr is not None and x.size:
            rng = np.random.default_rng([self.copy, index, 0x9015E])
            x = x + rms * 10 ** (-snr / 20) * rng.standard_normal(x.size)
        return x.astype(np.float32)


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise VoicesError(f"--voices {name}={value!r}: expected a number") from None


def parse_voices(text: str | None) -> tuple[Perturbation, ...]:
    """`copies=2,speed=0.1,tilt=0.6,snr=10:30` -> two Perturbations (copy 0 and 1) with these
    ranges; '' / None -> none."""
    settings: dict = {}
    copies = 1
    for name, value in name_values(text, ("copies", "speed", "tilt", "snr"), "--voices", VoicesError):
        if name == "copies":
            copies = int(_number(name, value))
            if not 1 <= copies <= 10 or str(copies) != value:
                raise VoicesError(f"--voices copies={value}: expected a whole number in 1..10")
        elif name == "snr":
            lo, _, hi = value.partition(":")
            settings["snr_db"] = (_number(name, lo), _number(name, hi or lo))
        else:
            settings[name] = _number(name, value)
    if not settings:
        if text and text.strip():
            raise VoicesError(f"--voices {text!r}: a copy must change something (speed, tilt or snr)")
        return ()
    return tuple(Perturbation(copy=c, **settings) for c in range(copies))


def voices_text(copies: tuple[Perturbation, ...]) -> str:
    """The canonical --voices text of a set of copies ('' for none)."""
    if not copies:
        return ""
    p = copies[0]
    parts = [f"copies={len(copies)}"]
    parts += [f"speed={p.speed:g}"] if p.speed else []
    parts += [f"tilt={p.tilt:g}"] if p.tilt else []
    parts += [f"snr={p.snr_db[0]:g}:{p.snr_db[1]:g}"] if p.snr_db is not None else []
    return ",".join(parts)
