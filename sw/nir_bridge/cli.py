"""NIR (the Neuromorphic Intermediate Representation) both ways; docs/nir.md.

  delaysnn nir export RUN -o net.nir
      a trained network (a run folder or its export folder) as a NIR graph: Input -> [Delay] ->
      Linear -> LIF -> [Delay] -> ... -> Linear -> LI -> Output, with metadata that brings the
      integer image back exactly.
  delaysnn nir import net.nir -o OUT [--weight-bits 1.58|2..8] [--data TASK|FOLDER|FILE.npy]
                                     [--fine-tune EPOCHS]
      a graph (ours, or written by snnTorch, Norse, Sinabs, Lava-DL ...) onto the core: weights
      quantised with a per-layer scale, leaks, thresholds and delays to registers; with --data the
      agreement of the float graph and the quantised core; OUT is an export folder that
      `delaysnn deploy` takes.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from .mapping import DEFAULT_DT


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN", type=Path,
                   help="training run folder (build/train/<name>; its export/ is used) or an "
                        "export folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .nir file to write")
    p.add_argument("--dt", type=float, default=DEFAULT_DT,
                   help="seconds per core step, for the time constants and delays (snnTorch's "
                        "importer assumes 1e-4)")


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", type=Path, help="the .nir file")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="export folder to write (manifest.json, params.pt, image.json)")
    p.add_argument("--weight-bits", type=float, default=1.58,
                   help="1.58 (ternary) or 2..8 bits per weight (a graph with our metadata keeps its own)")
    p.add_argument("--data", default=None, help="samples for the agreement report: a training "
                   "task (e.g. yinyang, fsdd: its test split), a .npy of spike counts "
                   "[N, T, n_in], or a folder with spikes.npy and labels.npy; None: no report")
    p.add_argument("--samples", type=int, default=1000, help="at most this many samples of --data")
    p.add_argument("--fine-tune", type=int, default=0, metavar="EPOCHS",
                   help="train the imported network in the core's arithmetic on --data TASK's "
                        "training split (best validation epoch kept); 0: no fine-tuning")
    p.add_argument("--lr", type=float, default=1e-2,
                   help="fine-tuning learning rate of the weights (threshold units; cosine schedule)")
    p.add_argument("--seed", type=int, default=0, help="fine-tuning seed")
    p.add_argument("--leak-mode", choices=("mul", "shift"), default="mul",
                   help="the core's leak: multiplier (decay in 1/256) or shift (tau a power of 2)")
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract",
                   help="the reset the graph's LIFs were trained with (NIR does not store it; "
                        "snnTorch's default is subtract)")
    p.add_argument("--reference", choices=("nir", "snntorch", "snntorch-reset-delay"),
                   default="nir", help="what the tool that wrote the graph computes, for the "
                   "float reference of the agreement report: NIR's LIF resetting in the same step "
                   "(as the core), or snnTorch's Leaky with reset_delay=False / True (snnTorch's "
                   "default; the core cannot delay its reset)")
    p.add_argument("--readout", choices=("auto", "membrane", "spikes"), default="auto",
                   help="the last layer's output: its membrane summed over time (snnTorch "
                        "reset_mechanism='none') or its spike counts; auto: membrane for LI / I, "
                        "spikes for LIF / IF")
    p.add_argument("--dt", type=float, default=None,
                   help="seconds per step of the graph's time constants and delays; None: the "
                        "graph's metadata, else 1e-4 (snnTorch's)")
    p.add_argument("--delay-bits", type=int, choices=range(0, 7), default=None,
                   help="delays 0 .. 2^bits - 1 steps (longer ones are clipped); None: the fewest "
                        "that hold the longest delay")
    p.add_argument("--v-bits", type=int, choices=range(8, 25), default=16, metavar="8..24",
                   help="membrane width")
    p.add_argument("--theta-target", type=int, default=1024,
                   help="wanted threshold in integer units (chooses each layer's weight_shift)")
    p.add_argument("--ignore-metadata", action="store_true",
                   help="quantise a graph our exporter wrote as if it were made elsewhere")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`export` and `import` (the options of `delaysnn nir` and `python -m nir_bridge`)."""
    sub = parser.add_subparsers(dest="nir_command", metavar="{export,import}", required=True)
    add_export_arguments(sub.add_parser(
        "export", help="a trained network as a NIR graph",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    add_import_arguments(sub.add_parser(
        "import", help="a NIR graph onto the core, as an export folder",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter))


def run_export(args: argparse.Namespace) -> int:
    from .exporter import export_to_nir
    graph, params = export_to_nir(args.source, args.output, args.dt)
    cfg = params.config
    print(f"graph     {args.output} ({len(graph.nodes)} nodes, dt {args.dt:g} s)")
    print(f"network   {cfg.n_in}-{'-'.join(map(str, cfg.sizes))}-{cfg.n_out}, delays 0..{cfg.depth - 1} "
          f"steps{', input delays' if cfg.input_delays else ''}")
    print(f"next      delaysnn nir import {args.output} -o <folder>  (gets the same image back)")
    return 0


def _options(args: argparse.Namespace):
    from .importer import ImportOptions
    return ImportOptions(wbits=args.weight_bits, leak_mode=args.leak_mode, reset=args.reset,
                         reference=args.reference, readout=args.readout, dt=args.dt,
                         delay_bits=args.delay_bits, v_bits=args.v_bits,
                         theta_target=args.theta_target, ignore_metadata=args.ignore_metadata)


def _print_agreement(label: str, a: dict) -> None:
    spikes = ", ".join(f"{k} {100 * v:.2f} % (overlap {100 * a['spike_overlap'][k]:.1f} %)"
                       for k, v in a["spike_agreement"].items())
    print(f"{label:<10}{a['data']}: predictions {100 * a['prediction_agreement']:.2f} % equal; "
          f"spikes equal: {spikes}")
    if "accuracy_core" in a:
        print(f"{'accuracy':<10}float graph {100 * a['accuracy_reference']:.2f} %, core "
              f"{100 * a['accuracy_core']:.2f} %")


def _check_fine_tune(args: argparse.Namespace) -> None:
    """--fine-tune's conditions, before any work."""
    from delay_training.data import TASKS
    from .errors import NirError
    if args.fine_tune < 0:
        raise NirError(f"--fine-tune: a number of epochs >= 0, got {args.fine_tune}")
    if args.fine_tune and args.data not in TASKS:
        raise NirError(f"--fine-tune needs --data TASK, one of {', '.join(TASKS)} (its training "
                       f"and validation splits), got {args.data}")


def _fine_tune(args, imp, samples, report: dict) -> None:
    from delay_training.export import to_params
    from .agreement import agreement
    from .finetune import fine_tune
    model = imp.training_model()
    history = fine_tune(model, samples.splits, args.fine_tune, args.seed, args.lr)
    imp.params = to_params(model)
    report["fine_tune"] = {"epochs": args.fine_tune, "seed": args.seed, "lr": args.lr,
                           "history": history}
    report["agreement_after_fine_tune"] = after = agreement(imp, imp.params, samples)
    _print_agreement("tuned", after)


def run_import(args: argparse.Namespace) -> int:
    from delay_training.export import export
    from .agreement import agreement, load_samples
    from .importer import import_graph
    _check_fine_tune(args)
    imp = import_graph(args.graph, _options(args))
    imp.training_model()        # an image training's writer cannot hold is refused before any work
    cfg = imp.params.config
    how = ("exact (delaysnn metadata)" if imp.exact else
           f"quantised: {'ternary' if cfg.ternary else f'{cfg.weight_bits}-bit'} weights, leak "
           f"{cfg.leak_mode}, reset {imp.resets[0]}, readout {imp.readout}")
    print(f"graph     {args.graph}: {' -> '.join(l.neuron for l in imp.chain.layers)}; {how}")
    print(f"core      {cfg.n_in}-{'-'.join(map(str, cfg.sizes))}-{cfg.n_out}, delays 0..{cfg.depth - 1}"
          f" steps{', input delays' if cfg.input_delays else ''}, "
          f"leaks {[p.leak for p in imp.params.layers]}, thresholds "
          f"{[p.threshold for p in imp.params.layers[:-1]]}")
    for note in imp.notes:
        print(f"note      {note}")
    report = {"graph": str(args.graph),
              "graph_sha256": hashlib.sha256(args.graph.read_bytes()).hexdigest(),
              "exact": imp.exact, "readout": imp.readout, "reset": imp.resets,
              "reference": imp.reference, "notes": imp.notes,
              **({} if imp.exact else {"options": vars(_options(args))})}
    samples = load_samples(args.data, cfg.n_in, args.samples) if args.data else None
    if samples is not None:
        report["agreement"] = agreement(imp, imp.params, samples)
        _print_agreement("agreement", report["agreement"])
    if args.fine_tune:
        _fine_tune(args, imp, samples, report)
    extra = {"nir_import": report}
    if samples is not None and samples.splits is not None:
        from delay_training.train import front_end_record
        final = report.get("agreement_after_fine_tune", report["agreement"])
        extra.update(task=args.data, **front_end_record(args.data))
        if samples.x.shape[0] == samples.splits.test.n_samples:     # the whole test split
            extra["test_acc"] = final.get("accuracy_core")
    export(imp.training_model(), args.output, extra=extra)
    print(f"export    {args.output} (manifest.json, params.pt, image.json)")
    print(f"next      delaysnn deploy {args.output} --board icebreaker|ulx3s")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `export` or `import`."""
    return run_export(args) if args.nir_command == "export" else run_import(args)
