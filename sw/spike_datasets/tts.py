"""Synthetic speakers: espeak-ng, flite and festival read the ten digits in many voices, as extra
training data.

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

flite (Debian package `flite`, also installed by `make install`) speaks with a concatenative
(kal) or a statistical parametric (awb, rms, slt) voice: fewer voices than espeak-ng, but closer
to recorded speech. A flite speaker is one draw of (voice, vocal-tract length, mean pitch,
duration stretch): the vocal-tract length is a formant scale factor `formant` in [0.82, 1.22],
applied by reading the audio at `formant` times its rate before resampling to 8 kHz (formants and
pitch move up by `formant`, the length down by it; the duration stretch and the pitch target
are pre-scaled so that the final speed and pitch are the drawn ones).

festival (Debian packages `festival`, `festvox-kallpc16k`, `festvox-kdlpc16k` and
`festvox-us-slt-hts`, installed by `make install`) adds one new speaker, ked (a diphone voice),
and other renderings of two that flite has: kal's diphones and slt's recordings as an HMM (HTS)
voice. A festival speaker is drawn like a flite one, its duration relative to 1.0 (festival's
kal and ked speak at 1.1 by themselves); the HTS voice keeps its own pitch (festival's HTS engine
takes no pitch target), so only its vocal-tract scale moves it.

`--tts voices=200,takes=1` adds 200 espeak-ng speakers saying every digit once to the training
split (never to validation or test); `flite=N` adds N flite speakers (`voices=0,flite=200`: flite
only); `festival=N` adds N festival speakers; `accented=N` adds N espeak-ng speakers with a foreign accent (`accents.py`: the digits'
phonemes rewritten by the habits of one of nine first languages, each speaker at its own accent
strength); `snr=LO:HI` adds Gaussian noise to each take at an SNR drawn in [LO, HI] dB
(`voices.Perturbation`), since synthetic speech is cleaner than any microphone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

from corespec.errors import UserError
from corespec.files import atomic_write, atomic_write_json
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
# flite 2.2's built-in voices (`flite -lv`), less awb_time (it only says times of day). rms keeps
# its own pitch (80-90 Hz) whatever int_f0_target_mean asks: only the vocal-tract scale moves
# it. kal is an 8 kHz voice: at a scale below 1 its top band (above 4 kHz x scale) stays empty.
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
# festival 2.5's English voices in Debian, each with the package that holds it.
FESTIVAL_VOICES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
                   "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
SAMPLE_RATE = 8000
TTS_VERSION = 1                    # bump when the audio an espeak-ng voice makes changes
FLITE_VERSION = 1                  # bump when the audio a flite voice makes changes
FESTIVAL_VERSION = 1               # bump when the audio a festival voice makes changes: the
                                   # cache key has festival's version, not its voice packages'


class TtsError(UserError, ValueError):
    """A --tts setting out of range, or a speech engine missing or failing."""


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

    formant = 1.0                  # espeak-ng's own voices: no resampling beyond 8 kHz

    def take(self, take: int) -> tuple[int, int]:
        """(wpm, pitch) of one take: the voice's own +- 10 % speed and +- 6 pitch steps."""
        u = np.random.default_rng([self.index, take, 0x7A4E]).random(2)
        return int(round(self.wpm * (0.9 + 0.2 * u[0]))), int(np.clip(self.pitch + round(12 * u[1] - 6), 0, 99))

    def stdin(self, word: str) -> str | None:
        """What the engine reads on its standard input: nothing, the word is an argument."""
        return None

    def command(self, word: str, take: int, out: Path) -> list[str]:
        """The espeak-ng arguments (after the executable) writing one take to `out`."""
        wpm, pitch = self.take(take)
        return ["-v", f"{self.accent}+{self.variant}", "-s", str(wpm), "-p", str(pitch), "-w", str(out), word]

    engine = "espeak-ng"

    def label(self) -> str:
        return f"{self.accent}+{self.variant}"


