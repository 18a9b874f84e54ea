"""Leave one speaker out on spoken digits: the honest figure for a device that meets new voices.

    delaysnn loso [--seeds 0,1,2] [--speakers all] [--workers 2] [--official] [--name NAME]
        [--resume] [training options of delaysnn train: --sizes, --wbits, --dbits, --leak, ...]
    make loso LOSO_ARGS="..."

One network per (held-out speaker, seed), each an ordinary training run of task `fsdd-loso`
(build/train/<run>/, deployable like any other): trained on the other four speakers' takes 5-49,
its epoch selected on their takes 0-4 (validation), tested once on all 500 recordings of the held-out
speaker. Nothing is ever selected on the held-out speaker. `--official` also trains the same
recipe on FSDD's official split (task `fsdd`, the same seeds) as a second figure.

Writes build/reports/loso-<name>.json (per fold and seed: test accuracy on the held-out speaker,
per-digit accuracy, validation accuracy, selected epoch; per fold the mean over seeds; the mean
and standard deviation over folds; the network's memory bits; the official figure) and
build/plots/loso-<name>.png (per-fold bars with the seeds' spread, and a fold x digit accuracy
map). `--resume` reuses finished runs (build/train/<run>/loso-result.json with the same
settings) and continues unfinished ones from their epoch checkpoints.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from corespec.errors import UserError, run_parsed

REPO = Path(__file__).resolve().parents[2]
TASK, OFFICIAL_TASK = "fsdd-loso", "fsdd"
RESULT_FILE = "loso-result.json"
N_DIGITS = 10
# train's options that LOSO sets itself per run (or that make no sense for a set of runs)
NOT_FROM_TRAIN = ("task", "seed", "resume", "out", "name", "report", "test_speaker", "tonic_root",
                  "throttle", "quiet")
PROTOCOL = ("leave one speaker out: train on the other 4 speakers' takes 5-49, select the epoch on "
            "their takes 0-4 (validation), test on all recordings of the held-out speaker")
SELECTION = "per run: highest validation accuracy (4 training speakers only); held-out speaker never used"


class LosoError(UserError, ValueError):
    """A LOSO request that cannot be carried out (an unknown speaker, no seeds)."""


# --------------------------------------------------------------------------------------------
# What to run


def seeds_list(text: str) -> tuple[int, ...]:
    """--seeds: distinct whole numbers, comma-separated (argparse type: its error is one line)."""
    try:
        seeds = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected whole numbers, comma-separated "
                                         "(e.g. 0,1,2)") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected at least one seed, none twice")
    return seeds


def available_speakers() -> list[str]:
    """The speakers of the FSDD recordings in the data root, by name (a missing data root is the
    data set's own one-line error)."""
    from .data import fsdd_speakers
    return fsdd_speakers()


def choose_speakers(text: str, available: list[str]) -> list[str]:
    """The folds to run: `all`, or a comma-separated subset of the data's speakers (in the given
    order); an unknown or repeated name is a LosoError naming it."""
    if text.strip() == "all":
        return list(available)
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in available]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        what = f"unknown speaker {unknown[0]!r}" if unknown else "no speaker, or one twice"
        raise LosoError(f"--speakers {text}: {what}; expected 'all' or a comma-separated list of "
                        f"{', '.join(available)}")
    return chosen


def recipe_name(recipe: dict) -> str:
    """The report's name: the options in which the recipe differs from the task's defaults, as
    train names its runs (`e20-h128-leak3.4-gain2.1-in`); `default` for the defaults."""
    from .train import make_config
    base = make_config(TASK, **recipe).name
    return base[len(TASK) + 1:] or "default"


