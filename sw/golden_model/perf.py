"""How fast on my board? `python -m golden_model.perf --sizes 128 --clock-mhz 24 ...`

Runs the cycle schedule of docs/core.md on a seeded random network and Bernoulli input, and
prints cycles per timestep and time per sample at the given clock.
"""

import argparse
import random
import statistics

from .config import CoreConfig
from .events import encode_event, SPIKE, EOT
from .network import GoldenNetwork
from .params import random_params
from .schedule import schedule


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-in", type=int, default=700)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128])
    ap.add_argument("--n-out", type=int, default=20)
    ap.add_argument("--recurrent", action="store_true")
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--rate", type=float, default=0.05, help="input spike probability per channel and step")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--clock-mhz", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    cfg = CoreConfig(n_in=a.n_in, sizes=tuple(a.sizes), n_out=a.n_out,
                     recurrent=(a.recurrent,) * len(a.sizes), weight_bits=2, ternary=True,
                     depth=a.depth)
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


if __name__ == "__main__":
    main()
