"""Two trained networks as one: towers side by side in one core image.

Network A (inputs a, hidden h_a) and network B (inputs b, hidden h_b), each with one LIF layer and
a readout over the same classes, become one network with inputs a + b (A's channels first), one
hidden layer of h_a + h_b neurons whose weights are block-diagonal (A's block, B's block, zeros
between: a zero is an ordinary ternary weight) and one readout over all h_a + h_b neurons. Each
hidden neuron sees exactly the inputs it saw in its own network, with its own delays and the
layer's registers, so it spikes exactly as it did; the readout integrates the sum of the two
readouts' input currents (the same weight shift) with one leak and clips at the core's v_bits as
any membrane. That is the sum of the two readout membranes up to the leak's rounding (the shift
leak v - (v >> k) floors once for the sum, not once for each part) and the clip. The prediction,
the argmax of the readout summed over the steps, is the two networks voting.

Why: two networks that hear speech through different front ends (microphone tilt removed; the
speaker's long-term spectrum removed) miss different words of a new voice, and their vote is
right more often than either (docs/results.md, "Leave one speaker out"). Merging needs equal
registers (threshold, leak, weight_shift, reset_mode per layer), delay depth, weight format and
v_bits: the merged layer has one of each. Networks trained with the same recipe have them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from corespec.errors import UserError
from golden_model import LayerParams, NetworkParams, validate


class TowerError(UserError, ValueError):
    """Two networks that cannot be one (different registers, shapes or formats); names what differs."""


SHARED_CONFIG = ("n_out", "weight_bits", "ternary", "depth", "v_bits", "leak_mode", "input_delays")
REGISTERS = ("threshold", "leak", "weight_shift", "reset_mode")


def check_mergeable(a: NetworkParams, b: NetworkParams, names=("A", "B")) -> None:
    for net, name in zip((a, b), names):
        if len(net.config.sizes) != 1 or any(net.config.recurrent):
            raise TowerError(f"{name}: {net.config.n_in}-{'-'.join(map(str, net.config.sizes))}-"
                             f"{net.config.n_out}: towers need one feed-forward hidden layer")
    for key in SHARED_CONFIG:
        va, vb = getattr(a.config, key), getattr(b.config, key)
        if va != vb:
            raise TowerError(f"{names[0]} and {names[1]} differ in {key} ({va} and {vb}): one core "
                             f"image has one")
    for l, (la, lb) in enumerate(zip(a.layers, b.layers)):
        for key in REGISTERS:
            va, vb = getattr(la, key), getattr(lb, key)
            if va != vb:
                layer = "hidden layer" if l == 0 else "readout"
                raise TowerError(f"{names[0]} and {names[1]} differ in the {layer}'s {key} ({va} and "
                                 f"{vb}): the merged layer has one register")


def merge_params(a: NetworkParams, b: NetworkParams, names=("A", "B")) -> NetworkParams:
    """The towers network of `a` and `b` (module docstring)."""
    check_mergeable(a, b, names)
    (ha, ra), (hb, rb) = a.layers, b.layers
    weight = torch.zeros(ha.weight.shape[0] + hb.weight.shape[0], ha.weight.shape[1] + hb.weight.shape[1],
                         dtype=torch.int64)
    weight[:ha.weight.shape[0], :ha.weight.shape[1]] = ha.weight
    weight[ha.weight.shape[0]:, ha.weight.shape[1]:] = hb.weight
    hidden = dataclasses.replace(ha, weight=weight, delay=torch.cat([ha.delay, hb.delay]).to(torch.int64))
    readout = dataclasses.replace(ra, weight=torch.cat([ra.weight, rb.weight]).to(torch.int64),
                                  delay=ra.delay.to(torch.int64))
    n_in = a.config.n_in + b.config.n_in
    config = dataclasses.replace(a.config, n_in=n_in, sizes=(a.config.sizes[0] + b.config.sizes[0],),
                                 recurrent=(False,), max_events=max(a.config.max_events, b.config.max_events, n_in))
    delays = torch.cat([a.input_delay, b.input_delay]).to(torch.int64) if a.config.input_delays else None
    params = NetworkParams(config, [hidden, readout], delays)
    validate(params)
    return params


def memory_bits(params: NetworkParams, dbits: int) -> dict:
    """What the core stores for the towers network: its weights dense, zeros included (the
    core's weight memory has no sparse format), as DelaySNN.memory_bits counts them."""
    from .model import DelaySNN
    from .model_config import ModelConfig
    c = params.config
    model = DelaySNN(ModelConfig(n_in=c.n_in, sizes=c.sizes, n_out=c.n_out, wbits=1.58 if c.ternary else c.weight_bits,
                                 dbits=dbits, v_bits=c.v_bits, leak_mode=c.leak_mode, max_events=c.max_events,
                                 input_delays=c.input_delays), seed=0)
    return model.memory_bits()


def write_towers(export_a: str | Path, export_b: str | Path, out: str | Path) -> tuple[NetworkParams, Path]:
    """Merge two training exports into an export folder `out` (params.pt, image.json,
    manifest.json) that deploy / run / eval take like any other; its manifest records both front
    ends (a list: A's, then B's) and the task."""
    from .export import load_export, read_manifest, write_export
    ma, mb = read_manifest(export_a), read_manifest(export_b)
    params = merge_params(load_export(export_a), load_export(export_b), (str(export_a), str(export_b)))
    if ma.get("task") != mb.get("task"):
        raise TowerError(f"{export_a} and {export_b} were trained on different tasks "
                         f"({ma.get('task')} and {mb.get('task')})")
    if "front_end" not in ma or "front_end" not in mb or isinstance(ma["front_end"], list) \
            or isinstance(mb["front_end"], list):
        raise TowerError(f"{export_a}, {export_b}: towers need two audio networks of one front end each")
    mc = dict(ma["model_config"], n_in=params.config.n_in, sizes=list(params.config.sizes))
    extra = {"task": ma["task"], "front_end": [ma["front_end"], mb["front_end"]],
             "towers_of": [str(Path(export_a).resolve()), str(Path(export_b).resolve())]}
    return params, write_export(params, out, mc, extra)
