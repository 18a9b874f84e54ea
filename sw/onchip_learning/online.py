"""Online learning with the bit-exact golden learner: one sample, then its label, as on the chip."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from golden_model import GoldenNetwork, NetworkParams
from golden_model.learning import GoldenLearner, LearnRegisters


def predict(net: GoldenNetwork, spikes: np.ndarray, batch: int = 256) -> np.ndarray:
    """The core's decision: argmax over classes of the readout summed over the sample."""
    preds = []
    for i in range(0, len(spikes), batch):
        x = torch.as_tensor(np.asarray(spikes[i:i + batch]), dtype=torch.int64)
        preds.append(net.run(x)["readout"].sum(1).argmax(1).numpy())
    return np.concatenate(preds) if preds else np.zeros(0, np.int64)


def accuracy(net: GoldenNetwork, spikes: np.ndarray, labels: np.ndarray) -> float:
    return float((predict(net, spikes) == np.asarray(labels)).mean())


@dataclass
class Curve:
    """Accuracy after every evaluation point (samples seen) and the delays at the end."""
    samples: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)   # online: correct before its update
    eval_acc: list[float] = field(default_factory=list)    # validation (or held-out) set
    wall_seconds: float = 0.0
    best_samples: int = 0                                   # where validation was best (first)
    best_eval: float = 0.0


def lr_for_epoch(schedule: list[int], epoch: int) -> int:
    """The host's `lr_shift_R` for `epoch` (0-based) of a per-epoch schedule; the last entry repeats."""
    return schedule[min(epoch, len(schedule) - 1)]


def presentation_order(n: int, epochs: int, seed: int):
    """Indices of the training samples in the order `learn_online` presents them: a fresh
    permutation of range(n) every epoch, from one generator seeded with `seed`. The RTL replay
    (verification/runners/learning_replay.py) takes its order from here too."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        yield from rng.permutation(n).tolist()


def learn_online(params: NetworkParams, regs: LearnRegisters, train: tuple[np.ndarray, np.ndarray],
                 evaluate: tuple[np.ndarray, np.ndarray], epochs: int, seed: int,
                 eval_every: int | None = None, desc: str = "on-chip learning",
                 trajectory: bool = False, max_samples: int | None = None,
                 on_sample=None) -> tuple[GoldenLearner, Curve, list]:
    """Present the training samples one at a time (order shuffled by `seed` every epoch), each
    followed by its label. Returns the learner (its network holds the image after the last sample;
    `learner.best_params` the image at the best validation point, as a host would read it back and
    keep), the learning curve and, if asked, every learned parameter after every sample.
    `max_samples` stops after that many samples (the order is that of the whole run, see
    `presentation_order`); `on_sample(seen, index, learner, readout)` is called after every sample
    (after its LEARN), e.g. by the RTL replay (verification/runners/learning_replay.py)."""
    net = GoldenNetwork(copy.deepcopy(params))
    learner = GoldenLearner(net, copy.deepcopy(regs))
    xs, ys = train
    eval_every = eval_every or len(xs)
    curve, traj = Curve(), []
    curve.samples.append(0)
    curve.eval_acc.append(accuracy(net, *evaluate))
    curve.train_acc.append(float("nan"))
    curve.best_eval, best = curve.eval_acc[0], copy.deepcopy(net.params)
    t0, seen, correct, count = time.time(), 0, 0, 0
    with tqdm(total=epochs * len(xs), desc=desc, leave=False) as bar:
        for i in presentation_order(len(xs), epochs, seed):
            if max_samples is not None and seen >= max_samples:
                break
            out = learner.run_sample(torch.as_tensor(xs[i], dtype=torch.int64), label=int(ys[i]))
            correct += int(int(out.sum(0).argmax()) == int(ys[i]))
            count += 1
            seen += 1
            if trajectory:
                traj.append([p.delay.clone() for p in net.params.layers[:-1]] +
                            [p.weight.clone() for p in net.params.layers])
            if seen % eval_every == 0:
                curve.samples.append(seen)
                curve.eval_acc.append(accuracy(net, *evaluate))
                curve.train_acc.append(correct / max(count, 1))
                correct = count = 0
                if curve.eval_acc[-1] > curve.best_eval:
                    curve.best_eval, curve.best_samples = curve.eval_acc[-1], seen
                    best = copy.deepcopy(net.params)
                bar.set_postfix(acc=f"{curve.eval_acc[-1]:.3f}")
            if on_sample is not None:
                on_sample(seen, int(i), learner, out)
            bar.update()
    curve.wall_seconds = time.time() - t0
    learner.best_params = best      # what a host keeps: the image read back at the best validation
    return learner, curve, traj
