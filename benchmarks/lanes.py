"""`delaysnn bench lanes` (python -m benchmarks.lanes): cycles per timestep of the board networks for lanes K = 1, 2, 4, 8
from the golden schedule (docs/core.md, section 6), written to build/reports/lanes.json.

The input is random (each of the n_in channels spikes with probability `rate` per step), the
parameters random (golden_model.random_params); cycles depend on them only through the number
of input events and of spikes per layer, which the report lists next to the cycles."""

import argparse
import json
import random
import statistics
from pathlib import Path

from golden_model import CoreConfig, EOT, SPIKE, GoldenNetwork, encode_event, random_params, schedule

ROOT = Path(__file__).resolve().parents[1]

# (network of hw/delaycore/boards/build.py, its board's core clock in MHz)
NETWORKS = {
    "icebreaker-700-128-20": (24.0, dict(n_in=700, sizes=(128,), n_out=20, weight_bits=2, ternary=True,
                                  depth=32, weights_per_word=8)),
    "ulx3s-700-128-128-20": (80.0, dict(n_in=700, sizes=(128, 128), n_out=20, weight_bits=2, ternary=True,
                                 depth=32, weights_per_word=8)),
}


def measure(net: dict, K: int, rate: float, steps: int, seed: int) -> dict:
    cfg = CoreConfig(**net, lanes=K)
    params = random_params(cfg, seed, "random", threshold_scale=0.05)
    rng = random.Random(seed)
    words = []
    for _ in range(steps):
        words += [encode_event(SPIKE, i) for i in range(cfg.n_in) if rng.random() < rate]
        words.append(encode_event(EOT))
    gold = GoldenNetwork(params).run_stream(words)
    sch = schedule(cfg, words, gold)
    per = sch.cycles_per_step
    spikes = [[len(u[2][l]) for l in range(len(cfg.sizes))] for u in gold.units if u[0] == "EOT"]
    return {"lanes": K, "cycles_per_step_mean": round(statistics.mean(per), 1),
            "cycles_per_step_min": min(per), "cycles_per_step_max": max(per),
            "input_events_per_step": round(sum(1 for w in words if w & 3 == SPIKE) / steps, 1),
            "spikes_per_step_per_layer": [round(statistics.mean(s[l] for s in spikes), 1)
                                          for l in range(len(cfg.sizes))]}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `delaysnn bench lanes`."""
    ap.add_argument("--steps", type=int, default=50, help="timesteps of random input")
    ap.add_argument("--rates", default="0.02,0.05,0.1",
                    help="input spike probabilities per channel and step, comma-separated")
    ap.add_argument("--lanes", default="1,2,4,8", help="lane counts K, comma-separated")
    ap.add_argument("--seed", type=int, default=1, help="seed of the parameters and the input")
    ap.add_argument("--out", default=str(ROOT / "build" / "reports" / "lanes.json"),
                    help="report path")


def main(argv=None):
    """`python -m benchmarks.lanes`: the options of `delaysnn bench lanes`."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(a: argparse.Namespace) -> int:
    """Schedule each network at each rate and lane count; the report."""
    report = {"source": "golden_model.schedule (docs/core.md section 6), random parameters and input",
              "steps": a.steps, "seed": a.seed, "networks": {}}
    for name, (mhz, net) in NETWORKS.items():
        rows = []
        for rate in (float(r) for r in a.rates.split(",")):
            res = [measure(net, K, rate, a.steps, a.seed) for K in (int(k) for k in a.lanes.split(","))
                   if _ok(net, K)]
            base = res[0]["cycles_per_step_mean"]
            for r in res:
                r["speedup_vs_1_lane"] = round(base / r["cycles_per_step_mean"], 2)
                r["us_per_step_at_core_clock"] = round(r["cycles_per_step_mean"] / mhz, 1)
            rows.append({"input_rate": rate, "results": res})
            print(name, rate, [(r["lanes"], r["cycles_per_step_mean"], r["speedup_vs_1_lane"]) for r in res])
        report["networks"][name] = {"config": net, "core_clock_mhz": mhz, "by_rate": rows}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print("wrote", out)
    return 0


def _ok(net, K):
    try:
        CoreConfig(**net, lanes=K)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
