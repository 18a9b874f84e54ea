"""Training cost of three ways to learn delays, on one network, in one run.

    delaysnn bench train [--n-in 700 --hidden 128 --n-out 10 --steps 100 --batch 32
                          --dbits 5 --iters 10 --n-train 2000]
    (python -m delay_training.bench takes the same options)

(a) `axonal`: our DelaySNN, one learned axonal delay per hidden neuron (D = 2^dbits), float
    weights (wbits 32, the arithmetic class of the baselines); `axonal-ternary` is the same model
    in hardware mode (ternary weights, integer arithmetic), as trained for the core. `axonal-in`:
    also one axonal delay per input channel (the core's input delay stage, docs/core.md 2.7), so
    that delays act where the baselines' first-layer synaptic delays do (700 + 128 delays).
(b) `synaptic`: per-synapse integer delays (one per weight, both synaptic layers, delays 0..D-1):
    a sparse-in-delay kernel K[i, k, j] = w_ij [k == d_ij] applied to the delayed input
    (`delayed_matmul`: x @ K for all D slots, then shift-and-add; equal to unfolding the input
    into D shifted copies, `shifted`, times K; each layer takes the form that was faster on a
    1-thread CPU: unfolding for >= 32 outputs, shift-and-add below); the delay gradient is the same one-step
    finite difference as ours (w_ij * (dL/dK[i, d+1, j] - dL/dK[i, d, j])). `synaptic-out`: the
    same, but delays only on the hidden -> readout synapses (where (a) has its axonal delays; the
    input -> hidden layer is a plain weight matrix).
(c) `dcls`: DCLS (PyPI `dcls`, Hammouamri et al. 2023), Dcls1d with one Gaussian-interpolated
    delay per synapse, both synaptic layers, dilated kernel D, causal left padding of D - 1.

All use the same LIF neuron (model._LIFLoop, float mode: leak shift 3, threshold 1, hand-written
BPTT) and a non-spiking readout; loss = cross-entropy on the time-averaged readout; Adam. Only
`--iters` training steps (after 2 warm-up steps) are timed per method, interleaved round-robin so
that load from other processes hits every method alike; the epoch time is extrapolated as
median step time x ceil(n_train / batch). Writes build/reports/bench-train.json.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .autograd import _LayerArith, _LIFLoop
from .model import DelaySNN, ModelConfig

REPO = Path(__file__).resolve().parents[2]


def _arith(spiking: bool, leak: int = 3) -> _LayerArith:
    return _LayerArith(hardware=False, spiking=spiking, leak_mode="shift", leak=leak, threshold=1,
                       reset_mode=0, v_min=-(1 << 15), v_max=(1 << 15) - 1)


def shifted(x: torch.Tensor, D: int) -> torch.Tensor:
    """[B, T, n] -> [B, T, n * D] with out[b, t, i * D + k] = x[b, t - k, i] (zero before t = 0)."""
    B, T, n = x.shape
    if D == 1:
        return x
    xp = F.pad(x, (0, 0, D - 1, 0))                      # [B, T + D - 1, n]
    return torch.stack([xp[:, D - 1 - k:D - 1 - k + T] for k in range(D)], dim=-1).reshape(B, T, n * D)


class _SynapseKernel(torch.autograd.Function):
    """K[i, k, j] = w[i, j] if k == round(d[i, j]) else 0; delay gradient by finite difference."""

    @staticmethod
    def forward(ctx, w, d_latent, D: int):
        d = torch.round(d_latent.detach()).clamp(0, D - 1).long()
        K = w.new_zeros(w.shape[0], D, w.shape[1]).scatter_(1, d.unsqueeze(1), w.unsqueeze(1))
        ctx.save_for_backward(w, d)
        ctx.D = D
        return K

    @staticmethod
    def backward(ctx, gK):
        w, d = ctx.saved_tensors
        g_at = gK.gather(1, d.unsqueeze(1)).squeeze(1)
        nxt = (d + 1).clamp(max=ctx.D - 1)
        g_next = gK.gather(1, nxt.unsqueeze(1)).squeeze(1) * (d + 1 < ctx.D).to(gK.dtype)
        return g_at, w * (g_next - g_at), None


class SynapticDelayLayer(nn.Module):
    def __init__(self, n_in: int, n_out: int, D: int, gain: float, g: torch.Generator):
        super().__init__()
        self.D = D
        self.weight = nn.Parameter(torch.randn(n_in, n_out, generator=g) * gain / math.sqrt(n_in))
        self.delay = nn.Parameter(torch.rand(n_in, n_out, generator=g) * (D - 1))

    def forward(self, x):                                 # [B, T, n_in] -> currents [B, T, n_out]
        K = _SynapseKernel.apply(self.weight, self.delay, self.D)          # [n_in, D, m]
        if K.shape[-1] >= 32:       # wide layers: one big matmul on the unfolded input is faster
            return shifted(x, self.D) @ K.reshape(-1, K.shape[-1])
        return delayed_matmul(x, K)  # narrow layers (the readout): shift-and-add is faster

    @torch.no_grad()
    def clamp_(self):
        self.delay.clamp_(0, self.D - 1)


def delayed_matmul(x: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """out[b, t, j] = sum_{i, k} x[b, t - k, i] K[i, k, j] (= shifted(x, D) @ K.reshape(-1, m)),
    computed as Y = x @ K (all D delay slots at once, [B, T, D, m]) followed by a shift-and-add
    over the D slots: D x fewer values than unfolding the input when m < n_in."""
    B, T, n = x.shape
    _, D, m = K.shape
    if D == 1:
        return x @ K[:, 0]
    Y = F.pad((x @ K.reshape(n, D * m)).view(B, T, D, m), (0, 0, 0, 0, D - 1, 0))
    out = Y[:, D - 1:D - 1 + T, 0]
    for k in range(1, D):
        out = out + Y[:, D - 1 - k:D - 1 - k + T, k]
    return out


class SynapticDelaySNN(nn.Module):
    """n_in -> hidden (LIF) -> n_out (readout), per-synapse delays on both synaptic layers, or
    (first_layer=False) only on the hidden -> readout synapses, where the axonal delays act."""

    def __init__(self, n_in, hidden, n_out, D, seed=0, first_layer=True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.l1 = SynapticDelayLayer(n_in, hidden, D if first_layer else 1, 2.0, g)
        self.l2 = SynapticDelayLayer(hidden, n_out, D, 1.0, g)
        if not first_layer:          # D = 1: a plain weight matrix, no delay parameters
            self.l1.delay.requires_grad_(False)

    def forward(self, x):
        s = _LIFLoop.apply(self.l1(x), _arith(True))
        ro = _LIFLoop.apply(self.l2(s), _arith(False, 4))
        return ro.mean(1)

    def clamp_(self):
        self.l1.clamp_()
        self.l2.clamp_()


class DclsSNN(nn.Module):
    """Same network with DCLS (Dcls1d, Gaussian interpolation) on both synaptic layers."""

    def __init__(self, n_in, hidden, n_out, D, seed=0):
        super().__init__()
        from DCLS.construct.modules import Dcls1d
        torch.manual_seed(seed)
        self.D = D
        self.l1 = Dcls1d(n_in, hidden, kernel_count=1, dilated_kernel_size=D, bias=False, version="gauss")
        self.l2 = Dcls1d(hidden, n_out, kernel_count=1, dilated_kernel_size=D, bias=False, version="gauss")

    def _conv(self, layer, x):                            # [B, T, n] -> [B, T, m], causal
        y = layer(F.pad(x.transpose(1, 2), (self.D - 1, 0)))
        return y.transpose(1, 2).contiguous()

    def forward(self, x):
        s = _LIFLoop.apply(self._conv(self.l1, x), _arith(True))
        ro = _LIFLoop.apply(self._conv(self.l2, s), _arith(False, 4))
        return ro.mean(1)

    def clamp_(self):
        for l in (self.l1, self.l2):
            if hasattr(l, "clamp_parameters"):
                l.clamp_parameters()


class AxonalSNN(nn.Module):
    """Our DelaySNN behind the same interface."""

    def __init__(self, n_in, hidden, n_out, dbits, wbits=32.0, seed=0, input_delays=False):
        super().__init__()
        self.net = DelaySNN(ModelConfig(n_in=n_in, sizes=(hidden,), n_out=n_out, wbits=wbits, dbits=dbits,
                                        leak=(3, 4), init_gain=(2.0, 1.0), input_delays=input_delays),
                            seed=seed)

    def forward(self, x):
        return self.net(x)["logits"]

    def clamp_(self):
        self.net.clamp_delays_()


def dcls_status() -> tuple[bool, str]:
    try:
        from DCLS.construct.modules import Dcls1d
        m = Dcls1d(3, 2, kernel_count=1, dilated_kernel_size=4, bias=False, version="gauss")
        y = m(torch.rand(1, 3, 8))
        y.sum().backward()
        import importlib.metadata as md
        try:
            v = md.version("dcls")
        except md.PackageNotFoundError:
            v = "unknown"
        return True, f"dcls {v} runs on CPU"
    except ImportError as e:
        return False, f"not installed ({e}); pip install dcls"
    except Exception as e:
        return False, f"installed but fails on CPU: {type(e).__name__}: {e}"


def bench(n_in=700, hidden=128, n_out=10, steps=100, batch=32, dbits=5, iters=10, warmup=2,
          n_train=2000, rate=0.03, seed=0, methods=None, threads=1, device="cpu") -> dict:
    if threads:
        torch.set_num_threads(threads)
    D = 1 << dbits
    dev = torch.device(device)
    ok, dcls_msg = dcls_status()
    builders = {
        "axonal": lambda: AxonalSNN(n_in, hidden, n_out, dbits, 32.0, seed),
        "axonal-ternary": lambda: AxonalSNN(n_in, hidden, n_out, dbits, 1.58, seed),
        "axonal-in": lambda: AxonalSNN(n_in, hidden, n_out, dbits, 32.0, seed, input_delays=True),
        "synaptic": lambda: SynapticDelaySNN(n_in, hidden, n_out, D, seed),
        "synaptic-out": lambda: SynapticDelaySNN(n_in, hidden, n_out, D, seed, first_layer=False),
        "dcls": lambda: DclsSNN(n_in, hidden, n_out, D, seed),
    }
    methods = list(methods or builders)
    skipped = {}
    if "dcls" in methods and not ok:
        methods.remove("dcls")
        skipped["dcls"] = dcls_msg
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, steps, n_in, generator=g) < rate).float().to(dev)
    y = torch.randint(0, n_out, (batch,), generator=g).to(dev)
    models, opts, times = {}, {}, {}
    for m in methods:
        models[m] = builders[m]().to(dev)
        opts[m] = torch.optim.Adam([q for q in models[m].parameters() if q.requires_grad], lr=1e-3)
        times[m] = []

    def step(m):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = F.cross_entropy(models[m](x), y)
        opts[m].zero_grad(set_to_none=True)
        loss.backward()
        opts[m].step()
        models[m].clamp_()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    for _ in range(warmup):
        for m in methods:
            step(m)
    for _ in range(iters):             # round-robin: background load hits every method alike
        for m in methods:
            times[m].append(step(m))
    n_batches = math.ceil(n_train / batch)
    ref = "axonal" if "axonal" in methods else methods[0]
    res = {}
    for m in methods:
        med = statistics.median(times[m])
        res[m] = {"step_s_median": med, "step_s_mean": statistics.mean(times[m]),
                  "step_s_min": min(times[m]), "steps_timed": len(times[m]),
                  "epoch_s_extrapolated": med * n_batches,
                  "delay_params": n_delay_params(models[m]),
                  "params": sum(p.numel() for p in models[m].parameters() if p.requires_grad)}
    for m in methods:
        res[m]["ratio_to_" + ref] = res[m]["step_s_median"] / res[ref]["step_s_median"]
    return {
        "network": f"{n_in}-{hidden}-{n_out}", "steps": steps, "batch": batch, "dbits": dbits,
        "delay_range": [0, D - 1], "input_rate": rate, "n_train": n_train, "batches_per_epoch": n_batches,
        "method": f"{warmup} warm-up + {iters} timed training steps per method (forward, backward, Adam, "
                  f"delay clamp), round-robin; epoch time = median step x {n_batches} batches "
                  f"(extrapolated, not a measured epoch)",
        "reference": ref, "results": res, "skipped": skipped, "dcls": dcls_msg,
        "device": str(dev), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "host": platform.node(),
    }


def delay_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that are delays, in time steps, of each method (DCLS: the positions P)."""
    if isinstance(model, AxonalSNN):
        return model.net.delay_latents()
    if isinstance(model, SynapticDelaySNN):
        return [l.delay for l in (model.l1, model.l2) if l.delay.requires_grad]
    return [p for n, p in model.named_parameters() if n.endswith(".P")]


