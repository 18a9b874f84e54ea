"""Cycle schedule of the core (docs/core.md, section 6): the performance model.

Walks the input stream marker by marker and layer by layer. A layer's output acceptance depends on
the next layer's readiness, which only depends on what that layer did earlier, so one pass in
(marker, layer) order is exact. The loops run over events and emitting neurons, never over cycles.
"""

from dataclasses import dataclass, field

from .config import CoreConfig
from .events import SPIKE, EOT, classify
from .network import StreamResult


@dataclass
class Schedule:
    output_cycles: list[int] = field(default_factory=list)   # presentation cycle of every output item
    step_end_cycles: list[int] = field(default_factory=list) # cycle of each output EOT
    input_accept_cycles: list[int] = field(default_factory=list)
    accumulates: int = 0                                      # synaptic accumulates issued

    @property
    def cycles_per_step(self) -> list[int]:
        e = self.step_end_cycles
        return [b - a for a, b in zip([-1] + e[:-1], e)]


def schedule(config: CoreConfig, words, result: StreamResult) -> Schedule:
    """Cycles of a never-stalled source and an always-ready sink, for the stream `words`."""
    shapes = config.layers
    sizes = [s.n for s in shapes]
    last = len(shapes) - 1
    _, _, verdict = classify(words, config.n_in, config.max_events)
    verdict = verdict.tolist()
    kinds = [w & 3 for w in (int(x) for x in words)]
    ready = [0] * len(shapes)       # cycle from which each layer accepts its next input item
    sched = Schedule()
    nxt = 0                         # cycle in which the source presents its next item
    unit = 0
    for k, (kind, bad) in enumerate(zip(kinds, verdict)):
        p = nxt
        if bad:
            a = p                   # the guard takes it at once
        elif kind == SPIKE:
            a = max(p, ready[0])
            ready[0] = a + sizes[0]
            sched.accumulates += sizes[0]
        else:
            a = max(p, ready[0])
            _marker(sched, shapes, ready, a, result.units[unit], last)
            unit += 1
        sched.input_accept_cycles.append(a)
        nxt = a + 1
    return sched


# A neuron update passes five stages (issue; read; integrate; fire; write back and emit): the
# update sweep reaches the last stage PIPE + 1 cycles after it starts issuing.
PIPE = 3


def _marker(sched, shapes, ready, c, unit, last):
    """Propagate one EOT/CLEAR accepted by layer 0 at cycle c through every layer."""
    is_eot = unit[0] == "EOT"
    for l, s in enumerate(shapes):
        n = s.n
        if is_eot:
            r = unit[3][l]
            sched.accumulates += n * r
            emit = range(n) if l == last else unit[2][l]
            u = c + 1 + PIPE + n * r
        else:
            emit = ()
            u = c + 1 + PIPE
        nj = 0                      # next neuron to issue, at cycle u
        for j in emit:
            uj = u + (j - nj)
            p = uj + 1
            if l == last:
                a = p
                sched.output_cycles.append(p)
            else:
                a = max(p, ready[l + 1])
                ready[l + 1] = a + shapes[l + 1].n
                sched.accumulates += shapes[l + 1].n
            u, nj = a, j + 1
        p = u + (n - nj) + 1        # marker issued at u_n, presented a cycle later
        if l == last:
            a = p
            sched.output_cycles.append(p)
            if is_eot:
                sched.step_end_cycles.append(p)
        else:
            a = max(p, ready[l + 1])
        ready[l] = a + 1
        c = a
