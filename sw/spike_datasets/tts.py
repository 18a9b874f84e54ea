"""Synthetic speakers: espeak-ng reads the ten digits in many voices, as extra training data.

Four training speakers are few voices to learn speaker independence from. espeak-ng (Debian
package `espeak-ng`, installed by `make install`) is a formant synthesiser with eight English
accents and about a hundred voice variants (`en-us+f3`, `en-gb-scotland+m7`, `en+klatt2`, ...),
each of which can be sped up, slowed down and pitched. A synthetic speaker is one draw of
(accent, variant, words per minute, pitch) from its own seed; it says each digit `takes` times,
each take with its own small change of speed and pitch (espeak-ng is deterministic: the same
settings give the same samples).

The audio is resampled to the FSDD rate (8 kHz, `scipy.signal.resample_poly`), trimmed to its
voiced part like FSDD's recordings, written as `{digit}_{speaker}_{take}.wav` under
`build/cache/tts/<key>/`, and from there goes through the cochlea and its cache like any
recording (`fsdd.encode_recordings`). Nothing is downloaded; nothing generated is committed.

`--tts voices=200,takes=1` adds 200 synthetic speakers saying every digit once to the training
split (never to validation or test); `snr=LO:HI` adds Gaussian noise to each take at an SNR drawn
in [LO, HI] dB (`voices.Perturbation`), since synthetic speech is cleaner than any microphone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

from corespec.errors import UserError
from corespec.files import atomic_write
from corespec.options import name_values

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
# espeak-ng's voice variants that sound like a person speaking (no whisper, robots or effects).
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "klatt6", "Alex", "Alicia", "Andrea", "Andy",
            "Annie", "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee",
            "Marco", "Mario", "Michael", "Mike", "Nguyen", "Storm", "adam", "anika", "announcer",
            "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
            "edward2", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john",
            "linda", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy",
            "rob", "robert", "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor",
            "zac")
SAMPLE_RATE = 8000
TTS_VERSION = 1                    # bump when the audio a voice makes changes


class TtsError(UserError, ValueError):
    """A --tts setting out of range, or espeak-ng missing or failing."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an espeak-ng voice and its base speed and pitch."""

    index: int                     # speaker number: file names say tts<index>
    accent: str
    variant: str
    wpm: int                       # espeak-ng -s, words per minute
    pitch: int                     # espeak-ng -p, 0-99

    @property
    def name(self) -> str:
        return f"tts{self.index}"

    def take(self, take: int) -> tuple[int, int]:
        """(wpm, pitch) of one take: the voice's own +- 10 % speed and +- 6 pitch steps."""
        u = np.random.default_rng([self.index, take, 0x7A4E]).random(2)
        return int(round(self.wpm * (0.9 + 0.2 * u[0]))), int(np.clip(self.pitch + round(12 * u[1] - 6), 0, 99))


@dataclass(frozen=True)
class TtsSpec:
    """How many synthetic speakers, how many takes of each digit, and the seed of their draws."""

    voices: int = 0
    takes: int = 1
    seed: int = 0
    snr_db: tuple[float, float] | None = None    # noise at a drawn SNR (voices.Perturbation)

    def __post_init__(self) -> None:
        if not 0 <= self.voices <= 2000:
            raise TtsError(f"--tts voices={self.voices}: expected a whole number in 0..2000")
        if not 1 <= self.takes <= 10:
            raise TtsError(f"--tts takes={self.takes}: expected a whole number in 1..10")
        if self.snr_db is not None and not -10 <= self.snr_db[0] <= self.snr_db[1] <= 80:
            raise TtsError(f"--tts snr={self.snr_db[0]:g}:{self.snr_db[1]:g}: expected LO:HI dB "
                           "with -10 <= LO <= HI <= 80")

    def noise(self):
        """The voices.Perturbation adding this spec's noise to every take (None: clean)."""
        from .voices import Perturbation
        return None if self.snr_db is None else Perturbation(snr_db=self.snr_db)

    def as_dict(self) -> dict:
        return asdict(self)

    def speakers(self) -> list[Voice]:
        """The synthetic speakers, each drawn from (seed, index): the first n of a larger set are
        the same n speakers."""
        out = []
        for i in range(self.voices):
            rng = np.random.default_rng([self.seed, i, 0x77E5])
            out.append(Voice(i, ACCENTS[rng.integers(len(ACCENTS))],
                             VARIANTS[rng.integers(len(VARIANTS))],
                             int(rng.integers(110, 211)), int(rng.integers(15, 86))))
        return out


