"""A deployed network on new audio: `python -m hostlink run --deployed` and `... eval`.

The folder is what the deploy command writes (`build/deploy/<run>-<board>/`: image.json, the
training export's manifest.json, deploy.json with board, baud, clock, learning and identity), or,
for `eval`, a training export (manifest.json, params.pt). Audio goes through the same cochlea
front end the training used (spike_datasets: `encode_recordings`, its settings and its cache),
each sample becomes event words (`golden_model.raster_words`), and an engine turns them into
output items: the board over a serial port, its Verilator model (verification/runners/board_cosim.py), the golden
model or the PyTorch model. Every prediction follows the manifest's rule (argmax over classes of
the readout summed over all steps; first class on ties) and is compared with the golden model's,
readout value by readout value. A folder deployed with --host-input-delays (deploy.json
"host_input_delays") holds the network without its input delay stage: every sample's spikes are
delayed on the host (`streamed`) before they are streamed or given to the golden model.

User errors (a missing folder, no or unreadable WAV files, a sample with the wrong channel count,
an image for another device) raise `RunError` (or ImageError / ImageMismatch / DatasetError),
one line each; the command line prints it and exits 2.
"""

from __future__ import annotations

from corespec.errors import UserError
from corespec.files import read_json
import csv
import hashlib
import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AUDIO_TASKS = (None, "fsdd", "fsdd-loso")
SPLITS = {"test": "test", "train": "train", "val": "validation"}


class RunError(UserError, ValueError):
    """A user error of the run / eval commands: one line naming the file and the problem."""


# What a file of learning registers should be (hostlink run --learn FILE / --learn-regs FILE).
LEARN_REGS_JSON = "a JSON object {register name: value} (docs/learning.md section 5)"


@dataclass
class Deployment:
    """A network ready to run: its image (config, writes, params), the training manifest and the
    deploy record (empty for a training export)."""
    folder: Path
    config: object
    writes: list
    params: object
    manifest: dict
    deploy: dict = field(default_factory=dict)

    @property
    def board(self) -> str:
        return self.deploy.get("board", "")

    @property
    def baud(self) -> int:
        return int(self.deploy.get("baud", 3_000_000))

    @property
    def clk_hz(self) -> float:
        return float(self.deploy.get("clk_hz", 24e6))

    @property
    def learning(self) -> bool:
        return bool(self.deploy.get("learning", False))

    @property
    def host_input_delays(self) -> list[int] | None:
        """The per-channel input delays the host applies (deploy --host-input-delays), or None."""
        return self.deploy.get("host_input_delays")


def _read_json(path: Path, what: str) -> dict:
    """A JSON object from a folder's file; RunError naming the file otherwise (corespec.files)."""
    d = read_json(path, what, RunError)
    if not isinstance(d, dict):
        raise RunError(f"{path}: expected a JSON object ({what}), got a JSON {type(d).__name__}")
    return d


def _check_image_hash(folder: Path, deploy: dict):
    """deploy.json's image_sha256 must name this image.json (the file's sha256, or the image's own
    content hash), so that a folder whose image was swapped is refused."""
    want = deploy.get("image_sha256")
    if not want:
        return
    raw = (folder / "image.json").read_bytes()
    try:
        inner = json.loads(raw).get("sha256")
    except (ValueError, AttributeError):
        inner = None
    if want not in (hashlib.sha256(raw).hexdigest(), inner):
        raise RunError(f"{folder / 'image.json'}: does not match deploy.json's image_sha256 "
                       f"(replaced after deployment?)")


def load_deployment(folder) -> Deployment:
    """A deploy folder (image.json, manifest.json, deploy.json) or a training export
    (manifest.json, params.pt, maybe image.json), every file checked before it is used."""
    from .image import read_image
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder (expected build/deploy/<run>-<board> or a "
                       f"training export folder)")
    if not (folder / "manifest.json").is_file():
        raise RunError(f"{folder}: no manifest.json (not a deploy or export folder)")
    manifest = _read_json(folder / "manifest.json", "an export manifest (the manifest.json a "
                          "training run writes)")
    deploy = (_read_json(folder / "deploy.json", "a deploy record (the deploy.json the deploy "
                         "command writes)") if (folder / "deploy.json").is_file() else {})
    if (folder / "image.json").is_file():
        config, writes, params = read_image(folder / "image.json")   # a bad file named first
        _check_image_hash(folder, deploy)
    else:
        from delay_training.export import load_export
        from golden_model import load_words
        params = load_export(folder)
        config, writes = params.config, [tuple(w) for w in load_words(params)]
    _check_host_input_delays(folder, deploy, config)
    return Deployment(folder, config, writes, params, manifest, deploy)


