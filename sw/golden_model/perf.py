"""How fast on my board? `delaysnn perf --sizes 128 --clock-mhz 24 ...` (or
`python -m golden_model.perf`, the same options)

Runs the cycle schedule of docs/core.md on a seeded random network and Bernoulli input, and
prints cycles per timestep and time per sample at the given clock.
"""

import argparse
import random
import statistics

from corespec.errors import run_parsed

from .config import CoreConfig
from .events import encode_event, SPIKE, EOT
from .network import GoldenNetwork
from .params import random_params
from .schedule import schedule


def _probability(s: str) -> float:
    """--rate: a spike probability per channel and step, so a number in [0, 1]."""
    try:
        rate = float(s)
    except ValueError:
        rate = float("nan")
    if not 0.0 <= rate <= 1.0:      # also refuses nan
        raise argparse.ArgumentTypeError(f"{s!r} is not a probability (expected a number in [0, 1])")
    return rate


def _config(a) -> CoreConfig:
    """The network of the options, or a one-line UserError for a size, step count or clock the
    run cannot have (instead of a traceback from CoreConfig, an empty run or a division by 0)."""
    from corespec.errors import UserError
    if a.steps < 1:
        raise UserError(f"argument --steps: {a.steps} (expected at least 1 timestep)")
    if not a.clock_mhz > 0:
        raise UserError(f"argument --clock-mhz: {a.clock_mhz} (expected a clock above 0 MHz)")
    try:
        return CoreConfig(n_in=a.n_in, sizes=tuple(a.sizes), n_out=a.n_out,
                          recurrent=(a.recurrent,) * len(a.sizes), weight_bits=2, ternary=True,
                          depth=a.depth)
    except ValueError as e:
        raise UserError(str(e)) from None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn perf`: the network, its input and the clock."""
    ap.add_argument("--n-in", type=int, default=700, help="input channels")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128], help="LIF layer sizes")
    ap.add_argument("--n-out", type=int, default=20, help="readout neurons")
    ap.add_argument("--recurrent", action="store_true", help="recurrent LIF layers")
    ap.add_argument("--depth", type=int, default=32, help="delay depth D (delays 0..D-1)")
    ap.add_argument("--rate", type=_probability, default=0.05, help="input spike probability per channel and step")
    ap.add_argument("--steps", type=int, default=100, help="timesteps of the sample")
    ap.add_argument("--clock-mhz", type=float, default=24.0, help="the core's clock")
    ap.add_argument("--seed", type=int, default=0, help="seed of the network and the input")


def main(argv=None):
    """`python -m golden_model.perf`: a user's mistake is argparse's usage and message, exit 2."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run_parsed(ap, run, argv)


def run(a: argparse.Namespace) -> int:
    """Schedule one random sample through a random network; cycles and time printed."""
    cfg = _config(a)
    rng = random.Random(a.seed)
    words = []
    for _ in range(a.steps):
        words += [encode_event(SPIKE, c) for c in range(a.n_in) if rng.random() < a.rate]
        words.append(encode_event(EOT))
    net = GoldenNetwork(random_params(cfg, a.seed, threshold_scale=0.3))
    sched = schedule(cfg, words, net.run_stream(words))
    per_step = sched.cycles_per_step
    total = sched.step_end_cycles[-1] + 1
    us = total / a.clock_mhz
    print(f"network {a.n_in}-{'-'.join(map(str, a.sizes))}-{a.n_out}, input rate {a.rate}, seed {a.seed}")
    print(f"cycles per timestep: mean {statistics.mean(per_step):.0f}, max {max(per_step)}")
    print(f"one sample of {a.steps} steps: {total} cycles = {us / 1000:.2f} ms at {a.clock_mhz} MHz")
    print(f"synaptic accumulates: {sched.accumulates} ({sched.accumulates / total:.2f} per cycle)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
