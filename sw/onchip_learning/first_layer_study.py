"""Study: would an engine that learns the first hidden layer's input weights adapt a LOSO network
to a new speaker? (issue 17; not an engine rule yet, no RTL).

The engine learns pair R (readout weights, hidden delays) and, in networks with two hidden
layers, pair H; adapting the iCEBreaker network 700-128-10 that way stays at 85-87 % on the new
speaker, while BPTT of every weight reaches 94-97 % (docs/results.md). The 700 x 128 input weights
cannot have pair H's per-synapse eligibility (2 x 16 bits x 89,600 synapses), so this candidate
rule, "pair I", computes the eligibility at the end of the sample from what a stored sample holds:

    trace_j(t) = min(trace_j - (trace_j >> trace_shift) + x_j(t) * trace_inc, 1023)   (input j, after its delay)
    psi_k(t)   = 15 if s_k(t) else max(0, 15 - ((threshold - v_k(t)) >> psi_shift))  (as pair H, docs/learning.md 3.3)
    E[j, k]    = sum_t trace_j(t) * psi_k(t)                 (one pass over the stored input spikes per j)
    L_k        = sum_o W_R[k][o] * e_o                       (the ternary hinge error, as pair H, 4.1-4.2)
    W[j][k]    = round_step(L_k * E[j, k], lr_shift_I, W[j][k])   stochastic rounding, clamped to ternary

Memory on chip: the sample's input spikes (700 x 100 bits) and psi (128 x 100 x 4 bits), 121 kbit,
instead of 2.9 Mbit of per-synapse eligibility. The host interleaves `rehearse` recordings of the
training speakers (their takes 5-49) with the user's words, as `delaysnn adapt --bptt-rehearse`
does for the BPTT reference. Stochastic rounding here draws from a seeded torch generator, not
the engine's LFSR (a study, not a bit-exact replica).

    python -m onchip_learning.first_layer_study --k 1,5 --rehearse 0,200 --lr-shift 20
    -> build/reports/first-layer-study.json, one row per (speaker, k, rehearse, lr_shift)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from golden_model.learning import hinge_error, round_step
from .fast_pair_r import delayed, readout_scores

TRACE_MAX, PSI_MAX = 1023, 15


class StudyError(ValueError):
    """A study option that names no report or fold."""


def hidden_forward(params, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes s [T, n] (bool) and membrane before threshold and reset v [T, n] of the first LIF
    layer for one sample's delayed input x [T, n_in] (0/1), exactly as fast_hidden_spikes."""
    p, sh = params.layers[0], params.config.layers[0]
    acc = x.double() @ (p.weight.to(torch.int64) << p.weight_shift).double()
    v = torch.zeros(acc.shape[1], dtype=torch.float64)
    S = torch.zeros(acc.shape, dtype=torch.bool)
    V = torch.zeros(acc.shape, dtype=torch.float64)
    for t in range(acc.shape[0]):
        v = (v - torch.floor(v / (1 << p.leak)) + acc[t]).clamp(sh.v_min, sh.v_max)
        V[t] = v
        S[t] = v >= p.threshold
        v = torch.where(S[t], v - p.threshold if p.reset_mode == 0 else torch.zeros_like(v), v)
    return S, V


def input_traces(x: torch.Tensor, shift: int, inc: int) -> torch.Tensor:
    """trace_j(t) of every input, [T, n_in] int64 (after the input of step t)."""
    tr = torch.zeros(x.shape[1], dtype=torch.int64)
    out = torch.zeros(x.shape, dtype=torch.int64)
    for t in range(x.shape[0]):
        tr = (tr - (tr >> shift) + x[t].to(torch.int64) * inc).clamp(max=TRACE_MAX)
        out[t] = tr
    return out


