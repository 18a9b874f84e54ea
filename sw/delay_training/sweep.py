"""Bit-budget study (Sun et al., Fig. 2 style): accuracy against memory for every (wbits, dbits).

    delaysnn sweep [--task fsdd] [--epochs N] [--workers 2]
        [--wbits 1.58,2,4,8,32] [--dbits 0,2,3,4,5,6] [--seed S] [--no-eq] [--resume]
        [--ray [--ray-address ADDR]] [--storage PATH_OR_URI] [--reports-dir DIR]
    (python -m delay_training.sweep takes the same options)

Every (wbits, dbits) pair is one training (`delay_training.train.train`, task defaults otherwise).
Beside them, for every weight precision, a weights-only network (dbits 0) with *equal parameter
count*: the delay networks hold n_weights + n_delays trainable parameters (one delay per LIF
neuron, whatever dbits); the weights-only network gets extra hidden neurons, added one at a time
to the hidden layer that is proportionally smallest against the original sizes (so the layer
ratios are kept), until its weight count is >= that target (`equal_param_sizes`).

Runs go to parallel processes (concurrent.futures ProcessPoolExecutor, one torch thread each;
`--ray` runs them as Ray tasks instead, on a cluster: `--ray-address`, else RAY_ADDRESS, else the
cluster `ray start` made on this machine, else a local instance). Each run writes its artefacts to
the storage (`--storage`, a directory or an fsspec URI; default build/sweep/<task>; layout in
sweep_storage.py): runs/<name>/, reports/train-<name>.json and, last, results/<name>.json; its row
also comes back to the driver as data. The sweep collects the rows into
build/reports/sweep-<task>.json and .md, and plots build/plots/sweep-<task>.png (accuracy against
memory bits, log x, one marker per weight precision, Pareto front highlighted).

`--resume` continues an interrupted sweep, also one whose driver died: a configuration whose result
is in the storage is not run again (its stored row is used), every other run restarts from its own
last epoch checkpoint (`train --resume`), so the rows are the same as those of an uninterrupted
sweep.

Model selection uses validation only: each run keeps its best-validation epoch (train.py), and the
Pareto front is computed on validation accuracy; test accuracy is reported for the same models.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from corespec.errors import UserError, run_parsed

from .sweep_storage import StorageError, SweepStorage, default_root

REPO = Path(__file__).resolve().parents[2]

DEFAULT_WBITS = (1.58, 2.0, 4.0, 8.0, 32.0)
DEFAULT_DBITS = (0, 2, 3, 4, 5, 6)


# --------------------------------------------------------------------------------------------
# Sizing arithmetic


def n_weights(n_in: int, sizes, n_out: int, recurrent=()) -> int:
    """Weights of n_in -> sizes... -> n_out (recurrent layers add n*n), as DelaySNN holds them."""
    recurrent = tuple(recurrent) or (False,) * len(sizes)
    srcs = (n_in,) + tuple(sizes)
    outs = tuple(sizes) + (n_out,)
    total = 0
    for l, n in enumerate(outs):
        rows = srcs[l] + (n if l < len(sizes) and recurrent[l] else 0)
        total += rows * n
    return total


def n_params(n_in: int, sizes, n_out: int, dbits: int, recurrent=()) -> int:
    """Trainable parameters: weights, plus one delay per LIF neuron when dbits > 0."""
    return n_weights(n_in, sizes, n_out, recurrent) + (sum(sizes) if dbits > 0 else 0)


def equal_param_sizes(n_in: int, sizes, n_out: int, target: int, recurrent=()) -> tuple[int, ...]:
    """Smallest growth of `sizes` whose weight count is >= target, adding one neuron at a time to
    the hidden layer with the smallest ratio new/original size (first such layer on ties)."""
    base = tuple(int(s) for s in sizes)
    cur = list(base)
    while n_weights(n_in, cur, n_out, recurrent) < target:
        i = min(range(len(cur)), key=lambda k: (cur[k] + 1) / base[k])
        cur[i] += 1
    return tuple(cur)


# --------------------------------------------------------------------------------------------
# Pareto front


def pareto_front(points) -> list[int]:
    """Indices of the points (memory, accuracy) not dominated by another one: no other point has
    memory <= and accuracy >= with one of them strict. Sorted by memory. Equal points all stay."""
    pts = [(float(m), float(a)) for m, a in points]
    front = []
    for i, (m, a) in enumerate(pts):
        dominated = any((m2 <= m and a2 >= a) and (m2 < m or a2 > a)
                        for j, (m2, a2) in enumerate(pts) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (pts[i][0], -pts[i][1]))


# --------------------------------------------------------------------------------------------
# Configurations and runs


def wlabel(wbits: float) -> str:
    return "1.58" if abs(wbits - 1.58) < 1e-6 else f"{wbits:g}"


def plan(task: str, wbits_list, dbits_list, epochs: int | None, seed: int, eq: bool = True,
         overrides: dict | None = None, storage: str | None = None, run_plots: bool = False,
         resume: bool = False) -> list[dict]:
    """The list of runs: every (wbits, dbits), then the equal-parameter weights-only rows. A run
    holds no path of the driver's: `storage` is what the user gave (None: each worker's own
    build/sweep/<task>), and the worker derives the run's directories from it."""
    from .data import load_task
    from .train import make_config

    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    base = make_config(task, **overrides)
    runs = []

    def add(wb, db, sizes, kind):
        name = f"sweep-{task}-w{wlabel(wb)}-d{db}" + ("-eq" if kind == "eq-params" else "") + f"-s{seed}"
        kw = dict(overrides, wbits=wb, dbits=db, seed=seed, name=name, threads=1)
        if epochs is not None:
            kw["epochs"] = epochs
        if sizes is not None:
            kw["sizes"] = tuple(sizes)
        runs.append({"task": task, "kind": kind, "overrides": kw, "run_plots": run_plots,
                     "resume": resume, "storage": storage})

    for wb in wbits_list:
        for db in dbits_list:
            add(float(wb), int(db), None, "grid")
    if eq and any(int(d) > 0 for d in dbits_list):
        # n_in / n_out from the data set's metadata (cheap for generated tasks and cached FSDD)
        splits = load_task(task, n_train=overrides.get("n_train"), test_speaker=overrides.get("test_speaker"),
                           front_end=overrides.get("front_end") or "")
        n_in, n_out = splits.train.n_channels, splits.train.n_classes
        target = n_params(n_in, base.sizes, n_out, 1, base.recurrent)
        sizes = equal_param_sizes(n_in, base.sizes, n_out, target, base.recurrent)
        for wb in wbits_list:
            add(float(wb), 0, sizes, "eq-params")
        for r in runs:
            r["param_target"] = target
    return runs


