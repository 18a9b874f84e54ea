"""The on-chip learning demonstrations of docs/learning.md, run on the bit-exact golden learner.

Each demo builds its network image and engine registers (what a host would load into the chip),
learns online one sample at a time, and returns a JSON-able record. Selection never looks at the
test set: the reported test accuracy is that of the network after the last sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from golden_model import CoreConfig, LayerParams, NetworkParams, GoldenNetwork
from golden_model.learning import (LearnRegisters, LEARN_ON, LEARN_W_H,
                                   LEARN_D_H, STOCHASTIC, memory_bits)
import spike_datasets as sd
from delay_training.export import to_params
from delay_training.train import make_config, seqdet_network
from .online import learn_online, accuracy, lr_for_epoch
from .presets import SEQUENCE_REGS, LAG_REGS, FSDD_REGS
from .fsdd_network import fsdd_sets, FSDD_LR_SCHEDULE, FSDD_HIDDEN, CALIBRATION_SAMPLES
from .fast_pair_r import fast_hidden_spikes, fast_online
from .hidden_layers import build_network


def coincidence_threshold(weight_shift: int, leak: int) -> int:
    """Two unit spikes fire a neuron only if they arrive in the same step (one a step later has
    decayed below the threshold)."""
    one = 1 << weight_shift
    return one + (one - (one >> leak)) + 1


# -- a. sequence detection: fixed weights, only delays learn ------------------------------------
def sequence_network(pairs: int = 4, leak: int = 5) -> NetworkParams:
    """The hand-built detector of offline training (`delay_training.train.seqdet_network`,
    2 -> 4P relays -> 2P coincidence neurons -> 2, D=16), exported, with every delay at 0 and a
    slower coincidence layer (`leak`): a relay spike then lingers long enough for the surrogate to
    see a partner arriving up to ~20 steps later, which is what lets the delays find each other."""
    mc = make_config("seqdet", sizes=(4 * pairs, 2 * pairs)).model_config(2, 2)
    params = to_params(seqdet_network(mc))
    for layer in params.layers:
        layer.delay.zero_()
    params.layers[1].leak = leak
    params.layers[1].threshold = coincidence_threshold(params.layers[1].weight_shift, leak)
    return params


def sequence_data(n_train: int = 200):
    """(train, validation, test) of the sequence demo."""
    kw = dict(n_steps=32, lag=10, jitter=4)
    return (sd.make_sequence_detection(n_train, seed=0, **kw),
            sd.make_sequence_detection(200, seed=1, **kw), sd.make_sequence_detection(200, seed=2, **kw))


def sequence_demo(seed: int = 0, epochs: int = 2, n_train: int = 200) -> tuple[dict, dict]:
    train, val, test = sequence_data(n_train)
    params = sequence_network()
    regs = LearnRegisters(**SEQUENCE_REGS)
    learner, curve, _ = learn_online(params, regs, (train.spikes, train.labels), (val.spikes, val.labels),
                                     epochs=epochs, seed=seed, eval_every=10, desc="a. sequence")
    net = learner.net
    return {
        "task": "sequence detection (2 channels, lag 10, onset jitter 4, 32 steps)",
        "network": "2-16-8-2 ternary, fixed hand-set weights, delays of layer 1 learn (D=16), all start at 0",
        "registers": SEQUENCE_REGS, "seed": seed, "epochs": epochs, "n_train": n_train,
        "test_accuracy_start": accuracy(GoldenNetwork(params), test.spikes, test.labels),
        "test_accuracy": accuracy(net, test.spikes, test.labels),
        "curve": curve.__dict__, "delays_layer1": net.params.layers[0].delay.tolist(),
        "memory_bits": memory_bits(params.config),
    }, {"params": params, "learned": net.params, "test": test}


# -- b. lag classes: weights + delays against weights only ---------------------------------------
def lag_network(relays: int = 16, depth: int = 32, leak: int = 5) -> NetworkParams:
    """2 -> 2R relays (R per channel) -> R coincidence neurons -> 4 classes. Hidden neuron k
    listens to relay k of channel 0 and relay k of channel 1 (weights +1, learnable) and votes for
    class k mod 4 (readout fixed). All delays start at 0, where no neuron can tell the lags apart:
    the lag must be found by learning d(relay k of channel 0) - d(relay k of channel 1)."""
    R = relays
    cfg = CoreConfig(n_in=2, sizes=(2 * R, R), n_out=4, weight_bits=2, ternary=True, depth=depth)
    w0 = torch.zeros(2, 2 * R, dtype=torch.int64)
    w0[0, :R] = 1
    w0[1, R:] = 1
    w1 = torch.zeros(2 * R, R, dtype=torch.int64)
    w2 = torch.zeros(R, 4, dtype=torch.int64)
    for k in range(R):
        w1[k, k] = w1[R + k, k] = 1
        w2[k, k % 4] = 1
    zeros = lambda n: torch.zeros(n, dtype=torch.int64)
    return NetworkParams(cfg, [
        LayerParams(w0, zeros(2 * R), threshold=64, leak=2, weight_shift=6),
        LayerParams(w1, zeros(R), threshold=coincidence_threshold(6, leak), leak=leak, weight_shift=6),
        LayerParams(w2, zeros(4), threshold=1, leak=4, weight_shift=5)])


LAG_MODES = {"weights+delays": LEARN_ON | LEARN_W_H | LEARN_D_H | STOCHASTIC,
             "weights only": LEARN_ON | LEARN_W_H | STOCHASTIC}


def lag_data(n_train: int = 600):
    """(train, validation, test) of the lag demo."""
    kw = dict(n_classes=4, n_channels=2, n_steps=60, lags=(5, 10, 15, 20))
    return (sd.make_delay_task(n_train, seed=1, **kw), sd.make_delay_task(200, seed=2, **kw),
            sd.make_delay_task(400, seed=3, **kw))


def lag_demo(seed: int = 0, epochs: int = 3, n_train: int = 600) -> tuple[dict, dict]:
    train, val, test = lag_data(n_train)
    params = lag_network()
    runs, nets = {}, {}
    for mode, enable in LAG_MODES.items():
        regs = LearnRegisters(enable=enable, **LAG_REGS)
        learner, curve, _ = learn_online(params, regs, (train.spikes, train.labels),
                                         (val.spikes, val.labels), epochs=epochs, seed=seed,
                                         eval_every=100, desc=f"b. {mode}")
        nets[mode] = learner.best_params
        runs[mode] = {"test_accuracy": accuracy(GoldenNetwork(learner.best_params), test.spikes, test.labels),
                      "test_accuracy_last": accuracy(learner.net, test.spikes, test.labels),
                      "selected_at_sample": curve.best_samples,
                      "curve": curve.__dict__, "enable": enable,
                      "delays_layer1": learner.net.params.layers[0].delay.tolist()}
    gap = runs["weights+delays"]["test_accuracy"] - runs["weights only"]["test_accuracy"]
    return {
        "task": "lag classes: 2 channels, one spike each, class = lag in {5, 10, 15, 20} steps, "
                "random onset, 60 steps",
        "network": "2-32-16-4 ternary, D=32; relays and readout fixed; hidden weights learn; "
                   "delays of layer 1 learn in 'weights+delays' only; all delays start at 0",
        "selection": "parameters at the best validation accuracy (test_accuracy); "
                     "test_accuracy_last: after the last sample",
        "registers": LAG_REGS, "seed": seed, "epochs": epochs, "n_train": n_train,
        "runs": runs, "gain_points": 100 * gap, "memory_bits": memory_bits(params.config),
    }, {"params": params, "learned": nets, "test": test}


# -- c. spiking FSDD from a random start ---------------------------------------------------------


BPTT_COMMAND = ("python -m delay_training train --task fsdd --wbits 8 --dbits 5 --sizes 128 "
                "--leak 3,4 --epochs 15 --seed 0 --name onchip-c-bptt")


def bptt_reference() -> dict:
    """Offline BPTT of the same network (700-128-10, 8-bit, D=32), from its training reports if
    they have been run (`BPTT_COMMAND` for seed 0; with `--seed S --name onchip-c-bptt-sS` for
    the other seeds, which the on-chip seed study is compared with)."""
    reports = Path(__file__).resolve().parents[2] / "build" / "reports"
    path = reports / "train-onchip-c-bptt.json"
    out = {"command": BPTT_COMMAND, "report": str(path)}
    if path.exists():
        r = json.loads(path.read_text())
        out.update(test_accuracy=r["test_acc"], val_accuracy=r["val_acc"], selected_epoch=r["selected_epoch"])
    seeds = {0: path, **{s: reports / f"train-onchip-c-bptt-s{s}.json" for s in range(1, 10)}}
    tests = {s: json.loads(p.read_text())["test_acc"] for s, p in seeds.items() if p.exists()}
    if len(tests) > 1:
        out["test_accuracy_per_seed"] = tests
        out["test_accuracy_seed_mean"] = sum(tests.values()) / len(tests)
    return out


def fsdd_demo_network(seed: int, train_spikes: torch.Tensor,
                      hidden: dict | None = None) -> NetworkParams:
    """Demo c's image: `hidden` (FSDD_HIDDEN) built by hidden_layers.build_network, its gains
    calibrated on CALIBRATION_SAMPLES training samples drawn with `seed` (no labels used);
    `train_spikes` with the bias channel."""
    pick = torch.randperm(len(train_spikes), generator=torch.Generator().manual_seed(seed))
    x_cal = torch.as_tensor(train_spikes[pick[:CALIBRATION_SAMPLES]], dtype=torch.int64)
    return build_network(seed=seed, x_cal=x_cal, **(FSDD_HIDDEN if hidden is None else hidden))


def fsdd_demo(seed: int = 0, epochs: int = 12, hidden: dict | None = None,
              lr_schedule: list[int] | None = None, engine: str = "fast") -> tuple[dict, dict]:
    """`lr_schedule`: lr_shift_R for epoch 0, 1, ... (the last repeats), written by the host
    between epochs, as it would rewrite the register. `engine`: "golden" runs GoldenLearner sample
    by sample (0.15-0.3 s a sample here: 1-2 hours for 12 epochs); "fast" runs the vectorised
    pair-R replica `fast_pair_r.FastPairR` (same weights, delays and LFSR as GoldenLearner, checked
    by tests/learning/test_onchip_demos.py), minutes. Accuracies are those of GoldenNetwork on the learned
    image in both cases."""
    hidden = FSDD_HIDDEN if hidden is None else hidden
    lr_schedule = FSDD_LR_SCHEDULE if lr_schedule is None else lr_schedule
    train, val, test = fsdd_sets(True)
    params = fsdd_demo_network(seed, train[0], hidden)
    regs = LearnRegisters(**FSDD_REGS)
    n_train = len(train[1])
    if lr_schedule:
        regs.lr_shift_R = lr_schedule[0]
    if engine == "golden":
        def host_schedule(seen, index, learner, readout):
            if lr_schedule and seen % n_train == 0:
                learner.regs.lr_shift_R = lr_for_epoch(lr_schedule, seen // n_train)

        learner, curve, _ = learn_online(params, regs, train, val, epochs=epochs, seed=seed,
                                         eval_every=500, desc="c. FSDD",
                                         on_sample=host_schedule if lr_schedule else None)
        best, last, curve = learner.best_params, learner.net.params, curve.__dict__
    elif engine == "fast":
        import time
        t0 = time.time()
        spikes = lambda x: torch.cat([fast_hidden_spikes(params, x[i:i + 250].to(torch.int64))
                                      for i in range(0, len(x), 250)])
        s_tr, s_va = spikes(train[0]), spikes(val[0])
        L, points, best = fast_online(params, regs, s_tr, train[1], s_va, val[1], epochs, seed,
                                         lr_schedule=lr_schedule)
        last = L.params
        k = max(range(len(points)), key=lambda i: (points[i][1], -i))
        curve = {"samples": [p[0] for p in points], "eval_acc": [p[1] for p in points],
                 "best_samples": points[k][0], "best_eval": points[k][1],
                 "wall_seconds": time.time() - t0}
        if accuracy(GoldenNetwork(best), *val) != points[k][1]:
            raise AssertionError("fast replica and GoldenNetwork disagree on the validation set")
    else:
        raise ValueError(f"engine: expected 'fast' or 'golden', got {engine!r}")
    net = GoldenNetwork(best)
    cfg = params.config
    bias = " (the last input channel and hidden neuron are the bias unit)" if cfg.n_in > 700 else ""
    return {
        "selection": "parameters at the best validation accuracy",
        "test_accuracy_last": accuracy(GoldenNetwork(last), *test),
        "task": "spiking FSDD, official split (train 2000 / validation 250 / test 250), 100 steps",
        "network": f"{cfg.n_in}-{cfg.sizes[0]}-10{bias}, 8-bit weights, D=32; hidden weights seeded "
                   "random and fixed (hidden_layers.build_network); readout weights (from 0) and hidden "
                   "delays (from 0) learn on chip (pair R)",
        "engine": engine,
        "registers": FSDD_REGS, "seed": seed, "epochs": epochs, "hidden_layer": hidden,
        "lr_shift_R_per_epoch": lr_schedule,
        "test_accuracy": accuracy(net, *test),
        "selected_at_sample": curve["best_samples"],
        "curve": curve, "delays_hidden": best.layers[0].delay.tolist(),
        "memory_bits": memory_bits(params.config),
        "offline_bptt_same_network": bptt_reference(),
    }, {"params": params, "learned": best}
