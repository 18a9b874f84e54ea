"""Bit-exact network model, vectorised over a batch and over neurons (docs/core.md, section 2)."""

from dataclasses import dataclass, field

import torch

from .config import LayerShape
from .events import SPIKE, EOT, CLEAR, EventError, classify
from .params import NetworkParams, validate


@dataclass
class LayerState:
    v: torch.Tensor          # [B, n] int64 membrane
    hist: torch.Tensor       # [B, n, D] bool, hist[..., k] = s(t - k)
    y_prev: torch.Tensor     # [B, n] bool, delayed spikes of the last step (recurrent queue)


@dataclass
class NetworkState:
    layers: list[LayerState]
    in_hist: torch.Tensor | None = None    # [B, n_in, D] bool: the input delay stage's history

    def clone(self) -> "NetworkState":
        return NetworkState([LayerState(s.v.clone(), s.hist.clone(), s.y_prev.clone())
                             for s in self.layers],
                            None if self.in_hist is None else self.in_hist.clone())


def history_words(hist: torch.Tensor) -> list[int]:
    """The history memory words of one sample ([n, D] bool) as unsigned ints, bit k = s(t-k)."""
    d = hist.shape[-1]
    weights = [1 << k for k in range(d)]
    return [sum(w for w, b in zip(weights, row) if b) for row in hist.tolist()]


def leak(v: torch.Tensor, amount: int, mode: str) -> torch.Tensor:
    if mode == "shift":
        return v - (v >> amount)
    return (v * amount) >> 8