@dataclass(frozen=True)
class AccentedVoice(Voice):
    """An espeak-ng speaker with a foreign accent: it reads the digits as phonemes
    (`accents.accent_words`), in an English voice drawn like `Voice`'s."""

    l1: str = "french"             # first language, one of accents.L1S
    strength: float = 1.0          # probability that each of the L1's rules is kept
    phonemes: tuple[str, ...] = ()  # the ten digits, espeak-ng mnemonics

    @property
    def name(self) -> str:
        return f"acc{self.index}"

    def command(self, word: str, take: int, out: Path) -> list[str]:
        """As `Voice.command`, reading the accented phonemes of `word` instead of its spelling."""
        return super().command(f"[[{self.phonemes[WORDS.index(word)]}]]", take, out)

    def label(self) -> str:
        return f"{self.accent}+{self.variant} {self.l1} {self.strength:.2f}"


@dataclass(frozen=True)
class FliteVoice:
    """One flite speaker: a flite voice, its vocal-tract length (formant scale), mean pitch and
    duration stretch, all as heard after resampling to 8 kHz."""

    index: int                     # speaker number: file names say flite<index>
    voice: str                     # one of FLITE_VOICES
    formant: float                 # formant scale, 0.01 steps (> 1: shorter vocal tract)
    f0: float                      # mean pitch in Hz as heard
    stretch: float                 # duration as heard, relative to flite's own (> 1: slower)

    @property
    def name(self) -> str:
        return f"flite{self.index}"

    salt = 0xF117E                 # seeds the draws of this engine's speakers and takes

    def take(self, take: int) -> tuple[float, float]:
        """(stretch, f0) of one take: the voice's own +- 10 % duration and +- 8 % pitch."""
        u = np.random.default_rng([self.index, take, self.salt]).random(2)
        return self.stretch * (0.9 + 0.2 * u[0]), self.f0 * (0.92 + 0.16 * u[1])

    def stdin(self, word: str) -> str | None:
        """What the engine reads on its standard input: nothing, the word is an argument."""
        return None

    def command(self, word: str, take: int, out: Path) -> list[str]:
        """The flite arguments writing one take to `out`, pre-scaled for the formant resampling."""
        stretch, f0 = self.take(take)
        return ["-voice", self.voice, "--setf", f"duration_stretch={stretch * self.formant:.4f}",
                "--setf", f"int_f0_target_mean={f0 / self.formant:.2f}", "-o", str(out), "-t", word]

    engine = "flite"

    def label(self) -> str:
        return self.voice


@dataclass(frozen=True)
class FestivalVoice(FliteVoice):
    """One festival speaker, drawn and scaled like a flite one; festival's `text2wave` reads the
    word from its standard input."""

    salt = 0xFE57

    @property
    def name(self) -> str:
        return f"fest{self.index}"

    def command(self, word: str, take: int, out: Path) -> list[str]:
        """The text2wave arguments writing one take to `out` (the word goes to `stdin`): the
        voice, then its duration (HTS: the engine's speed rate, its inverse) and, for a diphone
        voice, its mean pitch target, pre-scaled for the formant resampling."""
        stretch, f0 = self.take(take)
        duration = stretch * self.formant
        if self.voice.endswith("_hts"):
            setting = f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {1 / duration:.4f}))))'
        else:
            setting = (f"(begin (Parameter.set 'Duration_Stretch {duration:.4f}) (set! int_lr_params "
                       f"(cons (list 'target_f0_mean {f0 / self.formant:.2f}) int_lr_params)))")
        return ["-eval", f"(voice_{self.voice})", "-eval", setting, "-o", str(out)]

    def stdin(self, word: str) -> str:
        return word + "\n"

    engine = "festival"


