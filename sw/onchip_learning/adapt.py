"""On-chip adaptation of a deployed spoken-digit network to a new speaker (issue 17, sections 3-4).

    delaysnn adapt --speaker nicolas --k 5 [--run build/train/<loso run> | --towers]
        [--preset adapt] [--passes P] [--seed S] [--bptt]
    delaysnn adapt --run build/train/<run> --wav-dir my_words/ [--labels labels.csv] --k 5
    make adapt SPEAKER=nicolas K=5

A network trained without speaker X (task `fsdd-loso`) is deployed with the learning engine
(`delaysnn deploy --learning`, reused when the folder exists); the engine (golden learner = RTL)
then learns from k labelled recordings per digit of X, streamed one at a time as a user speaks
them, the label after each (pair R: readout weights and last-layer delays, registers of the
deployed folder's preset). Speaker X's other recordings (takes 5-49) measure the adaptation, the
other speakers' takes 0-4 the forgetting. The P passes replay the same k*10 recordings (kept in
host memory) in a fresh seeded order each pass.

--run may be a towers folder (`delaysnn loso --ensemble`: two LOSO runs merged into one
network): the engine adapts the merged network as any other; the BPTT reference fine-tunes each
member on its own channels and merges the two (onchip_learning.towers).

With --wav-dir the user's own WAV files are the adaptation set (labels from FSDD-style names
`{digit}_*.wav` or a --labels CSV `file,label`); the first k files of each digit (by name) adapt,
the rest of the folder, if any, is evaluated. A network of FSDD's official split (task `fsdd`,
trained on every speaker's takes 5-49) measures forgetting on the official test set (every
speaker's takes 0-4) and rehearses (--bptt-rehearse) from every speaker's takes 5-49.

Writes build/reports/adapt-<name>.json (accuracy after every labelled sample, before/after,
forgetting, the BPTT reference with --bptt), build/plots/adapt-<name>.png (accuracy vs labelled
samples seen; delays before/after), the adapted image (build/adapt/<name>/image.json) and the
same network as a deploy folder for `delaysnn run --deployed` (build/adapt/<name>/deployed/;
with --bptt also the reference's, bptt-deployed/).

The curve after every sample comes from `FastAdapt`, an exact replica of the golden learner for a
network with one LIF layer (and input delays) learning pair R; the final figures are those of
`GoldenLearner` itself, and the two are compared (`golden_equal` in the report).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from corespec.errors import UserError, run_parsed
from delaysnn.export import export_folder   # a run's export/, or the export folder itself (towers)
from . import towers
# The input delay stage on the host: one definition, shared with deploy and hostlink.
from deploy.derive import delay_input, host_delayed  # noqa: F401 (adapt's names)

REPO = Path(__file__).resolve().parents[2]

K_MAX = 5                       # takes 0-4 adapt, takes 5-49 are the speaker's test set
TEST_TAKES = range(5, 50)
OTHER_TAKES = range(0, 5)


def data_speakers() -> list[str]:
    """The FSDD speakers in the data root, by name (delay_training.loso's list: one source)."""
    from delay_training.loso import available_speakers
    return available_speakers()


class AdaptError(UserError, ValueError):
    """An adaptation request that cannot be carried out: one line naming the input."""


# -- data --------------------------------------------------------------------------------------
@dataclass
class Fold:
    """The spike rasters of one adaptation: what adapts (in take order per digit), the new
    speaker's test recordings and the other speakers' recordings (forgetting)."""
    adapt_x: np.ndarray          # [n, T, n_in] uint8
    adapt_y: np.ndarray
    adapt_names: list
    test_x: np.ndarray
    test_y: np.ndarray
    other_x: np.ndarray
    other_y: np.ndarray
    enrol_paths: tuple = ()      # speaker_norm: the words his reference comes from (the adapting ones)


def check_k(k: int, own_words: bool = False) -> int:
    """K recordings per digit: of an FSDD speaker 1..5 (takes 0-4; his takes 5-49 are his test
    set); of a user's own folder any k >= 1 (the first k per digit adapt, the rest test)."""
    if own_words and int(k) < 1:
        raise AdaptError(f"--k {k}: at least 1 recording per digit (the first k of each digit "
                         f"in --wav-dir adapt, the rest are evaluated)")
    if not own_words and not 1 <= int(k) <= K_MAX:
        raise AdaptError(f"--k {k}: between 1 and {K_MAX} recordings per digit (takes 0..k-1 "
                         f"adapt; takes 5-49 are the speaker's test set)")
    return int(k)


_RECORDINGS: dict = {}           # the last front end's recordings (one entry)


def fsdd_recordings(cochlea, progress: bool = True):
    """Every FSDD recording's spikes, digit, speaker and take `(x, y, speaker, take)` through
    `cochlea`; the last front end's are kept, so a fold and its rehearsal set load them once."""
    from spike_datasets import load_fsdd, DatasetError
    if cochlea not in _RECORDINGS:
        try:
            data = load_fsdd("all", config=cochlea, progress=progress)
        except DatasetError as e:
            raise AdaptError(str(e)) from None
        names = np.array(data.info["speakers"])
        _RECORDINGS.clear()
        _RECORDINGS[cochlea] = (np.asarray(data.spikes), np.asarray(data.labels),
                                names[data.meta["speaker"]], np.asarray(data.meta["index"]))
    return _RECORDINGS[cochlea]


def enrolled_speaker(cochlea, speaker: str, k: int, progress: bool = True):
    """`(x, y, speaker, take)` of one FSDD speaker, like `fsdd_recordings`, but with
    `speaker_norm` his reference taken from his takes 0..k-1 only: a device knows its new user
    by the words he labels for it, not by the ones it is tested on. Also the paths of those
    takes, which `keep_reference` keeps the reference of."""
    from spike_datasets.fsdd import encode_recordings, list_recordings
    recs = [r for r in list_recordings() if r.speaker == speaker]
    enrol = [r.index < k for r in recs]
    data = encode_recordings(recs, cochlea, progress=progress, enrol=enrol)
    return (np.asarray(data.spikes), np.asarray(data.labels), np.array([speaker] * len(recs)),
            np.asarray(data.meta["index"])), tuple(r.path for r, e in zip(recs, enrol) if e)


def fsdd_fold(cochlea, speaker: str, k: int, progress: bool = True) -> Fold:
    """FSDD split for speaker X: takes 0..k-1 adapt, takes 5-49 test, others' takes 0-4. With
    `speaker_norm`, X's reference spectrum comes from his takes 0..k-1 (`enrolled_speaker`)."""
    check_k(k)
    x, y, spk, take = fsdd_recordings(cochlea, progress)
    if speaker not in spk:
        raise AdaptError(f"--speaker {speaker!r}: not an FSDD speaker ({', '.join(np.unique(spk))})")
    enrol = ()
    if cochlea.speaker_norm:
        (x, y, spk, take), enrol = enrolled_speaker(cochlea, speaker, k, progress)
    ad = np.flatnonzero((spk == speaker) & (take < k))
    ad = ad[np.lexsort((take[ad], y[ad]))]                    # digit, then take
    te = np.flatnonzero((spk == speaker) & (take >= TEST_TAKES.start))
    return Fold(x[ad], y[ad], [f"{y[i]}_{speaker}_{take[i]}.wav" for i in ad],
                x[te], y[te], *forgetting_set(cochlea, speaker, progress), enrol_paths=enrol)


def forgetting_set(cochlea, held_out: str | None, progress: bool = True):
    """(x, y) of the recordings that measure forgetting: the training speakers' takes 0-4 (every
    speaker but `held_out`; all five, FSDD's official test set, when `held_out` is None)."""
    x, y, spk, take = fsdd_recordings(cochlea, progress)
    ot = np.flatnonzero(((spk != held_out) if held_out else True) & (take < OTHER_TAKES.stop))
    return x[ot], y[ot]


def wav_labels(folder: Path, labels_csv=None) -> list[tuple[Path, int]]:
    """(path, digit) of every WAV file in `folder`, sorted by name, labelled as `delaysnn eval
    --wav-dir` labels them (hostlink.deployed.labelled_wavs: the CSV `file,label` first, else a
    `{digit}_*.wav` name); here every file needs a digit 0-9. One line for each problem."""
    from hostlink.deployed import RunError, labelled_wavs
    try:
        items = labelled_wavs(folder, labels_csv)
    except RunError as e:
        raise AdaptError(str(e)) from None
    for p, label in items:
        if label is None:
            raise AdaptError(f"{p.name}: no label (name it <digit>_....wav or list it in --labels)")
        if not 0 <= label <= 9:
            raise AdaptError(f"{p.name}: label {label} is not a digit 0-9")
    return items


def check_wav_dir(folder: Path, labels_csv=None) -> None:
    """Every label and every WAV header of a --wav-dir, checked before anything is deployed or
    trained: a bad file is one line and nothing is written."""
    from spike_datasets import DatasetError
    from spike_datasets.cochlea import CochleaConfig
    from spike_datasets.fsdd import read_wav
    for path, _ in wav_labels(Path(folder), labels_csv):
        try:
            read_wav(path, CochleaConfig.sample_rate)   # no front-end option changes the rate
        except DatasetError as e:
            raise AdaptError(str(e)) from None


def first_k_per_digit(labels: list[int], k: int) -> tuple[list[int], list[int]]:
    """Positions of the first k recordings of each digit (adapt) and of the rest (evaluate)."""
    seen, adapt, rest = {}, [], []
    for i, y in enumerate(labels):
        seen[y] = seen.get(y, 0) + 1
        (adapt if seen[y] <= k else rest).append(i)
    return adapt, rest


def short_digits(labels: list[int], k: int) -> dict[int, int]:
    """Digits 0-9 with fewer than k labelled words, and how many each has: a user's folder may
    hold fewer words for some digits; they adapt from what there is, and the run says so."""
    counts = {d: labels.count(d) for d in range(10)}
    return {d: n for d, n in counts.items() if n < k}


def short_digits_note(short: dict[int, int], k: int) -> str:
    listed = ", ".join(f"{d}: {n}" for d, n in short.items())
    return (f"note: fewer than --k {k} labelled words for {len(short)} digit(s) ({listed}); "
            f"each adapts from the words it has")


def wav_fold(cochlea, folder, labels_csv, k: int, other: tuple | None,
             progress: bool = True) -> Fold:
    """A user's folder of WAV files as a fold: the first k per digit adapt, the rest test; the
    FSDD recordings that measure forgetting, `other` (x, y), when there are any. With
    `speaker_norm`, the user's reference spectrum comes from the k per digit he labels."""
    from spike_datasets import DatasetError
    from spike_datasets.fsdd import Recording, encode_recordings
    check_k(k, own_words=True)
    items = wav_labels(Path(folder), labels_csv)
    y = np.array([lab for _, lab in items])
    ad, te = first_k_per_digit(y.tolist(), k)
    enrol = np.isin(np.arange(len(items)), ad)        # speaker_norm: the user's reference from these
    try:
        data = encode_recordings([Recording(p, lab, "user", i) for i, (p, lab) in enumerate(items)],
                                 cochlea, cache=True, progress=progress,
                                 enrol=enrol if cochlea.speaker_norm else None)
    except DatasetError as e:
        raise AdaptError(str(e)) from None
    x = np.asarray(data.spikes)
    empty = x[:0]
    return Fold(x[ad], y[ad], [items[i][0].name for i in ad], x[te], y[te],
                *(other if other is not None else (empty, y[:0])),
                enrol_paths=tuple(items[i][0] for i in ad) if cochlea.speaker_norm else ())


# -- the exact fast replica (one LIF layer, input delays, pair R) -----------------------------
def hidden_spikes(params, x, chunk: int = 250) -> torch.Tensor:
    """Raw spikes of the (only) LIF layer for input rasters x [N, T, n_in]: the input delay stage
    then the layer, exactly as the golden network (pair R never changes them). [N, T, n] bool."""
    from .fast_pair_r import delayed, fast_hidden_spikes
    x = torch.as_tensor(np.asarray(x))
    out = []
    for i in range(0, len(x), chunk):
        xi = x[i:i + chunk].to(torch.int64)
        if params.config.input_delays:
            xi = delayed(xi > 0, params.input_delay.to(torch.int64))
        out.append(fast_hidden_spikes(params, xi))
    return torch.cat(out) if out else torch.zeros(0, x.shape[1], params.config.sizes[0], dtype=torch.bool)


def check_network(params) -> None:
    """The replica covers the networks the LOSO recipe makes: one feed-forward LIF layer."""
    cfg = params.config
    if len(cfg.sizes) != 1 or cfg.recurrent[0] or cfg.leak_mode != "shift":
        raise AdaptError(f"adaptation needs a network with one feed-forward LIF layer and shift "
                         f"leak (the LOSO recipe), got sizes {cfg.sizes}")


def scores(params, s: torch.Tensor) -> torch.Tensor:
    """Summed readout of every sample from its raw hidden spikes, with the current delays."""
    from .fast_pair_r import delayed, readout_scores
    return readout_scores(delayed(s, params.layers[0].delay.to(torch.int64)), params)


def accuracy(params, s: torch.Tensor, y) -> float | None:
    """The manifest's rule (argmax of the summed readout, first on ties)."""
    if len(s) == 0:
        return None
    return float((scores(params, s).argmax(1).numpy() == np.asarray(y)).mean())


def presentation(n: int, passes: int, seed: int) -> list[int]:
    """The order the user's n recordings are spoken and replayed: one seeded permutation a pass,
    as every on-chip learning run presents its samples (online.presentation_order)."""
    from .online import presentation_order
    return list(presentation_order(n, passes, seed))


@dataclass
class Curve:
    """Accuracy after every labelled sample (0 = before adaptation)."""
    seen: list
    speaker: list
    others: list


def adapt_fast(params, regs, s_adapt, y_adapt, order, s_test, y_test, s_other, y_other,
               every: int = 1, progress: bool = True):
    """The engine's adaptation through FastPairR (exact), evaluated every `every` samples.
    Returns the learner (its params are the adapted network) and the curve."""
    from tqdm import tqdm
    from .fast_pair_r import FastPairR
    F = FastPairR(params, regs, s_adapt)
    cur = Curve([0], [accuracy(params, s_test, y_test)], [accuracy(params, s_other, y_other)])
    for n, i in enumerate(tqdm(order, desc="adapt (replica)", unit="sample", disable=not progress), 1):
        F.learn_sample(i, int(y_adapt[i]))
        if n % every == 0 or n == len(order):
            cur.seen.append(n)
            cur.speaker.append(accuracy(F.params, s_test, y_test))
            cur.others.append(accuracy(F.params, s_other, y_other))
    return F, cur


def adapt_golden(params, regs, x_adapt, y_adapt, order, progress: bool = True):
    """The same adaptation on GoldenLearner (= RTL): every labelled sample from a clear state."""
    from tqdm import tqdm
    from golden_model import GoldenNetwork
    from golden_model.learning import GoldenLearner
    G = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(regs))
    for i in tqdm(order, desc="adapt (golden learner)", unit="sample", disable=not progress):
        G.run_sample(torch.as_tensor(np.asarray(x_adapt[i]), dtype=torch.int64), label=int(y_adapt[i]))
    return G