def run_settings(run: dict) -> dict:
    """What a stored result must have been made with to stand for this run on --resume (as JSON
    gives it back): the task, the row kind and every training override except where it ran."""
    kw = {k: v for k, v in run["overrides"].items() if k not in ("device", "threads")}
    return json.loads(json.dumps({"task": run["task"], "kind": run["kind"], "overrides": kw}))


def run_one(run: dict) -> dict:
    """Train one configuration (in a worker process or a Ray task on any node); returns the sweep
    row. The worker resolves its own paths: the data root (DELAYSNN_DATA, else ../shared/data next
    to its checkout) and the run's directories under run["storage"] (None: its checkout's
    build/sweep/<task>). The result file is written last, so it exists only for a finished run."""
    import torch
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    kw = dict(run["overrides"])
    name = kw["name"]
    row = {"name": name, "kind": run["kind"], "wbits": kw["wbits"], "dbits": kw["dbits"],
           "seed": kw["seed"]}
    try:
        storage = SweepStorage(run.get("storage") or default_root(run["task"]))
        with storage.run_dirs(name) as (out, report):
            row.update(_train_row(run, dict(kw, out=str(out), report=str(report))))
        row["report"] = storage.location(f"reports/train-{name}.json")
        row["wall_s"] = time.perf_counter() - t0
        storage.write_result(name, row, run_settings(run))
    except Exception as e:  # one failed configuration must not lose the others
        row["error"] = f"{type(e).__name__}: {e}"
        row["traceback"] = traceback.format_exc(limit=5)
        row["wall_s"] = time.perf_counter() - t0
    return row