def _check_host_input_delays(folder: Path, deploy: dict, config) -> None:
    """deploy.json's "host_input_delays" (deploy --host-input-delays): one delay 0..depth-1 per
    input channel, and an image without the input delay stage (the host does the stage)."""
    d = deploy.get("host_input_delays")
    if d is None:
        return
    where = f"{folder / 'deploy.json'}: host_input_delays"
    if (not isinstance(d, list) or len(d) != config.n_in
            or not all(type(v) is int and 0 <= v < config.depth for v in d)):
        raise RunError(f"{where}: expected {config.n_in} delays (one per input channel), each "
                       f"0..{config.depth - 1}")
    if config.input_delays:
        raise RunError(f"{where}: given, but image.json has the input delay stage (the delays "
                       f"would be applied twice)")


def streamed(dep: Deployment, samples: list[Sample]) -> list[Sample]:
    """The samples as the device and the golden model of the image take them: with the folder's
    host input delays (deploy --host-input-delays) each channel's spikes delayed by its delay
    (deploy.derive.apply_input_delays, the input delay stage done on the host), else unchanged."""
    delays = dep.host_input_delays
    if delays is None:
        return samples
    from deploy.derive import apply_input_delays
    return [Sample(s.name, s.label, apply_input_delays(s.spikes, delays), s.audio_seconds)
            for s in samples]


def front_end(dep: Deployment):
    """The cochlea settings the network was trained with: the manifest's (or deploy.json's)
    "front_end" when recorded (a list of two, side by side, for a towers network or one trained
    with --front-end A+B: spike_datasets.cochlea.Views), else the defaults `delay_training --task
    fsdd` used (load_fsdd's CochleaConfig) with one channel per network input."""
    from spike_datasets import CochleaConfig
    from spike_datasets.cochlea import front_end_from_record
    task = dep.manifest.get("task")
    if task not in AUDIO_TASKS:
        raise RunError(f"{dep.folder}: the network was trained on task {task!r}, not on audio")
    recorded = dep.manifest.get("front_end") or dep.deploy.get("front_end")
    if recorded:
        try:
            return front_end_from_record(recorded)     # a list: two cochleas side by side (Views)
        except (TypeError, ValueError) as e:
            raise RunError(f"{dep.folder}: bad front_end settings ({e})") from None
    return CochleaConfig(n_channels=dep.config.n_in)


@dataclass
class Sample:
    name: str
    label: int | None
    spikes: np.ndarray            # [steps, channels] 0/1
    audio_seconds: float          # the audio window the network hears (steps x dt)


def read_labels(path) -> dict[str, int]:
    """labels.csv: rows `file,label` (a header row is skipped); file names without folders."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror or e})") from None
    labels = {}
    for n, row in enumerate(rows, 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise RunError(f"{path}:{n}: expected 'file,label', got {','.join(row)!r}")
        name, label = row[0].strip(), row[1].strip()
        if not label.lstrip("-").isdigit():
            if n == 1:
                continue                  # header
            raise RunError(f"{path}:{n}: label {label!r} is not a class number")
        labels[Path(name).name] = int(label)
    return labels


DIGIT_NAME = re.compile(r"^(\d)_.*\.wav$", re.IGNORECASE)


def labelled_wavs(folder, labels_csv=None) -> list[tuple[Path, int | None]]:
    """(path, label) of every *.wav in `folder`, sorted by name: the label from labels.csv when
    the file is listed there, else from a name `<digit>_....wav` (FSDD's among them), else None.
    One line for a missing folder, a folder without WAV files or a bad CSV row."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder of WAV files")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
    if not paths:
        raise RunError(f"{folder}: no .wav files")
    table = read_labels(labels_csv) if labels_csv else {}
    out = []
    for p in paths:
        m = DIGIT_NAME.match(p.name)
        out.append((p, table.get(p.name, int(m[1]) if m else None)))
    return out