def same_learned(a, b) -> bool:
    """Readout weights and last-layer delays equal (what pair R changes)."""
    return bool(torch.equal(a.layers[-1].weight, b.layers[-1].weight)
                and torch.equal(a.layers[0].delay, b.layers[0].delay))


# -- the offline reference: BPTT of the same parameters on the same samples --------------------
def load_model(run: Path):
    """The run's DelaySNN at its exported (best-validation) epoch, from checkpoint.pt."""
    import json
    from delay_training.model import DelaySNN, ModelConfig
    from delay_training.train import read_checkpoint
    ck = run / "checkpoint.pt"
    if not ck.is_file():
        raise AdaptError(f"{run}: no checkpoint.pt (the BPTT reference needs the training run)")
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    model = DelaySNN(ModelConfig.from_dict(manifest["model_config"]))
    ckpt = read_checkpoint(ck)
    model.load_state_dict((ckpt.get("best") or {}).get("state", ckpt["model"]))
    return model


BPTT_PARAMS = ("pair-r", "all")   # what the BPTT reference may change: what pair R changes, or everything


def bptt_reference(run: Path, x, y, epochs: int = 30, lr: float = 2e-3, lr_delay: float = 0.3,
                   seed: int = 0, progress: bool = True, on_epoch=None, params: str = "pair-r",
                   augment: str = ""):
    """Offline fine-tuning by BPTT (the training's loss and arithmetic), full batch on the
    samples `x, y`; returns the exported parameter image. `params="pair-r"`: the readout weights
    and the last LIF layer's delays only (hidden weights and input delays untouched, as on chip);
    `"all"`: every weight and delay (what an engine that also learned the hidden layer could
    reach). `on_epoch(epoch, model)` sees the model after every epoch (a study's checkpoints).
    `augment` (training's --augment text, delay_training.augment): every epoch sees a fresh
    spike-level transform of the whole batch, drawn from (seed, epoch): k words seen as many."""
    import torch.nn.functional as Fn
    from tqdm import tqdm
    from delay_training.export import to_params
    if params not in BPTT_PARAMS:
        raise AdaptError(f"--bptt-params {params!r}: expected one of {', '.join(BPTT_PARAMS)}")
    transform = bptt_augment(augment)
    torch.manual_seed(seed)
    model = load_model(Path(run))
    for p in model.parameters():
        p.requires_grad_(False)
    if params == "all":
        ws, ds = list(model.weights), [model.input_delay, *model.delays]
        ds = [d for d in ds if d is not None]
    else:
        ws, ds = [model.weights[-1]], [model.delays[-1]]
    for p in ws + ds:
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": ws, "lr": lr}, {"params": ds, "lr": lr_delay}])
    xb = torch.as_tensor(np.asarray(x)).float()
    yb = torch.as_tensor(np.asarray(y)).long()
    model.train()
    for epoch in tqdm(range(1, epochs + 1), desc="BPTT reference", unit="epoch", disable=not progress):
        opt.zero_grad()
        xe = transform(xb, torch.Generator().manual_seed(seed * 100_003 + epoch)) if transform.active else xb
        Fn.cross_entropy(model(xe)["logits"], yb).backward()
        opt.step()
        model.clamp_latents_()
        if on_epoch:
            on_epoch(epoch, model)
    model.eval()
    return to_params(model)