@dataclass(frozen=True)
class TtsSpec:
    """How many synthetic speakers, how many takes of each digit, and the seed of their draws."""

    voices: int = 0                # espeak-ng speakers
    takes: int = 1
    seed: int = 0
    snr_db: tuple[float, float] | None = None    # noise at a drawn SNR (voices.Perturbation)
    flite: int = 0                 # flite speakers
    accented: int = 0              # espeak-ng speakers with a foreign accent
    festival: int = 0              # festival speakers

    def __post_init__(self) -> None:
        for engine in ENGINES:
            if not 0 <= getattr(self, engine) <= 2000:
                raise TtsError(f"--tts {engine}={getattr(self, engine)}: expected a whole number in 0..2000")
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

    def accented_speakers(self) -> list[AccentedVoice]:
        """The accented speakers, each drawn from (seed, index), nested like `speakers`: an English
        voice drawn as there, a first language (uniform over accents.L1S) and an accent strength
        uniform in [0.4, 1]."""
        from .accents import L1S, accent_words
        out = []
        for i in range(self.accented):
            rng = np.random.default_rng([self.seed, i, 0xACC])
            accent, variant = ACCENTS[rng.integers(len(ACCENTS))], VARIANTS[rng.integers(len(VARIANTS))]
            wpm, pitch = int(rng.integers(110, 211)), int(rng.integers(15, 86))
            l1, strength = L1S[rng.integers(len(L1S))], round(float(rng.uniform(0.4, 1.0)), 2)
            out.append(AccentedVoice(i, accent, variant, wpm, pitch, l1, strength,
                                     accent_words(l1, strength, [self.seed, i, 0xACC, 1])))
        return out

    def flite_speakers(self) -> list[FliteVoice]:
        """The flite speakers, each drawn from (seed, index), nested like `speakers`: formant
        scale log-uniform in [0.82, 1.22], mean pitch log-uniform in 85-250 Hz, duration
        stretch uniform in [0.8, 1.3]."""
        return self._scaled_speakers(FliteVoice, FLITE_VOICES, self.flite)

    def festival_speakers(self) -> list[FestivalVoice]:
        """The festival speakers, drawn as `flite_speakers` draws, over festival's voices."""
        return self._scaled_speakers(FestivalVoice, tuple(FESTIVAL_VOICES), self.festival)

    def _scaled_speakers(self, kind, voices: tuple[str, ...], n: int) -> list:
        out = []
        for i in range(n):
            rng = np.random.default_rng([self.seed, i, kind.salt])
            voice = voices[rng.integers(len(voices))]
            formant = round(float(np.exp(rng.uniform(np.log(0.82), np.log(1.22)))), 2)
            f0 = float(np.exp(rng.uniform(np.log(85), np.log(250))))
            out.append(kind(i, voice, formant, round(f0, 1), round(float(rng.uniform(0.8, 1.3)), 3)))
        return out


ENGINES = ("voices", "flite", "accented", "festival")   # the --tts settings that add speakers


def parse_tts(text: str | None) -> TtsSpec:
    """`voices=200,takes=2,seed=0,snr=10:40` -> TtsSpec; '' / None -> no synthetic speakers."""
    settings = {}
    for name, value in name_values(text, ENGINES + ("takes", "seed", "snr"), "--tts", TtsError):
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
    if settings and not any(settings.get(engine, 0) for engine in ENGINES):
        raise TtsError(f"--tts {text!r}: expected voices=N, flite=N, accented=N or festival=N with N >= 1")
    return TtsSpec(**settings)


def tts_text(spec: TtsSpec) -> str:
    """The canonical --tts text ('' for none)."""
    if not any(getattr(spec, engine) for engine in ENGINES):
        return ""
    snr = f",snr={spec.snr_db[0]:g}:{spec.snr_db[1]:g}" if spec.snr_db is not None else ""
    return (f"voices={spec.voices}" + (f",flite={spec.flite}" if spec.flite else "")
            + (f",accented={spec.accented}" if spec.accented else "")
            + (f",festival={spec.festival}" if spec.festival else "")
            + f",takes={spec.takes}" + (f",seed={spec.seed}" if spec.seed else "") + snr)


def espeak() -> str:
    """The espeak-ng executable, or a one-line error saying how to get it."""
    return _executable("espeak-ng")