def run_spec(task: str, recipe: dict, seed: int, speaker: str | None, train_dir: Path | None,
             reports_dir: Path | None, resume: bool) -> dict:
    """One training run as a worker gets it: task, overrides (the recipe, seed, held-out speaker
    and where it writes), resume. Building the config here refuses an impossible recipe before
    anything runs."""
    from .train import TrainError, make_config
    kw = dict(recipe, seed=seed, test_speaker=speaker)
    try:
        name = make_config(task, **kw).name
    except ValueError as e:          # e.g. --learn-leak with the shift leak (train's own message)
        raise TrainError(str(e)) from None
    if train_dir is not None:
        kw["out"] = str(Path(train_dir) / name)
    if reports_dir is not None:
        kw["report"] = str(Path(reports_dir) / f"train-{name}.json")
    return {"task": task, "protocol": "speaker" if task == TASK else "official",
            "speaker": speaker, "seed": seed, "overrides": kw, "resume": resume}


def plan(recipe: dict, speakers: list[str], seeds, official: bool, train_dir: Path | None = None,
         reports_dir: Path | None = None, resume: bool = False) -> list[dict]:
    """Every run: fold by fold, seed by seed; then the official split's runs (one per seed)."""
    runs = [run_spec(TASK, recipe, seed, spk, train_dir, reports_dir, resume)
            for spk in speakers for seed in seeds]
    if official:
        runs += [run_spec(OFFICIAL_TASK, recipe, seed, None, train_dir, reports_dir, resume)
                 for seed in seeds]
    return runs


# --------------------------------------------------------------------------------------------
# One run (in a worker process)


def per_digit_accuracy(labels, preds, n_classes: int = N_DIGITS) -> list[float | None]:
    """Accuracy on each digit's recordings; None for a digit the set has none of (an average over
    no samples is not 0 %)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    accs = []
    for digit in range(n_classes):
        mine = labels == digit
        accs.append(float((preds[mine] == digit).mean()) if mine.any() else None)
    return accs


def split_speakers(dataset) -> list[str]:
    """The speakers whose recordings a split holds (FSDD's meta['speaker'] indexes
    info['speakers'])."""
    names = dataset.info["speakers"]
    return sorted({names[int(i)] for i in dataset.meta["speaker"].unique()})


def check_held_out(spec: dict, speakers: dict) -> None:
    """Guard of the protocol: the held-out speaker is the whole test set and in neither training
    nor validation. A violation is a bug in the split, never a result to report."""
    held = spec["speaker"]
    if spec["protocol"] == "speaker" and (speakers["test"] != [held] or held in speakers["train"]
                                          or held in speakers["val"]):
        raise RuntimeError(f"split bug: held-out speaker {held!r} but train {speakers['train']}, "
                           f"validation {speakers['val']}, test {speakers['test']}")


def score_run(cfg, report: dict) -> dict:
    """The test predictions of the selected epoch (its state from the run's checkpoint: train's
    report holds only the overall accuracy), per digit; and which speakers each split held. The
    recomputed accuracy must equal the report's, or the checkpoint is not the run's."""
    import torch

    from .data import load_task
    from .train import build_model, evaluate, pick_device, read_checkpoint
    splits = load_task(cfg.task, n_train=cfg.n_train, test_speaker=cfg.test_speaker,
                       front_end=cfg.front_end, real_speakers=cfg.real_speakers)
    ck = read_checkpoint(Path(cfg.out) / "checkpoint.pt", map_location="cpu")
    device = pick_device(cfg.device)
    model = build_model(cfg, splits)
    model.load_state_dict(ck["best"]["state"])
    model.to(device).eval()
    pred = evaluate(model, splits.test, device=device)["pred"]
    labels = splits.test.labels
    acc = int((pred == labels).sum()) / len(labels)      # as train counts it
    if acc != report["test_acc"]:
        raise RuntimeError(f"{cfg.out}: the checkpoint's selected state scores {acc:.4f} on the test "
                           f"set, the run's report {report['test_acc']:.4f}")
    return {"per_digit_acc": per_digit_accuracy(labels, pred),
            "n_test_by_digit": torch.bincount(labels, minlength=N_DIGITS).tolist(),
            "speakers": {"train": split_speakers(splits.train), "val": split_speakers(splits.val),
                         "test": split_speakers(splits.test)}}


def train_row(spec: dict, on_epoch=None) -> dict:
    """Train (or, with resume, continue) the run and return its row of the LOSO report;
    `on_epoch` as train's."""
    from .train import _checkpoint_path, make_config, train
    cfg = make_config(spec["task"], **spec["overrides"])
    # a run not started yet starts quietly: train's hint about a run under another name is for
    # `delaysnn train --resume`, not for a LOSO's new seed
    resume = spec["resume"] and _checkpoint_path(cfg).exists()
    report = train(cfg, resume=resume, progress=False, on_epoch=on_epoch)
    scored = score_run(cfg, report)
    check_held_out(spec, scored["speakers"])
    return {"run": cfg.name, "folder": cfg.out, "report": cfg.report,
            "test_acc": report["test_acc"], "per_digit_acc": scored["per_digit_acc"],
            "n_test_by_digit": scored["n_test_by_digit"], "val_acc": report["val_acc"],
            "selected_epoch": report["selected_epoch"], "epochs": report["epochs"],
            "golden_test_acc": report.get("export", {}).get("golden_test_acc"),
            "train_speakers": scored["speakers"]["train"], "val_speakers": scored["speakers"]["val"],
            "test_speakers": scored["speakers"]["test"],
            "n_train": report["data"]["n_train"], "n_val": report["data"]["n_val"],
            "n_test": report["data"]["n_test"], "memory_bits": report["memory_bits"],
            "train_s": report["train_s"], "provenance": report.get("provenance")}