def rehearsal_set(cochlea, held_out: str | None, n: int, seed: int = 0, progress: bool = True):
    """n recordings of the training speakers (every FSDD speaker but `held_out`; all five for a
    network of the official split, `held_out` None), drawn seeded from their takes 5-49: training
    data the network has seen, disjoint from the forgetting set (their takes 0-4).
    Returns (x, y, names)."""
    x, y, spk, take = fsdd_recordings(cochlea, progress)
    pool = np.flatnonzero(((spk != held_out) if held_out else True) & (take >= TEST_TAKES.start))
    if not 0 <= n <= len(pool):
        raise AdaptError(f"--bptt-rehearse {n}: between 0 and {len(pool)} (the training speakers' "
                         f"takes 5-49)")
    pick = np.sort(np.random.default_rng(seed).choice(pool, n, replace=False))
    return x[pick], y[pick], [f"{y[i]}_{spk[i]}_{take[i]}.wav" for i in pick]


# -- time per labelled sample on the board (cycle model) ----------------------------------------
READBACK_CYCLES = 6            # docs/learning.md 6.1: about 6 cycles per core readback


def engine_cycles(cfg, regs) -> dict:
    """The engine's cycles for pair R from docs/learning.md 6.1 (an estimate; the replay measures
    them): STEP reads a delay and a history word per neuron of layer L (+4 cycles of traces and
    eligibilities) and the readout membranes; LEARN is 6 + lr_shift per weight, 6 per word read,
    2 per word written, 6 per delay step, plus the clear sweep."""
    n_L, n_out, P = cfg.sizes[-1], cfg.n_out, cfg.weights_per_word
    words = -(-(n_L * n_out) // P)
    step = n_L * (2 * READBACK_CYCLES + 4) + n_out * READBACK_CYCLES
    learn = (n_L * n_out * (6 + regs.lr_shift_R) + words * (6 + 2) + n_L * 6
             + 4 * (1 << (n_L - 1).bit_length()))
    return {"STEP": step, "LEARN": learn}


def sample_time(params, regs, x, clk_hz: float, baud: int) -> dict:
    """Time of one labelled sample on the board: the core's cycles (golden_model.schedule, the
    cycle model of docs/core.md) + the engine's STEP after every step and one LEARN, at the core
    clock; and the UART time of its event words (3 bytes each, 10 bits a byte, ~8 % framing)."""
    from golden_model import CLEAR, encode_event
    from golden_model.schedule import schedule
    from golden_model.network import GoldenNetwork
    from hostlink.deployed import Sample, event_words
    net_params = for_board(params)
    xs = delay_input(params, np.asarray(x)[None])[0]
    words = [encode_event(CLEAR)] + event_words(Sample("x", None, xs, 0.0))
    sched = schedule(net_params.config, words, GoldenNetwork(net_params).run_stream(words))
    core = sched.step_end_cycles[-1] + 1
    eng = engine_cycles(net_params.config, regs)
    steps = len(sched.step_end_cycles)
    cycles = core + steps * eng["STEP"] + eng["LEARN"]
    uart_s = len(words) * 3 * 10 * 1.08 / baud
    return {"core_cycles": core, "engine_STEP_cycles": eng["STEP"], "engine_LEARN_cycles": eng["LEARN"],
            "steps": steps, "cycles": cycles, "clk_hz": clk_hz, "compute_ms": 1e3 * cycles / clk_hz,
            "event_words": len(words), "uart_ms": 1e3 * uart_s,
            "ms_per_labelled_sample": 1e3 * max(cycles / clk_hz, uart_s)}


def board_time(params, regs, xs, deploy: dict) -> dict:
    """sample_time over a few adaptation samples at the deployed board's clock and baud (the
    iCEBreaker's 24 MHz and 3 Mbaud when the folder has no deploy record)."""
    clk, baud = float(deploy.get("clk_hz", 24e6)), int(deploy.get("baud", 3_000_000))
    rows = [sample_time(params, regs, x, clk, baud) for x in xs]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}
    return {"samples": len(rows), "mean": mean,
            "model": "golden_model.schedule (core) + docs/learning.md 6.1 (engine)"}


