"""Training loop: seeded, resumable (atomic checkpoint every epoch), model selection on validation,
export to the core's parameter image with a golden-model agreement check, plots and a JSON report."""

from __future__ import annotations

import io
import math
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from corespec.errors import UserError

from .adversary import STRENGTH_MAX, SpeakerAdversary, ramp, real_speakers
from .augment import Augment
from .data import AUDIO_TASKS, TASKS, Splits, load_task, task_slug
from .export import atomic_torch_save, atomic_write_json, compare, export
from .mixup import blend, blend_loss, main_labels, mixup_generator
from .provenance import provenance
from .model import DelaySNN, predict
from .model_config import ModelConfig, check_learned_registers
from .quant import is_float

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT_VERSION = 1
AUGMENT_SEED_OFFSET = 500_009   # the augmentation's generator is not the batch order's
MIXUP_ALPHA_MAX = 10.0          # Beta(10, 10) already keeps every share within about 0.3-0.7
CHECKPOINT_KEYS = ("version", "identity", "epoch", "model", "optimizer", "scheduler", "history",
                   "best", "elapsed")


class TrainError(UserError, ValueError):
    """A training request that cannot be carried out as given (an impossible setting, a checkpoint
    that is not one or belongs to another run); the message names the setting or file."""


def check_epochs(epochs) -> int:
    """The epoch count, or TrainError: fewer than one epoch would export, plot and report an
    untrained model over a good run's files."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise TrainError(f"epochs = {epochs!r}; expected a whole number of at least 1 "
                         f"(passes over the training data)")
    return epochs


@dataclass
class TrainConfig:
    task: str = "seqdet"
    wbits: float = 1.58
    dbits: int = 5
    epochs: int = 20
    seed: int = 0
    batch_size: int = 64
    lr: float = 2e-3
    lr_delay: float = 0.2
    delay_l2: float = 0.0
    sizes: tuple[int, ...] = (64,)
    recurrent: tuple[bool, ...] = ()
    leak: tuple[int, ...] = ()
    leak_mode: str = "shift"
    v_bits: int = 16
    reset_mode: int = 0
    theta_target: int = 1024
    init_gain: tuple[float, ...] = ()
    surrogate: str = "fast_sigmoid"
    surrogate_slope: float = 5.0
    delay_init: str = "uniform"
    train_weights: bool = True
    hand_built: str = ""           # "seqdet": fixed relay + coincidence weights, delays learn
    n_train: int | None = None
    test_speaker: str | None = None
    name: str = ""
    out: str = ""
    report: str = ""
    device: str = ""
    throttle: float = 0.0          # seconds to sleep after each checkpoint (tests of --resume)
    plots: bool = True             # per-run plots (the sweep turns them off: they cost more than a tiny run)
    threads: int = 1               # torch CPU threads (0: torch's default); see docs/training.md
    learn_threshold: bool = False  # learn the LIF thresholds (LSQ-style level step), docs section 2
    learn_leak: bool = False       # learn the leak multipliers (leak_mode "mul" only), section 1
    lr_threshold: float = 2e-3     # relative: Adam lr of layer l's threshold = this x initial one
    lr_leak: float = 0.1           # Adam lr of the leak multipliers (units of 1/256)
    weight_decay: float = 0.0      # decoupled (AdamW) decay of the latent weights: more zeros in the ternary net
    label_smoothing: float = 0.0   # training loss: this share of each target spread over all classes
    mixup: float = 0.0             # spike mixup of training batches, Beta(alpha, alpha) shares (mixup.py; 0: off)
    input_delays: bool = False     # one axonal delay per input channel (core's input delay stage)
    tonic_root: str = ""           # tonic tasks: folder holding <set>/<file>.h5 ("": the data root)
    augment: str = ""              # spike-level augmentation of training batches (augment.Augment)
    front_end: str = ""            # spoken digits: cochlea settings other than the defaults (name=value,...)
    voices: str = ""               # spoken digits: perturbed copies of the training recordings
    tts: str = ""                  # spoken digits: synthetic speakers (espeak-ng) added to training
    speaker_adversary: float = 0.0  # spoken digits: strength of the reversed gradient of a speaker
                                    # classifier on the hidden rates (adversary.py; 0: off)
    real_speakers: int = 0         # fsdd-loso: train on only N of the real speakers (data.real_speaker_subset; 0: all)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS}")
        self.sizes = tuple(int(s) for s in self.sizes)
        self.recurrent = tuple(bool(r) for r in self.recurrent)
        self.leak = tuple(int(k) for k in self.leak)
        self.init_gain = tuple(float(g) for g in self.init_gain)
        self.augment = Augment.parse(self.augment).text
        self.front_end = _audio_option(self.task, "front-end", self.front_end, _front_end_text)
        self.voices = _audio_option(self.task, "voices", self.voices, _voices_text)
        self.tts = _audio_option(self.task, "tts", self.tts, _tts_text)
        if not 0 <= self.weight_decay < 10:
            raise ValueError(f"--weight-decay {self.weight_decay:g}: expected a decay in [0, 10) "
                             "(at lr 2e-3, 1 shrinks an unused weight by e^-2.4 in 1,200 steps)")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"--label-smoothing {self.label_smoothing:g}: expected a share in [0, 1) "
                             "(0: plain cross-entropy; 0.1 is the usual value)")
        if not 0 <= self.mixup <= MIXUP_ALPHA_MAX:
            raise ValueError(f"--mixup {self.mixup:g}: expected a Beta shape alpha in "
                             f"[0, {MIXUP_ALPHA_MAX:g}] (0: off; 0.2-1 is the usual range)")
        if not 0 <= self.speaker_adversary <= STRENGTH_MAX:
            raise ValueError(f"--speaker-adversary {self.speaker_adversary:g}: expected a strength "
                             f"in [0, {STRENGTH_MAX:g}] (0: off; 0.1-1 is the usual range)")
        if self.speaker_adversary and self.mixup:
            raise ValueError("--speaker-adversary with --mixup: a blend holds two speakers, and the "
                             "adversary reads one speaker per recording; give one of the two")
        if self.speaker_adversary and self.task not in AUDIO_TASKS:
            raise ValueError(f"--speaker-adversary needs recordings with speakers: tasks "
                             f"{', '.join(AUDIO_TASKS)}, not {self.task}")
        if self.real_speakers and self.task != "fsdd-loso":
            raise ValueError(f"--real-speakers applies to leave one speaker out (task fsdd-loso), "
                             f"not {self.task}")
        if self.real_speakers < 0:
            raise ValueError(f"--real-speakers {self.real_speakers}: expected the number of real "
                             "training speakers to keep, 1 or more (0: all)")
        self.name = self.name or task_slug(self.task)
        check_learned_registers(self.leak_mode, self.wbits, self.learn_threshold, self.learn_leak)
        try:        # the network's shape and registers, refused before any data is read or run starts
            self.model_config(n_in=1, n_out=1)
        except ValueError as e:
            raise ValueError(_option_message(str(e))) from None
        self.out = self.out or str(REPO / "build" / "train" / self.name)
        self.report = self.report or str(REPO / "build" / "reports" / f"train-{self.name}.json")

    def model_config(self, n_in: int, n_out: int) -> ModelConfig:
        return ModelConfig(n_in=n_in, sizes=self.sizes, n_out=n_out, recurrent=self.recurrent,
                           wbits=self.wbits, dbits=self.dbits, v_bits=self.v_bits,
                           leak_mode=self.leak_mode, leak=self.leak, reset_mode=self.reset_mode,
                           theta_target=self.theta_target, init_gain=self.init_gain,
                           surrogate=self.surrogate, surrogate_slope=self.surrogate_slope,
                           delay_init=self.delay_init, max_events=max(4095, n_in),
                           learn_threshold=self.learn_threshold, learn_leak=self.learn_leak,
                           input_delays=self.input_delays)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def identity(self) -> dict:
        """Everything that determines the result (what a resumed run must share)."""
        d = self.to_dict()
        for k in ("out", "report", "device", "throttle", "name", "threads", "tonic_root"):
            d.pop(k)
        # learned-register and input-delay options at their defaults are left out, so
        # checkpoints made before the options existed still resume (and a run with them on refuses such a checkpoint)
        for k, default in _LEARN_DEFAULTS.items():
            if d[k] == default:
                d.pop(k)
        return d


_LEARN_DEFAULTS = {"learn_threshold": False, "learn_leak": False, "lr_threshold": 2e-3,
                   "lr_leak": 0.1, "input_delays": False, "augment": "", "front_end": "",
                   "voices": "", "tts": "", "weight_decay": 0.0, "label_smoothing": 0.0, "mixup": 0.0, "speaker_adversary": 0.0,
                   "real_speakers": 0}


def _audio_option(task: str, option: str, text: str, canonical) -> str:
    """An option of the spoken-digit tasks only (--front-end, --voices) in its canonical text;
    '' when not given."""
    if not text:
        return ""
    if task not in AUDIO_TASKS:
        raise ValueError(f"--{option} applies to the spoken-digit tasks ({', '.join(AUDIO_TASKS)}), "
                         f"not {task}")
    return canonical(text)


def _front_end_text(text: str) -> str:
    from spike_datasets.cochlea import front_end_config, front_end_text
    return front_end_text(front_end_config(text))


def _voices_text(text: str) -> str:
    from spike_datasets.voices import parse_voices, voices_text
    return voices_text(parse_voices(text))


def _tts_text(text: str) -> str:
    from spike_datasets.tts import parse_tts, tts_text
    return tts_text(parse_tts(text))


# Per-task defaults: the settings used for the figures in docs/training.md. Command-line options
# override them one by one.
TASK_DEFAULTS: dict[str, dict] = {
    # Delays only: fixed relay + coincidence weights (Meszaros et al.'s sequence detection).
    "seqdet": dict(sizes=(16, 8), wbits=1.58, dbits=4, epochs=8, batch_size=50, lr_delay=0.5,
                   leak=(2, 3, 4), hand_built="seqdet", train_weights=False),
    "delaytask": dict(sizes=(64, 32), wbits=1.58, dbits=5, epochs=30, batch_size=50, lr=3e-3,
                      lr_delay=0.3, leak=(1, 1, 4), init_gain=(3.0, 3.0, 1.0)),
    "yinyang": dict(sizes=(128, 64), wbits=8, dbits=4, epochs=60, batch_size=50, lr=3e-3,
                    lr_delay=0.2, leak=(4, 4, 4), init_gain=(3.0, 2.0, 1.0)),
    "fsdd": dict(sizes=(256, 128), wbits=1.58, dbits=5, epochs=30, batch_size=50, lr=2e-3,
                 lr_delay=0.3, leak=(3, 3, 4), init_gain=(2.0, 2.0, 1.0)),
    "fsdd-loso": dict(sizes=(256, 128), wbits=1.58, dbits=5, epochs=30, batch_size=50, lr=2e-3,
                      lr_delay=0.3, leak=(3, 3, 4), init_gain=(2.0, 2.0, 1.0)),
}
# tonic's spoken sets (700 channels, 10 ms steps like spiking FSDD) start from FSDD's settings.
TASK_DEFAULTS.update({task: dict(TASK_DEFAULTS["fsdd"]) for task in ("tonic:SHD", "tonic:SSC")})


def front_end_record(task: str, front_end: str = "") -> dict:
    """The cochlea settings an audio task's spikes came from (spike_datasets.load_fsdd's
    defaults), for the manifest: `hostlink run` / `eval` encode new audio with exactly them."""
    if task not in AUDIO_TASKS:
        return {}
    from spike_datasets.cochlea import front_end_config
    return {"front_end": front_end_config(front_end).as_dict()}   # later options only when set; a list for A+B


def _option_message(text: str) -> str:
    """ModelConfig's message in the options' names: `ModelConfig.v_bits: ...` -> `--v-bits: ...`."""
    return re.sub(r"ModelConfig\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), text)


def make_config(task: str, **overrides) -> TrainConfig:
    """Task defaults, then every override that is not None. A task's default leaks and gains are
    fitted to a `sizes` given (the first for every LIF layer, the last for the readout); values
    given with a wrong count are refused (TrainConfig), never silently reshaped."""
    kw = dict(TASK_DEFAULTS.get(task, {}))
    kw.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("sizes") is not None:
        for key in ("leak", "init_gain"):
            if key in kw and overrides.get(key) is None and len(kw[key]) != len(kw["sizes"]) + 1:
                kw[key] = (kw[key][0],) * len(kw["sizes"]) + (kw[key][-1],)
    cfg = TrainConfig(task=task, **kw)
    if not kw.get("name"):
        # A run is named after everything that changes its model, so that two different runs
        # never share (and overwrite) one folder.
        kw["name"] = run_name(cfg)
        cfg = TrainConfig(task=task, **kw)
    return cfg


# Short forms of the option names in run names.
_NAME_ABBREV = {"wbits": "w", "dbits": "d", "epochs": "e", "seed": "s", "sizes": "h",
                "input_delays": "in", "init_gain": "gain", "recurrent": "rec", "batch_size": "bs",
                "lr_delay": "lrd", "delay_l2": "dl2", "n_train": "n", "test_speaker": "spk",
                "learn_threshold": "lth", "learn_leak": "llk", "lr_threshold": "lrth",
                "lr_leak": "lrlk", "leak_mode": "lm", "reset_mode": "rm", "theta_target": "theta",
                "surrogate_slope": "slope", "delay_init": "dinit", "v_bits": "v",
                "train_weights": "tw", "hand_built": "hb", "augment": "aug",
                "front_end": "fe", "voices": "vox", "tts": "tts", "weight_decay": "wd", "label_smoothing": "ls", "mixup": "mix",
                "speaker_adversary": "adv", "real_speakers": "real"}


def _name_value(v) -> str:
    if isinstance(v, str) and "=" in v:      # --augment shift=24,stretch=0.15 -> shift24.stretch0.15
        return v.replace("=", "").replace(",", ".").replace(":", "_").replace("+", "-and-")
    if isinstance(v, bool):
        return "" if v else "0"
    if isinstance(v, (list, tuple)):
        return ".".join(_name_value(x) if not isinstance(x, bool) else str(int(x)) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def run_name(cfg: TrainConfig) -> str:
    """The task, then each option that differs from the task's defaults and changes the model
    (TrainConfig.identity), e.g. `fsdd-in-h128-leak3.4-gain2.1`; past 60 characters the options
    become an 8-digit hash of them."""
    base = TrainConfig(task=cfg.task, name=cfg.task, **TASK_DEFAULTS.get(cfg.task, {})).to_dict()
    ident = cfg.identity()
    parts = []
    for k in ident:
        if k == "task" or ident[k] == base.get(k):
            continue
        parts.append(_NAME_ABBREV.get(k, k.replace("_", "")) + _name_value(ident[k]))
    name = "-".join([task_slug(cfg.task)] + parts)
    if len(name) > 60:
        import hashlib
        name = f"{task_slug(cfg.task)}-{hashlib.sha256('-'.join(parts).encode()).hexdigest()[:8]}"
    return name


# ---------------------------------------------------------------------------------------------


def seqdet_network(mc: ModelConfig) -> DelaySNN:
    """P detector pairs (P = sizes[1] / 2). Pair i has relays a_i, b_i (channel 0) and c_i, d_i
    (channel 1), coincidence neurons 2i = a_i + c_i (votes class 0) and 2i+1 = b_i + d_i (votes
    class 1). Only the delays are left to learn: class 0 (channel 0 first, channel 1 `lag`
    later) needs d(a_i) = d(c_i) + lag, class 1 d(d_i) = d(b_i) + lag. The readout adds the votes
    (+1 for its class, -1 for the other); a relay fires on every input spike, a coincidence
    neuron only when both of its relays' spikes arrive in the same step."""
    P = mc.sizes[1] // 2
    if mc.n_in != 2 or mc.sizes != (4 * P, 2 * P) or P < 1 or mc.n_out != 2 or mc.leak_mode != "shift":
        raise TrainError(f"sizes = {list(mc.sizes)}: the hand-built sequence detector is "
                         f"2 -> 4P -> 2P -> 2 in shift mode (e.g. --sizes 16,8)")
    model = DelaySNN(mc, seed=0)
    w0 = torch.zeros(2, 4 * P)
    w1 = torch.zeros(4 * P, 2 * P)
    w2 = torch.zeros(2 * P, 2)
    for i in range(P):
        a, b, c, d = 4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3
        w0[0, a] = w0[0, b] = w0[1, c] = w0[1, d] = 1
        w1[a, 2 * i] = w1[c, 2 * i] = w1[b, 2 * i + 1] = w1[d, 2 * i + 1] = 1
        w2[2 * i] = torch.tensor([1., -1.])
        w2[2 * i + 1] = torch.tensor([-1., 1.])
    k = mc.leak[1]
    ws = 6
    one_step = (1 << ws) - ((1 << ws) >> k)      # what is left of one spike a step later
    regs = [(ws, 1 << ws), (ws, (1 << ws) + one_step + 1), (5, 4)]
    with torch.no_grad():
        model.registers.copy_(torch.tensor(regs))
        for l, q in enumerate((w0, w1, w2)):
            model.weights[l].copy_(q * model.level_step(l))
    return model