def stored_row(spec: dict) -> dict | None:
    """A finished run's row from its folder when it was made with the same settings, else None."""
    from .train import make_config
    cfg = make_config(spec["task"], **spec["overrides"])
    path = Path(cfg.out) / RESULT_FILE
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc.get("row") if doc.get("identity") == json.loads(json.dumps(cfg.identity())) else None


def run_one(spec: dict, lines=None) -> dict:
    """One run, in a worker (with resume continued from its checkpoint). The result file is
    written last, so it exists only for a finished run; a failure becomes the row's `error` so
    that the other runs go on. `lines`: where each epoch's `epoch_line` goes (a queue's `put`,
    or print), None for none."""
    from .export import atomic_write_json
    from .train import make_config
    t0 = time.perf_counter()
    row = {"protocol": spec["protocol"], "speaker": spec["speaker"], "seed": spec["seed"]}
    on_epoch = None if lines is None else (lambda rec: lines(epoch_line(spec, rec)))
    try:
        cfg = make_config(spec["task"], **spec["overrides"])
        (Path(cfg.out) / RESULT_FILE).unlink(missing_ok=True)
        row.update(train_row(spec, on_epoch), reused=False, wall_s=time.perf_counter() - t0)
        atomic_write_json(Path(cfg.out) / RESULT_FILE, {"identity": cfg.identity(), "row": row})
    except Exception as e:  # one failed run must not lose the others
        row.update(error=f"{type(e).__name__}: {e}", wall_s=time.perf_counter() - t0)
    return row


# --------------------------------------------------------------------------------------------
# All runs


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _what(run: dict) -> str:
    return f"{run['speaker']} held out" if run["protocol"] == "speaker" else "official split"


def epoch_line(spec: dict, rec: dict) -> str:
    """`  george held out, seed 1: epoch 3/30, val 0.9120, best 0.9150 @ 2, 58 s`: one line per
    finished epoch of a run in flight, so that a LOSO of long runs is never silent for a run's
    length (the epoch's own seconds, not the run's)."""
    return (f"  {_what(spec)}, seed {spec['seed']}: epoch {rec['epoch']}/{rec['epochs']}, val "
            f"{rec['val_acc']:.4f}, best {rec['best_val_acc']:.4f} @ {rec['best_epoch']}, "
            f"{rec['epoch_s']:.0f} s")