class GoldenNetwork:
    """Runs a parameter image exactly as the core does."""

    def __init__(self, params: NetworkParams):
        validate(params)
        self.params = params
        self.config = params.config
        self.shapes: list[LayerShape] = self.config.layers
        # Effective weights (w << weight_shift) as int64, one matmul per layer and step.
        self.reload()

    def reload(self) -> None:
        """Take in parameters changed in place (e.g. by on-chip learning)."""
        params = self.params
        self._weights = [p.weight.to(torch.int64) << p.weight_shift for p in params.layers]
        self._delays = [p.delay.to(torch.int64) for p in params.layers]
        self._in_delay = None if params.input_delay is None else params.input_delay.to(torch.int64)

    def init_state(self, batch: int = 1) -> NetworkState:
        D = self.config.depth
        in_hist = (torch.zeros(batch, self.config.n_in, D, dtype=torch.bool)
                   if self.config.input_delays else None)
        return NetworkState([LayerState(torch.zeros(batch, s.n, dtype=torch.int64),
                                        torch.zeros(batch, s.n, D, dtype=torch.bool),
                                        torch.zeros(batch, s.n, dtype=torch.bool))
                             for s in self.shapes], in_hist)

    def _input_step(self, state: NetworkState, x: torch.Tensor) -> torch.Tensor:
        """The input delay stage (docs/core.md, 2.7): counts become spikes, then each channel's
        axonal delay; returns the delayed 0/1 input of layer 1."""
        state.in_hist = torch.cat([(x > 0).unsqueeze(-1), state.in_hist[..., :-1]], dim=-1)
        d = self._in_delay.view(1, -1, 1).expand(state.in_hist.shape[0], -1, 1)
        return state.in_hist.gather(-1, d).squeeze(-1).to(torch.int64)

    def _layer_step(self, l: int, st: LayerState, x: torch.Tensor) -> torch.Tensor:
        s, p, w = self.shapes[l], self.params.layers[l], self._weights[l]
        src = torch.cat([x, st.y_prev.to(torch.int64)], dim=1) if s.recurrent else x
        acc = src @ w
        v1 = (leak(st.v, p.leak, self.config.leak_mode) + acc).clamp(s.v_min, s.v_max)
        if not s.spiking:
            st.v = v1
            return v1
        spk = v1 >= p.threshold
        st.v = torch.where(spk, v1 - p.threshold if p.reset_mode == 0 else torch.zeros_like(v1), v1)
        st.hist = torch.cat([spk.unsqueeze(-1), st.hist[..., :-1]], dim=-1)
        d = self._delays[l].view(1, -1, 1).expand(st.hist.shape[0], -1, 1)
        st.y_prev = st.hist.gather(-1, d).squeeze(-1)
        return st.y_prev

    def step(self, state: NetworkState, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One timestep. x: [B, n_in] spike counts. Returns readout values and each LIF layer's y."""
        ys = []
        h = x.to(torch.int64)
        if self.config.input_delays:
            h = self._input_step(state, h)
        for l in range(len(self.shapes) - 1):
            y = self._layer_step(l, state.layers[l], h)
            ys.append(y)
            h = y.to(torch.int64)
        return self._layer_step(len(self.shapes) - 1, state.layers[-1], h), ys

    def run(self, x: torch.Tensor, state: NetworkState | None = None) -> dict:
        """x: [B, T, n_in] spike counts from a clear state. Returns readout [B, T, n_out] and
        delayed spikes of each LIF layer [B, T, n]."""
        x = torch.as_tensor(x)
        if x.dim() != 3 or x.shape[2] != self.config.n_in:
            raise EventError(f"input: expected [batch, steps, {self.config.n_in}], got {tuple(x.shape)}")
        if x.dtype.is_floating_point or (x < 0).any():
            raise EventError(f"input: expected non-negative integer spike counts, got {x.dtype}"
                             + ("" if x.dtype.is_floating_point else f" with {int(x.min())}"))
        per_step = x.sum(-1)
        if (per_step > self.config.max_events).any():
            b, t = (int(i) for i in torch.nonzero(per_step > self.config.max_events)[0])
            raise EventError(f"input: sample {b} step {t} has {int(per_step[b, t])} spikes, "
                             f"more than max_events={self.config.max_events}")
        state = state or self.init_state(x.shape[0])
        outs, spikes = [], [[] for _ in self.config.sizes]
        for t in range(x.shape[1]):
            o, ys = self.step(state, x[:, t])
            outs.append(o)
            for l, y in enumerate(ys):
                spikes[l].append(y)
        return {"readout": torch.stack(outs, 1),
                "spikes": [torch.stack(s, 1) for s in spikes],
                "state": state}

    def run_stream(self, words) -> "StreamResult":
        """Interpret one input event stream as the hardware does (guard, markers, clears). The
        words are checked as check_events checks them (events.event_words: EventError for a float,
        bool, nested list or word wider than 18 bits); what the guard drops is counted, not refused."""
        kind, addr, verdict = classify(words, self.config.n_in, self.config.max_events)
        res = StreamResult(dropped_kind=int((verdict == 1).sum()),
                           dropped_addr=int((verdict == 2).sum()),
                           dropped_excess=int((verdict == 3).sum()))
        state = self.init_state(1)
        good = verdict == 0
        kind, addr = kind[good], addr[good]
        marks = torch.nonzero(kind != SPIKE).flatten().tolist()
        start = 0
        for m in marks:
            spk = addr[start:m]
            start = m + 1
            if int(kind[m]) == CLEAR:
                state = self.init_state(1)
                res.units.append(("CLEAR", spk.tolist()))
                res.outputs.append((CLEAR, 0, 0))
                continue
            x = torch.bincount(spk, minlength=self.config.n_in).unsqueeze(0)
            recs = [int(s.y_prev.sum()) if sh.recurrent else 0
                    for s, sh in zip(state.layers, self.shapes)]
            out, ys = self.step(state, x)
            staged = ()
            if self.config.input_delays:     # what the input delay stage emitted to layer 1
                d = self._in_delay.view(1, -1, 1)
                staged = (torch.nonzero(state.in_hist[:1].gather(-1, d)[0, :, 0]).flatten().tolist(),)
            res.units.append(("EOT", spk.tolist(), [torch.nonzero(y[0]).flatten().tolist() for y in ys],
                              recs) + staged)
            res.outputs += [(SPIKE, j, int(v)) for j, v in enumerate(out[0].tolist())]
            res.outputs.append((EOT, 0, 0))
            res.snapshots.append(snapshot(state))
        res.trailing = addr[start:].tolist()
        res.final_state = state
        return res


def snapshot(state: NetworkState) -> list[dict]:
    """Per layer: membrane and history words of sample 0, as the readback port returns them."""
    return [{"membrane": s.v[0].tolist(), "history": history_words(s.hist[0])} for s in state.layers]


def input_history_words(state: NetworkState) -> list[int]:
    """The input delay stage's `in_history` words of sample 0 (readback layer 15, space 4)."""
    return history_words(state.in_hist[0])


@dataclass
class StreamResult:
    outputs: list[tuple[int, int, int]] = field(default_factory=list)   # (kind, addr, value)
    snapshots: list[list[dict]] = field(default_factory=list)            # after every EOT
    units: list[tuple] = field(default_factory=list)   # per marker: inputs and emitting neurons
    trailing: list[int] = field(default_factory=list)  # spikes after the last marker
    dropped_kind: int = 0
    dropped_addr: int = 0
    dropped_excess: int = 0
    final_state: NetworkState | None = None