# -- the flow: run folder -> deployed folder -> adaptation -> evaluation -> report --------------
DEFAULT_RECIPE = None              # --recipe: None is DEFAULT_TRAINING's run for the speaker
# passes per k with the "adapt" preset: the most passes whose mean forgetting over the five
# seed-0 LOSO folds stays within 2 points (k = 3, 4 interpolated)
DEFAULT_PASSES = {1: 12, 2: 5, 3: 4, 4: 3, 5: 3}


# The offline network `adapt --speaker X` starts from when no --run is given: the best LOSO
# recipe for the iCEBreaker network (docs/results.md, "What lifts it": tilt removal and 200 noisy
# espeak-ng plus 200 noisy flite speakers, two takes of each digit), trained on demand; its run
# folder is the one `delaysnn loso` makes for the same recipe at seed 0, so a LOSO run is reused.
DEFAULT_TRAINING = dict(sizes=(128,), input_delays=True, leak=(3, 4), init_gain=(2.0, 1.0), epochs=20,
                        front_end="tilt_degree=1", tts="voices=200,flite=200,takes=2,snr=10:40")


# `adapt --towers`: the default recipe through two front ends, the two seed-0 networks merged
# (docs/results.md, "Leave one speaker out": the towers network, the best LOSO figure); the
# members are the runs `delaysnn loso` makes for the two recipes, the folder the one `delaysnn loso
# --ensemble fl200-takes2,takes2-spknorm-notilt --name towers-tilt+spknorm` writes for seed 0.
TOWERS_FRONT_ENDS = ("tilt_degree=1", "speaker_norm=1")
TOWERS_NAME = "towers-tilt+spknorm"


def default_config(speaker: str, front_end: str = DEFAULT_TRAINING["front_end"]):
    """The TrainConfig of the default offline network without `speaker` (seed 0); `front_end`
    another front end for the same recipe (a towers member)."""
    from delay_training.train import make_config
    return make_config("fsdd-loso", test_speaker=speaker, seed=0, **dict(DEFAULT_TRAINING, front_end=front_end))


def train_default(speaker: str, progress: bool = True, front_end: str = DEFAULT_TRAINING["front_end"]) -> Path:
    """Train the default recipe without `speaker` (seed 0) when its run is missing: the first
    step of `make adapt` on a fresh machine (5-6 minutes of training on two cores, measured,
    after the 8,000 synthetic recordings are made once)."""
    from delay_training.train import train
    cfg = default_config(speaker, front_end)
    if not (Path(cfg.out) / "export" / "manifest.json").is_file():
        from spike_datasets.tts import missing_engines, parse_tts
        missing = missing_engines(parse_tts(cfg.tts))
        if missing:
            raise AdaptError("the default offline network is trained with synthetic speakers, "
                             f"which need {' and '.join(missing)}: run `make install` (or `apt-get "
                             f"install {' '.join(missing)}`), or give --run / --recipe")
        print(f"adapt: no offline network without {speaker} yet; training {cfg.name} "
              f"({cfg.epochs} epochs, build/train/{cfg.name})", flush=True)
        train(cfg, resume=True, progress=progress)
    return Path(cfg.out)


def towers_default(speaker: str, progress: bool = True) -> Path:
    """The towers network without `speaker` (`adapt --towers`): both members trained when missing
    (twice train_default's time on a fresh machine), merged into
    build/towers/towers-tilt+spknorm/towers-tilt+spknorm-<speaker>-s0 unless that folder already
    holds these two runs."""
    from delay_training.towers import write_towers
    runs = [train_default(speaker, progress, front_end).resolve() for front_end in TOWERS_FRONT_ENDS]
    out = REPO / "build" / "towers" / TOWERS_NAME / f"{TOWERS_NAME}-{speaker}-s0"
    if [m.resolve() for m in towers.members(out, must_exist=False) or []] != runs:
        print(f"adapt: merging {runs[0].name} and {runs[1].name} into {out}", flush=True)
        write_towers(runs[0] / "export", runs[1] / "export", out)
    return out