def parse_tts(text: str | None) -> TtsSpec:
    """`voices=200,takes=2,seed=0,snr=10:40` -> TtsSpec; '' / None -> no synthetic speakers."""
    settings = {}
    for name, value in name_values(text, ("voices", "takes", "seed", "snr"), "--tts", TtsError):
        if name == "snr":
            try:
                lo, _, hi = value.partition(":")
                settings["snr_db"] = (float(lo), float(hi or lo))
            except ValueError:
                raise TtsError(f"--tts snr={value!r}: expected LO:HI in dB") from None
            continue
        if not value.isdigit():
            raise TtsError(f"--tts {name}={value!r}: expected a whole number")
        settings[name] = int(value)
    if settings and settings.get("voices", 0) == 0:
        raise TtsError(f"--tts {text!r}: expected voices=N with N >= 1")
    return TtsSpec(**settings)


def tts_text(spec: TtsSpec) -> str:
    """The canonical --tts text ('' for none)."""
    if spec.voices == 0:
        return ""
    snr = f",snr={spec.snr_db[0]:g}:{spec.snr_db[1]:g}" if spec.snr_db is not None else ""
    return f"voices={spec.voices},takes={spec.takes}" + (f",seed={spec.seed}" if spec.seed else "") + snr


def espeak() -> str:
    """The espeak-ng executable, or a one-line error saying how to get it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise TtsError("--tts needs espeak-ng, which is not installed: run `make install` "
                       "(it installs the Debian package espeak-ng) or `apt-get install espeak-ng`")
    return path


def trim(x: np.ndarray, floor_db: float = 40.0, margin: int = 80) -> np.ndarray:
    """The part of `x` between the first and last sample within `floor_db` of its peak, plus
    `margin` samples (10 ms at 8 kHz) each side: FSDD's recordings start and end near the word."""
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0:
        return x
    loud = np.flatnonzero(np.abs(x) >= peak * 10 ** (-floor_db / 20))
    return x[max(loud[0] - margin, 0):loud[-1] + 1 + margin]


def synthesise(word: str, voice: Voice, take: int, exe: str | None = None) -> np.ndarray:
    """One take of `word` in `voice`: int16 at 8 kHz, trimmed, peak at -1 dBFS."""
    wpm, pitch = voice.take(take)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.wav"
        cmd = [exe or espeak(), "-v", f"{voice.accent}+{voice.variant}", "-s", str(wpm), "-p", str(pitch),
               "-w", str(out), word]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not out.exists():
            raise TtsError(f"espeak-ng failed on {' '.join(cmd[1:-3])} {word!r}: "
                           f"{(done.stderr or done.stdout).strip() or 'no output'}")
        rate, x = scipy.io.wavfile.read(out)
    x = x.astype(np.float64)
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        x = scipy.signal.resample_poly(x, SAMPLE_RATE // g, rate // g)
    x = trim(x)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0:
        raise TtsError(f"espeak-ng gave silence for {word!r} in {voice.accent}+{voice.variant}")
    return np.round(x * (32767 * 10 ** (-1 / 20)) / peak).astype(np.int16)


def cache_key(spec: TtsSpec) -> str:
    """The folder of a spec's audio: the number of voices is left out, since the first n speakers
    of any spec with the same seed are the same (a larger set reuses a smaller one's files); the
    voice lists and the espeak-ng version are in, so changing either makes new audio."""
    settings = {"version": TTS_VERSION, "seed": spec.seed, "espeak": _espeak_version(),
                "accents": ACCENTS, "variants": VARIANTS, "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def _espeak_version() -> str:
    """espeak-ng's version line: another version may speak differently."""
    done = subprocess.run([espeak(), "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def generate(spec: TtsSpec, folder: Path, progress: bool = True) -> list[Path]:
    """Write every take of every digit of every synthetic speaker as
    `{folder}/{digit}_{speaker}_{take}.wav` (skipping files already there) and return the paths,
    sorted by speaker, digit, take like fsdd.list_recordings."""
    from tqdm.auto import tqdm
    exe = espeak()
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(v, d, t) for v in spec.speakers() for d in range(10) for t in range(spec.takes)]
    paths = []
    for voice, digit, take in tqdm(jobs, desc="espeak-ng voices", unit="word", disable=not progress,
                                   leave=False):
        path = folder / f"{digit}_{voice.name}_{take}.wav"
        if not path.exists():
            wave = synthesise(WORDS[digit], voice, take, exe)
            atomic_write(path, lambda f, w=wave: scipy.io.wavfile.write(f, SAMPLE_RATE, w))
        paths.append(path)
    return paths