SPEAKER_NORM_WORDS = 50         # fewer words make a poorer speaker reference (results.md: with 10
                                # words 2.9 points under all 500, with 50 words 0.5)


def wav_samples(folder, cochlea, labels_csv=None, progress: bool = True,
                reference: list | None = None) -> list[Sample]:
    """Every *.wav in `folder` (sorted by name) through the cochlea front end (cached), labelled
    as `labelled_wavs` says. With speaker_norm, the words are heard against `reference` (an
    enrolled speaker's, hostlink.speaker_reference) or, without it, against the reference their
    own spectra make."""
    from spike_datasets import DatasetError
    from spike_datasets.fsdd import Recording, encode_recordings
    items = labelled_wavs(folder, labels_csv)
    paths, labels = [p for p, _ in items], [y for _, y in items]
    if cochlea.speaker_norm and reference is None and len(paths) < SPEAKER_NORM_WORDS:
        print(f"warning: {folder}: {len(paths)} recording(s) make the speaker's reference spectrum "
              f"(speaker_norm); with fewer than {SPEAKER_NORM_WORDS} the network hears him less well "
              f"(docs/results.md, speaker normalisation); `delaysnn enrol` keeps a reference "
              f"from his words", file=sys.stderr)
    # Only the path matters to the front end, and with speaker_norm the folder is one speaker
    # whose reference all its recordings make; digit/speaker/index are placeholders here.
    recs = [Recording(p, 0, "", i) for i, p in enumerate(paths)]
    try:
        data = encode_recordings(recs, cochlea, cache=True, progress=progress, reference=reference)
    except DatasetError as e:
        raise RunError(str(e)) from None
    seconds = cochlea.n_steps * cochlea.dt
    return [Sample(p.name, y, data.spikes[i].numpy(), seconds)
            for i, (p, y) in enumerate(zip(paths, labels))]


def split_samples(split: str, cochlea, limit: int | None = None,
                  progress: bool = True, shuffle: int | None = None) -> list[Sample]:
    """The first `limit` samples of an FSDD split (official protocol), from the training's cache;
    with `shuffle` (a seed) the first `limit` of a seeded permutation (the split is ordered by
    digit, so its first samples are all zeros)."""
    from spike_datasets import DatasetError, load_fsdd
    try:
        data = load_fsdd(SPLITS[split], config=cochlea, progress=progress)
    except DatasetError as e:
        raise RunError(str(e)) from None
    n = len(data.labels) if limit is None else min(limit, len(data.labels))
    order = list(range(len(data.labels)))
    if shuffle is not None:
        order = [int(i) for i in np.random.default_rng(shuffle).permutation(len(order))]
    speakers = data.info["speakers"]
    seconds = cochlea.n_steps * cochlea.dt
    return [Sample(f"{int(data.labels[i])}_{speakers[int(data.meta['speaker'][i])]}_"
                   f"{int(data.meta['index'][i])}.wav", int(data.labels[i]),
                   data.spikes[i].numpy(), seconds) for i in order[:n]]


def check_samples(samples: list[Sample], config) -> None:
    """Refuse a sample the network cannot take: another channel count than n_in, or a label
    outside its classes."""
    for s in samples:
        if s.spikes.ndim != 2 or s.spikes.shape[1] != config.n_in:
            got = s.spikes.shape[1] if s.spikes.ndim == 2 else f"shape {s.spikes.shape}"
            raise RunError(f"{s.name}: {got} input channels, the network takes n_in="
                           f"{config.n_in}")
        if s.label is not None and not 0 <= s.label < config.n_out:
            raise RunError(f"{s.name}: label {s.label} outside the network's classes "
                           f"0..{config.n_out - 1}")


def event_words(sample: Sample) -> list[int]:
    """The sample as event words (each step's spikes in channel order, then EOT), no CLEAR."""
    import torch
    from golden_model import raster_words
    return raster_words(torch.as_tensor(sample.spikes))


