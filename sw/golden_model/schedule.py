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
    groups = [s.n // s.lanes for s in shapes]   # issue slots per row (docs/core.md, section 6)
    last = len(shapes) - 1
    _, _, verdict = classify(words, config.n_in, config.max_events)
    verdict = verdict.tolist()
    kinds = [w & 3 for w in (int(x) for x in words)]
    ready = [0] * len(shapes)       # cycle from which each layer accepts its next input item
    stage_ready = 0                 # the same for the input delay stage
    sched = Schedule()
    nxt = 0                         # cycle in which the source presents its next item
    unit = 0
    for k, (kind, bad) in enumerate(zip(kinds, verdict)):
        p = nxt
        if bad:
            a = p                   # the guard takes it at once
        elif config.input_delays:
            a = max(p, stage_ready)
            if kind == SPIKE:
                stage_ready = a + 1
            else:
                u = result.units[unit]
                c = _stage_sweep(sched, config.n_in, shapes[0], ready, a,
                                 u[4] if u[0] == "EOT" else ())
                stage_ready = c + 1
                _marker(sched, shapes, ready, c, u, last)
                unit += 1
        elif kind == SPIKE:
            a = max(p, ready[0])
            ready[0] = a + groups[0]
            sched.accumulates += shapes[0].n
        else:
            a = max(p, ready[0])
            _marker(sched, shapes, ready, a, result.units[unit], last)
            unit += 1
        sched.input_accept_cycles.append(a)
        nxt = a + 1
    return sched


def _stage_sweep(sched, n_in, first, ready, c, emit) -> int:
    """The input delay stage's sweep after a marker accepted at c (docs/core.md, section 6):
    channel ch reaches its last stage at b_ch (b_0 = c + 3) and presents its spike to layer 1;
    returns the cycle in which layer 1 accepts the marker."""
    b = c + 3
    cur, t, had = 0, b, False
    for ch in emit:
        if ch != cur:
            b = (t if had else b + 1) + (ch - cur - 1)
            cur, t, had = ch, b, False
        a = max(t, ready[0])
        ready[0] = a + first.n // first.lanes
        sched.accumulates += first.n
        t, had = a + 1, True
    p = (t if had else b + 1) + (n_in - 1 - cur)
    return max(p, ready[0])


# A neuron update passes five stages (issue; read; integrate; fire; write back and emit): the
# update sweep reaches the last stage PIPE + 1 cycles after it starts issuing.
PIPE = 3


def _marker(sched, shapes, ready, c, unit, last):
    """Propagate one EOT/CLEAR accepted by layer 0 at cycle c through every layer.

    With K lanes the update sweep issues one group of K neurons a cycle; group g reaches the last
    stage at b_g and presents its events one per cycle in lane order (the first at b_g, the next
    one cycle after the previous one was accepted); b_{g+1} is one cycle after its last event was
    accepted, or b_g + 1 if it has none. The marker follows the same rule after the last group."""
    is_eot = unit[0] == "EOT"
    for l, s in enumerate(shapes):
        n, K = s.n, s.lanes
        G = n // K
        if is_eot:
            r = unit[3][l]
            sched.accumulates += n * r
            emit = range(n) if l == last else unit[2][l]
            b = c + 2 + PIPE + G * r    # group 0 reaches the last stage
        else:
            emit = ()
            b = c + 2 + PIPE
        cur, t, had = 0, b, False   # group in the last stage; its next presentation; any event yet
        for j in emit:
            g = j // K
            if g != cur:            # the groups from cur to g - 1 leave the last stage
                b = (t if had else b + 1) + (g - cur - 1)
                cur, t, had = g, b, False
            p = t
            if l == last:
                a = p
                sched.output_cycles.append(p)
            else:
                a = max(p, ready[l + 1])
                ready[l + 1] = a + shapes[l + 1].n // shapes[l + 1].lanes
                sched.accumulates += shapes[l + 1].n
            t, had = a + 1, True
        p = (t if had else b + 1) + (G - 1 - cur)     # the marker, after the last group
        if l == last:
            a = p
            sched.output_cycles.append(p)
            if is_eot:
                sched.step_end_cycles.append(p)
        else:
            a = max(p, ready[l + 1])
        ready[l] = a + 1
        c = a