def training_loss(logits: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Cross-entropy of the readout's logits; with --label-smoothing e the target is 1 - e on the
    label and e / n_out on every class (a net less sure of the voices it learned). Validation
    and test losses stay plain cross-entropy."""
    return F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)


def make_optimizer(model: DelaySNN, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the model's parameter groups; with --weight-decay, AdamW decaying the weights
    only (delays, thresholds and leaks keep their values: zero is not their neutral value)."""
    groups = model.param_groups(cfg.lr, cfg.lr_delay, cfg.train_weights,
                                lr_threshold=cfg.lr_threshold, lr_leak=cfg.lr_leak)
    if not groups:
        raise TrainError("nothing to train: fixed weights and no delays (dbits = 0); give "
                         "--dbits 1 or more")
    if not cfg.weight_decay:
        return torch.optim.Adam(groups)
    for group in groups:
        group["weight_decay"] = cfg.weight_decay if group["name"] == "weights" else 0.0
    return torch.optim.AdamW(groups)


def build_model(cfg: TrainConfig, splits: Splits) -> DelaySNN:
    mc = cfg.model_config(splits.train.n_channels, splits.train.n_classes)
    if cfg.hand_built == "seqdet":
        model = seqdet_network(mc)
        model.reset_register_latents_()     # learned thresholds start at the hand-set ones
        torch.manual_seed(cfg.seed)
        with torch.no_grad():     # delays drawn from the run's seed
            g = torch.Generator().manual_seed(cfg.seed)
            for d in model.delays:
                d.copy_(torch.rand(d.shape, generator=g) * (mc.depth - 1))
        return model
    if cfg.hand_built:
        raise TrainError(f"hand_built = {cfg.hand_built!r}: unknown hand-built network "
                         f"(expected 'seqdet' or '')")
    return DelaySNN(mc, seed=cfg.seed)


def pick_device(name: str = "") -> torch.device:
    """The torch device for --device (""/None: cuda when there is one). A CUDA request that this
    torch cannot serve fails here, in one line, instead of deep inside the first forward pass."""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise TrainError(f"--device {name}: not a torch device ({e})") from None
    if device.type == "cuda" and torch.version.cuda is None:
        raise TrainError(f"--device {name}: this torch has no CUDA (installed the CPU build); "
                         "reinstall with make install TORCH=cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"--device {name}: this torch has CUDA {torch.version.cuda} but sees no "
                         "GPU (driver missing or CUDA_VISIBLE_DEVICES empty)")
    return device


@torch.no_grad()
def evaluate(model: DelaySNN, ds, batch_size: int = 256, device=None) -> dict:
    device = device or next(model.parameters()).device
    correct, loss_sum, n = 0, 0.0, ds.n_samples
    preds = []
    for i in range(0, n, batch_size):
        xb, yb = ds.spikes[i:i + batch_size].to(device), ds.labels[i:i + batch_size].to(device)
        out = model(xb)
        loss_sum += float(F.cross_entropy(out["logits"], yb, reduction="sum"))
        p = predict(out["readout"])
        preds.append(p.cpu())
        correct += int((p == yb).sum())
    return {"acc": correct / max(n, 1), "loss": loss_sum / max(n, 1), "pred": torch.cat(preds)}


def _checkpoint_path(cfg: TrainConfig) -> Path:
    return Path(cfg.out) / "checkpoint.pt"


def _log(msg: str, progress: bool) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def read_checkpoint(path: Path, map_location=None) -> dict:
    """A training checkpoint, or TrainError naming the file when it is unreadable, empty,
    truncated or not one of ours (what to do: delete it or run without --resume)."""
    path = Path(path)
    advice = "delete it or run without --resume to start over"
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise TrainError(f"{path}: cannot read ({e.strerror or e}); {advice}") from None
    if not blob:
        raise TrainError(f"{path}: empty file, not a training checkpoint; {advice}")
    try:
        ck = torch.load(io.BytesIO(blob), map_location=map_location, weights_only=False)
    except Exception as e:    # an unpickler fed arbitrary bytes can raise almost any type
        raise TrainError(f"{path}: truncated or not a training checkpoint ({type(e).__name__}); "
                         f"{advice}") from None
    missing = ([k for k in CHECKPOINT_KEYS if k not in ck] if isinstance(ck, dict)
               else list(CHECKPOINT_KEYS))
    if missing or not isinstance(ck["identity"], dict):
        raise TrainError(f"{path}: not a training checkpoint (no {(missing or ['identity'])[0]!r}); "
                         f"{advice}")
    if ck["version"] != CHECKPOINT_VERSION:
        raise TrainError(f"{path}: checkpoint version {ck['version']!r}, this trainer reads "
                         f"{CHECKPOINT_VERSION}; {advice}")
    return ck


def check_resume(ck: dict, cfg: TrainConfig, path: Path) -> None:
    """Refuse to continue a checkpoint made with other settings (naming each setting with the
    checkpoint's and this run's value) or one that has already trained more epochs than asked
    for. A larger --epochs is not a conflict: the run continues up to it."""
    ours, theirs = cfg.identity(), ck["identity"]
    diffs = [f"{k}: checkpoint {theirs.get(k, '(unset)')!r}, this run {ours.get(k, '(unset)')!r}"
             for k in sorted(set(ours) | set(theirs))
             if k != "epochs" and theirs.get(k) != ours.get(k)]
    if diffs:
        raise TrainError(f"{path}: checkpoint was made with different settings ({'; '.join(diffs)}); "
                         "run without --resume to start over, or give another --name")
    if ck["epoch"] > cfg.epochs:
        raise TrainError(f"{path}: the checkpoint has already trained {ck['epoch']} epochs, more "
                         f"than epochs = {cfg.epochs}; give --epochs {ck['epoch']} or more to "
                         "continue it, or run without --resume to start over")


def check_same_data(ck: dict, made_from: dict, path: Path) -> None:
    """Refuse to continue a checkpoint on other data than it was trained on (new audio, another
    front end or cochlea version under the same settings): the run would mix the two."""
    then = ck.get("data_sha256")
    if then is None:           # a checkpoint from before fingerprints were kept
        return
    changed = [split for split in ("train", "val") if then.get(split) != made_from["data_sha256"][split]]
    if changed:
        raise TrainError(f"{path}: the {' and '.join(changed)} data differ from those the checkpoint "
                         f"was trained on (sha256 {then[changed[0]][:12]}..., now "
                         f"{made_from['data_sha256'][changed[0]][:12]}...); run without --resume "
                         "to start over")


def restore_checkpoint(ck: dict, path: Path, model, opt, sched, epochs: int) -> None:
    """Load the model, optimizer and schedule of a checked checkpoint. With a new epoch count the
    cosine is stretched to it: the learning rate continues from the new curve's value at the
    checkpoint's epoch (CosineAnnealingLR's step is relative to the current rate)."""
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise TrainError(f"{path}: the checkpoint's tensors do not fit this model ({e}); "
                         "run without --resume to start over") from None
    sched.load_state_dict(ck["scheduler"])
    if sched.T_max != epochs:
        sched.T_max = epochs
        for group, base in zip(opt.param_groups, sched.base_lrs):
            group["lr"] = sched.eta_min + (base - sched.eta_min) * (
                1 + math.cos(math.pi * sched.last_epoch / epochs)) / 2
        sched._last_lr = [group["lr"] for group in opt.param_groups]


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume) one training; returns the report dict (also written to cfg.report).
    `on_epoch` gets each finished epoch's history record with `epochs`, `best_epoch` and
    `best_val_acc` added, after its checkpoint is saved (LOSO's line per epoch of a run in a
    worker, where the progress bar is off)."""
    from tqdm import tqdm

    t_start = time.perf_counter()
    check_epochs(cfg.epochs)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    ckpt_path = _checkpoint_path(cfg)
    ck = None
    if resume and ckpt_path.exists():    # checked before anything is loaded or written
        ck = read_checkpoint(ckpt_path, map_location=device)
        check_resume(ck, cfg, ckpt_path)
    if device.type == "cuda":   # the integer forward must not use TF32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    splits = load_task(cfg.task, n_train=cfg.n_train, test_speaker=cfg.test_speaker, progress=progress,
                       front_end=cfg.front_end, voices=cfg.voices, tts=cfg.tts,
                       tonic_root=cfg.tonic_root or None, real_speakers=cfg.real_speakers)
    made_from = provenance(splits)
    if ck is not None:
        check_same_data(ck, made_from, ckpt_path)
    model = build_model(cfg, splits).to(device)
    if not cfg.train_weights:
        for w in model.weights:
            w.requires_grad_(False)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    start, history, best, elapsed = 0, [], None, 0.0
    if ck is not None:
        restore_checkpoint(ck, ckpt_path, model, opt, sched, cfg.epochs)
        start, history, best, elapsed = ck["epoch"], ck["history"], ck["best"], ck["elapsed"]
        planned = ck["identity"].get("epochs")
        _log(f"resuming {cfg.name} from {ckpt_path} after epoch {start}"
             + (f" (planned {planned} epochs, now {cfg.epochs}: the learning-rate cosine is "
                f"stretched to {cfg.epochs})" if planned != cfg.epochs else ""), True)
    elif resume:
        _log(f"no checkpoint at {ckpt_path}; starting from scratch (a run named after other "
             f"--epochs has another folder: give its --name to continue it)", True)

    train_set = splits.train
    n = train_set.n_samples
    adversary = adv_opt = None
    if cfg.speaker_adversary:
        adversary = SpeakerAdversary(sum(cfg.sizes), real_speakers(train_set.info["speakers"]),
                                     seed=cfg.seed).to(device)
        adv_opt = torch.optim.Adam(adversary.parameters(), lr=cfg.lr)
        if ck is not None:
            try:
                adversary.load_state_dict(ck["adversary"]["model"])
                adv_opt.load_state_dict(ck["adversary"]["optimizer"])
            except (KeyError, RuntimeError, ValueError) as e:
                raise TrainError(f"{ckpt_path}: no usable speaker adversary state ({e}); "
                                 f"start the run again without --resume") from None
    n_batches = math.ceil(n / cfg.batch_size)
    bar = tqdm(total=cfg.epochs * n_batches, initial=start * n_batches, disable=not progress,
               desc=cfg.name, unit="batch", dynamic_ncols=True)
    session_start = time.perf_counter()
    augment = Augment.parse(cfg.augment)
    for epoch in range(start, cfg.epochs):
        model.train()
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g)
        g_aug = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch + AUGMENT_SEED_OFFSET)
        g_mix = mixup_generator(cfg.seed, epoch)
        loss_sum = correct = spk_right = spk_n = 0
        t_epoch = time.perf_counter()
        for b in range(n_batches):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb, yb = train_set.spikes[idx].to(device), train_set.labels[idx].to(device)
            xb = augment(xb, g_aug)
            if cfg.mixup:
                mixed = blend(xb, yb, cfg.mixup, g_mix)
                res = model(mixed.spikes)
                loss, yb = blend_loss(res["logits"], mixed, cfg.label_smoothing), main_labels(mixed)
            else:
                res = model(xb)
                loss = training_loss(res["logits"], yb, cfg)
            total = loss + cfg.delay_l2 * model.delay_l2() if cfg.delay_l2 else loss
            if adversary is not None:
                scale = ramp(cfg.speaker_adversary, (epoch + b / n_batches) / cfg.epochs)
                adv_loss, right, seen = adversary.loss(res["raw_spikes"], train_set.meta["speaker"][idx].to(device),
                                                       scale)
                total = total + adv_loss
                spk_right, spk_n = spk_right + right, spk_n + seen
                adv_opt.zero_grad(set_to_none=True)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if adversary is not None:
                adv_opt.step()
            model.clamp_latents_()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((predict(res["readout"]) == yb).sum())
            bar.update(1)
        sched.step()
        model.eval()
        val = evaluate(model, splits.val, device=device)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / n, "train_acc": correct / n,
               "val_loss": val["loss"], "val_acc": val["acc"],
               "epoch_s": time.perf_counter() - t_epoch,
               "mean_delay": [float(model.int_delays(l).float().mean()) for l in range(len(cfg.sizes))]}
        if adversary is not None:   # how well the speakers can still be read from the hidden rates
            rec["speaker_acc"] = spk_right / max(spk_n, 1)
        if cfg.learn_threshold:
            rec["thresholds"] = [model.threshold(l) for l in range(len(cfg.sizes))]
        if cfg.learn_leak:
            rec["leaks"] = [model.leak_register(l) for l in range(len(cfg.sizes) + 1)]
        history.append(rec)
        if best is None or val["acc"] > best["val_acc"]:
            best = {"epoch": epoch + 1, "val_acc": val["acc"],
                    "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        bar.set_postfix(epoch=epoch + 1, loss=f"{rec['train_loss']:.3f}", train=f"{rec['train_acc']:.3f}",
                        val=f"{val['acc']:.3f}", best=f"{best['val_acc']:.3f}@{best['epoch']}")
        atomic_torch_save({"version": CHECKPOINT_VERSION, "identity": cfg.identity(), "epoch": epoch + 1,
                           "model": model.state_dict(), "optimizer": opt.state_dict(),
                           "scheduler": sched.state_dict(), "history": history, "best": best,
                           "data_sha256": made_from["data_sha256"],
                           **({"adversary": {"model": adversary.state_dict(), "optimizer": adv_opt.state_dict()}}
                              if adversary is not None else {}),
                           "elapsed": elapsed + time.perf_counter() - session_start}, ckpt_path)
        if on_epoch is not None:
            on_epoch(dict(rec, epochs=cfg.epochs, best_epoch=best["epoch"], best_val_acc=best["val_acc"]))
        if cfg.throttle:
            time.sleep(cfg.throttle)
    bar.close()
    train_s = elapsed + time.perf_counter() - session_start
    return finish(cfg, model, splits, history, best, train_s, device, t_start, elapsed, progress,
                  made_from)


def finish(cfg, model, splits, history, best, train_s, device, t_start, prior_s, progress,
           made_from: dict) -> dict:
    """Select the best-validation epoch, test it, export, compare with the golden model, plot,
    write the report."""
    from . import plots

    out = Path(cfg.out)
    if best is not None:
        model.load_state_dict(best["state"])
    model.eval()
    test = evaluate(model, splits.test, device=device)
    val = evaluate(model, splits.val, device=device)
    report = {
        "task": cfg.task, "name": cfg.name, "seed": cfg.seed,
        "test_acc": test["acc"], "val_acc": val["acc"],
        "selected_epoch": best["epoch"] if best else 0, "epochs": cfg.epochs,
        "selection": "highest validation accuracy (first epoch on ties); test never used",
        "prediction_rule": "argmax over classes of the readout membrane summed over all steps",
        "memory_bits": model.memory_bits(),
        "train_config": cfg.to_dict(), "model_config": model.config.to_dict(),
        # the registers the export writes (learned ones rounded and clamped), and the initial
        # ones: with --learn-threshold / --learn-leak the difference is what training moved
        "registers": model.current_registers(),
        "initial_registers": model.initial_registers(),
        "learned_registers": {"threshold": bool(model.config.learn_threshold),
                              "leak": bool(model.config.learn_leak),
                              "readout_threshold": "fixed (only the logit unit)"},
        "delays": {f"layer{l}": {"mean": float(model.int_delays(l).float().mean()),
                                 "max": int(model.int_delays(l).max()),
                                 "nonzero": int((model.int_delays(l) > 0).sum())}
                   for l in range(len(cfg.sizes))}
                  | ({"input": {"mean": float(model.int_input_delays().float().mean()),
                                "max": int(model.int_input_delays().max()),
                                "nonzero": int((model.int_input_delays() > 0).sum())}}
                     if model.config.input_delays else {}),
        "data": splits.info,
        "history": history,
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "host": platform.node(),
        "provenance": made_from,
    }
    if is_float(model.config.wbits):
        report["export"] = {"possible": False,
                            "reason": "float weights (wbits=32) cannot be stored by the core; "
                                      "no parameter image, no golden-model comparison"}
    else:
        _, manifest = export(model.cpu(), out / "export",
                             extra={"task": cfg.task, "test_acc": test["acc"], "val_acc": val["acc"],
                                    **front_end_record(cfg.task, cfg.front_end)})
        model.to(device)
        from .export import load_export
        cmp = compare(model, load_export(out / "export"), splits.test.spikes)
        golden_acc = float((cmp["pred_golden"] == splits.test.labels).float().mean())
        report["export"] = {
            "possible": True, "manifest": str(manifest),
            "test_prediction_agreement": cmp["prediction_agreement"],
            "test_readout_bit_equal_samples": cmp["readout_bit_equal_samples"],
            "test_samples": cmp["n"], "test_readout_max_abs_diff": cmp["readout_max_abs_diff"],
            "golden_test_acc": golden_acc,
        }
    try:
        report["plots"] = (plots.all_plots(model, splits, history, out, cfg.name) if cfg.plots
                           else {"skipped": "plots=False"})
    except Exception as e:   # plots must never lose a finished training
        report["plots"] = {"error": f"{type(e).__name__}: {e}"}
    report["train_s"] = train_s          # the epochs, summed over interrupted sessions
    report["wall_s"] = prior_s + (time.perf_counter() - t_start)   # everything, incl. data, export
    atomic_write_json(Path(cfg.report), report)
    _log(f"{cfg.name}: test {test['acc']:.4f} (epoch {report['selected_epoch']}, val {val['acc']:.4f}), "
         f"memory {report['memory_bits']['total']} bits; report {cfg.report}", progress)
    return report