def readout_of(items, n_out: int) -> list[list[int]]:
    from .driver import readout
    return readout(items, n_out)


def predict(readout: list[list[int]]) -> int:
    """The manifest's prediction rule: argmax over classes of the readout summed over all steps
    (int64), first class on ties (numpy's argmax takes the first maximum)."""
    return int(np.argmax(np.asarray(readout, dtype=np.int64).sum(0)))


def golden_items(params, words_per_sample, progress: bool = True) -> list[list[tuple]]:
    """The golden model's output items per sample (each run from a CLEAR, as the device runs it)."""
    from tqdm import tqdm
    from golden_model import CLEAR, GoldenNetwork, encode_event
    net = GoldenNetwork(params)
    return [[tuple(o) for o in net.run_stream([encode_event(CLEAR)] + w).outputs]
            for w in tqdm(words_per_sample, desc="golden model", unit="sample",
                          disable=not progress)]


def torch_readouts(dep: Deployment, samples: list[Sample]) -> list[list[list[int]]]:
    """The trained PyTorch model (hardware mode) on the samples: needs the run's checkpoint
    (checkpoint.pt next to the export folder, or deploy.json's "checkpoint")."""
    import torch
    from delay_training.model import DelaySNN, ModelConfig
    from delay_training.train import read_checkpoint
    cands = [dep.folder.parent / "checkpoint.pt"]
    if dep.deploy.get("checkpoint"):
        cands.insert(0, Path(dep.deploy["checkpoint"]))
    ck = next((p for p in cands if p.is_file()), None)
    if ck is None or "model_config" not in dep.manifest:
        raise RunError(f"{dep.folder}: --engine torch needs the training checkpoint "
                       f"({cands[-1]}) and the manifest's model_config")
    try:
        model = DelaySNN(ModelConfig.from_dict(dep.manifest["model_config"]))
    except (TypeError, ValueError) as e:      # an unknown key or an impossible value
        raise RunError(f"{dep.folder / 'manifest.json'}: model_config does not describe a "
                       f"network ({e})") from None
    ckpt = read_checkpoint(ck)
    # The export is the best-validation epoch (delay_training.train.finish), not the last one.
    best = ckpt.get("best") or {}
    model.load_state_dict(best.get("state", ckpt["model"]))
    model.eval()
    x = torch.as_tensor(np.stack([s.spikes for s in samples])).to(torch.float32)
    with torch.no_grad():
        r = model(x)["readout"]
    return [[[int(round(float(v))) for v in step] for step in sample] for sample in r]


def summarize(dep: Deployment, samples: list[Sample], readouts, golden, *, engine: str,
              seconds=None, bytes_out=None, bytes_in=None, identity=None) -> dict:
    """The report: per sample prediction, label, latency; accuracy over labelled samples; latency,
    throughput and real-time factor over the link (when timed); golden-model agreement."""
    preds = [predict(r) for r in readouts]
    gold_readouts = [readout_of(g, dep.config.n_out) for g in golden]
    gold_preds = [predict(r) for r in gold_readouts]
    rows = []
    for i, s in enumerate(samples):
        row = {"name": s.name, "label": s.label, "prediction": preds[i],
               "golden_prediction": gold_preds[i], "readout_sum": np.asarray(readouts[i], dtype=np.int64).sum(0).tolist(),
               "input_events": int(s.spikes.sum()), "audio_seconds": s.audio_seconds}
        if seconds is not None:
            row.update(link_seconds=seconds[i], bytes_to_device=bytes_out[i],
                       bytes_from_device=bytes_in[i])
        rows.append(row)
    labelled = [(p, s.label) for p, s in zip(preds, samples) if s.label is not None]
    rep = {"engine": engine, "folder": str(dep.folder), "board": dep.board or None,
           "task": dep.manifest.get("task"), "manifest_test_acc": dep.manifest.get("test_acc"),
           "prediction_rule": dep.manifest.get("prediction_rule"),
           "host_input_delays": dep.host_input_delays is not None,
           "n_samples": len(samples), "labelled": len(labelled),
           "accuracy": (sum(p == y for p, y in labelled) / len(labelled)) if labelled else None,
           "predictions": preds,
           "predictions_equal_golden": preds == gold_preds and
           [[list(map(int, st)) for st in r] for r in readouts] == gold_readouts,
           "device_identity": identity, "samples": rows}
    if seconds is not None:
        rep.update(link_timing(seconds, [s.audio_seconds for s in samples], bytes_out, bytes_in))
    return rep