def progress_line(row: dict, done: int, total: int, mean_run_s: float, left: int, workers: int,
                  t0: float) -> str:
    """`[k/n] run: test ... (val ..., epoch e), elapsed, remaining`: remaining is the runs left
    to train at the mean time of those trained so far, shared among the workers."""
    what = _what(row)
    if "error" in row:
        result = f"ERROR {row['error']}"
    else:
        result = (f"{row['run']}: test {row['test_acc']:.4f} (val {row['val_acc']:.4f}, epoch "
                  f"{row['selected_epoch']})" + (", reused" if row.get("reused") else
                                                  f", {row['wall_s']:.0f} s"))
    elapsed = time.perf_counter() - t0
    remaining = mean_run_s * left / max(1, min(workers, left))
    return (f"[{done}/{total}] {what}, seed {row['seed']}: {result}; elapsed {_clock(elapsed)}, "
            f"remaining ~{_clock(remaining)}")


def prepare_shared_data(spec: dict, progress: bool) -> None:
    """Synthesise and encode the synthetic speakers every run shares (`--tts`) once, here, with
    progress bars, and cache them: otherwise each worker makes the same thousands of words at the
    same time, without a word on screen (15 minutes for the two-take recipe's 8,000 on a fresh
    machine). Loads the first run's splits and drops them; a cached set loads in seconds."""
    from .data import load_task
    from .train import make_config
    cfg = make_config(spec["task"], **spec["overrides"])
    if not cfg.tts:
        return
    if progress:
        print(f"preparing the synthetic speakers ({cfg.tts}), shared by every run", flush=True)
    load_task(cfg.task, n_train=cfg.n_train, test_speaker=cfg.test_speaker, progress=progress,
              front_end=cfg.front_end, voices=cfg.voices, tts=cfg.tts, real_speakers=cfg.real_speakers)


def _init_worker() -> None:
    from .sweep import _init_worker as one_thread
    one_thread()


def execute(runs: list[dict], workers: int = 2, progress: bool = True) -> list[dict]:
    """Every run: with resume a finished one's stored row, the others trained (in `workers`
    processes, one torch thread each); the rows in the order of `runs`. On screen, with
    `progress`, a line per epoch of each run in flight (the workers queue theirs) and one per
    finished run."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    t0 = time.perf_counter()
    stored = {i: stored_row(spec) for i, spec in enumerate(runs) if spec["resume"]}
    todo = [i for i in range(len(runs)) if stored.get(i) is None]
    rows: dict[int, dict] = {}
    run_s: list[float] = []

    def report(i: int, row: dict) -> None:
        rows[i] = row
        if not row.get("reused"):
            run_s.append(row["wall_s"])
        if progress:
            print(progress_line(row, len(rows), len(runs), _mean(run_s) or 0.0,
                                len(todo) - len(run_s), workers, t0), flush=True)

    for i, row in stored.items():
        if row is not None:
            report(i, dict(row, reused=True))
    if todo:
        prepare_shared_data(runs[todo[0]], progress)
    if workers <= 1 or len(todo) <= 1:
        say = (lambda line: print(line, flush=True)) if progress else None
        for i in todo:
            report(i, run_one(runs[i], say))
    else:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager, ProcessPoolExecutor(
                max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_init_worker) as pool:
            lines = manager.Queue() if progress else None
            futures = {pool.submit(run_one, runs[i], None if lines is None else lines.put): i for i in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                _print_queued(lines)
                for future in done:
                    report(futures[future], future.result())
    return [rows[i] for i in range(len(runs))]


def _print_queued(lines) -> None:
    """Print the epoch lines the workers have queued so far (none without a queue)."""
    from queue import Empty
    while lines is not None:
        try:
            print(lines.get_nowait(), flush=True)
        except Empty:
            return


# --------------------------------------------------------------------------------------------
# Summary


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _stdev(values) -> float | None:
    """Sample standard deviation (n - 1); None below two values."""
    return statistics.stdev(values) if len(values) >= 2 else None


def fold_summary(speaker: str, rows: list[dict]) -> dict:
    """One held-out speaker over its seeds: mean, spread, per-digit mean (None where no seed has
    the digit); failed runs are left out."""
    ok = [r for r in rows if "error" not in r]
    accs = [r["test_acc"] for r in ok]
    return {"speaker": speaker, "n_runs": len(ok),
            "test_acc_by_seed": {str(r["seed"]): r["test_acc"] for r in ok},
            "test_acc_mean": _mean(accs), "test_acc_min": min(accs, default=None),
            "test_acc_max": max(accs, default=None), "test_acc_std_seeds": _stdev(accs),
            "val_acc_mean": _mean([r["val_acc"] for r in ok]),
            "per_digit_acc_mean": [_mean([r["per_digit_acc"][d] for r in ok]) for d in range(N_DIGITS)]}


def official_summary(rows: list[dict]) -> dict | None:
    """The official split's figure over its seeds (None when it was not asked for)."""
    if not rows:
        return None
    ok = [r for r in rows if "error" not in r]
    accs = [r["test_acc"] for r in ok]
    return {"runs": rows, "test_acc_mean": _mean(accs), "test_acc_std_seeds": _stdev(accs),
            "val_acc_mean": _mean([r["val_acc"] for r in ok]),
            "per_digit_acc_mean": [_mean([r["per_digit_acc"][d] for r in ok]) for d in range(N_DIGITS)]}


