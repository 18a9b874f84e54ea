"""Our integer network as a NIR graph (docs/nir.md, "Export").

Input -> [Delay: input delays] -> per LIF layer: Linear -> LIF (IF for a perfect integrator) ->
[Delay: axonal delays] -> ... -> Linear -> LI (I) -> Output. Weights are written in integer
membrane units (level << weight_shift), so they stay exact; thresholds, leaks and delays as the
continuous quantities the integer ones approximate (mapping.py). A Delay node whose delays are
all zero is left out (a reader without Delay support can then still take the graph). A recurrent
layer adds Linear `recurrent_<l>` from its delayed output through a one-step Delay back into it.

The graph's metadata key `delaysnn` holds a JSON string with what NIR cannot say (the core's
configuration, each layer's integer registers and reset mode, which node is which, dt), so that
`nir_bridge.importer` gets the image back exactly.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from corespec.identity import config_dict
from golden_model import NetworkParams, validate

from .errors import NirError
from .mapping import DEFAULT_DT, leak_beta, nir_threshold, time_constant

FORMAT = "delaysnn-nir"
FORMAT_VERSION = 1
META_KEY = "delaysnn"
PREDICTION_RULE = ("argmax over classes of the readout membrane summed over all steps; first "
                   "class on ties")


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def neuron_node(n: int, beta: float, dt: float, threshold: int | None):
    """LIF (threshold given) or LI for a layer of n neurons with decay beta per step of dt; IF / I
    when beta = 1 (tau would be infinite). R is chosen so that one step adds the input itself."""
    import nir
    ones = np.ones(n)
    if beta >= 1:
        r = _f32(ones / dt)
        if threshold is None:
            return nir.I(r=r)
        return nir.IF(r=r, v_threshold=_f32(ones * nir_threshold(threshold)), v_reset=_f32(0 * ones))
    tau = time_constant(beta, dt)
    kw = dict(tau=_f32(ones * tau), r=_f32(ones * tau / dt), v_leak=_f32(0 * ones))
    if threshold is None:
        return nir.LI(**kw)
    return nir.LIF(**kw, v_threshold=_f32(ones * nir_threshold(threshold)), v_reset=_f32(0 * ones))


def _delay_node(steps, dt: float):
    import nir
    return nir.Delay(delay=_f32(np.asarray(steps, dtype=np.float64) * dt))


def _layer_nodes(params: NetworkParams, l: int, dt: float, nodes: dict, edges: list,
                 source: str) -> tuple[str, dict]:
    """Add layer l's nodes fed by `source`; returns the node its output leaves from and its
    metadata entry (names and integer registers)."""
    import nir
    cfg, p, shape = params.config, params.layers[l], params.config.layers[l]
    w = p.weight.to(torch.int64) << p.weight_shift
    linear, neuron = f"linear_{l}", f"lif_{l}" if shape.spiking else "readout"
    nodes[linear] = nir.Linear(weight=_f32(w[:shape.n_src].T.numpy()))
    nodes[neuron] = neuron_node(shape.n, leak_beta(cfg.leak_mode, p.leak), dt,
                                p.threshold if shape.spiking else None)
    edges += [(source, linear), (linear, neuron)]
    meta = {"linear": linear, "neuron": neuron, "delay": None, "recurrent": None,
            "threshold": p.threshold, "leak": p.leak, "weight_shift": p.weight_shift,
            "reset_mode": p.reset_mode}
    out = neuron
    if shape.spiking and bool((p.delay != 0).any()):
        meta["delay"] = out = f"delay_{l}"
        nodes[out] = _delay_node(p.delay.numpy(), dt)
        edges.append((neuron, out))
    if shape.recurrent:
        meta["recurrent"] = rec = f"recurrent_{l}"
        nodes[rec] = nir.Linear(weight=_f32(w[shape.n_src:].T.numpy()))
        nodes[f"{rec}_step"] = _delay_node(np.ones(shape.n), dt)
        edges += [(out, rec), (rec, f"{rec}_step"), (f"{rec}_step", neuron)]
    return out, meta


def graph_from_params(params: NetworkParams, dt: float = DEFAULT_DT, source: dict | None = None):
    """The NIR graph of a parameter image (any the core accepts), with our metadata."""
    import nir
    validate(params)
    if not dt > 0:
        raise NirError(f"--dt: the duration of one step in seconds must be positive, got {dt!r}")
    cfg = params.config
    nodes = {"input": nir.Input(input_type={"input": np.array([cfg.n_in])})}
    edges: list[tuple[str, str]] = []
    out, input_delay = "input", None
    if cfg.input_delays and bool((params.input_delay != 0).any()):
        input_delay = out = "input_delay"
        nodes[out] = _delay_node(params.input_delay.numpy(), dt)
        edges.append(("input", out))
    layers = []
    for l in range(len(params.layers)):
        out, meta = _layer_nodes(params, l, dt, nodes, edges, out)
        layers.append(meta)
    nodes["output"] = nir.Output(output_type={"output": np.array([cfg.n_out])})
    edges.append((out, "output"))
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "dt": dt, "core_config": config_dict(cfg),
            "input_delay": input_delay, "layers": layers,
            "spike_rule": "integer v >= threshold, written as v_threshold = threshold - 0.5",
            "reset": "reset_mode 0: v - threshold, 1: v = 0 (NIR's v_reset = 0 is written for both)",
            "weights": "Linear weight = level << weight_shift (integer membrane units)",
            "delays": "Delay = steps * dt seconds; a recurrent layer's feedback adds one step",
            "prediction_rule": PREDICTION_RULE, "source": source or {}}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(meta)},
                        type_check=not any(cfg.recurrent))


def write_graph(graph, path: str | Path) -> None:
    """nir.write into memory, then the file atomically (a reader never sees half a graph)."""
    import nir
    from corespec.files import atomic_write_bytes
    buf = io.BytesIO()
    nir.write(buf, graph)
    atomic_write_bytes(path, buf.getvalue())


def export_to_nir(folder: Path, out: Path, dt: float = DEFAULT_DT):
    """An export folder (or a training run folder holding export/) as a .nir file; returns the
    graph and the parameter image."""
    from delay_training.export import load_export, read_manifest
    from delaysnn.export import export_folder
    folder = export_folder(Path(folder))
    params = load_export(folder)
    manifest = read_manifest(folder)
    source = {"export": str(folder), "sha256": manifest["sha256"],
              **{k: manifest[k] for k in ("task", "test_acc") if k in manifest}}
    graph = graph_from_params(params, dt, source)
    write_graph(graph, out)
    return graph, params
