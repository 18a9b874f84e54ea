"""A NIR graph as the chain of layers the core can run, or a NirError naming the node that
is not (docs/nir.md, "What the importer takes").

Accepted: Input -> [Delay...] -> ( Linear | Affine with zero bias -> LIF | IF -> [Delay...] )* ->
Linear | Affine -> LIF | IF | LI | I -> Output, shapes matching. Refused, by name: any other node
type (convolutions, pooling, Flatten, Scale, Threshold, CubaLIF / CubaLI, subgraphs), a bias, a
non-zero v_leak or v_reset, branches, sums and skip connections, a Delay after the last layer,
and recurrence, except the one form our own exporter writes (Linear from a layer's delayed
output through a one-step Delay back into it), which is taken only from a graph with our
metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import NirError
from .exporter import FORMAT, META_KEY

NEURONS = ("LIF", "IF", "LI", "I")
SPIKING = ("LIF", "IF")
REFUSED = {
    "Conv1d": "convolutions are not supported: the core's layers are dense",
    "Conv2d": "convolutions are not supported: the core's layers are dense",
    "SumPool2d": "pooling is not supported", "AvgPool2d": "pooling is not supported",
    "Flatten": "Flatten is not supported: the input must be a vector of channels",
    "Scale": "Scale is not supported: fold it into the Linear weights",
    "Threshold": "a bare Threshold is not supported: the core's neurons are LIF",
    "CubaLIF": "the core has no synaptic current (tau_syn): use LIF (snnTorch Leaky)",
    "CubaLI": "the core has no synaptic current (tau_syn): use LI",
    "NIRGraph": "a subgraph (snnTorch writes RLeaky / RSynaptic so): recurrence is not supported",
}


@dataclass
class ChainLayer:
    """One Linear -> neuron stage, in the float units of the graph."""
    linear: str
    neuron: str
    kind: str                       # the neuron node's NIR type
    weight: np.ndarray              # [n_src, n]: NIR's [n, n_src] transposed
    beta: np.ndarray                # [n] decay per step
    gain: np.ndarray                # [n] input gain per step (R dt / tau)
    threshold: np.ndarray | None    # [n] v_threshold; None for LI / I
    delay: np.ndarray               # [n] seconds after the neuron (zeros: no Delay node)
    delay_nodes: tuple[str, ...] = ()
    recurrent: str | None = None    # our exporter's recurrent Linear
    rec_weight: np.ndarray | None = None   # [n, n] source x neuron

    @property
    def n(self) -> int:
        return self.weight.shape[1]

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING


@dataclass
class Chain:
    n_in: int
    layers: list[ChainLayer]
    dt: float
    input_delay: np.ndarray | None = None     # [n_in] seconds
    input_delay_nodes: tuple[str, ...] = ()


def read_graph(path: str | Path):
    """nir.read, with a file that is not a NIR graph reported as one line naming it."""
    import nir
    path = Path(path)
    if not path.is_file():
        raise NirError(f"{path}: no such file, expected a NIR graph (.nir, HDF5)")
    try:
        return nir.read(path, type_check=False)
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as e:
        raise NirError(f"{path}: not a NIR graph nir 1.0.8 can read ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''})") from None


def our_metadata(graph) -> dict | None:
    """The metadata our exporter writes, or None for a graph made elsewhere."""
    raw = (graph.metadata or {}).get(META_KEY)
    if raw is None:
        return None
    try:
        meta = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except (ValueError, TypeError):
        raise NirError(f"graph metadata {META_KEY!r}: not the JSON our exporter writes; import "
                       f"with --ignore-metadata to quantise the graph as one made elsewhere") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise NirError(f"graph metadata {META_KEY!r}: format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                       f"expected {FORMAT!r}; import with --ignore-metadata")
    return meta


def _type(node) -> str:
    return type(node).__name__


def _vector(name: str, field_name: str, value, n: int) -> np.ndarray:
    """A per-neuron parameter as float64 [n] (a scalar is broadcast); NirError on another shape."""
    a = np.asarray(value, dtype=np.float64)
    if a.size == 1:
        return np.full(n, float(a.reshape(-1)[0]))
    if a.shape != (n,):
        raise NirError(f"node {name!r}: {field_name} has shape {a.shape}, expected ({n},) "
                       f"(mismatched shapes)")
    return a


class _Walk:
    """The graph's adjacency and the checks every node on the path gets."""

    def __init__(self, graph, allow_recurrent: bool):
        self.nodes = graph.nodes
        self.allow_recurrent = allow_recurrent
        self.succ = {k: [] for k in self.nodes}
        self.pred = {k: [] for k in self.nodes}
        for a, b in graph.edges:
            for end in (a, b):
                if end not in self.nodes:
                    raise NirError(f"edge ({a!r}, {b!r}): node {end!r} is not in the graph")
            self.succ[a].append(b)
            self.pred[b].append(a)
        for name, node in self.nodes.items():
            self.check_node(name, node)
        self.visited: set[str] = set()

    def check_node(self, name: str, node) -> None:
        kind = _type(node)
        if kind in REFUSED:
            raise NirError(f"node {name!r} ({kind}): {REFUSED[kind]}")
        if kind not in ("Input", "Output", "Linear", "Affine", "Delay") + NEURONS:
            raise NirError(f"node {name!r} ({kind}): unknown to the importer (it takes Input, "
                           f"Linear, Affine, Delay, LIF, IF, LI, I, Output)")
        if kind == "Affine" and np.any(np.asarray(node.bias) != 0):
            raise NirError(f"node {name!r} (Affine): a non-zero bias; the core has no bias "
                           f"current (train with bias=False)")
        if hasattr(node, "v_leak") and np.any(np.asarray(node.v_leak) != 0):
            raise NirError(f"node {name!r} ({kind}): v_leak != 0; the core's membranes leak to 0")
        if getattr(node, "v_reset", None) is not None and np.any(np.asarray(node.v_reset) != 0):
            raise NirError(f"node {name!r} ({kind}): v_reset != 0; the core resets to 0 or by "
                           f"subtraction")

    def one(self, kind: str) -> str:
        found = [k for k, n in self.nodes.items() if _type(n) == kind]
        if len(found) != 1:
            raise NirError(f"graph: {len(found)} {kind} nodes ({', '.join(found) or 'none'}), "
                           f"expected one")
        return found[0]

    def visit(self, name: str, allowed_preds: int = 1) -> str:
        if len(self.pred[name]) > allowed_preds:
            raise NirError(f"node {name!r} has {len(self.pred[name])} inputs "
                           f"({', '.join(map(repr, self.pred[name]))}): sums and skip connections "
                           f"are not supported")
        if name in self.visited:
            raise NirError(f"node {name!r}: reached twice, a loop the core cannot run")
        self.visited.add(name)
        return name

    def loop_back(self, start: str, neuron: str) -> list[str] | None:
        """The nodes from `start` back into `neuron` (a recurrent loop; at most 3), else None."""
        path, name = [], start
        while len(path) < 3 and len(self.succ[name]) == 1:
            path.append(name)
            name = self.succ[name][0]
            if name == neuron:
                return path
        return None

    def forward(self, name: str, neuron: str | None) -> tuple[str, list[str] | None]:
        """The one successor on the forward path, and a recurrent loop into `neuron` if any."""
        succ, loop = list(self.succ[name]), None
        if neuron is not None:
            for s in list(succ):
                if (found := self.loop_back(s, neuron)) is not None:
                    if not self.allow_recurrent:
                        raise NirError(f"node {s!r} feeds {name!r} back into {neuron!r}: "
                                       f"recurrent connections are not supported")
                    if [_type(self.nodes[k]) for k in found] != ["Linear", "Delay"]:
                        raise NirError(f"node {s!r}: a recurrent loop must be Linear -> one-step "
                                       f"Delay -> {neuron!r}, as our exporter writes it")
                    loop = found
                    succ.remove(s)
        if len(succ) != 1:
            what = "no successor" if not succ else f"{len(succ)} successors ({', '.join(map(repr, succ))})"
            raise NirError(f"node {name!r} has {what}: the importer takes one chain from Input to "
                           f"Output (no branches, sums or skip connections)")
        return succ[0], loop