def run_folder(args) -> Path:
    """--run (a training run, its export, or a towers folder), else the recipe's seed-0 LOSO run
    for --speaker (trained first if it is the default recipe and missing)."""
    if args.run is not None and getattr(args, "towers", False):
        raise AdaptError("--towers and --run: give one (--run may itself be a towers folder)")
    if args.run is not None:
        run = Path(args.run)
    elif getattr(args, "towers", False):
        if args.recipe:
            raise AdaptError("--towers and --recipe: give one (--towers is the default recipe "
                             "through two front ends, merged)")
        if not args.speaker or args.speaker not in data_speakers():
            raise AdaptError(f"--towers: needs --speaker, one of {', '.join(data_speakers())}")
        run = towers_default(args.speaker)
    elif args.speaker and args.recipe:
        try:
            run = REPO / "build" / "train" / args.recipe.format(speaker=args.speaker)
        except (KeyError, IndexError, ValueError):
            raise AdaptError(f"--recipe {args.recipe!r}: expected a run name, with {{speaker}} "
                             "where the speaker goes") from None
    elif args.speaker:
        if args.speaker not in data_speakers():
            raise AdaptError(f"--speaker {args.speaker}: expected one of {', '.join(data_speakers())} "
                             "(or give --run)")
        run = train_default(args.speaker)
    else:
        raise AdaptError("give --run (a LOSO training run or its export) or --speaker")
    run = run.parent if run.name == "export" else run
    if not (run / "export" / "manifest.json").is_file() and not towers.is_towers(run):
        raise AdaptError(f"{run}: no export/manifest.json (expected a training run folder, e.g. "
                         f"`delaysnn train --task fsdd-loso --test-speaker X`, or a towers folder "
                         f"of `delaysnn loso --ensemble`)")
    return run


def deployed_folder(run: Path, board: str, deployed: Path | None) -> Path:
    """The deployed folder with the engine: --deployed, or build/deploy/<run>-<board> (with
    `-hostdelays` for a network with the input delay stage, whose delays the host applies:
    `delaysnn deploy --host-input-delays`), reused when it holds this run's network (two runs
    in different places may share a folder name), else made now without a bitstream (the fit
    check takes seconds)."""
    import json
    from deploy.derive import learning_obstacle
    from hostlink.deployed import load_deployment
    if deployed is not None:
        return Path(deployed)
    export = load_deployment(export_folder(run))
    host = learning_obstacle(export.config) is not None
    out = REPO / "build" / "deploy" / (f"{run.name}-{board}" + ("-hostdelays" if host else ""))
    if (out / "deploy.json").is_file() and (out / "learning.json").is_file():
        if json.loads((out / "deploy.json").read_text()).get("export_sha256") == export.manifest.get("sha256"):
            return out
    from deploy.cli import deploy, parse_args
    deploy(parse_args([str(run), "--board", board, "--learning", "--no-bitstream"]
                      + (["--host-input-delays"] if host else [])))
    return out


def for_board(params):
    """The network as the board with the engine holds it: no input delay stage (`host_delayed`),
    the board's weight packing (deploy.derive.board_config, one lane)."""
    from deploy.derive import board_config, repack
    p = host_delayed(params)
    return repack(p, board_config(p.config, 1))


def registers(dep, name: str):
    """The preset the deployed folder carries; the kit's when its learning.json predates it."""
    from golden_model.learning import LearnRegisters
    from hostlink.deployed import check_learning_engine, learning_presets, learning_registers
    from .presets import PRESETS
    check_learning_engine(dep)
    if name in learning_presets(dep) or name.endswith(".json"):
        return LearnRegisters(**learning_registers(dep, name)), str(dep.folder / "learning.json")
    if name in PRESETS:
        return (LearnRegisters(**PRESETS[name]),
                "onchip_learning.presets (the folder's learning.json predates it)")
    raise AdaptError(f"--preset {name!r}: not in {dep.folder / 'learning.json'} nor the kit's "
                     f"presets ({', '.join(PRESETS)})")


def bptt_augment(text: str):
    """--bptt-augment as a delay_training.augment.Augment; a wrong spec is an AdaptError naming
    the option."""
    from delay_training.augment import Augment, AugmentError
    try:
        return Augment.parse(text)
    except AugmentError as e:
        raise AdaptError(str(e).replace("--augment", "--bptt-augment")) from None


def augment_text(args) -> str:
    """--bptt-augment in canonical form (`drop=0.10` and `drop=0.1` are one setting)."""
    return bptt_augment(args.bptt_augment).text


def report_name(args, run: Path | None = None) -> str:
    """--name, else what the run was asked; a towers network `run` adds its folder's name (the
    towers and the seed), so it takes neither the single network's folder nor another towers'."""
    if args.name:
        return args.name
    who = args.speaker or Path(args.wav_dir).name
    name = f"{who}-k{args.k}-p{args.passes}-s{args.seed}"
    if run is not None and towers.is_towers(run):
        name = f"{run.name}-{name}"
    if args.bptt:        # the reference's settings too: another reference keeps its own folder
        name += (f"-bptt{'-all' if args.bptt_params == 'all' else ''}"
                 f"{f'-r{args.bptt_rehearse}' if args.bptt_rehearse else ''}-e{args.bptt_epochs}"
                 f"{'-aug' + augment_text(args).replace('=', '').replace(',', '.') if args.bptt_augment else ''}")
    return name


def delays_of(params) -> list[int]:
    return [int(d) for d in params.layers[0].delay.tolist()]


def write_deployed(dep, params, folder: Path, adapted: dict) -> Path:
    """`params` (an adapted network, input delays and all) as a deploy folder beside the one it
    came from, so that `delaysnn run --deployed <folder>` runs it on the same board: the same
    bitstream, front end and learning registers; the new image, without the input delay stage
    when the host applies the delays (deploy.json host_input_delays: the adapted ones); the
    deploy record naming the new image and where it came from (`adapted`)."""
    import hashlib
    import json
    import shutil
    from corespec.files import atomic_write_json
    from deploy.derive import repack
    from hostlink.image import save_image
    hosted = dep.host_input_delays is not None
    image = repack(host_delayed(params) if hosted else params, dep.config)
    if image.config != dep.config:
        raise AdaptError(f"{dep.folder}: the adapted network does not fit this deployment's "
                         f"configuration")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for f in dep.folder.iterdir():
        if f.name in ("image.json", "deploy.json"):
            continue
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, folder / f.name)
    save_image(folder / "image.json", image)
    record = dict(dep.deploy, image="image.json",
                  image_sha256=hashlib.sha256((folder / "image.json").read_bytes()).hexdigest(),
                  adapted=dict(adapted, deployed_from=str(dep.folder)))
    if hosted:
        record["host_input_delays"] = [int(d) for d in params.input_delay.tolist()]
    atomic_write_json(folder / "deploy.json", record)
    return folder


def keep_reference(dep, paths, folders) -> str | None:
    """With speaker_norm, the speaker's reference from the words he adapted with, kept in each
    adapted deploy folder (hostlink.speaker_reference), so that `delaysnn eval|run --deployed
    <folder> --wav-dir <his other words>` hears them as this adaptation's evaluation did."""
    from hostlink import speaker_reference
    from hostlink.deployed import front_end
    if not paths:
        return None
    record = speaker_reference.enrol(front_end(dep), paths)
    for folder in folders:
        speaker_reference.write(record, Path(folder) / speaker_reference.FILE_NAME)
    return str(Path(folders[0]) / speaker_reference.FILE_NAME)