def link_timing(seconds, audio, bytes_out, bytes_in) -> dict:
    """Latency statistics, throughput and the end-to-end real-time factor (audio seconds per
    link second) over a run of samples."""
    total = sum(seconds)
    return {"latency_seconds": {"mean": statistics.mean(seconds), "median": statistics.median(seconds),
                                "min": min(seconds), "max": max(seconds)},
            "throughput_samples_per_s": len(seconds) / total if total else None,
            "realtime_factor_end_to_end": sum(audio) / total if total else None,
            "realtime_factor_worst_sample": min(a / s for a, s in zip(audio, seconds) if s) if total else None,
            "bytes_to_device_per_sample": statistics.mean(bytes_out),
            "bytes_from_device_per_sample": statistics.mean(bytes_in)}


@dataclass
class LinkRun:
    """What an engine behind a link gives back per sample."""
    items: list                   # output items per sample
    seconds: list                 # link seconds per sample: first event out to last output in
    bytes_out: list
    bytes_in: list
    identity: dict | None = None
    extra: dict = field(default_factory=dict)


class CountingTransport:
    """A transport wrapper that counts bytes each way (the serial port has no counters)."""

    def __init__(self, t):
        self.t, self.out, self.into = t, 0, 0
        self.link_timeout, self.response_timeout = t.link_timeout, t.response_timeout

    def write(self, data: bytes):
        self.out += len(data)
        self.t.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.t.read(timeout)
        self.into += len(data)
        return data


def run_on_port(dep: Deployment, words, port: str, baud: int, verify: str = "sample",
                progress: bool = True, plan: LearningPlan | None = None) -> LinkRun:
    """The board over a serial port: identity and image checked before the first write
    (ImageMismatch; with a learning `plan` the device must have the engine too), image loaded and
    verified, then each sample timed on the host's clock (with `plan`: the registers written
    first, each learned sample followed by its LABEL, learning switched off before the evaluated
    ones; run.extra["learning"] has the counters, registers and learned parameters read back)."""
    import time
    from tqdm import tqdm
    from .driver import CoreLink
    from .transports import SerialTransport
    try:
        t = CountingTransport(SerialTransport(port, baud))
    except ImportError:
        raise RunError("the serial transport needs pyserial: pip install pyserial") from None
    except OSError as e:
        raise RunError(f"cannot open {port}: {e}") from None
    link = CoreLink(t)
    if plan is not None:
        link.check_device(dep.config, learning=True)          # before the first write
    with tqdm(total=len(dep.writes), desc="load image", unit="word", disable=not progress) as bar:
        rep = link.load_image(dep.writes, config=dep.config, verify=verify, progress=bar.update)
    run = LinkRun([], [], [], [], rep.get("device"))
    before = learning_start(link, plan) if plan is not None else None
    for n, w in enumerate(tqdm(words, desc="board", unit="sample", disable=not progress)):
        if plan is not None and n == plan.learn_samples:
            link.set_learning(enable=0)
        o, i, t0 = t.out, t.into, time.perf_counter()
        run.items.append(link.run_sample(w, n_out=dep.config.n_out))
        run.seconds.append(time.perf_counter() - t0)
        run.bytes_out.append(t.out - o)
        run.bytes_in.append(t.into - i)
        if plan is not None and n < plan.learn_samples:
            link.label(plan.labels[n])
    if plan is not None:
        run.extra["learning"] = learning_end(link, dep.config, before)
    run.extra["status"] = link.status()
    return run


def learning_start(link, plan: LearningPlan) -> dict:
    """The counters before the run (a board counts since power-up), then all 14 registers."""
    before = link.read_learning()
    link.set_learning(plan.registers)
    return before


def learning_end(link, config, before: dict) -> dict:
    """What the device ends with: registers and counters, the parameters the engine can change
    (learned_records), and the engine's state (traces, eligibilities, scores)."""
    records = learned_records(config)
    return {"before": before, "after": link.read_learning(), "records": [list(r) for r in records],
            "words": link.read(records), "state": link.read_learning_state(config)}