def _train_row(run: dict, kw: dict) -> dict:
    """Train with the run's overrides (out and report paths included); the row's figures."""
    from .train import make_config, train

    cfg = make_config(run["task"], **kw)
    if kw.get("device") is None:
        cfg.device = "cpu"
    cfg.plots = bool(run.get("run_plots", False))
    rep = train(cfg, resume=bool(run.get("resume", False)), progress=False)
    mem = rep["memory_bits"]
    return {
        "hidden": list(cfg.sizes), "n_params": mem["n_weights"] + (mem["n_delays"] if cfg.dbits else 0),
        "memory_total": mem["total"], "memory_weights": mem["weights"],
        "memory_delays": mem["delays"], "memory_other": mem["other"],
        "val_acc": rep["val_acc"], "test_acc": rep["test_acc"],
        "selected_epoch": rep["selected_epoch"], "epochs": rep["epochs"],
        "train_s": rep["train_s"], "host": rep.get("host"),
    }


def finished_rows(runs: list[dict], storage_root: str) -> dict[str, dict]:
    """name -> stored row of every run whose result is already in the storage (what --resume does
    not run again). A result made with other settings (another --epochs, say, under the same
    name) is an error rather than a silent reuse."""
    storage = SweepStorage(storage_root)
    done = {}
    for run in runs:
        name = run["overrides"]["name"]
        doc = storage.read_result(name)
        if doc is None:
            continue
        want, got = run_settings(run), doc.get("settings") or {}
        if got != want:
            diff = sorted(k for k in set(want["overrides"]) | set(got.get("overrides", {}))
                          if want["overrides"].get(k) != got.get("overrides", {}).get(k))
            raise StorageError(f"{storage.location(f'results/{name}.json')}: made with other settings "
                               f"({', '.join(diff) or 'task, kind'}); give another --storage or remove it")
        done[name] = dict(doc["row"], reused=True)
    return done


def _init_worker():
    import torch
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class SweepError(UserError, ValueError):
    """A sweep that cannot start as asked (no Ray cluster at the address, no GPU on it)."""


def execute(runs: list[dict], workers: int = 2, use_ray: bool = False, progress: bool = True,
            ray_address: str | None = None) -> list[dict]:
    """Run every configuration (processes, or Ray tasks); the rows in the order of `runs`."""
    from tqdm import tqdm

    rows = []
    bar = tqdm(total=len(runs), desc="sweep", unit="config", disable=not progress, dynamic_ncols=True)
    if use_ray and runs:
        _ray_execute(runs, ray_address, rows, bar)
    elif workers <= 1:
        for r in runs:
            rows.append(run_one(r))
            bar.update(1)
            bar.set_postfix_str(_postfix(rows[-1]))
    else:
        import multiprocessing as mp
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker) as ex:
            futs = [ex.submit(run_one, r) for r in runs]
            for f in as_completed(futs):
                rows.append(f.result())
                bar.update(1)
                bar.set_postfix_str(_postfix(rows[-1]))
    bar.close()
    order = {r["overrides"]["name"]: i for i, r in enumerate(runs)}
    return sorted(rows, key=lambda row: order[row["name"]])


