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

from golden_model.learning import LearnRegisters
from delay_training.data import load_task
from .fast_pair_r import READOUT_LEAK, fast_hidden_spikes, fast_online, fast_accuracy, spikes_of
from .fsdd_network import fsdd_network, FSDD_UNIFORM_NET, FSDD_LR_SCHEDULE
from .presets import FSDD_REGS

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
                    help="online: lr_shift_R per epoch (default fsdd_network.FSDD_LR_SCHEDULE); its length is the epochs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    splits = load_task("fsdd")
    rows = []
    if a.what == "online":
        schedule = a.lr_schedule or FSDD_LR_SCHEDULE
        for b in a.bias:
            for seed in a.seeds:
                r = run_online(dict(FSDD_UNIFORM_NET, bias=bool(b)), {}, len(schedule), seed, splits,
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


def run_online(net_kw: dict, reg_kw: dict, epochs: int, seed: int = 0, splits=None, spikes=None,
               lr_schedule=None):
    """One on-chip run (fast replica): val at the selected point, test of the selected image."""
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