def n_delay_params(model: nn.Module) -> int:
    return sum(p.numel() for p in delay_parameters(model))


def accuracy(methods=("axonal", "dcls"), epochs=8, hidden=128, dbits=5, batch=32, lr=1e-3,
             seed=0, threads=1, delay_lr_factor=1.0) -> dict:
    """Train each method on spiking FSDD (official split) for `epochs` with the same optimiser and
    batches; select on validation, report test accuracy and the measured wall time per epoch.

    Delays (all in time steps) get their own Adam group at `delay_lr_factor` x lr: at the weights'
    rate (factor 1) Adam moves a delay by at most ~1 step in 20 epochs, so no method learns its
    delays; DCLS's published recipe (Hammouamri et al.) uses 100x."""
    from tqdm import tqdm
    from .data import load_task
    if threads:
        torch.set_num_threads(threads)
    s = load_task("fsdd")
    D = 1 << dbits
    xs = {k: torch.as_tensor(getattr(s, k).spikes, dtype=torch.float32) for k in ("train", "val", "test")}
    ys = {k: torch.as_tensor(getattr(s, k).labels, dtype=torch.int64) for k in ("train", "val", "test")}
    n_in, n_out = xs["train"].shape[2], int(ys["train"].max()) + 1
    builders = {"axonal": lambda: AxonalSNN(n_in, hidden, n_out, dbits, 32.0, seed),
                "axonal-in": lambda: AxonalSNN(n_in, hidden, n_out, dbits, 32.0, seed, input_delays=True),
                "synaptic": lambda: SynapticDelaySNN(n_in, hidden, n_out, D, seed),
                "dcls": lambda: DclsSNN(n_in, hidden, n_out, D, seed)}

    def evaluate(model, k):
        with torch.no_grad():
            return float(sum((model(xs[k][i:i + 250]).argmax(1) == ys[k][i:i + 250]).sum()
                             for i in range(0, len(xs[k]), 250)) / len(xs[k]))

    out = {}
    for m in methods:
        model = builders[m]()
        delays = {id(q) for q in delay_parameters(model)}
        opt = torch.optim.Adam([
            {"params": [q for q in model.parameters() if q.requires_grad and id(q) not in delays], "lr": lr},
            {"params": [q for q in model.parameters() if id(q) in delays], "lr": lr * delay_lr_factor}])
        g = torch.Generator().manual_seed(seed)
        best, epoch_s = (-1.0, 0, 0.0), []
        for ep in tqdm(range(1, epochs + 1), desc=m, leave=False):
            t = time.perf_counter()
            for idx in torch.randperm(len(xs["train"]), generator=g).split(batch):
                loss = F.cross_entropy(model(xs["train"][idx]), ys["train"][idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                model.clamp_()
            epoch_s.append(time.perf_counter() - t)
            val = evaluate(model, "val")
            if val > best[0]:
                best = (val, ep, evaluate(model, "test"))
        out[m] = {"val_acc": best[0], "selected_epoch": best[1], "test_acc": best[2],
                  "epoch_s_measured_median": statistics.median(epoch_s), "epochs": epochs,
                  "delay_params": n_delay_params(model), "seed": seed, "lr": lr,
                  "delay_lr": lr * delay_lr_factor}
    return {"task": "spiking FSDD, official split", "network": f"{n_in}-{hidden}-{n_out}",
            "delay_range": [0, D - 1], "batch": batch, "optimiser": f"Adam lr {lr}, delays lr {lr * delay_lr_factor}", "seed": seed,
            "selection": "highest validation accuracy; test read at that epoch only",
            "threads": torch.get_num_threads(), "results": out}


def main(argv=None) -> int:
    """`python -m delay_training.bench`: the options of `delaysnn bench train`."""
    p = argparse.ArgumentParser(prog="python -m delay_training.bench", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options (delaysnn bench train)."""
    p.add_argument("--n-in", type=int, default=700, help="input channels")
    p.add_argument("--hidden", type=int, default=128, help="hidden LIF neurons")
    p.add_argument("--n-out", type=int, default=10, help="readout classes")
    p.add_argument("--steps", type=int, default=100, help="timesteps per sample")
    p.add_argument("--batch", type=int, default=32, help="samples per training step")
    p.add_argument("--dbits", type=int, default=5, help="delay bits: delays 0..2^dbits-1")
    p.add_argument("--iters", type=int, default=10, help="timed training steps per method")
    p.add_argument("--n-train", type=int, default=2000, help="samples per epoch (FSDD: 2000)")
    p.add_argument("--methods", help="comma list of axonal,axonal-ternary,axonal-in,synaptic,"
                   "synaptic-out,dcls; None: all (with --accuracy-epochs: axonal,dcls)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--report", default=str(REPO / "build" / "reports" / "bench-train.json"),
                   help="report path of the timing run")
    p.add_argument("--seed", type=int, default=0, help="--accuracy-epochs: seed of init and batch order")
    p.add_argument("--accuracy-epochs", type=int, default=0,
                   help="instead: train --methods (axonal, axonal-in, synaptic, dcls) on FSDD this "
                        "many epochs each, report accuracy and measured epoch time "
                        "(build/reports/bench-train-accuracy.json); 0: time steps only")
    p.add_argument("--delay-lr-factor", type=float, default=1.0,
                   help="--accuracy-epochs: Adam lr of every method's delays = this x the weights' lr "
                        "(1: one rate for all, as in the first runs; DCLS's published recipe: 100)")


def run(a: argparse.Namespace) -> int:
    """Time the methods (or, with --accuracy-epochs, train them) and write the report."""
    from .export import atomic_write_json
    if a.accuracy_epochs:
        methods = tuple(a.methods.split(",")) if a.methods else ("axonal", "dcls")
        r = accuracy(methods, epochs=a.accuracy_epochs, hidden=a.hidden, dbits=a.dbits, batch=a.batch,
                     seed=a.seed, threads=a.threads, delay_lr_factor=a.delay_lr_factor)
        tag = (f"-{a.accuracy_epochs}ep" + (f"-dlr{a.delay_lr_factor:g}x" if a.delay_lr_factor != 1 else "")
               + (f"-s{a.seed}" if a.seed else ""))
        path = REPO / "build" / "reports" / "bench-train-accuracy.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:   # runs in parallel processes add up
            fcntl.flock(lock, fcntl.LOCK_EX)
            old = json.loads(path.read_text()).get("results", {}) if path.exists() else {}
            r["results"] = {**old, **{f"{m}{tag}": v for m, v in r["results"].items()}}
            atomic_write_json(path, r)
        for m, v in ((f"{m}{tag}", r["results"][f"{m}{tag}"]) for m in methods):
            print(f"  {m:12s} test {100 * v['test_acc']:.1f} % (epoch {v['selected_epoch']} of "
                  f"{v['epochs']}), epoch {v['epoch_s_measured_median']:.1f} s")
        print(f"report {path}")
        return 0
    r = bench(a.n_in, a.hidden, a.n_out, a.steps, a.batch, a.dbits, a.iters, n_train=a.n_train,
              methods=a.methods.split(",") if a.methods else None, threads=a.threads, device=a.device)
    atomic_write_json(Path(a.report), r)
    print(f"{r['network']}, T={r['steps']}, batch {r['batch']}, delays 0..{r['delay_range'][1]}, "
          f"{r['device']}, {r['threads']} thread(s); {r['method']}")
    for m, v in r["results"].items():
        print(f"  {m:15s} step {v['step_s_median'] * 1e3:8.1f} ms  epoch ~{v['epoch_s_extrapolated']:7.1f} s  "
              f"x{v['ratio_to_' + r['reference']]:.2f}  ({v['delay_params']} delays)")
    for m, why in r["skipped"].items():
        print(f"  {m}: skipped, {why}")
    print(f"report {a.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