def flite() -> str:
    """The flite executable, or a one-line error saying how to get it."""
    return _executable("flite")


def text2wave() -> str:
    """festival's text2wave, or a one-line error saying how to get it."""
    return _executable("text2wave", "festival")


# each Voice class's `engine` -> the function finding its executable (looked up when called, so
# that tests can stand in for an engine)
ENGINE_EXECUTABLES = {"espeak-ng": lambda: espeak(), "flite": lambda: flite(), "festival": lambda: text2wave()}


def _executable(name: str, package: str | None = None) -> str:
    path = shutil.which(name)
    if path is None:
        package = package or name
        raise TtsError(f"--tts needs {name}, which is not installed: run `make install` "
                       f"(it installs the Debian package {package}) or `apt-get install {package}`")
    return path


def missing_engines(spec: TtsSpec) -> list[str]:
    """The Debian packages that `spec`'s engines need and that are not installed: festival's
    voices each have their own package."""
    used = ["espeak-ng"] * bool(spec.voices or spec.accented) + ["flite"] * bool(spec.flite)
    missing = [name for name in used if shutil.which(name) is None]
    if spec.festival:
        missing += ["festival"] * (shutil.which("text2wave") is None)
        missing += [package for voice, package in FESTIVAL_VOICES.items()
                    if not any(FESTIVAL_VOICE_DIR.glob(f"*/{voice}"))]
    return missing


def check_engines(spec: TtsSpec) -> None:
    """A one-line error unless every engine and voice `spec` uses is installed."""
    missing = missing_engines(spec)
    if missing:
        raise TtsError(f"--tts needs the Debian package(s) {', '.join(missing)}, not installed: run "
                       f"`make install` (it installs them) or `apt-get install {' '.join(missing)}`")


def trim(x: np.ndarray, floor_db: float = 40.0, margin: int = 80) -> np.ndarray:
    """The part of `x` between the first and last sample within `floor_db` of its peak, plus
    `margin` samples (10 ms at 8 kHz) each side: FSDD's recordings start and end near the word."""
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0:
        return x
    loud = np.flatnonzero(np.abs(x) >= peak * 10 ** (-floor_db / 20))
    return x[max(loud[0] - margin, 0):loud[-1] + 1 + margin]