def _neuron_dynamics(name: str, node, n: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Decay and input gain per Euler step of dt (mapping.py): LIF / LI beta = 1 - dt/tau (held in
    0..1, as snnTorch holds its beta) and g = R dt / tau; IF / I beta = 1, g = R dt."""
    r = _vector(name, "r", node.r, n)
    if _type(node) in ("IF", "I"):
        return np.ones(n), r * dt
    tau = _vector(name, "tau", node.tau, n)
    if np.any(~(tau > 0)):
        raise NirError(f"node {name!r}: tau must be positive, got {tau[~(tau > 0)][0]!r}")
    return np.clip(1.0 - dt / tau, 0.0, 1.0), r * dt / tau


def _delays(walk: _Walk, name: str, n: int) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """Follow consecutive Delay nodes after `name`; their sum per neuron (seconds)."""
    total, names = np.zeros(n), []
    nxt = walk.succ[name]
    while len(nxt) == 1 and _type(walk.nodes[nxt[0]]) == "Delay":
        d = nxt[0]
        walk.visit(d)
        delay = _vector(d, "delay", walk.nodes[d].delay, n)
        if np.any(delay < 0):
            raise NirError(f"node {d!r}: a negative delay ({delay.min()!r} s)")
        total, name = total + delay, d
        names.append(d)
        nxt = walk.succ[d]
    return name, total, tuple(names)


def _layer(walk: _Walk, linear: str, n_src: int, dt: float) -> tuple[ChainLayer, str]:
    """Linear -> neuron -> [Delay...] starting at `linear`; returns the layer and its last node."""
    lin = walk.nodes[linear]
    if _type(lin) not in ("Linear", "Affine"):
        raise NirError(f"node {linear!r} ({_type(lin)}): expected Linear or Affine here "
                       f"(each layer is Linear -> LIF)")
    walk.visit(linear)
    w = np.asarray(lin.weight, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != n_src:
        raise NirError(f"node {linear!r}: weight shape {w.shape}, expected (n, {n_src}) "
                       f"(mismatched shapes)")
    neuron, _ = walk.forward(linear, None)
    node = walk.nodes[neuron]
    if _type(node) not in NEURONS:
        raise NirError(f"node {neuron!r} ({_type(node)}): expected a neuron (LIF, IF, LI, I) "
                       f"after {linear!r}")
    walk.visit(neuron, allowed_preds=2)     # a second input is a recurrent loop (checked after)
    n = w.shape[0]
    beta, gain = _neuron_dynamics(neuron, node, n, dt)
    thr = _vector(neuron, "v_threshold", node.v_threshold, n) if _type(node) in SPIKING else None
    last, delay, delay_nodes = _delays(walk, neuron, n)
    layer = ChainLayer(linear, neuron, _type(node), w.T.copy(), beta, gain, thr, delay, delay_nodes)
    return layer, last


def _attach_recurrence(walk: _Walk, layer: ChainLayer, loop: list[str], dt: float) -> None:
    rec, step = loop
    walk.visit(rec)
    walk.visit(step)
    w = np.asarray(walk.nodes[rec].weight, dtype=np.float64)
    if w.shape != (layer.n, layer.n):
        raise NirError(f"node {rec!r}: weight shape {w.shape}, expected {(layer.n, layer.n)}")
    one = _vector(step, "delay", walk.nodes[step].delay, layer.n)
    if np.any(np.abs(one / dt - 1) > 1e-3):
        raise NirError(f"node {step!r}: a recurrent connection's delay must be one step (dt)")
    layer.recurrent, layer.rec_weight = rec, w.T.copy()


def parse_graph(graph, dt: float, allow_recurrent: bool = False) -> Chain:
    """The chain of layers of a NIR graph, or NirError naming the first node that does not fit."""
    if not dt > 0:
        raise NirError(f"--dt: the duration of one step in seconds must be positive, got {dt!r}")
    walk = _Walk(graph, allow_recurrent)
    inp, out = walk.one("Input"), walk.one("Output")
    shape = np.asarray(walk.nodes[inp].input_type.get("input", [])).reshape(-1)
    if shape.size != 1:
        raise NirError(f"node {inp!r}: input shape {tuple(int(s) for s in shape)}, expected one "
                       f"dimension of channels (snnTorch: export with ignore_dims=[0])")
    n_in = int(shape[0])
    walk.visit(inp, allowed_preds=0)
    last, in_delay, in_nodes = _delays(walk, inp, n_in)
    layers, width = [], n_in
    nxt, _ = walk.forward(last, None)
    while nxt != out:
        if layers and not layers[-1].spiking:
            raise NirError(f"node {layers[-1].neuron!r} ({layers[-1].kind}): a non-spiking layer "
                           f"must be the last one (the readout)")
        layer, last = _layer(walk, nxt, width, dt)
        nxt, loop = walk.forward(last, layer.neuron)
        if loop:
            _attach_recurrence(walk, layer, loop, dt)
        layers.append(layer)
        width = layer.n
    walk.visit(out)
    if not layers:
        raise NirError(f"graph: no layer between {inp!r} and {out!r}")
    if layers[-1].delay_nodes:
        raise NirError(f"node {layers[-1].delay_nodes[0]!r}: a Delay after the last layer is not "
                       f"supported (the readout is read every step)")
    out_shape = np.asarray(walk.nodes[out].output_type.get("output", [])).reshape(-1)
    if out_shape.size and int(np.prod(out_shape)) != layers[-1].n:
        raise NirError(f"node {out!r}: output shape {tuple(int(s) for s in out_shape)}, the last "
                       f"layer has {layers[-1].n} neurons (mismatched shapes)")
    left = sorted(set(walk.nodes) - walk.visited)
    if left:
        raise NirError(f"node {left[0]!r}: not on the path from {inp!r} to {out!r}")
    return Chain(n_in, layers, dt, in_delay if in_nodes else None, in_nodes)