def adapted_image(params, learned):
    """`params` (input delays and all) with the readout weights and last-layer delays learned."""
    out = copy.deepcopy(params)
    out.layers[-1].weight = learned.layers[-1].weight.clone()
    out.layers[0].delay = learned.layers[0].delay.clone()
    return out


def golden_check(G, F, params_eval, s_test, x_test, n: int = 20) -> bool:
    """The golden learner ended where the replica did, and the golden network on the adapted
    image predicts as the replica on the first n test samples (x_test as the host sends it)."""
    from golden_model import GoldenNetwork
    if not same_learned(G.net.params, F.params) or G.regs.lfsr != F.regs.lfsr or not n:
        return same_learned(G.net.params, F.params) and G.regs.lfsr == F.regs.lfsr
    out = GoldenNetwork(copy.deepcopy(G.net.params)).run(torch.as_tensor(x_test[:n]).to(torch.int64))
    gold = out["readout"].sum(1).argmax(1)
    return bool(torch.equal(gold, scores(params_eval, s_test[:n]).argmax(1)))


def bptt_figures(run: Path, fold: Fold, params, s_test, s_other, args, rehearsal=None,
                 image: Path | None = None) -> dict:
    """The offline reference on the same k*10 samples (`--bptt-params`: pair R's parameters, or
    every parameter), with the `rehearsal` recordings (x, y, names) in the batch; its network
    is saved as `image` (a whole image a board can load: `delaysnn run --image`). For a towers
    folder each member is fine-tuned on its channels and the two merged (onchip_learning.towers)."""
    x, y, rehearsed = fold.adapt_x, fold.adapt_y, []
    if rehearsal is not None:
        xr, yr, rehearsed = rehearsal
        x, y = np.concatenate([x, xr]), np.concatenate([y, yr])
    options = dict(epochs=args.bptt_epochs, lr=args.bptt_lr, seed=args.seed, params=args.bptt_params,
                   augment=args.bptt_augment)
    runs = towers.members(run)
    Q = (bptt_reference(run, x, y, **options) if runs is None
         else towers.reference(runs, x, y, bptt_reference, **options))
    if image is not None:
        from hostlink.image import save_image
        save_image(image, Q)
    if args.bptt_params != "pair-r":          # the hidden layer changed: its spikes too
        s_test, s_other = hidden_spikes(Q, fold.test_x), hidden_spikes(Q, fold.other_x)
    rep = {"params": args.bptt_params, "epochs": args.bptt_epochs, "lr": args.bptt_lr,
           "lr_delay": 0.3, "batch": "full", "augment": augment_text(args) or None,
           "rehearse": len(rehearsed), "rehearsed": rehearsed,
           "speaker_accuracy": accuracy(Q, s_test, fold.test_y),
           "others_accuracy": accuracy(Q, s_other, fold.other_y),
           "delays_changed": int((Q.layers[0].delay != params.layers[0].delay).sum()),
           "readout_weights_changed": int((Q.layers[-1].weight != params.layers[-1].weight).sum()),
           "image": str(image) if image is not None else None,
           "towers_members": None if runs is None else [str(r) for r in runs]}
    if args.bptt_params != "pair-r":
        rep["hidden_weights_changed"] = int((Q.layers[0].weight != params.layers[0].weight).sum())
        if params.config.input_delays:
            rep["input_delays_changed"] = int((Q.input_delay != params.input_delay).sum())
    return rep


def bptt_label(ref: dict) -> str:
    """'BPTT ref', with what it changed and rehearsed when that is not pair R alone."""
    parts = ([] if ref["params"] == "pair-r" else [ref["params"]]) + (
        [f"{ref['rehearse']} rehearsed"] if ref["rehearse"] else [])
    return "BPTT ref" + (f" ({', '.join(parts)})" if parts else "")


def plot(path: Path, cur: Curve, before, after, rep: dict) -> None:
    """Accuracy vs labelled samples seen (speaker, others, BPTT); delays before/after."""
    import io
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from corespec.files import atomic_write_bytes
    fig = Figure(figsize=(11, 4))
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    if cur.speaker[0] is not None:
        a.plot(cur.seen, [100 * v for v in cur.speaker], label="new speaker (on chip)")
    if cur.others[0] is not None:
        a.plot(cur.seen, [100 * v for v in cur.others], label="other speakers (forgetting)")
    ref = rep.get("bptt")
    if ref:
        what = bptt_label(ref)
        if ref["speaker_accuracy"] is not None:
            a.axhline(100 * ref["speaker_accuracy"], ls="--", c="C0", lw=0.8, label=f"{what}, new speaker")
        if ref["others_accuracy"] is not None:
            a.axhline(100 * ref["others_accuracy"], ls="--", c="C1", lw=0.8, label=f"{what}, others")
    a.set(xlabel="labelled samples seen", ylabel="accuracy (%)", ylim=(0, 100),
          title=f"{rep['name']}: k={rep['k']}, {rep['passes']} pass(es)")
    if cur.speaker[0] is None:
        a.text(0.5, 0.5, "every word adapted:\nnone left to evaluate", ha="center",
               transform=a.transAxes)
    if a.get_legend_handles_labels()[0]:
        a.legend(fontsize=7)
    bins = np.arange(max(before + after) + 2) - 0.5
    b.hist([before, after], bins=bins, label=["before", "after"])
    b.set(xlabel="delay of the hidden neurons (steps)", ylabel="neurons",
          title=f"last-layer delays: {sum(x != y for x, y in zip(before, after))} changed")
    b.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())


@dataclass
class Setup:
    """Everything one adaptation needs, settled before it starts."""
    run: Path
    dep: object                  # hostlink.deployed.Deployment (with the learning engine)
    params: object               # the network as trained (with its input delay stage, if any)
    regs: object                 # LearnRegisters
    regs_source: str
    fold: Fold
    order: list
    rehearsal: tuple | None      # (x, y, names) the BPTT reference rehearses (--bptt-rehearse)


