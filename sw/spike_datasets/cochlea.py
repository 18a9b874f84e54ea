"""A cochlea-like front end: gammatone filterbank -> rectify -> frame mean -> log -> IF spikes.

Why each stage:
* gammatone filters (scipy.signal.gammatone, 4th-order IIR, unit gain at the centre) on an
  ERB-rate scale mimic the basilar membrane, so formants appear as bands of active channels;
* half-wave rectification and a mean over each `dt` frame stand in for the inner hair cell
  and its low-pass, giving a firing-rate-like envelope per channel and step;
* a log (dB) level, normalised to the recording's own peak and clipped to `dynamic_range_db`,
  compresses like the auditory nerve and removes loudness differences between recordings;
* an integrate-and-fire (sigma-delta) encoder turns that level into at most one spike per step,
  so the spike rate follows the envelope and onsets produce a spike within one step.

The filtering is an exact FFT convolution with each filter's frequency response (the transform
is long enough for the impulse response to decay by `ir_floor_db`): one numpy/scipy call covers a
batch of files times a cache-sized block of channels, and the blocks are shared among threads;
there is no loop over single channels, samples or time steps.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Iterator, Sequence

import numpy as np
import scipy.fft
import scipy.signal
from tqdm.auto import tqdm

from corespec.options import name_values


@dataclass(frozen=True)
class CochleaConfig:
    """Every setting that changes the spikes (all of it goes into the FSDD cache key)."""

    n_channels: int = 700
    f_min: float = 100.0
    f_max: float = 3800.0
    sample_rate: int = 8000
    dt: float = 0.01
    n_steps: int = 100
    dynamic_range_db: float = 30.0
    max_rate: float = 1.0
    ir_floor_db: float = 80.0
    tilt_degree: int = 0          # remove a polynomial of this degree fitted to the recording's
                                  # long-term spectrum (0: off): microphone colour, not formants
    span_steps: int = 0           # stretch each word's voiced span to this many steps (0: off): speaking rate
    smooth_erb: float = 0.0       # Gaussian smoothing of the envelopes across channels, sigma in ERB
                                  # (0: off): blurs the voice's pitch harmonics, keeps the formants
    speaker_norm: int = 0         # subtract each speaker's long-term spectrum, the mean over all his
                                  # recordings in the set (1: on, 0: off): his voice and microphone, not the word
    adapt_ms: float = 0.0         # adaptation: each channel's level less `adapt_gain` x its running mean over
                                  # the steps before, time constant in ms (0: off): onsets, not steady colour
    adapt_gain: float = 1.0       # the fraction of the running mean subtracted (0..1; with adapt_ms only)
    denoise_pct: float = 0.0      # noise floor: each channel's envelope less this percentile of its frames
                                  # in the recording, in power (0: off): steady hiss, not the word
    denoise_over_db: float = 6.0  # the floor subtracted this many dB above the percentile (with denoise_pct only)

    def __post_init__(self) -> None:
        if self.n_channels < 1 or self.n_steps < 1:
            raise ValueError("need n_channels >= 1 and n_steps >= 1")
        if not 0 < self.f_min < self.f_max < self.sample_rate / 2:
            raise ValueError(f"need 0 < f_min < f_max < {self.sample_rate / 2} Hz")
        if abs(self.dt * self.sample_rate - round(self.dt * self.sample_rate)) > 1e-9 or self.hop < 1:
            raise ValueError(f"dt = {self.dt} s is not a whole number of samples at {self.sample_rate} Hz")
        if not 0 < self.max_rate <= 1:
            raise ValueError("max_rate must be in (0, 1]: at most one spike per step")
        if self.dynamic_range_db <= 0 or self.ir_floor_db <= 0:
            raise ValueError("dynamic_range_db and ir_floor_db must be positive")
        if not 0 <= self.tilt_degree <= 3:
            raise ValueError("tilt_degree must be 0 (off), 1, 2 or 3")
        if not 0 <= self.span_steps <= self.n_steps or self.span_steps == 1:
            raise ValueError(f"span_steps must be 0 (off) or 2..n_steps ({self.n_steps})")
        if not 0 <= self.smooth_erb <= 4:
            raise ValueError(f"smooth_erb must be in 0 (off) .. 4 ERB, got {self.smooth_erb:g}")
        if self.speaker_norm not in (0, 1):
            raise ValueError(f"speaker_norm must be 0 (off) or 1 (on), got {self.speaker_norm}")
        if self.adapt_ms != 0 and not 1000 * self.dt / 2 <= self.adapt_ms <= 10_000:
            raise ValueError(f"adapt_ms must be 0 (off) or {1000 * self.dt / 2:g}..10000 ms "
                             f"(at least half a step), got {self.adapt_ms:g}")
        if not 0 < self.adapt_gain <= 1:
            raise ValueError(f"adapt_gain must be in (0, 1], got {self.adapt_gain:g}")
        if not 0 <= self.denoise_pct <= 50:
            raise ValueError(f"denoise_pct must be 0 (off) .. 50 (the median frame), got {self.denoise_pct:g}")
        if not 0 <= self.denoise_over_db <= 20:
            raise ValueError(f"denoise_over_db must be in 0..20 dB, got {self.denoise_over_db:g}")
        if self.denoise_over_db != 6 and not self.denoise_pct:
            raise ValueError(f"denoise_over_db={self.denoise_over_db:g} needs denoise_pct > 0 (the "
                             f"noise floor's percentile); without it denoising is off")
        if self.adapt_gain != 1 and not self.adapt_ms:
            raise ValueError(f"adapt_gain={self.adapt_gain:g} needs adapt_ms > 0 (the adaptation's "
                             f"time constant); without it adaptation is off")

    @property
    def hop(self) -> int:
        """Samples per time step."""
        return int(round(self.dt * self.sample_rate))

    @property
    def n_samples(self) -> int:
        """Audio samples that fit in the `n_steps` window; later samples are cropped."""
        return self.n_steps * self.hop

    def as_dict(self) -> dict:
        """Every setting; those added later are left out at their defaults, so the cache keys
        and manifests of spikes made before them stay valid."""
        d = asdict(self)
        for name in ("tilt_degree", "span_steps", "smooth_erb", "speaker_norm", "adapt_ms", "denoise_pct"):
            if d[name] == 0:
                d.pop(name)
        if "adapt_ms" not in d:
            d.pop("adapt_gain")
        if "denoise_pct" not in d:
            d.pop("denoise_over_db")
        return d

    @classmethod
    def with_overrides(cls, text: str | None) -> "CochleaConfig":
        """The defaults with `name=value,...` settings (training's --front-end); a name that is
        not a setting, a value of the wrong kind or an impossible combination is a ValueError
        naming it ('' or None: the defaults)."""
        kinds = {f.name: f.type for f in fields(cls)}
        values = {}
        for name, value in name_values(text, kinds, "front end setting"):
            try:
                values[name] = int(value) if kinds[name] in (int, "int") else float(value)
            except ValueError:
                raise ValueError(f"front end setting {name}={value!r}: expected a number") from None
        return cls(**values)

    def overrides_text(self) -> str:
        """The settings that differ from the defaults, as `name=value,...` (canonical order)."""
        default = CochleaConfig()
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self)
                        if getattr(self, f.name) != getattr(default, f.name))


VIEW_SEPARATOR = "+"


@dataclass(frozen=True)
class Views:
    """Two cochleas side by side (`--front-end A+B`): every recording goes through both, and a
    sample's channels are view A's, then view B's. Read like one CochleaConfig where the time grid
    is concerned (dt, n_steps, sample_rate: the views share them)."""

    configs: tuple[CochleaConfig, ...]

    def __post_init__(self) -> None:
        if len(self.configs) != 2:
            raise ValueError(f"front end: expected two views (A+B), got {len(self.configs)}")
        if len({(c.dt, c.n_steps, c.sample_rate) for c in self.configs}) > 1:
            raise ValueError("front end: the views must share dt, n_steps and sample_rate "
                             "(one time step for all input channels)")

    n_channels = property(lambda self: sum(c.n_channels for c in self.configs))
    dt = property(lambda self: self.configs[0].dt)
    n_steps = property(lambda self: self.configs[0].n_steps)
    sample_rate = property(lambda self: self.configs[0].sample_rate)
    n_samples = property(lambda self: self.configs[0].n_samples)
    speaker_norm = property(lambda self: int(any(c.speaker_norm for c in self.configs)))

    def as_dict(self) -> list[dict]:
        return [c.as_dict() for c in self.configs]


def front_end_config(text: str | None) -> "CochleaConfig | Views":
    """`--front-end A+B` -> Views of two cochleas (each `name=value,...` as `with_overrides`; an
    empty one is the defaults); without `+` one CochleaConfig ('' or None: the defaults)."""
    parts = (text or "").split(VIEW_SEPARATOR)
    if len(parts) > 2:
        raise ValueError(f"front end {text!r}: at most two views (A+B), got {len(parts)}")
    configs = tuple(CochleaConfig.with_overrides(t) for t in parts)
    if len(configs) == 1:
        return configs[0]
    try:
        return Views(configs)
    except ValueError as e:
        raise ValueError(f"front end {text!r}: {str(e).removeprefix('front end: ')}") from None


def front_end_from_record(recorded: dict | list) -> "CochleaConfig | Views":
    """The front end a manifest records (`as_dict`): one dict, or a list of two for Views."""
    if isinstance(recorded, list):
        return Views(tuple(CochleaConfig(**d) for d in recorded))
    return CochleaConfig(**recorded)


def front_end_text(config: "CochleaConfig | Views") -> str:
    """The canonical `--front-end` text (`front_end_config` reads it back)."""
    configs = config.configs if isinstance(config, Views) else (config,)
    return VIEW_SEPARATOR.join(c.overrides_text() for c in configs)


def _hz_to_erb_rate(f: np.ndarray) -> np.ndarray:
    return 21.4 * np.log10(1 + 0.00437 * f)


def _erb_rate_to_hz(e: np.ndarray) -> np.ndarray:
    return (10 ** (e / 21.4) - 1) / 0.00437


def centre_frequencies(config: CochleaConfig) -> np.ndarray:
    """Centre frequencies equally spaced on the ERB-rate scale (Glasberg & Moore 1990), ascending."""
    lo, hi = _hz_to_erb_rate(np.array([config.f_min, config.f_max]))
    return _erb_rate_to_hz(np.linspace(lo, hi, config.n_channels))


def filter_coefficients(config: CochleaConfig) -> tuple[np.ndarray, np.ndarray]:
    """`b [C, 5]`, `a [C, 9]` of scipy's gammatone IIR for each channel (filter design only)."""
    designs = [scipy.signal.gammatone(f, "iir", fs=config.sample_rate) for f in centre_frequencies(config)]
    return np.array([d[0] for d in designs]), np.array([d[1] for d in designs])


def frequency_response(config: CochleaConfig, n_fft: int) -> np.ndarray:
    """`H [C, n_fft // 2 + 1]` (complex64) of every filter on the rfft grid, evaluated at once."""
    b, a = filter_coefficients(config)
    w = 2 * np.pi * np.arange(n_fft // 2 + 1) / n_fft
    powers = np.exp(-1j * np.outer(np.arange(a.shape[1]), w))  # z^-k on the unit circle
    response = (b @ powers[: b.shape[1]]) / (a @ powers)
    return response.astype(np.complex64)


def impulse_tail(config: CochleaConfig) -> int:
    """Samples after which the slowest filter's envelope t^3 exp(-2 pi B t) is below `ir_floor_db`."""
    erb = 24.7 * (4.37e-3 * config.f_min + 1)
    bw = 2 * np.pi * 1.019 * erb  # rad/s, as in scipy.signal.gammatone
    t = np.arange(1, 20 * config.sample_rate) / config.sample_rate
    log_env = 3 * np.log(t * bw / 3) - bw * t + 3  # log of the envelope relative to its peak at t = 3/bw
    below = (t > 3 / bw) & (log_env < -config.ir_floor_db / 20 * np.log(10))
    return int(np.argmax(below)) + 1


def _fft_size(n: int, quantum: int = 256) -> int:
    """Smallest multiple of `quantum` >= n whose factor is 5-smooth: few distinct, fast sizes."""
    m = -(-n // quantum)
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m * quantum
        m += 1


def _as_float(wave: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(wave)[:n]
    x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
    return x - x.mean() if x.size else x


def frame_envelopes(
    waveforms: Sequence[np.ndarray], config: CochleaConfig, progress: bool = False,
    workers: int | None = None, files_per_batch: int = 8, block_bytes: int = 2 << 20,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(indices, envelope [B, T, C] float32)`: frame mean of the rectified filter outputs.

    Files are processed shortest first, batched by FFT size, so short recordings cost little.
    Audio after `config.n_samples` is cropped (it cannot affect the kept outputs: the filters are
    causal); shorter recordings are zero-padded, so their last steps hold only the filter ring-down.
    Each batch is filtered in blocks of channels sized to stay in cache (`block_bytes`), which
    `workers` threads share; within a block everything is one vectorised numpy/scipy call.
    """
    workers = workers or os.cpu_count() or 1
    hop, n_out, n_ch, tail = config.hop, config.n_samples, config.n_channels, impulse_tail(config)
    lengths = np.array([min(len(w), n_out) for w in waveforms], dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    sizes = np.array([_fft_size(int(n) + tail) for n in lengths[order]], dtype=np.int64)
    bar = tqdm(total=len(order), unit="wav", desc="cochlea", disable=not progress)
    with ThreadPoolExecutor(workers) as pool:
        for size in np.unique(sizes):
            n_fft = int(size)
            response = frequency_response(config, n_fft)  # [C, F]
            n_keep = min(n_fft, n_out) // hop
            group = order[sizes == size]
            for start in range(0, len(group), files_per_batch):
                idx = group[start:start + files_per_batch]
                x = np.zeros((len(idx), n_fft), dtype=np.float32)
                for row, i in enumerate(idx):
                    sig = _as_float(waveforms[i], n_out)
                    x[row, :sig.size] = sig
                spectrum = scipy.fft.rfft(x, axis=-1)[:, None, :]  # [B, 1, F]
                frames = np.empty((len(idx), n_ch, n_keep), dtype=np.float32)
                block = max(1, block_bytes // (len(idx) * n_fft * 4))

                def filter_block(lo: int) -> None:
                    hi = min(n_ch, lo + block)
                    y = scipy.fft.irfft(spectrum * response[lo:hi], n=n_fft, axis=-1)
                    np.maximum(y, 0, out=y)  # half-wave rectification
                    frames[:, lo:hi] = y[..., : n_keep * hop].reshape(len(idx), hi - lo, n_keep, hop).mean(-1)

                list(pool.map(filter_block, range(0, n_ch, block)))
                env = np.zeros((len(idx), config.n_steps, n_ch), dtype=np.float32)
                env[:, :n_keep] = frames.transpose(0, 2, 1)
                bar.update(len(idx))
                yield idx, env
    bar.close()


def cochleagram(waveforms: Sequence[np.ndarray], config: CochleaConfig, **kwargs) -> np.ndarray:
    """All envelopes `[N, T, C]` float32 in input order (for inspection; large for big sets)."""
    out = np.zeros((len(waveforms), config.n_steps, config.n_channels), dtype=np.float32)
    for idx, env in frame_envelopes(waveforms, config, **kwargs):
        out[idx] = env
    return out


def voiced_spectrum(level: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Each recording's long-term spectrum `[N, C]` in dB from its levels `[N, T, C]`: the mean
    level of each channel over the frames whose loudest channel is within `dynamic_range_db` of
    the recording's peak, floored at 20 dB below that range. A silent recording has no voiced
    frame: its spectrum is 0."""
    peak = level.max(axis=(1, 2), keepdims=True)
    voiced = level.max(axis=2, keepdims=True) > peak - config.dynamic_range_db          # [N, T, 1]
    clipped = np.maximum(level, peak - config.dynamic_range_db - 20)
    return np.where(voiced, clipped, 0.0).sum(1) / np.maximum(voiced.sum(1), 1)          # [N, C]


def remove_tilt(level: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """dB levels `[N, T, C]` less a polynomial of degree `tilt_degree` in the channel index, fitted
    (least squares) to each recording's `voiced_spectrum`. A microphone's or a room's colour is
    smooth across channels and constant in time; formants are narrow peaks and move, so they stay."""
    c = level.shape[2]
    spectrum = voiced_spectrum(level, config)                                            # [N, C]
    basis = np.vander(np.linspace(-1, 1, c), config.tilt_degree + 1)                    # [C, d+1]
    fit = basis @ np.linalg.lstsq(basis, spectrum.T, rcond=None)[0]                      # [C, N]
    fit = fit.T - fit.T.mean(axis=1, keepdims=True)
    return level - fit[:, None, :]


def adapt_levels(scaled: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Scaled levels `[N, T, C]` in [0, 1] (0: the bottom of the recording's range) less
    `adapt_gain` x each channel's running mean over the steps before (an exponential average,
    time constant `adapt_ms`, scipy.signal.lfilter, starting at 0 as in silence), clipped at 0
    and scaled so that each recording's largest value is 1 again. Like an auditory nerve
    fibre's adaptation it answers a rise at once and a steady level less and less: a channel's
    constant colour (the speaker's voice, the microphone) fades with it, and what changes
    (onsets, formant transitions) stands out. At `adapt_gain` 1 a level held long enough gives
    no spikes."""
    alpha = 1 - np.exp(-1000 * config.dt / config.adapt_ms)
    mean = scipy.signal.lfilter([alpha], [1, alpha - 1], scaled, axis=1)                # after step t
    before = np.concatenate([np.zeros_like(mean[:, :1]), mean[:, :-1]], axis=1)         # before step t
    adapted = np.maximum(scaled - config.adapt_gain * before, 0)
    peak = adapted.max(axis=(1, 2), keepdims=True)
    return np.divide(adapted, peak, out=np.zeros_like(adapted), where=peak > 0)


def speaker_reference(spectra: np.ndarray, groups: np.ndarray, counted: np.ndarray | None = None) -> np.ndarray:
    """`[N, C]`: for each recording, the mean of its speaker's (`groups`) recordings' spectra
    `[N, C]`, each less its own mean over channels (loudness is the peak normalisation's job).
    Only the recordings `counted` (a boolean mask; None: all) and not silent (spectrum 0) enter
    the mean: a device knows a speaker only by the words it has heard from him. A word's formants
    average out over a speaker's many words; his voice's and his microphone's colour stays, and
    that is what `speaker_norm` subtracts. A speaker without a counted word has reference 0."""
    groups = np.asarray(groups)
    if groups.shape != (len(spectra),):
        raise ValueError(f"speaker_norm needs one speaker per recording: {groups.shape} for {len(spectra)}")
    counted = np.ones(len(spectra), bool) if counted is None else np.asarray(counted, bool)
    counted = counted & spectra.any(axis=1)
    shape = spectra - spectra.mean(axis=1, keepdims=True)
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((inverse.max() + 1, spectra.shape[1]))
    np.add.at(sums, inverse[counted], shape[counted])
    counts = np.bincount(inverse[counted], minlength=len(sums))
    return (sums / np.maximum(counts, 1)[:, None])[inverse]


def channels_per_erb(config: CochleaConfig) -> float:
    """Channel spacing: the channels are equally spaced on the ERB-rate scale."""
    lo, hi = _hz_to_erb_rate(np.array([config.f_min, config.f_max]))
    return (config.n_channels - 1) / (hi - lo) if config.n_channels > 1 else 1.0


def smooth_channels(envelope: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Envelopes `[N, T, C]` smoothed across channels by a Gaussian of `smooth_erb` ERB
    (scipy.ndimage.gaussian_filter1d, edges reflected): a wider auditory filter. A voice's
    harmonics below about 1 kHz are resolved by 1-ERB filters and move with its pitch; formants
    are several ERB wide and stay."""
    import scipy.ndimage
    sigma = config.smooth_erb * channels_per_erb(config)
    return scipy.ndimage.gaussian_filter1d(envelope, sigma, axis=2, mode="reflect")


def frames_heard(waveforms: Sequence[np.ndarray], config: CochleaConfig) -> np.ndarray:
    """`[N]`: the steps each recording fills (its samples within the window, whole steps, at
    least 1); the steps after hold only the filters' ring-down and the zero padding."""
    lengths = np.array([min(len(w), config.n_samples) for w in waveforms], dtype=np.int64)
    return np.maximum(lengths // config.hop, 1)


def subtract_noise_floor(envelope: np.ndarray, heard: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Envelopes `[N, T, C]` less each channel's noise floor (spectral subtraction): the
    `denoise_pct`-th percentile of the channel's envelope over the recording's `heard [N]` steps,
    raised by `denoise_over_db`, subtracted in power and clipped at 0. A steady hiss fills a
    channel's quiet frames and its loud ones alike, and goes; a word rises far above it and
    stays. On a clean recording the floor sits far under the dynamic range and changes little."""
    gain = 10 ** (config.denoise_over_db / 10)
    out = np.empty_like(envelope)
    for i, steps in enumerate(heard):
        floor = np.percentile(envelope[i, :steps], config.denoise_pct, axis=0)          # [C]
        out[i] = np.sqrt(np.maximum(envelope[i] ** 2 - gain * floor ** 2, 0))
    return out


def level_db(envelope: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Envelopes `[N, T, C]` as dB levels (after `smooth_channels` when `smooth_erb` > 0); a
    zero envelope is -inf."""
    env = np.asarray(envelope, dtype=np.float64)
    if config.smooth_erb:
        env = smooth_channels(env, config)
    with np.errstate(divide="ignore"):
        return 20 * np.log10(env)


def scaled_level(level: np.ndarray, config: CochleaConfig, reference: np.ndarray | None = None) -> np.ndarray:
    """dB levels `[N, T, C]` (less `reference [N, C]`, the speaker's spectrum, when given; then
    `remove_tilt` when `tilt_degree` > 0) relative to each recording's peak, mapped from
    [-range, 0] dB onto [0, 1]; then `adapt_levels` when `adapt_ms` > 0; then `stretch_span` when
    `span_steps` > 0."""
    with np.errstate(invalid="ignore"):
        if reference is not None:
            level = level - reference[:, None, :]
        if config.tilt_degree:
            level = remove_tilt(level, config)
        peak = level.max(axis=(1, 2), keepdims=True)
        scaled = np.clip(1 + (level - peak) / config.dynamic_range_db, 0, 1)
    scaled = np.where(np.isfinite(peak), scaled, 0.0)  # a silent recording gives no spikes
    if config.adapt_ms:
        scaled = adapt_levels(scaled, config)
    return stretch_span(scaled, config.span_steps) if config.span_steps else scaled


def normalised_level(envelope: np.ndarray, config: CochleaConfig, reference: np.ndarray | None = None) -> np.ndarray:
    """`scaled_level` of the envelopes' `level_db`."""
    return scaled_level(level_db(envelope, config), config, reference)


SPAN_LEVEL = 0.5                   # a step is in the word's span when its loudest channel is this high


def stretch_span(level: np.ndarray, span: int) -> np.ndarray:
    """Levels `[N, T, C]` with each recording's span (first to last step whose loudest channel
    is at least SPAN_LEVEL, i.e. within half the dynamic range of the peak: background noise and
    clicks 15 dB under the word do not stretch it) linearly resampled in time onto steps
    0..span-1, zeros after: every word lasts `span` steps, whatever the speaker's rate.
    Frequencies are untouched (this is on the envelopes, not the audio). A recording without
    such a step stays silent."""
    out = np.zeros_like(level)
    voiced = level.max(axis=2) >= SPAN_LEVEL                                              # [N, T]
    for i in np.flatnonzero(voiced.any(axis=1)):
        steps = np.flatnonzero(voiced[i])
        first, last = steps[0], steps[-1]
        src = first + (last - first) * np.arange(span) / (span - 1)                       # [span]
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, last)
        frac = (src - lo)[:, None]
        out[i, :span] = (1 - frac) * level[i, lo] + frac * level[i, hi]
    return out


def initial_charge(n_channels: int) -> np.ndarray:
    """Start charge of each IF neuron: the golden-ratio sequence frac(0.5 + c * 0.618...).

    Evenly spread, deterministic phases keep neighbouring channels with the same drive from firing
    in lock-step (which would paint vertical stripes instead of a spectrogram).
    """
    return np.mod(0.5 + np.arange(n_channels) * (np.sqrt(5) - 1) / 2, 1.0)


def fire(level: np.ndarray, config: CochleaConfig) -> np.ndarray:
    """Integrate-and-fire with reset by subtraction on scaled levels `[N, T, C]` in [0, 1], in
    closed form along time (axis 1).

    Each neuron starts at `initial_charge` and adds `max_rate * level` per step; it fires whenever
    its charge crosses an integer, i.e. spikes = diff(floor(v0 + cumsum(drive))).
    """
    drive = level * config.max_rate
    v0 = initial_charge(drive.shape[-1])
    counts = np.floor(v0 + np.cumsum(drive, axis=1))
    return np.diff(counts, axis=1, prepend=0.0).astype(np.uint8)  # v0 < 1: no spike before step 0


def encode(envelope: np.ndarray, config: CochleaConfig, reference: np.ndarray | None = None) -> np.ndarray:
    """Spikes `[N, T, C]` uint8 of envelopes `[N, T, C]`: `fire` on their `normalised_level`."""
    return fire(normalised_level(envelope, config, reference), config)


def levels_and_spectra(waveforms: Sequence[np.ndarray], config: CochleaConfig,
                       **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """`(levels [N, T, C] float32, voiced_spectrum [N, C])` of every recording: `level_db` of its
    envelopes (after `subtract_noise_floor` when `denoise_pct` > 0), what `speaker_norm` needs
    before any speaker's reference is known."""
    levels = np.zeros((len(waveforms), config.n_steps, config.n_channels), dtype=np.float32)
    spectra = np.zeros((len(waveforms), config.n_channels))
    heard = frames_heard(waveforms, config)
    for idx, env in frame_envelopes(waveforms, config, **kwargs):
        if config.denoise_pct:
            env = subtract_noise_floor(env, heard[idx], config)
        levels[idx] = level_db(env, config)
        spectra[idx] = voiced_spectrum(levels[idx].astype(np.float64), config)
    return levels, spectra


def enrolment_reference(waveforms: Sequence[np.ndarray], config: CochleaConfig, **kwargs) -> np.ndarray:
    """One speaker's reference `[C]` from his recordings (all of them): what `speaker_reference`
    gives each of his recordings when these are the ones counted, so that a device that keeps it
    (`cochlea_spikes(reference=...)`) hears his later words as it heard them when he enrolled."""
    _, spectra = levels_and_spectra(waveforms, config, **kwargs)
    return speaker_reference(spectra, np.zeros(len(spectra), dtype=int))[0]


def cochlea_spikes(waveforms: Sequence[np.ndarray], config: CochleaConfig,
                   speakers: Sequence | None = None, enrol: Sequence[bool] | None = None,
                   reference: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """Spikes `[N, T, C]` uint8 for all recordings, encoding each batch as it is filtered
    (after `subtract_noise_floor` when `denoise_pct` > 0). With `speaker_norm`, either a fixed
    `reference [C]` (`enrolment_reference`: one enrolled speaker, every recording his) is
    subtracted, or `speakers` names each recording's speaker: every level is kept (float32) until
    each speaker's reference (`speaker_reference`, from his recordings marked in `enrol`; None:
    all of them) is known, then encoded."""
    out = np.zeros((len(waveforms), config.n_steps, config.n_channels), dtype=np.uint8)
    if not config.speaker_norm:
        heard = frames_heard(waveforms, config)
        for idx, env in frame_envelopes(waveforms, config, **kwargs):
            out[idx] = encode(subtract_noise_floor(env, heard[idx], config) if config.denoise_pct else env,
                              config)
        return out
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != (config.n_channels,):
            raise ValueError(f"speaker reference: {reference.shape[0] if reference.ndim == 1 else reference.shape} "
                             f"values for {config.n_channels} channels")
    elif speakers is None or len(speakers) != len(waveforms):
        raise ValueError("speaker_norm needs the speaker of every recording")
    if enrol is not None and len(enrol) != len(waveforms):
        raise ValueError(f"enrol marks {len(enrol)} recordings, not {len(waveforms)}")
    levels, spectra = levels_and_spectra(waveforms, config, **kwargs)
    if reference is not None:
        reference = np.broadcast_to(reference, spectra.shape)
    else:
        reference = speaker_reference(spectra, np.asarray(speakers, dtype=str), enrol)
    for lo in range(0, len(waveforms), 64):
        hi = min(len(waveforms), lo + 64)
        out[lo:hi] = fire(scaled_level(levels[lo:hi].astype(np.float64), config, reference[lo:hi]), config)
    return out