def surrogate(s: torch.Tensor, v: torch.Tensor, threshold: int, psi_shift: int) -> torch.Tensor:
    """psi_k(t) [T, n] int64: 15 at a spike, else the triangle of pair H."""
    dist = (threshold - v).to(torch.int64) >> psi_shift
    return torch.where(s, PSI_MAX, (PSI_MAX - dist).clamp(min=0))


def all_error(score: torch.Tensor, label: int, margin: int) -> torch.Tensor:
    """-1 for every class within `margin` of the label's score, +(their number) for the label."""
    e = -(score > score[label] - margin).to(torch.int64)
    e[label] = 0
    e[label] = -int(e.sum())
    return e


class PairI:
    """The candidate rule on a copy of `params` (which it changes in place: the input weights)."""

    def __init__(self, params, lr_shift: int, trace_shift: int = 3, trace_inc: int = 64,
                 psi_shift: int = 6, margin: int = 16384, seed: int = 0, latent: bool = False,
                 error: str = "rival", readout_lr: int | None = None):
        self.params, self.lr_shift, self.margin = params, lr_shift, margin
        # error "rival": the engine's hinge (+1 label, -1 the best rival); "all": -1 for every
        # class within the margin of the label and +(their number) for the label
        self.error, self.readout_lr = error, readout_lr
        # latent: a float copy of the weights takes the exact steps and the weights are its
        # rounding (an upper bound: what 8 more bits per synapse would buy), else stochastic rounding
        self.latent = params.layers[0].weight.double().clone() if latent else None
        self.trace_shift, self.trace_inc, self.psi_shift = trace_shift, trace_inc, psi_shift
        self.gen = torch.Generator().manual_seed(seed)
        self.changed = 0

    def delayed_input(self, x) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(x)).unsqueeze(0) > 0
        if self.params.config.input_delays:
            return delayed(x, self.params.input_delay.to(torch.int64))[0]
        return x[0].to(torch.int64)

    def learn(self, x_raw, label: int) -> None:
        P = self.params
        x = self.delayed_input(x_raw)
        s, v = hidden_forward(P, x)
        y = delayed(s.unsqueeze(0), P.layers[0].delay.to(torch.int64))
        score = readout_scores(y, P)[0]
        e = hinge_error(score, label, self.margin) if self.error == "rival" else all_error(score, label, self.margin)
        if not e.any():
            return
        n = s.shape[1]
        if self.readout_lr is not None:
            self.learn_readout(y[0], e)
        L = (P.layers[-1].weight[:n].to(torch.int64) * e.unsqueeze(0)).sum(1)         # [n]
        E = input_traces(x, self.trace_shift, self.trace_inc).T @ surrogate(
            s, v, P.layers[0].threshold, self.psi_shift)                                # [n_in, n]
        W = P.layers[0].weight
        g = E * L.unsqueeze(0)
        if self.latent is not None:
            lo, hi = P.config.weight_range
            self.latent = (self.latent + g.double() / (1 << self.lr_shift)).clamp(lo - 0.5, hi + 0.5)
            new = torch.round(self.latent).clamp(lo, hi).to(torch.int64)
        else:
            draws = torch.randint(0, 1 << 30, W.shape, generator=self.gen, dtype=torch.int64)
            new = round_step(g, self.lr_shift, W.to(torch.int64), P.config.weight_range, draws)
        self.changed += int((new != W).sum())
        W.copy_(new.to(W.dtype))

    def learn_readout(self, y: torch.Tensor, e: torch.Tensor) -> None:
        """Pair R's weight step (docs/learning.md 3.2-4.3, the `adapt` preset's traces), on the
        readout as it was before this sample's pair-I step; delays left alone."""
        W_R = self.params.layers[-1].weight
        n = y.shape[1]
        tr = input_traces(y, 4, 64)                                          # trace_shift_R 4, trace_inc_R 64
        ew = (tr >> 4).sum(0).clamp(max=65535)                               # elig_shift_R 4
        draws = torch.randint(0, 1 << 30, (n, W_R.shape[1]), generator=self.gen, dtype=torch.int64)
        new = round_step(ew.unsqueeze(1) * e.unsqueeze(0), self.readout_lr, W_R[:n].to(torch.int64),
                         self.params.config.weight_range, draws)
        W_R[:n] = new.to(W_R.dtype)