def prepare(args, progress: bool = True) -> Setup:
    """Check the request, deploy (or reuse), read the preset and the recordings."""
    from hostlink.deployed import front_end, load_deployment
    check_k(args.k, own_words=args.wav_dir is not None)
    if args.passes is None:
        args.passes = DEFAULT_PASSES.get(args.k, DEFAULT_PASSES[K_MAX])
    if args.passes < 1:
        raise AdaptError(f"--passes {args.passes}: at least 1")
    if args.speaker and not args.wav_dir and args.speaker not in (known := data_speakers()):
        raise AdaptError(f"--speaker {args.speaker!r}: not an FSDD speaker ({', '.join(known)})")
    if args.wav_dir is None and not args.speaker:
        raise AdaptError("give --speaker (FSDD) or --wav-dir (your own recordings)")
    if args.bptt_rehearse and not args.bptt:
        raise AdaptError("--bptt-rehearse: only for the BPTT reference (add --bptt)")
    if args.bptt_params != "pair-r" and not args.bptt:
        raise AdaptError(f"--bptt-params {args.bptt_params}: only for the BPTT reference (add --bptt)")
    if args.bptt_augment:
        if not args.bptt:
            raise AdaptError(f"--bptt-augment {args.bptt_augment}: only for the BPTT reference (add --bptt)")
        bptt_augment(args.bptt_augment)           # a wrong spec stops here, before anything runs
    if args.bptt_rehearse < 0:
        raise AdaptError(f"--bptt-rehearse {args.bptt_rehearse}: at least 0")
    if args.wav_dir is not None:
        check_wav_dir(args.wav_dir, args.labels)    # a missing folder, a label, a WAV header
    run = run_folder(args)
    dep = load_deployment(deployed_folder(run, args.board, args.deployed))
    # a -hostdelays folder holds the network without its input delay stage; the replica and the
    # reference run the network as trained, and the golden learner gets the host-delayed spikes
    params = load_deployment(export_folder(run)).params if dep.host_input_delays is not None else dep.params
    check_network(params)
    regs, source = registers(dep, args.preset)
    cochlea = front_end(dep)
    # a network of FSDD's official split learned every speaker's takes 5-49: its forgetting set
    # is the official test set (every speaker's takes 0-4) and it rehearses from all five
    official = dep.manifest.get("task") == "fsdd"
    if args.wav_dir is not None:
        held = dep.manifest.get("test_speaker") or _run_speaker(run)
        other = None
        if held or official:
            try:
                other = forgetting_set(cochlea, held, progress)
            except AdaptError:              # no FSDD data root: no forgetting figure, unless needed
                if held or args.bptt_rehearse:
                    raise
        fold = wav_fold(cochlea, args.wav_dir, args.labels, args.k, other, progress)
    else:
        held, fold = args.speaker, fsdd_fold(cochlea, args.speaker, args.k, progress)
        trained_without = dep.manifest.get("test_speaker") or _run_speaker(run)
        if args.bptt_rehearse and trained_without not in (None, held):
            raise AdaptError(f"--bptt-rehearse: {run.name} was trained without {trained_without}, "
                             f"not {held}, so its training speakers include {held}")
    rehearsal = None
    if args.bptt_rehearse:                    # settled before anything runs
        if held is None and not official:
            raise AdaptError("--bptt-rehearse: the run's held-out speaker is unknown (no "
                             "loso-result.json), so its training speakers are too")
        rehearsal = rehearsal_set(cochlea, held, args.bptt_rehearse, args.seed, progress=False)
    return Setup(run, dep, params, regs, source, fold,
                 presentation(len(fold.adapt_y), args.passes, args.seed), rehearsal)


def kit_registers(name: str):
    """A preset of the kit (no deployed folder with the engine to carry it)."""
    from golden_model.learning import LearnRegisters
    from .presets import PRESETS
    if name not in PRESETS:
        raise AdaptError(f"--preset {name!r}: not one of the kit's presets ({', '.join(PRESETS)})")
    return LearnRegisters(**PRESETS[name]), "onchip_learning.presets"


def _run_speaker(run: Path) -> str | None:
    """The held-out speaker of a LOSO run (loso-result.json), for the forgetting set; of a towers
    folder, its members' (the same for both)."""
    import json
    if (runs := towers.members(run, must_exist=False)) is not None:
        present = [r for r in runs if (r / "loso-result.json").is_file()]
        return towers.held_out_speaker(present, _run_speaker) if len(present) == len(runs) else None
    f = run / "loso-result.json"
    return json.loads(f.read_text())["identity"].get("test_speaker") if f.is_file() else None


def adapt(args, progress: bool = True) -> dict:
    """One fold end to end; returns the report (also written, with the plot and the image)."""
    from corespec.files import atomic_write_json
    from hostlink.image import save_image
    S = prepare(args, progress)
    P, f = S.params, S.fold
    s_ad, s_te, s_ot = (hidden_spikes(P, x) for x in (f.adapt_x, f.test_x, f.other_x))
    F, cur = adapt_fast(P, S.regs, s_ad, f.adapt_y, S.order, s_te, f.test_y, s_ot, f.other_y,
                        args.every, progress)
    G = adapt_golden(host_delayed(P), S.regs, delay_input(P, f.adapt_x), f.adapt_y, S.order, progress)
    name = report_name(args, S.run)
    out = REPO / "build" / "adapt" / name
    adapted = adapted_image(P, G.net.params)
    save_image(out / "image.json", adapted)
    deployed = write_deployed(S.dep, adapted, out / "deployed",
                              {"by": "the learning engine (golden learner)", "name": name})
    rep = {"name": name, "run": str(S.run), "deployed": str(S.dep.folder),
           "host_input_delays": S.dep.host_input_delays is not None,
           "input_delays": ("applied by the host (the core with the engine is built without the "
                            "input delay stage)" if P.config.input_delays else None),
           "speaker": args.speaker, "wav_dir": str(args.wav_dir) if args.wav_dir else None,
           "k": args.k, "passes": args.passes, "seed": args.seed, "preset": args.preset,
           "registers_from": S.regs_source, "registers": dataclasses.asdict(S.regs),
           "adapt_samples": [f.adapt_names[i] for i in S.order],
           "adapt_labels": [int(f.adapt_y[i]) for i in S.order],
           "short_digits": ({str(d): n for d, n in short_digits(f.adapt_y.tolist(), args.k).items()}
                            if args.wav_dir else {}),
           "test_samples": len(f.test_y), "other_samples": len(f.other_y),
           "speaker_accuracy": {"before": cur.speaker[0], "after": cur.speaker[-1]},
           "others_accuracy": {"before": cur.others[0], "after": cur.others[-1]},
           "forgetting_points": (None if cur.others[0] is None else 100 * (cur.others[0] - cur.others[-1])),
           "curve": {"seen": cur.seen, "speaker": cur.speaker, "others": cur.others},
           "golden_equal": golden_check(G, F, F.params, s_te, delay_input(P, f.test_x[:20]),
                                         n=20 if progress else 5),
           "learned": G.learned,
           "hinge_fired": F.hinge_fired,
           "delays_changed": int((G.net.params.layers[0].delay != P.layers[0].delay).sum()),
           "readout_weights_changed": int((G.net.params.layers[-1].weight != P.layers[-1].weight).sum()),
           "adapted_image": str(out / "image.json"), "adapted_deployed": str(deployed),
           "selection": SELECTION_NOTE}
    rep["board_time"] = board_time(P, S.regs, f.adapt_x[:3], S.dep.deploy)
    if args.bptt:
        rep["bptt"] = bptt_figures(S.run, f, P, s_te, s_ot, args, S.rehearsal,
                                   out / "bptt-image.json")
        from hostlink.image import read_image
        rep["bptt"]["deployed"] = str(write_deployed(
            S.dep, read_image(out / "bptt-image.json")[2], out / "bptt-deployed",
            {"by": f"the BPTT reference ({args.bptt_params}) on the host", "name": name}))
    rep["speaker_reference"] = keep_reference(S.dep, f.enrol_paths,
                                              [deployed] + ([Path(rep["bptt"]["deployed"])] if args.bptt else []))
    report = REPO / "build" / "reports" / f"adapt-{name}.json"
    rep["report"] = str(report)
    rep["plot"] = None if args.no_plot else str(REPO / "build" / "plots" / f"adapt-{name}.png")
    if not args.no_plot:
        plot(Path(rep["plot"]), cur, delays_of(P), delays_of(G.net.params), rep)
    atomic_write_json(report, rep)
    return rep