def summarise(name: str, recipe: dict, speakers: list[str], seeds, rows: list[dict]) -> dict:
    """The report: every run, per fold, the mean and standard deviation over folds (of the fold
    means), the memory of the network and the official split's figure."""
    loso_rows = [r for r in rows if r["protocol"] == "speaker"]
    folds = [fold_summary(s, [r for r in loso_rows if r["speaker"] == s]) for s in speakers]
    means = [f["test_acc_mean"] for f in folds if f["test_acc_mean"] is not None]
    ok = [r for r in rows if "error" not in r]
    return {
        "name": name, "date": datetime.date.today().isoformat(), "task": TASK,
        "protocol": PROTOCOL, "selection": SELECTION,
        "recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in recipe.items()},
        "seeds": list(seeds), "speakers": speakers,
        "memory_bits": ok[0]["memory_bits"] if ok else None,
        "mean_test_acc": _mean(means), "std_test_acc_over_folds": _stdev(means),
        "std_rule": "sample standard deviation (n - 1) of the per-fold means over seeds",
        "mean_val_acc": _mean([f["val_acc_mean"] for f in folds]),
        "folds": folds, "runs": loso_rows,
        "official": official_summary([r for r in rows if r["protocol"] == "official"]),
        "failed": [f"{r['speaker'] or 'official'} seed {r['seed']}: {r['error']}"
                   for r in rows if "error" in r],
    }


# --------------------------------------------------------------------------------------------
# Plot


def _fold_bars(ax, summary: dict) -> None:
    """Per fold: the mean over seeds as a bar, each seed as a dot, min-max as an error bar; the
    mean over folds and the official split's figure as lines."""
    folds = [f for f in summary["folds"] if f["test_acc_mean"] is not None]
    x = np.arange(len(folds))
    means = np.array([100 * f["test_acc_mean"] for f in folds])
    low = means - np.array([100 * f["test_acc_min"] for f in folds])
    high = np.array([100 * f["test_acc_max"] for f in folds]) - means
    ax.bar(x, means, color="C0", alpha=0.6, yerr=[low, high], capsize=4)
    for i, f in enumerate(folds):
        accs = [100 * a for a in f["test_acc_by_seed"].values()]
        ax.scatter([i] * len(accs), accs, color="k", s=12, zorder=3)
    if summary["mean_test_acc"] is not None:
        ax.axhline(100 * summary["mean_test_acc"], color="C3", ls="--",
                   label=f"mean over folds {100 * summary['mean_test_acc']:.1f} %")
    official = summary.get("official")
    if official and official["test_acc_mean"] is not None:
        ax.axhline(100 * official["test_acc_mean"], color="C2", ls=":",
                   label=f"official split {100 * official['test_acc_mean']:.1f} %")
    ax.set_xticks(x, [f["speaker"] for f in folds])
    ax.set_xlabel("held-out speaker")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"per fold: mean over seeds {', '.join(map(str, summary['seeds']))} (dots), "
                 "min-max", fontsize=9)