def _ray_execute(runs: list[dict], address: str | None, rows: list[dict], bar) -> None:
    """Run the configurations as Ray tasks (one CPU each, one GPU each with --device cuda, so Ray
    places them on GPU nodes and gives each its own GPU), appending rows as they come back. Ray is
    started or joined here and left again, unless the caller had already initialised it."""
    import ray   # optional (pip install -e .[cluster]); run() checks it is there

    joined = not ray.is_initialized()
    if joined:
        check_ray_address(address)
        try:
            ray.init(address=address)   # None: RAY_ADDRESS, else `ray start`'s cluster, else local
        except (ConnectionError, ValueError) as e:
            raise SweepError(f"--ray-address {address or 'auto'}: no Ray cluster there ({e})") from None
    try:
        gpus = 1 if str(runs[0]["overrides"].get("device") or "").startswith("cuda") else 0
        if gpus and not ray.cluster_resources().get("GPU"):
            raise SweepError("--device cuda: the Ray cluster has no GPU (ray status lists its resources)")
        remote = ray.remote(num_cpus=1, num_gpus=gpus)(run_one)
        pending = [remote.remote(r) for r in runs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            rows.append(ray.get(done[0]))
            bar.update(1)
            bar.set_postfix_str(_postfix(rows[-1]))
    finally:
        if joined:
            ray.shutdown()


def check_ray_address(address: str | None, timeout_s: float = 10.0) -> None:
    """A host:port --ray-address must answer a TCP connection: ray.init retries a dead address for
    minutes without a word. None, "auto", "local" and ray:// (Ray Client) are left to Ray."""
    if address is None or address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"--ray-address {address}: expected host:port of the Ray head (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise SweepError(f"--ray-address {address}: nothing answers there ({e.strerror or e}); "
                         "is `ray start --head` running?") from None


def _postfix(row: dict) -> str:
    if "error" in row:
        return f"{row['name']}: ERROR"
    return f"{row['name']}: val {row['val_acc']:.3f}"


# --------------------------------------------------------------------------------------------
# Outputs


def mark_front(rows: list[dict]) -> list[int]:
    ok = [i for i, r in enumerate(rows) if "error" not in r]
    front = pareto_front([(rows[i]["memory_total"], rows[i]["val_acc"]) for i in ok])
    idx = [ok[k] for k in front]
    for i, r in enumerate(rows):
        if "error" not in r:
            r["pareto_val"] = i in idx
    return idx