SELECTION_NOTE = ("registers chosen leave-one-fold-out: for each fold the configuration best on the "
                  "other four folds' speaker test takes (never this speaker's test takes)")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn adapt` (and `python -m onchip_learning.adapt`)."""
    ap.add_argument("--speaker", default=None, help="the new speaker: an FSDD speaker held out of the run's training, e.g. george")
    ap.add_argument("--run", type=Path, default=None,
                    help="training run folder trained without the speaker (or its export/, or a "
                         "towers folder of delaysnn loso --ensemble); "
                         "default: --recipe's run, else the best LOSO recipe's seed-0 run "
                         "without the speaker (trained first if missing)")
    ap.add_argument("--recipe", default=DEFAULT_RECIPE,
                    help="run name of the default --run, {speaker} for the speaker, e.g. "
                         "fsdd-loso-e20-h128-leak3.4-gain2.1-spk{speaker}-in (the demo recipe)")
    ap.add_argument("--towers", action="store_true",
                    help="without --run: start from the towers network (the default recipe through "
                         "the tilt-removed and the speaker-normalised front ends, the two seed-0 "
                         "networks merged; both trained first if missing)")
    ap.add_argument("--k", type=int, default=5, help=f"labelled recordings per digit (FSDD: 1..{K_MAX}; --wav-dir: 1 or more)")
    ap.add_argument("--preset", default="adapt",
                    help="learning preset of the deployed folder (or a registers .json)")
    ap.add_argument("--passes", type=int, default=None,
                    help="passes over the k*10 recordings (replayed from host memory); default "
                         f"per k {DEFAULT_PASSES}, {DEFAULT_PASSES[K_MAX]} past {K_MAX}")
    ap.add_argument("--seed", type=int, default=0, help="order in which the recordings are spoken")
    ap.add_argument("--wav-dir", type=Path, default=None,
                    help="your own recordings: first k per digit adapt, the rest is evaluated")
    ap.add_argument("--labels", type=Path, default=None, help="CSV file,label for --wav-dir")
    ap.add_argument("--deployed", type=Path, default=None,
                    help="deployed folder (default: build/deploy/<run>-<board>, deployed if missing)")
    ap.add_argument("--board", default="icebreaker", choices=("icebreaker", "ulx3s"),
                    help="board whose deployed folder (and clock, for the time per sample) is used")
    ap.add_argument("--every", type=int, default=1, help="evaluate after every N labelled samples")
    ap.add_argument("--bptt", action="store_true", help="also the offline BPTT reference")
    ap.add_argument("--bptt-epochs", type=int, default=3,
                    help="full-batch epochs (3 at 2e-3: chosen on the five folds within 2 points "
                         "of forgetting)")
    ap.add_argument("--bptt-lr", type=float, default=2e-3, help="Adam learning rate of the BPTT reference")
    ap.add_argument("--bptt-params", default="pair-r", choices=BPTT_PARAMS,
                    help="what the BPTT reference changes: pair R's parameters (readout weights, "
                         "hidden delays; as on chip), or all (every weight and delay: what an "
                         "engine that learned the hidden layer too could reach)")
    ap.add_argument("--bptt-rehearse", type=int, default=0, metavar="N",
                    help="add N recordings of the training speakers (their takes 5-49, seeded) to "
                         "the BPTT reference's batch, against forgetting (default 0)")
    ap.add_argument("--bptt-augment", default="", metavar="SPEC",
                    help="spike-level augmentation of the BPTT reference's batch, a fresh draw "
                         "every epoch, as training's --augment: shift=C,stretch=F,time=S,mask=W,"
                         "drop=P (default: none)")
    ap.add_argument("--name", default=None, help="report name (adapt-<name>.json); None: "
                    "[<towers folder>-]<speaker or folder>-k<K>-p<passes>-s<seed>, with --bptt also "
                    "-bptt[-all][-r<N>]-e<epochs>[-aug<spec>]")
    ap.add_argument("--no-plot", action="store_true", help="no build/plots/adapt-<name>.png")


def run(args) -> int:
    torch.set_num_threads(1)
    rep = adapt(args)
    sa, oa = rep["speaker_accuracy"], rep["others_accuracy"]
    if sa["before"] is None:     # a folder of k words per digit: every one of them adapted
        line = (f"speaker: not measured (all {len(set(rep['adapt_samples']))} words adapted, none left to "
                f"evaluate: record more than --k {rep['k']} per digit to measure)")
    else:
        line = f"speaker {100 * sa['before']:.1f} -> {100 * sa['after']:.1f} %"
    if oa["before"] is not None:
        line += f"; other speakers {100 * oa['before']:.1f} -> {100 * oa['after']:.1f} %"
    if "bptt" in rep and rep["bptt"]["speaker_accuracy"] is not None:
        line += f"; BPTT reference {100 * rep['bptt']['speaker_accuracy']:.1f} %"
    print(f"adapt {rep['name']}: {line}; golden learner = replica: {rep['golden_equal']}")
    if rep.get("short_digits"):
        print(short_digits_note({int(d): n for d, n in rep["short_digits"].items()}, rep["k"]))
    from golden_model.learning import LEARN_ON, LEARN_W_R, LEARN_D_R
    enable = rep["registers"]["enable"]
    if rep["hinge_fired"] == 0 and enable & LEARN_ON and enable & (LEARN_W_R | LEARN_D_R):
        print(f"nothing to learn: every one of the {rep['learned']} labelled presentations was right "
              f"by at least the margin ({rep['registers']['margin']}); the rule learns from errors "
              f"and near misses only, so the network is unchanged")
    print(f"report {rep['report']}" + (f", plot {rep['plot']}" if rep["plot"] else "")
          + f", image {rep['adapted_image']}"
          + (f", BPTT reference image {rep['bptt']['image']}" if "bptt" in rep else ""))
    print(f"to run the adapted network: delaysnn run --deployed {rep['adapted_deployed']} "
          f"--port PORT --wav-dir DIR" + (f" (the BPTT reference's: --deployed "
                                           f"{rep['bptt']['deployed']})" if "bptt" in rep else ""))
    return 0 if rep["golden_equal"] else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onchip_learning.adapt", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run_parsed(ap, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