def study_fold(run: Path, speaker: str, k: int, rehearse: int, lr_shift: int, passes: int,
               seed: int, registers: dict, progress: bool) -> dict:
    """One adaptation: the user's k words per digit and `rehearse` recordings of the training
    speakers, mixed in one seeded order per pass, `passes` times; accuracy on the speaker and on
    the others before and after."""
    import copy
    from hostlink.deployed import front_end, load_deployment
    from .adapt import accuracy, fsdd_fold, hidden_spikes, rehearsal_set
    dep = load_deployment(run / "export")
    cochlea = front_end(dep)
    fold = fsdd_fold(cochlea, speaker, k, progress)
    params = copy.deepcopy(dep.params)

    def measure(p):
        return (accuracy(p, hidden_spikes(p, fold.test_x), fold.test_y),
                accuracy(p, hidden_spikes(p, fold.other_x), fold.other_y))

    before = measure(params)
    xs, ys = list(fold.adapt_x), list(fold.adapt_y)
    if rehearse:
        rx, ry, _ = rehearsal_set(cochlea, speaker, rehearse, seed, progress)
        xs += list(rx)
        ys += list(ry)
    rng = np.random.default_rng(seed)
    order = [int(i) for _ in range(passes) for i in rng.permutation(len(xs))]
    t0 = time.time()
    if registers.get("online_bptt"):
        params = online_bptt(run, xs, ys, order, registers["online_bptt"], seed)
        changed = int((params.layers[0].weight != dep.params.layers[0].weight).sum())
    else:
        rule = PairI(params, lr_shift, seed=seed, **{k: v for k, v in registers.items() if k != "online_bptt"})
        for i in order:
            rule.learn(xs[i], int(ys[i]))
        changed = rule.changed
    after = measure(params)
    return {"speaker": speaker, "run": run.name, "k": k, "rehearse": rehearse, "lr_shift": lr_shift,
            "passes": passes, "seed": seed, "registers": registers,
            "speaker_before": before[0], "speaker_after": after[0],
            "others_before": before[1], "others_after": after[1],
            "forgotten_points": round(100 * (before[1] - after[1]), 2),
            "weights_changed": changed, "samples_learned": len(order),
            "learn_s": round(time.time() - t0, 1)}


def online_bptt(run: Path, xs, ys, order, lr: float, seed: int):
    """The diagnostic beside the rule: the exact surrogate gradient of the training's loss
    (cross-entropy, BPTT) of every weight and delay, one sample at a time in `order` (Adam at
    `lr` on the training's latent weights), as `adapt.bptt_reference` does full batch."""
    import torch.nn.functional as Fn
    from delay_training.export import to_params
    from .adapt import load_model
    torch.manual_seed(seed)
    model = load_model(Path(run))
    ws = list(model.weights)
    ds = [d for d in (model.input_delay, *model.delays) if d is not None]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in ws + ds:
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": ws, "lr": lr}, {"params": ds, "lr": 150 * lr}])
    model.train()
    for i in order:
        opt.zero_grad()
        x = torch.as_tensor(np.asarray(xs[i])).float().unsqueeze(0)
        Fn.cross_entropy(model(x)["logits"], torch.tensor([int(ys[i])])).backward()
        opt.step()
        model.clamp_latents_()
    model.eval()
    return to_params(model)