def markdown(summary: dict) -> str:
    rows = summary["rows"]
    lines = [f"# Bit-budget sweep: {summary['task']}", "",
             f"epochs {summary['epochs']}, seed {summary['seed']}; model selection on validation only "
             f"(best-validation epoch per run; Pareto front on validation accuracy, marked *). "
             f"eq-params rows: weights-only, hidden sizes grown to >= {summary.get('param_target')} "
             f"parameters (weights + delays of the delay networks).", "",
             "| wbits | dbits | kind | hidden | params | memory total | weights | delays | val acc | "
             "test acc | epochs (sel.) | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {wlabel(r['wbits'])} | {r['dbits']} | {r['kind']} | | | | | | "
                         f"error: {r['error'][:60]} | | | {r['wall_s']:.0f} |")
            continue
        star = " *" if r.get("pareto_val") else ""
        lines.append(
            f"| {wlabel(r['wbits'])} | {r['dbits']} | {r['kind']} | {'-'.join(map(str, r['hidden']))} | "
            f"{r['n_params']:,} | {r['memory_total']:,}{star} | {r['memory_weights']:,} | "
            f"{r['memory_delays']:,} | {100 * r['val_acc']:.1f} % | {100 * r['test_acc']:.1f} % | "
            f"{r['epochs']} ({r['selected_epoch']}) | {r['wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def _bits_label(x, _pos=None) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:g}{unit}"
    return f"{x:g}"


MARKERS = {"1.58": "o", "2": "s", "3": "v", "4": "D", "5": "<", "6": ">", "7": "p", "8": "^", "32": "*"}


def plot(summary: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = [r for r in summary["rows"] if "error" not in r]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    front = [r for r in rows if r.get("pareto_val")]
    front.sort(key=lambda r: r["memory_total"])
    for ax, key, title in ((axes[0], "val_acc", "validation (selects the front)"),
                           (axes[1], "test_acc", "test (same models)")):
        for wl in sorted({wlabel(r["wbits"]) for r in rows}, key=float):
            sel = [r for r in rows if wlabel(r["wbits"]) == wl]
            for eq in (False, True):
                s = [r for r in sel if (r["kind"] == "eq-params") == eq]
                if not s:
                    continue
                ax.scatter([r["memory_total"] for r in s], [100 * r[key] for r in s],
                           marker=MARKERS.get(wl, "o"), s=45, alpha=0.85,
                           facecolors="none" if eq else None,
                           edgecolors=f"C{sorted(MARKERS).index(wl) % 10}" if eq else None,
                           color=None if eq else f"C{sorted(MARKERS).index(wl) % 10}",
                           label=f"w {wl} bit" + (" (no delays, equal params)" if eq else ""))
        for r in rows:
            ax.annotate(f"d{r['dbits']}" + ("eq" if r["kind"] == "eq-params" else ""),
                        (r["memory_total"], 100 * r[key]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        if front:
            ax.plot([r["memory_total"] for r in front], [100 * r[key] for r in front], "k--", lw=1,
                    zorder=0)
            ax.scatter([r["memory_total"] for r in front], [100 * r[key] for r in front], s=160,
                       facecolors="none", edgecolors="k", lw=1.2, label="Pareto front (validation)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_bits_label))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("memory (bits, total)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{summary['task']}: accuracy vs memory, {summary['epochs']} epochs, seed {summary['seed']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sweep(task: str = "fsdd", epochs: int | None = None, workers: int = 2, wbits=DEFAULT_WBITS,
          dbits=DEFAULT_DBITS, seed: int = 0, eq: bool = True, use_ray: bool = False,
          overrides: dict | None = None, reports_dir: Path | None = None, plots_dir: Path | None = None,
          out_dir: str | Path | None = None, progress: bool = True, run_plots: bool = False,
          resume: bool = False, ray_address: str | None = None) -> dict:
    """The whole study; `out_dir` is the storage of the runs (--storage: a directory or an fsspec
    URI; None: build/sweep/<task> of each worker's checkout). The summary (table, JSON, plot) goes
    to reports_dir / plots_dir on the driver."""
    from .export import atomic_write_json

    t0 = time.perf_counter()
    storage = storage_root(out_dir)
    device = (overrides or {}).get("device")
    if device and not use_ray:      # on Ray the workers, not the driver, need the GPU
        from .train import pick_device
        pick_device(device)
    runs = plan(task, wbits, dbits, epochs, seed, eq, overrides, storage, run_plots, resume)
    reused = finished_rows(runs, storage or default_root(task)) if resume else {}
    todo = [r for r in runs if r["overrides"]["name"] not in reused]
    order = {r["overrides"]["name"]: i for i, r in enumerate(runs)}
    rows = sorted(execute(todo, workers=workers, use_ray=use_ray, progress=progress,
                          ray_address=ray_address) + list(reused.values()),
                  key=lambda row: order[row["name"]])
    mark_front(rows)
    reports_dir = Path(reports_dir or REPO / "build" / "reports")
    plots_dir = Path(plots_dir or REPO / "build" / "plots")
    summary = {
        "task": task, "epochs": epochs if epochs is not None else "task default", "seed": seed,
        "wbits": [float(w) for w in wbits], "dbits": [int(d) for d in dbits],
        "param_target": runs[0].get("param_target") if runs else None,
        "equal_params_rule": "weights-only rows: hidden layers grown one neuron at a time (to the "
                             "proportionally smallest layer) until n_weights >= n_weights + n_delays "
                             "of the delay network",
        "selection": "per run: best validation epoch; Pareto front on validation accuracy vs total memory bits",
        "workers": 1 if workers <= 1 and not use_ray else workers, "backend": "ray" if use_ray else "processes",
        "storage": storage or default_root(task),
        "reused": [name for name in order if name in reused],   # --resume: found finished, not run
        "rows": rows,
    }
    png = plot(summary, plots_dir / f"sweep-{task}.png") if any("error" not in r for r in rows) else None
    summary["plot"] = str(png) if png else None
    summary["wall_s"] = time.perf_counter() - t0
    md_path = reports_dir / f"sweep-{task}.md"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(summary))
    summary["markdown"] = str(md_path)
    atomic_write_json(reports_dir / f"sweep-{task}.json", summary)
    return summary


def storage_root(value: str | Path | None) -> str | None:
    """--storage as the workers get it: a URI unchanged, a directory made absolute against the
    driver's working directory (on a cluster, give a path every node mounts at the same place),
    None left to each worker. Checked here, so a bad one fails before any run starts."""
    if value is None:
        return None
    value = str(value)
    root = value if "://" in value else str(Path(value).expanduser().resolve())
    SweepStorage(root)
    return root


def _floats(s):
    return tuple(float(v) for v in s.split(",") if v.strip())


def _wbits_list(s):
    """--wbits: every value a weight precision the training has (quant.check_wbits)."""
    from .quant import check_wbits
    try:
        return tuple(check_wbits(w) for w in _floats(s))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _ints(s):
    return tuple(int(v) for v in s.split(",") if v.strip())


def main(argv=None) -> int:
    """`python -m delay_training.sweep`: the options of `delaysnn sweep`."""
    p = argparse.ArgumentParser(prog="python -m delay_training.sweep", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    return run_parsed(p, run, argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The sweep's options (delaysnn sweep)."""
    from .data import TASKS
    p.add_argument("--task", default="fsdd", choices=TASKS, help="the task every run trains")
    p.add_argument("--epochs", type=int, help="epochs per run; None: the task's")
    p.add_argument("--workers", type=int, default=2, help="runs in parallel (processes)")
    p.add_argument("--wbits", type=_wbits_list, default=DEFAULT_WBITS,
                   help="weight precisions, comma-separated (1.58 ternary, 2..8, 32 float)")
    p.add_argument("--dbits", type=_ints, default=DEFAULT_DBITS,
                   help="delay bits, comma-separated (0: no delays)")
    p.add_argument("--seed", type=int, default=0, help="training seed of every run")
    p.add_argument("--no-eq", action="store_true", help="no equal-parameter weights-only rows")
    p.add_argument("--ray", action="store_true", help="run the configurations as Ray tasks")
    p.add_argument("--ray-address",
                   help="Ray cluster to join (host:port); None: $RAY_ADDRESS, else the cluster "
                        "`ray start` made on this machine, else a local Ray instance")
    p.add_argument("--storage",
                   help="where the runs write their artefacts and results: a directory (on a cluster: "
                        "one every node mounts at the same path) or an fsspec URI; "
                        "None: build/sweep/<task>")
    p.add_argument("--reports-dir", type=Path,
                   help="where the sweep's table, JSON and plot go; None: build/reports and build/plots")
    p.add_argument("--sizes", type=_ints, help="hidden sizes; None: the task's")
    p.add_argument("--n-train", type=int, help="use only the first N training samples")
    p.add_argument("--device", help="cpu or cuda; None: cpu")
    p.add_argument("--run-plots", action="store_true", help="keep each run's own plots (slower)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep: configurations with a result in the "
                        "storage are not run again, the others continue from their last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(a: argparse.Namespace) -> int:
    """The sweep with the options; its table printed; 1 if a run failed."""
    if a.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError("--ray needs the ray package (pip install -e .[cluster]; make install "
                            "installs it)") from None
    elif a.ray_address:
        raise UserError("--ray-address needs --ray")
    s = sweep(a.task, a.epochs, a.workers, a.wbits, a.dbits, a.seed, eq=not a.no_eq, use_ray=a.ray,
              overrides={"sizes": a.sizes, "n_train": a.n_train, "device": a.device},
              progress=not a.quiet, run_plots=a.run_plots, resume=a.resume,
              out_dir=a.storage, ray_address=a.ray_address,
              reports_dir=a.reports_dir, plots_dir=a.reports_dir)
    if s["reused"]:
        print(f"--resume: {len(s['reused'])} configuration(s) already finished in {s['storage']}, "
              f"not run again: {', '.join(s['reused'])}")
    print(Path(s["markdown"]).read_text())
    print(f"plot {s['plot']}; report {Path(s['markdown']).with_suffix('.json')}; {s['wall_s']:.0f} s")
    return 1 if any("error" in r for r in s["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