def run_on_sim(dep: Deployment, words, progress: bool = True, name: str = "deployed",
               compare_window: dict | None = None, plan: LearningPlan | None = None) -> LinkRun:
    """The board top on Verilator (verification/runners/board_cosim.run_deployed), built for deploy.json's
    configuration, learning engine, board, clock and baud: simulated seconds are the board's.
    A learning `plan` runs as on a board (run_on_port) inside the bench."""
    import os
    import shutil
    from .driver import ImageMismatch, LinkError
    _repo_on_path()
    from corespec.identity import config_dict
    from verification.runners.board_cosim import BUILD, run_deployed
    # A work folder of this process: two runs at once (a test beside a user's run) would read
    # each other's case, result and progress files in a shared one.
    name = f"{name}-{os.getpid()}"
    r = run_deployed(config_dict(dep.config), dep.writes, words, clk_hz=dep.clk_hz, baud=dep.baud,
                     learning=dep.learning, board=dep.board,
                     device_config=dep.deploy.get("core_config"), name=name, progress=progress,
                     compare_window=compare_window, learn=None if plan is None else {
                         "registers": plan.register_pairs(), "labels": plan.labels,
                         "learn_samples": plan.learn_samples,
                         "records": [list(r) for r in learned_records(dep.config)]})
    if r.get("error"):
        msg = r["error"].split(": ", 1)[-1]
        if r.get("error_kind") == "ImageMismatch":
            raise ImageMismatch(msg)
        raise LinkError(f"{r['error']} (simulation log {r.get('sim_log')})")
    shutil.rmtree(BUILD / "cases" / name, ignore_errors=True)     # kept only when it failed
    s = r["samples"]
    return LinkRun([[tuple(i) for i in x["items"]] for x in s], [x["seconds"] for x in s],
                   [x["bytes_to_device"] for x in s], [x["bytes_from_device"] for x in s],
                   r.get("identity"),
                   {"status": r.get("status"), "load_seconds": r.get("load_seconds"),
                    "sim_wall_seconds": r.get("sim_seconds"), "build_seconds": r.get("build_seconds"),
                    "cycles": [x["cycles"] for x in s], "uart_frame_errors": r.get("uart_frame_errors"),
                    "sim_wall_per_sample": [x["wall_s"] for x in s], "divider": r.get("divider"),
                    "compare": r.get("compare"), **({"learning": r["learning"]}
                                                     if r.get("learning") else {})})