def _digit_map(fig, ax, summary: dict) -> None:
    """Fold x digit accuracy (mean over seeds), the value in each cell; a digit a fold lacks is
    blank."""
    folds = summary["folds"]
    grid = np.array([[np.nan if a is None else 100 * a for a in f["per_digit_acc_mean"]]
                     for f in folds], dtype=float)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (i, d), value in np.ndenumerate(grid):
        ax.text(d, i, "-" if np.isnan(value) else f"{value:.0f}", ha="center", va="center",
                fontsize=7, color="w" if np.isnan(value) or value < 60 else "k")
    ax.set_xticks(range(N_DIGITS), [str(d) for d in range(N_DIGITS)])
    ax.set_yticks(range(len(folds)), [f["speaker"] for f in folds])
    ax.set_xlabel("digit")
    ax.set_ylabel("held-out speaker")
    ax.set_title("test accuracy per digit (%)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)


def plot(summary: dict, path: Path) -> Path:
    """build/plots/loso-<name>.png: the fold bars and the fold x digit map side by side."""
    from .plots import _fig
    fig = _fig(12, 4.2)
    _fold_bars(fig.add_subplot(1, 2, 1), summary)
    _digit_map(fig, fig.add_subplot(1, 2, 2), summary)
    mem = summary["memory_bits"]
    fig.suptitle(f"leave one speaker out: {summary['name']}"
                 + (f", {mem['total']:,} bits" if mem else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# --------------------------------------------------------------------------------------------
# The command


def loso(recipe: dict, seeds=(0, 1, 2), speakers: str = "all", workers: int = 2,
         official: bool = False, name: str | None = None, resume: bool = False,
         train_dir: Path | None = None, reports_dir: Path | None = None,
         plots_dir: Path | None = None, progress: bool = True) -> dict:
    """The whole protocol with a training recipe (train's overrides, None: the task's default);
    returns the summary, also written to <reports_dir>/loso-<name>.json."""
    from .export import atomic_write_json
    from .train import check_epochs
    t0 = time.perf_counter()
    recipe = {k: v for k, v in recipe.items() if v is not None}
    if "epochs" in recipe:
        check_epochs(recipe["epochs"])
    everyone = available_speakers()
    folds = choose_speakers(speakers, everyone)
    runs = plan(recipe, folds, seeds, official, train_dir, reports_dir, resume)   # refuses a bad recipe
    if recipe.get("real_speakers"):    # more than a fold has: refuse once, not once per fold
        from .data import real_speaker_subset
        real_speaker_subset(everyone, folds[0], recipe["real_speakers"])
    name = name or recipe_name(recipe)
    if recipe.get("tts"):              # refuse once, not once per fold
        from spike_datasets.tts import check_engines, parse_tts
        check_engines(parse_tts(recipe["tts"]))
    if progress:
        print(f"loso {name}: {len(folds)} folds x {len(seeds)} seeds"
              + (f" + {len(seeds)} official" if official else "") + f", {workers} worker(s)",
              flush=True)
    rows = execute(runs, workers=workers, progress=progress)
    summary = summarise(name, recipe, folds, seeds, rows)
    given = reports_dir is not None          # a reports folder of the user's takes the plot too
    reports_dir = Path(reports_dir) if given else REPO / "build" / "reports"
    plots_dir = Path(plots_dir) if plots_dir else reports_dir if given else REPO / "build" / "plots"
    summary["plot"] = (str(plot(summary, plots_dir / f"loso-{name}.png"))
                       if summary["mean_test_acc"] is not None else None)
    summary["wall_s"] = time.perf_counter() - t0
    summary["report"] = str(reports_dir / f"loso-{name}.json")
    summary["not_repeated"] = differences(_previous(Path(summary["report"])), summary)
    if progress:
        for d in summary["not_repeated"]:
            print(difference_line(d), flush=True)
    atomic_write_json(Path(summary["report"]), summary)
    return summary


def _previous(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def differences(previous: dict | None, summary: dict) -> list[dict]:
    """The runs of `summary` whose test accuracy differs from the same run (protocol, held-out
    speaker, seed) in `previous`, the report of the same name and recipe it replaces, each with
    `provenance.why_different`'s reason. A rerun that does not repeat a figure says so, and why."""
    from .provenance import why_different
    if not previous or previous.get("recipe") != summary["recipe"]:
        return []
    def runs(doc):
        rows = list(doc.get("runs") or []) + list((doc.get("official") or {}).get("runs") or [])
        return {(r.get("protocol"), r.get("speaker"), r.get("seed")): r for r in rows if "error" not in r}
    before, now = runs(previous), runs(summary)
    out = []
    for key in sorted(set(before) & set(now), key=str):
        then_acc, now_acc = before[key].get("test_acc"), now[key].get("test_acc")
        if then_acc != now_acc:
            out.append({"protocol": key[0], "speaker": key[1], "seed": key[2],
                        "test_acc_before": then_acc, "test_acc_now": now_acc,
                        "date_before": previous.get("date"),
                        "why": why_different(before[key].get("provenance"), now[key].get("provenance"))})
    return out


def difference_line(d: dict) -> str:
    """One difference as a line for the screen."""
    who = f"{d['speaker']} held out" if d["protocol"] == "speaker" else "official split"
    return (f"not repeated: {who}, seed {d['seed']}: {100 * d['test_acc_now']:.1f} % now, "
            f"{100 * d['test_acc_before']:.1f} % in the report this replaces ({d['date_before']}): "
            f"{d['why']}")


def table(summary: dict) -> str:
    """The per-fold figures as lines for the screen."""
    lines = [f"{'held out':<10} {'test % (mean)':>13} {'seeds':>24} {'val %':>6}"]
    for f in summary["folds"]:
        seeds = " ".join(f"{100 * a:.1f}" for a in f["test_acc_by_seed"].values())
        mean = "-" if f["test_acc_mean"] is None else f"{100 * f['test_acc_mean']:.1f}"
        val = "-" if f["val_acc_mean"] is None else f"{100 * f['val_acc_mean']:.1f}"
        lines.append(f"{f['speaker']:<10} {mean:>13} {seeds:>24} {val:>6}")
    if summary["mean_test_acc"] is not None:
        std = summary["std_test_acc_over_folds"]
        lines.append(f"mean over folds {100 * summary['mean_test_acc']:.1f} %"
                     + (f" (std {100 * std:.1f})" if std is not None else ""))
    if summary["official"] and summary["official"]["test_acc_mean"] is not None:
        lines.append(f"official split {100 * summary['official']['test_acc_mean']:.1f} %")
    return "\n".join(lines)


def train_option_dests() -> list[str]:
    """The dests of train's options that a LOSO recipe takes (TrainConfig fields only)."""
    return [a.dest for a in _train_actions()]


def _train_actions() -> list[argparse.Action]:
    """train's own option definitions (delay_training.__main__.add_arguments), less the ones
    LOSO sets per run."""
    from .__main__ import add_arguments as add_train_arguments
    from .train import TrainConfig
    scratch = argparse.ArgumentParser(add_help=False)
    add_train_arguments(scratch)
    config_fields = {f.name for f in fields(TrainConfig)}
    return [a for a in scratch._actions
            if a.dest not in NOT_FROM_TRAIN and a.dest in config_fields]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """LOSO's options, then the training options it shares with delaysnn train (the same
    definitions, not copies)."""
    p.add_argument("--seeds", type=seeds_list, default="0,1,2",
                   help="training seeds, comma-separated: one run per held-out speaker and seed")
    p.add_argument("--speakers", default="all",
                   help="held-out speakers (folds), comma-separated, or all")
    p.add_argument("--workers", type=int, default=2, help="runs in parallel (processes)")
    p.add_argument("--official", action="store_true",
                   help="also train the recipe on FSDD's official split (same seeds), as a second figure")
    p.add_argument("--name", help="report name (loso-<name>.json); None: the options that differ "
                                  "from the task's defaults, e.g. e20-h128-leak3.4-gain2.1-in")
    p.add_argument("--resume", action="store_true",
                   help="reuse finished runs (same settings); continue the others from their checkpoints")
    p.add_argument("--train-dir", type=Path,
                   help="where the run folders go; None: build/train")
    p.add_argument("--reports-dir", type=Path,
                   help="where the report, the runs' reports and the plot go; None: build/reports "
                        "(plot: build/plots)")
    p.add_argument("--quiet", action="store_true", help="no line per epoch or per finished run")
    p.add_argument("--ensemble", metavar="NAMES",
                   help="train nothing: merge the networks of two LOSO reports (A,B) fold by fold "
                        "into one towers network (build/towers/<name>/, deployable) and test it on "
                        "each held-out speaker on the golden model; writes loso-<name>.json "
                        "(loso_ensemble.py, towers.py)")
    p.add_argument("--compare", metavar="NAMES",
                   help="train nothing: print the named reports (loso-<name>.json, comma-separated) "
                        "as one ablation table and plot them side by side (loso_compare.py)")
    p.add_argument("--labels", metavar="LABELS",
                   help="with --compare: a label per report, comma-separated; None: the names")
    group = p.add_argument_group("training options (as delaysnn train; None: the task's default)")
    for action in _train_actions():
        group._add_action(action)


def run(a: argparse.Namespace) -> int:
    """The protocol with the options; the per-fold table printed; 1 if a run failed."""
    if a.ensemble:
        from .loso_ensemble import ensemble, table as ensemble_table
        doc = ensemble([n.strip() for n in a.ensemble.split(",") if n.strip()], a.name, a.reports_dir,
                       progress=not a.quiet)
        print(ensemble_table(doc))
        print(f"report {doc['report']}")
        return 0
    if a.compare:
        from .loso_compare import compare
        text, path = compare([n.strip() for n in a.compare.split(",") if n.strip()],
                             [x.strip() for x in a.labels.split(",")] if a.labels else None,
                             a.reports_dir)
        print(text)
        print(f"plot {path}")
        return 0
    if a.workers < 1:
        raise LosoError(f"--workers {a.workers}: expected 1 or more")
    recipe = {dest: getattr(a, dest) for dest in train_option_dests()}
    s = loso(recipe, seeds=a.seeds, speakers=a.speakers, workers=a.workers, official=a.official,
             name=a.name, resume=a.resume, train_dir=a.train_dir, reports_dir=a.reports_dir,
             progress=not a.quiet)
    print(table(s))
    for failure in s["failed"]:
        print(f"failed: {failure}")
    print(f"report {s['report']}; plot {s['plot']}; {s['wall_s']:.0f} s")
    return 1 if s["failed"] else 0


def main(argv=None) -> int:
    """`python -m delay_training.loso`: the options of `delaysnn loso`."""
    p = argparse.ArgumentParser(prog="python -m delay_training.loso",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    return run_parsed(p, run, argv)


if __name__ == "__main__":
    sys.exit(main())