def synthesise(word: str, voice: Voice | FliteVoice | FestivalVoice, take: int,
               exe: str | None = None) -> np.ndarray:
    """One take of `word` in `voice`: int16 at 8 kHz (formants scaled by `voice.formant`),
    trimmed, peak at -1 dBFS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.wav"
        cmd = [exe or ENGINE_EXECUTABLES[voice.engine]()] + voice.command(word, take, out)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=voice.stdin(word))
        if done.returncode != 0 or not out.exists():
            shown = " ".join(a for a in cmd[1:] if a not in (str(out), word, "-w", "-o", "-t"))
            detail = " ".join((done.stderr or done.stdout).split()) or "no output"
            raise TtsError(f"{voice.engine} failed on {shown} {word!r}: {detail}")
        rate, x = scipy.io.wavfile.read(out)
    x = x.astype(np.float64)
    ratio = Fraction(SAMPLE_RATE) / (Fraction(rate) * Fraction(voice.formant).limit_denominator(100))
    if ratio != 1:
        x = scipy.signal.resample_poly(x, ratio.numerator, ratio.denominator)
    x = trim(x)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0:
        raise TtsError(f"{voice.engine} gave silence for {word!r} in {voice.label()}")
    return np.round(x * (32767 * 10 ** (-1 / 20)) / peak).astype(np.int16)


def cache_key(spec: TtsSpec) -> str:
    """The folder of a spec's audio: the number of voices is left out, since the first n speakers
    of any spec with the same seed are the same (a larger set reuses a smaller one's files); the
    voice lists and the espeak-ng version are in, so changing either makes new audio."""
    settings = {"version": TTS_VERSION, "seed": spec.seed, "espeak": _espeak_version(),
                "accents": ACCENTS, "variants": VARIANTS, "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def accented_cache_key(spec: TtsSpec) -> str:
    """The folder of a spec's accented audio, shared like `cache_key`'s; the accent rules are in."""
    from .accents import RULES
    settings = {"version": TTS_VERSION, "seed": spec.seed, "espeak": _espeak_version(),
                "accents": ACCENTS, "variants": VARIANTS, "rules": RULES, "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def flite_cache_key(spec: TtsSpec) -> str:
    """The folder of a spec's flite audio, shared like `cache_key`'s."""
    settings = {"version": FLITE_VERSION, "seed": spec.seed, "flite": _flite_version(),
                "voices": FLITE_VOICES, "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def festival_cache_key(spec: TtsSpec) -> str:
    """The folder of a spec's festival audio, shared like `cache_key`'s."""
    settings = {"version": FESTIVAL_VERSION, "seed": spec.seed, "festival": _festival_version(),
                "voices": tuple(FESTIVAL_VOICES), "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def _festival_version() -> str:
    """festival's version line (its package also holds text2wave)."""
    done = subprocess.run([_executable("festival"), "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def _espeak_version() -> str:
    """espeak-ng's version line: another version may speak differently."""
    done = subprocess.run([espeak(), "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def _flite_version() -> str:
    done = subprocess.run([flite(), "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def take_recipe(voice: Voice | FliteVoice | FestivalVoice, word: str, take: int) -> str:
    """sha256 (hex) of what makes one take's audio besides the engine's version and this file's
    code (both in the folder's key): the engine, its arguments and standard input, the formant
    scale and the output rate. A file is reused only under the recipe it was made with, so a
    changed draw of a speaker or a take makes new audio even where no version was bumped."""
    doc = {"engine": voice.engine, "args": voice.command(word, take, Path("OUT.wav")),
           "stdin": voice.stdin(word), "formant": voice.formant, "rate": SAMPLE_RATE}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _recipes_path(folder: Path, voice) -> Path:
    """Each speaker's record of the recipe of every take written for it (a hidden file beside
    the WAVs: {file name: take_recipe})."""
    return folder / f".{voice.name}.recipes.json"


def _read_recipes(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def generate(spec: TtsSpec, folder: Path, progress: bool = True, engine: str = "espeak-ng") -> list[Path]:
    """Write every take of every digit of every synthetic speaker of `engine` ("espeak-ng":
    `spec.speakers()`, "flite": `spec.flite_speakers()`, "accented": `spec.accented_speakers()`,
    "festival": `spec.festival_speakers()`) as `{folder}/{digit}_{speaker}_{take}.wav` and return
    the paths, sorted by speaker, digit, take like fsdd.list_recordings. A file already there is
    reused when the speaker's record says it was made with this take's `take_recipe`; otherwise
    (another recipe, or no record: a file from before records were kept) it is made again."""
    from tqdm.auto import tqdm
    voices = {"flite": spec.flite_speakers, "accented": spec.accented_speakers,
              "festival": spec.festival_speakers, "espeak-ng": spec.speakers}[engine]()
    exe = ENGINE_EXECUTABLES["espeak-ng" if engine == "accented" else engine]()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with tqdm(total=len(voices) * 10 * spec.takes, desc=f"{engine} voices", unit="word",
              disable=not progress, leave=False) as bar:
        for voice in voices:
            record_path = _recipes_path(folder, voice)
            record = _read_recipes(record_path)
            written = False
            for digit in range(10):
                for take in range(spec.takes):
                    path = folder / f"{digit}_{voice.name}_{take}.wav"
                    recipe = take_recipe(voice, WORDS[digit], take)
                    if not (path.exists() and record.get(path.name) == recipe):
                        wave = synthesise(WORDS[digit], voice, take, exe)
                        atomic_write(path, lambda f, w=wave: scipy.io.wavfile.write(f, SAMPLE_RATE, w))
                        record[path.name], written = recipe, True
                    paths.append(path)
                    bar.update()
            if written:
                atomic_write_json(record_path, record)
    return paths