def loso_runs(name: str, speakers: str = "all", seed: int = 0) -> list[tuple[str, Path]]:
    """(held-out speaker, training folder) of a LOSO report's folds at `seed` (`speakers`);
    a missing report or a speaker it does not hold is a one-line StudyError."""
    path = Path(f"build/reports/loso-{name}.json")
    if not path.is_file():
        raise StudyError(f"--loso {name}: no {path} (run `delaysnn loso --name {name} ...` first)")
    runs = [r for r in json.loads(path.read_text())["runs"]
            if r["seed"] == seed and r.get("protocol") != "official"]
    held = {r["speaker"] for r in runs}
    wanted = sorted(held) if speakers == "all" else speakers.split(",")
    unknown = [w for w in wanted if w not in held]
    if unknown:
        raise StudyError(f"--speakers {','.join(unknown)}: not a seed-{seed} fold of {path} "
                         f"(folds: {', '.join(sorted(held))})")
    return [(r["speaker"], Path("build/train") / r["run"]) for r in runs if r["speaker"] in wanted]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, every option with its default."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onchip_learning.first_layer_study",
                                 description=__doc__, formatter_class=HelpFormatter,
                                 epilog="docs/results.md names the runs and their figures")
    ap.add_argument("--loso", default="fl200-takes2", help="LOSO report whose seed-0 folds adapt")
    ap.add_argument("--speakers", default="all", help="held-out speakers (folds), comma-separated, or all")
    ap.add_argument("--k", default="1,5", help="the user's recordings per digit (takes 0..k-1), comma-separated")
    ap.add_argument("--rehearse", default="0,200",
                    help="training speakers' recordings (takes 5-49) interleaved, comma-separated")
    ap.add_argument("--lr-shift", default="20", help="lr_shift_I of the input weights, comma-separated")
    ap.add_argument("--passes", default="1", help="passes over the words, comma-separated")
    ap.add_argument("--seed", type=int, default=0, help="order, rehearsal draw and rounding")
    ap.add_argument("--trace-shift", type=int, default=3, help="decay of the input traces")
    ap.add_argument("--psi-shift", type=int, default=6, help="surrogate half-width 15 << psi_shift")
    ap.add_argument("--margin", type=int, default=16384, help="hinge margin on the summed readout")
    ap.add_argument("--latent", action="store_true", help="float latent weights instead of stochastic rounding")
    ap.add_argument("--error", choices=("rival", "all"), default="rival",
                    help="rival: the engine's hinge on the best rival; all: every class within the margin")
    ap.add_argument("--readout-lr", type=int, default=None,
                    help="also learn the readout weights (pair R) at this lr_shift_R")
    ap.add_argument("--online-bptt", type=float, default=None, metavar="LR",
                    help="instead of the rule: exact BPTT of every parameter, one sample at a time, Adam at LR")
    ap.add_argument("--out", default="build/reports/first-layer-study.json", help="report (JSON)")
    a = ap.parse_args(argv)
    ints = lambda s: [int(v) for v in s.split(",")]
    try:
        runs = loso_runs(a.loso, a.speakers)
    except StudyError as e:
        ap.exit(2, f"{ap.prog}: error: {e}\n")
    rows = []
    registers = {"trace_shift": a.trace_shift, "psi_shift": a.psi_shift, "margin": a.margin,
                 "latent": a.latent, "error": a.error, "readout_lr": a.readout_lr}
    if a.online_bptt:
        registers = {"online_bptt": a.online_bptt}
    for speaker, run in runs:
        for k in ints(a.k):
            for n in ints(a.rehearse):
                for lr, passes in ((lr, q) for lr in ints(a.lr_shift) for q in ints(a.passes)):
                    row = study_fold(run, speaker, k, n, lr, passes, a.seed, registers, progress=False)
                    rows.append(row)
                    print(f"{row['speaker']:9s} k={k} rehearse={n:3d} lr_shift={lr} passes={passes}: speaker "
                          f"{100 * row['speaker_before']:.1f} -> {100 * row['speaker_after']:.1f} %, "
                          f"forgotten {row['forgotten_points']:+.1f} points, "
                          f"{row['weights_changed']} weight steps, {row['learn_s']} s", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "argv": argv}, indent=1))
    print(f"report {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