def _repo_on_path():
    """`verification` (the Verilator flows) lives at the repository root, beside sw/."""
    import sys
    from spike_datasets.paths import repo_root
    root = repo_root()
    if root is None:
        raise RunError("--sim needs the repository checkout (verification/runners/board_cosim.py)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


# -- on-chip learning on a deployed board (`run --deployed --learn`) ---------------------------
@dataclass
class LearningPlan:
    """What a learning run does, settled before the first write: all 14 registers (the preset over
    the engine's reset values, so that the device's state does not depend on an earlier session
    and the golden learner can start from the same), the class of every sample learned from, and
    how many samples learn before learning is switched off for the evaluated rest."""
    source: str                   # preset name or registers file
    registers: object             # golden_model.learning.LearnRegisters
    labels: list                  # one per learned sample
    learn_samples: int

    def register_pairs(self) -> list[list[int]]:
        return [[n, v] for n, v in self.registers.words()]


def learning_presets(dep: Deployment) -> dict:
    """{name: {register: value}}: the folder's learning.json (written by the deploy command with
    the engine in), else the presets the deploy command would have written."""
    path = dep.folder / "learning.json"
    if path.is_file():
        presets = _read_json(path, "a learning presets file (the learning.json the deploy "
                             "command writes)").get("presets")
        if not isinstance(presets, dict):
            raise RunError(f"{path}: no \"presets\" object")
        return {k: (v.get("registers") if isinstance(v, dict) and "registers" in v else v)
                for k, v in presets.items()}
    from onchip_learning.presets import PRESETS
    return {k: dict(v) for k, v in PRESETS.items()}


def learning_registers(dep: Deployment, spec: str) -> dict:
    """`--learn SPEC`: a preset name of the folder, or a JSON file {register name: value}; every
    name and width checked (ImageError), the registers not named at their reset values."""
    from .image import check_learning_registers
    presets = learning_presets(dep)
    if spec in presets:
        regs, where = presets[spec], f"preset {spec!r}"
    elif spec.endswith(".json") or Path(spec).is_file():
        path = Path(spec)
        regs = read_json(path, LEARN_REGS_JSON, RunError)
        where = str(path)
    else:
        raise RunError(f"no learning preset {spec!r} (and no such .json file); presets: "
                       f"{', '.join(presets)}")
    check_learning_registers(regs, where)
    return dict(regs)


def check_learning_engine(dep: Deployment) -> None:
    """Refuse learning on a folder whose board was built without the engine (deploy.json)."""
    if not dep.learning:
        why = dep.deploy.get("learning_reason") or "deploy.json says \"learning\": false"
        raise RunError(f"the deployed network has no learning engine: {why}")


def learning_plan(dep: Deployment, spec: str, samples: list[Sample],
                  learn_samples: int | None) -> LearningPlan:
    """Every refusal of a learning run, before anything is sent: a folder whose device has no
    engine, a bad preset or registers file, labels that would be ignored (enable bit 0 clear),
    learned samples without labels, a split point outside the samples."""
    from golden_model.learning import LEARN_ON, LearnRegisters
    check_learning_engine(dep)
    regs = LearnRegisters(**learning_registers(dep, spec))
    n = len(samples) if learn_samples is None else learn_samples
    if not 0 <= n <= len(samples):
        raise RunError(f"--learn-samples {learn_samples}: between 0 and the {len(samples)} samples")
    if n and not regs.enable & LEARN_ON:
        raise RunError(f"--learn {spec}: enable = {regs.enable} has bit 0 (learning on) clear: "
                       f"the device would ignore the labels of the {n} samples to learn from")
    missing = [s.name for s in samples[:n] if s.label is None]
    if missing:
        raise RunError(f"{missing[0]}: no label to learn from ({len(missing)} of the {n} samples "
                       f"to learn from have none; FSDD names or --labels CSV)")
    return LearningPlan(spec, regs, [s.label for s in samples[:n]], n)


def learned_records(config) -> list[tuple[int, int, int]]:
    """(layer, space, addr) of every parameter the engine can change (docs/learning.md 1): pair R
    the readout weights and the delays of the last LIF layer L, pair H (two or more LIF layers)
    the weights of layer L and the delays of layer L-1."""
    from golden_model.params import DELAY, WEIGHT
    L = len(config.sizes) - 1
    which = [(L + 1, WEIGHT), (L, DELAY)] + ([(L, WEIGHT), (L - 1, DELAY)] if L >= 1 else [])
    recs = []
    for layer, space in sorted(which):
        if space == DELAY:
            n = config.sizes[layer]
        else:
            n_src = config.n_in if layer == 0 else config.sizes[layer - 1]
            n_dst = config.n_out if layer == len(config.sizes) else config.sizes[layer]
            n = -(-(n_src * n_dst) // config.weights_per_word)
        recs += [(layer, space, a) for a in range(n)]
    return recs


def parameter_words(params, records) -> list[int]:
    """The words the readback port shows at `records` for `params` (weights packed, as loaded)."""
    from golden_model.params import DELAY, weight_words
    from .driver import MASK64
    cache = {}
    out = []
    for layer, space, addr in records:
        if (layer, space) not in cache:
            p = params.layers[layer]
            cache[layer, space] = ([int(d) for d in p.delay.tolist()] if space == DELAY else
                                   weight_words(params.config, p.weight))
        out.append(cache[layer, space][addr] & MASK64)
    return out


def golden_learning(params, plan: LearningPlan, samples: list[Sample], progress: bool = True):
    """GoldenLearner fed what the device gets, in the same order: the registers, each learned
    sample then its label, learning off (enable = 0), each evaluated sample. Returns the output
    items per sample (CLEAR, then per step the readout values and EOT, as the link returns them)
    and the learner (its network holds the learned parameters)."""
    import copy
    import torch
    from tqdm import tqdm
    from golden_model import CLEAR, EOT, SPIKE, GoldenNetwork
    from golden_model.learning import GoldenLearner
    learner = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(plan.registers))
    items = []
    for i, s in enumerate(tqdm(samples, desc="golden learner", unit="sample", disable=not progress)):
        if i == plan.learn_samples:
            learner.regs.enable = 0
        label = plan.labels[i] if i < plan.learn_samples else None
        out = learner.run_sample(torch.as_tensor(s.spikes, dtype=torch.int64), label=label)
        it = [(CLEAR, 0, 0)]
        for step in out.tolist():
            it += [(SPIKE, j, int(v)) for j, v in enumerate(step)] + [(EOT, 0, 0)]
        items.append(it)
    return items, learner


def learning_report(dep: Deployment, plan: LearningPlan, samples: list[Sample], rep: dict,
                    run: "LinkRun", gold_items, learner) -> dict:
    """Fold the learning run into the report: accuracy over the evaluated samples only (and the
    online accuracy of the learned ones, each predicted before its update), the counters of this
    run, the registers read back, and the comparison with the golden learner item for item and
    in the learned parameters."""
    from .driver import LEARN_REGISTERS, LEARN_STATUS
    lr = run.extra["learning"]
    n = plan.learn_samples
    for i, row in enumerate(rep["samples"]):
        row["phase"] = "learn" if i < n else "eval"
    def acc(rows):
        lab = [r for r in rows if r["label"] is not None]
        return (sum(r["prediction"] == r["label"] for r in lab) / len(lab) if lab else None), len(lab)
    rep["accuracy"], rep["labelled"] = acc(rep["samples"][n:])
    rep["online_accuracy"], _ = acc(rep["samples"][:n])
    items_equal = [[tuple(i) for i in x] for x in run.items] == gold_items
    rep["predictions_equal_golden"] = bool(rep["predictions_equal_golden"] and items_equal)
    before, after = lr["before"], lr["after"]
    counters = {k: after[k] - before[k] for k in LEARN_STATUS}
    records = [tuple(r) for r in lr["records"]]
    image_words = parameter_words(dep.params, records)
    gold_words = parameter_words(learner.net.params, records)
    regs_gold = dict(zip(LEARN_REGISTERS, (v for _, v in learner.regs.words())))
    regs_dev = {k: after[k] for k in LEARN_REGISTERS}
    rep["parameters_equal_golden"] = lr["words"] == gold_words
    rep["learning"] = {
        "source": plan.source, "learn_samples": n, "evaluated_samples": len(samples) - n,
        "counters": counters, "registers": regs_dev,
        "registers_equal_golden": regs_dev == regs_gold,
        "counters_equal_golden": counters["learned"] == learner.learned,
        "parameters_equal_golden": rep["parameters_equal_golden"],
        "state_equal_golden": _state_equal(lr.get("state"), learner),
        "parameters_read": len(records),
        "parameters_changed": sum(a != b for a, b in zip(lr["words"], image_words)),
        "golden_parameters_changed": sum(a != b for a, b in zip(gold_words, image_words)),
        "first_difference": next(({"layer": r[0], "space": r[1], "addr": r[2], "device": a,
                                   "golden": b} for r, a, b in zip(records, lr["words"], gold_words)
                                  if a != b), None),
        "parameters": {"records": [list(r) for r in records], "words": lr["words"]}}
    return rep


def _state_equal(state: dict | None, learner) -> bool | None:
    """The engine's traces, eligibilities and scores read back == the golden learner's."""
    if state is None:
        return None
    snap = learner.snapshot()
    return all(state[k] == snap[k] for k in state)


def label_warning(counters: dict) -> str | None:
    """The loud line for labels the device did not learn from (never a silent no-op)."""
    bad = {k: counters.get(k, 0) for k in ("ignored_labels", "rejected_labels")}
    if not any(bad.values()):
        return None
    return (f"WARNING: the device did not learn from {sum(bad.values())} label(s): "
            f"ignored_labels={bad['ignored_labels']} (learning was off: enable bit 0 clear), "
            f"rejected_labels={bad['rejected_labels']} (class >= n_out)")
