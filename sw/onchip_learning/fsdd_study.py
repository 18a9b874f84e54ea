"""What limits demo c (on-chip FSDD): experiments on the fixed random hidden layer.

`python -m onchip_learning.fsdd_study ceiling [--hidden N ...]` runs the golden network with its
seeded random hidden layer (delays 0) over train / validation / test, takes per-neuron features
and fits a softmax classifier offline (float, Adam), selecting weight decay and epoch on
validation. This is the ceiling of anything that learns only the readout (pair R) on those
features. `online` runs the bit-exact golden learner with a given network / register setting.
Nothing here selects on the test set.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from golden_model import GoldenNetwork
from delay_training.data import load_task

READOUT_LEAK = 4


def fast_hidden_spikes(params, x: torch.Tensor) -> torch.Tensor:
    """Raw spikes s(t) (hist bit 0) of the first LIF layer of the golden network, in float64 with exact integer values
    (floor leak, clamp, threshold, reset): BLAS instead of int64 matmuls. [B, T, n] bool."""
    p, s = params.layers[0], params.config.layers[0]
    assert params.config.leak_mode == "shift" and not s.recurrent   # raw spikes: own delays do not matter
    w = (p.weight.to(torch.int64) << p.weight_shift).double()
    acc = x.double() @ w                                           # [B, T, n]
    v = torch.zeros(x.shape[0], w.shape[1], dtype=torch.float64)
    out = torch.zeros(acc.shape, dtype=torch.bool)
    for t in range(x.shape[1]):
        v = (v - torch.floor(v / (1 << p.leak)) + acc[:, t]).clamp(s.v_min, s.v_max)
        spk = v >= p.threshold
        v = torch.where(spk, v - p.threshold if p.reset_mode == 0 else torch.zeros_like(v), v)
        out[:, t] = spk
    return out


def hidden_features(params, spikes: np.ndarray, batch: int = 250) -> dict[str, np.ndarray]:
    """Per hidden neuron: spike count, and the readout-like feature sum_t sum_{s<=t} a^(t-s) y(s)
    (what a unit readout weight contributes to the score, float leak a = 1 - 2^-READOUT_LEAK)."""
    counts, lin = [], []
    for i in range(0, len(spikes), batch):
        x = torch.as_tensor(np.asarray(spikes[i:i + batch]), dtype=torch.int64)
        y = fast_hidden_spikes(params, x).double()                 # [B, T, n]
        T = y.shape[1]
        a = 1 - 2.0 ** -READOUT_LEAK
        w = torch.tensor([(1 - a ** (T - t)) / (1 - a) for t in range(T)], dtype=torch.float64)
        counts.append(y.sum(1).numpy())
        lin.append((y * w.view(1, -1, 1)).sum(1).numpy())
    return {"count": np.concatenate(counts), "readout": np.concatenate(lin)}


def fit_softmax(Xtr, ytr, Xva, yva, Xte, yte, wds=(0.0, 1e-4, 1e-3, 1e-2), epochs: int = 300,
                seed: int = 0) -> dict:
    """Full-batch softmax regression on standardised features; (weight decay, epoch) selected on
    validation. Returns val / test accuracy at the selected point."""
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    f = lambda X: torch.as_tensor((X - mu) / sd, dtype=torch.float32)
    Xtr_, Xva_, Xte_ = f(Xtr), f(Xva), f(Xte)
    ytr_ = torch.as_tensor(ytr, dtype=torch.int64)
    best = {"val": -1.0}
    for wd in wds:
        torch.manual_seed(seed)
        lin = torch.nn.Linear(Xtr.shape[1], int(ytr.max()) + 1)
        opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=wd)
        for ep in range(epochs):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(lin(Xtr_), ytr_)
            loss.backward()
            opt.step()
            if ep % 10 == 9:
                with torch.no_grad():
                    va = float((lin(Xva_).argmax(1).numpy() == yva).mean())
                    if va > best["val"]:
                        te = float((lin(Xte_).argmax(1).numpy() == yte).mean())
                        tr = float((lin(Xtr_).argmax(1).numpy() == ytr).mean())
                        best = {"val": va, "test": te, "train": tr, "wd": wd, "epoch": ep + 1}
    return best


def ceiling(params, splits) -> dict:
    t0 = time.time()
    feats = [hidden_features(params, s.spikes) for s in (splits.train, splits.val, splits.test)]
    ys = [np.asarray(s.labels) for s in (splits.train, splits.val, splits.test)]
    tr = feats[0]["count"]
    out = {"rate_per_neuron_step": float(tr.mean() / splits.train.n_steps),
           "silent_neurons": int((tr.sum(0) == 0).sum()),
           "feature_seconds": time.time() - t0}
    for name in ("count", "readout"):
        out[name] = fit_softmax(feats[0][name], ys[0], feats[1][name], ys[1], feats[2][name], ys[2])
    return out


def network(hidden=128, seed=0, density=0.3, threshold_scale=0.5, leak=3, shift=None, bias=False):
    from .demos import fsdd_network
    p = fsdd_network(hidden=hidden, seed=seed, density=density, threshold_scale=threshold_scale,
                     leak=leak, bias=bias)
    if shift is not None:
        p.layers[0].weight_shift = shift
    return p


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("ceiling", "online"))
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4],
                    help="online: hidden-layer and presentation seeds")
    ap.add_argument("--bias", type=int, nargs="*", default=[0, 1], help="online: without / with the bias unit")
    ap.add_argument("--hidden", type=int, nargs="*", default=[128])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--density", type=float, nargs="*", default=[0.3])
    ap.add_argument("--threshold-scale", type=float, nargs="*", default=[0.5])
    ap.add_argument("--leak", type=int, nargs="*", default=[3])
    ap.add_argument("--lr-schedule", type=int, nargs="*", default=None,
                    help="online: lr_shift_R per epoch (default demos.FSDD_LR_SCHEDULE); its length is the epochs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    splits = load_task("fsdd")
    rows = []
    if a.what == "online":
        from .demos import FSDD_UNIFORM_NET as FSDD_NET, FSDD_LR_SCHEDULE
        schedule = a.lr_schedule or FSDD_LR_SCHEDULE
        for b in a.bias:
            for seed in a.seeds:
                r = run_online(dict(FSDD_NET, bias=bool(b)), {}, len(schedule), seed, splits,
                               lr_schedule=schedule)
                rows.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "curve"}), flush=True)
    for h in a.hidden if a.what == "ceiling" else []:
        for dens in a.density:
            for ts in a.threshold_scale:
                for lk in a.leak:
                    p = network(h, a.seed, dens, ts, lk)
                    r = ceiling(p, splits)
                    r.update(hidden=h, density=dens, threshold_scale=ts, leak=lk, seed=a.seed,
                             threshold=p.layers[0].threshold, weight_shift=p.layers[0].weight_shift)
                    rows.append(r)
                    print(json.dumps(r), flush=True)
    if a.out:
        with open(a.out, "a") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")


# -- an exact fast replica of the golden learner for one hidden layer, pair R only ---------------
from golden_model.learning import (LearnRegisters, LEARN_W_R, LEARN_D_R, STOCHASTIC,  # noqa: E402
                                   TRACE_MAX, ELIG_W_MAX, ELIG_D_MIN, ELIG_D_MAX, hinge_error,
                                   round_step, step_delay, lfsr_draws)


def shifted_eligibilities(s: torch.Tensor, regs: LearnRegisters, depth: int, chunk: int = 250):
    """For raw hidden spikes s [N, T, n] (bool) and every delay value d: the pair-R eligibilities
    the engine accumulates over a sample if neuron j had delay d: elig_w [N, D, n] and
    elig_d [N, D, n] (with its per-step saturation), exactly as GoldenLearner.observe."""
    N, T, n = s.shape
    D = depth
    dd = torch.arange(D)
    a = torch.where(dd < D - 1, dd + 1, dd - 1)
    sigma = torch.where(dd < D - 1, 1, -1).view(1, D, 1)
    EW, ED = [], []
    for i in range(0, N, chunk):
        x = s[i:i + chunk].to(torch.int64)
        B = x.shape[0]
        pad = torch.cat([torch.zeros(B, D, n, dtype=torch.int64), x], 1)   # pad[:, D + t] = s(t)
        tr = torch.zeros(B, D, n, dtype=torch.int64)
        ew = torch.zeros(B, D, n, dtype=torch.int64)
        ed = torch.zeros(B, D, n, dtype=torch.int64)
        for t in range(T):
            y = pad[:, D + t - dd]                                           # [B, D, n]: s(t - d)
            tr = (tr - (tr >> regs.trace_shift_R) + y * regs.trace_inc_R).clamp(max=TRACE_MAX)
            delta = sigma * (tr[:, a] - tr)
            ew = (ew + (tr >> regs.elig_shift_R)).clamp(0, ELIG_W_MAX)
            ed = (ed + (delta >> regs.elig_shift_R)).clamp(ELIG_D_MIN, ELIG_D_MAX)
        EW.append(ew)
        ED.append(ed)
    return torch.cat(EW), torch.cat(ED)


def delayed(s: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """y[:, t, j] = s[:, t - d_j, j] (0 before the start). s [N, T, n] -> int64."""
    N, T, n = s.shape
    idx = torch.arange(T).view(T, 1) - d.view(1, n)                           # [T, n]
    valid = idx >= 0
    y = s.to(torch.int64).gather(1, idx.clamp(min=0).unsqueeze(0).expand(N, T, n))
    return y * valid


def readout_scores(y: torch.Tensor, params) -> torch.Tensor:
    """Sum over the sample of the (non-spiking) readout membrane, as the golden network. y [N,T,n]."""
    p, sh = params.layers[-1], params.config.layers[-1]
    w = p.weight[:sh.n_src].to(torch.int64) << p.weight_shift
    acc = y @ w                                                                # [N, T, n_out]
    v = torch.zeros(y.shape[0], w.shape[1], dtype=torch.int64)
    score = torch.zeros_like(v)
    for t in range(y.shape[1]):
        v = (v - (v >> p.leak) + acc[:, t]).clamp(sh.v_min, sh.v_max)
        score += v
    return score


class FastPairR:
    """GoldenLearner restricted to a 700-n-10 network learning W_R and D_R (pair R), replayed from
    precomputed hidden spikes (the hidden weights are fixed, so raw hidden spikes do not change;
    delays only select which shifted eligibilities apply). Bit-exact with GoldenLearner (checked
    by `check`)."""

    def __init__(self, params, regs: LearnRegisters, s_train: torch.Tensor):
        import copy
        self.params = copy.deepcopy(params)
        self.regs = copy.deepcopy(regs)
        self.s = s_train
        self.EW, self.ED = shifted_eligibilities(s_train, regs, params.config.depth)

    def learn_sample(self, i: int, label: int) -> int:
        r, P = self.regs, self.params
        d = P.layers[0].delay.to(torch.int64)
        y = delayed(self.s[i:i + 1], d)
        score = readout_scores(y, P)[0]
        pred = int(score.argmax())
        n = d.numel()
        ew = self.EW[i, d, torch.arange(n)]
        ed = self.ED[i, d, torch.arange(n)]
        W_R = P.layers[-1].weight[:n].to(torch.int64)
        e = hinge_error(score, label, r.margin)
        G = (e.unsqueeze(0) * W_R).sum(1) * ed
        if r.enable & LEARN_W_R:
            draws = None
            if r.enable & STOCHASTIC:
                draws, r.lfsr = lfsr_draws(r.lfsr, W_R.numel())
            new = round_step(ew.unsqueeze(1) * e.unsqueeze(0), r.lr_shift_R, W_R,
                             P.config.weight_range, draws)
            P.layers[-1].weight[:n] = new.to(P.layers[-1].weight.dtype)
        if r.enable & LEARN_D_R:
            dl = P.layers[0].delay
            dl.copy_(step_delay(d, G, r.delay_thresh_R, P.config.depth).to(dl.dtype))
        return pred


def fast_accuracy(params, s: torch.Tensor, labels) -> float:
    y = delayed(s, params.layers[0].delay.to(torch.int64))
    return float((readout_scores(y, params).argmax(1).numpy() == np.asarray(labels)).mean())


def fast_online(params, regs, s_tr, y_tr, s_va, y_va, epochs: int, seed: int, eval_every: int = 500,
                learner: FastPairR | None = None, lr_schedule: list[int] | None = None):
    """As online.learn_online (same presentation order, selection on validation). `lr_schedule`:
    lr_shift_R per epoch, as a host would rewrite the register between epochs."""
    import copy
    from .online import presentation_order, lr_for_epoch
    L = learner or FastPairR(params, regs, s_tr)
    curve = [(0, fast_accuracy(L.params, s_va, y_va))]
    best, best_params = curve[0][1], copy.deepcopy(L.params)
    for seen, i in enumerate(presentation_order(len(s_tr), epochs, seed), 1):
        if lr_schedule and (seen - 1) % len(s_tr) == 0:
            L.regs.lr_shift_R = lr_for_epoch(lr_schedule, (seen - 1) // len(s_tr))
        L.learn_sample(i, int(y_tr[i]))
        if seen % eval_every == 0:
            acc = fast_accuracy(L.params, s_va, y_va)
            curve.append((seen, acc))
            if acc > best:
                best, best_params = acc, copy.deepcopy(L.params)
    return L, curve, best_params


def check(params, regs, x: np.ndarray, labels, n: int = 40) -> bool:
    """Fast replica against GoldenLearner over the first n samples: same weights and delays."""
    import copy
    from golden_model.learning import GoldenLearner
    s = fast_hidden_spikes(params, torch.as_tensor(np.asarray(x[:n]), dtype=torch.int64))
    F = FastPairR(params, regs, s)
    G = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(regs))
    for i in range(n):
        F.learn_sample(i, int(labels[i]))
        G.run_sample(torch.as_tensor(np.asarray(x[i]), dtype=torch.int64), label=int(labels[i]))
    gp = G.net.params
    return bool(torch.equal(gp.layers[-1].weight, F.params.layers[-1].weight)
                and torch.equal(gp.layers[0].delay, F.params.layers[0].delay)
                and G.regs.lfsr == F.regs.lfsr)


def spikes_of(params, splits):
    from .demos import with_bias_channel
    out = []
    for s in (splits.train, splits.val, splits.test):
        x = torch.as_tensor(np.asarray(s.spikes), dtype=torch.int64)
        if params.config.n_in == x.shape[-1] + 1:
            x = with_bias_channel(x)
        out.append(torch.cat([fast_hidden_spikes(params, x[i:i + 250]) for i in range(0, len(x), 250)]))
    return out


def run_online(net_kw: dict, reg_kw: dict, epochs: int, seed: int = 0, splits=None, spikes=None,
               lr_schedule=None):
    """One on-chip run (fast replica): val at the selected point, test of the selected image."""
    from .demos import FSDD_REGS
    splits = splits or load_task("fsdd")
    params = network(seed=seed, **net_kw)
    spikes = spikes or spikes_of(params, splits)
    regs = LearnRegisters(**dict(FSDD_REGS, **reg_kw))
    t0 = time.time()
    L, curve, best = fast_online(params, regs, spikes[0], splits.train.labels, spikes[1],
                                 splits.val.labels, epochs, seed, lr_schedule=lr_schedule)
    bi = max(range(len(curve)), key=lambda k: (curve[k][1], -k))
    return {"net": net_kw, "regs": reg_kw, "epochs": epochs, "seed": seed, "lr_schedule": lr_schedule,
            "val": curve[bi][1], "selected_at": curve[bi][0],
            "test": fast_accuracy(best, spikes[2], splits.test.labels),
            "test_last": fast_accuracy(L.params, spikes[2], splits.test.labels),
            "curve": [c[1] for c in curve], "seconds": round(time.time() - t0, 1),
            "delays_nonzero": int((best.layers[0].delay != 0).sum())}


if __name__ == "__main__":
    main()
