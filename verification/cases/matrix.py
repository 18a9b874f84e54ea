"""The regression matrix: which configurations `make sim` runs, and a small subset for `make test`."""

from golden_model import CoreConfig
from .core import make_case


def _cfg(n_in, sizes, n_out, rec=None, wb=8, ternary=False, depth=8, leak="shift"):
    return CoreConfig(n_in=n_in, sizes=tuple(sizes), n_out=n_out,
                      recurrent=tuple(rec) if rec else (), weight_bits=wb, ternary=ternary,
                      depth=depth, leak_mode=leak)


def full_matrix(base_seed: int = 1, only: set[str] | None = None) -> list[dict]:
    """At least 30 configurations covering the axes of the issue; each runs twice: cycle-exact
    without backpressure, and with random backpressure plus state readback at every step."""
    specs = [
        # name, config, kwargs
        ("tern-d8-rand", _cfg(16, [12], 4, wb=2, ternary=True), dict(threshold_scale=0.2)),
        ("tern-d64-max", _cfg(12, [10, 6], 3, wb=2, ternary=True, depth=64), dict(delays="max", steps=70, threshold_scale=0.2)),
        ("tern-d1-rec", _cfg(8, [9], 3, rec=[True], wb=2, ternary=True, depth=1), dict(threshold_scale=0.2)),
        ("w4-d8-zero", _cfg(10, [8], 4, wb=4), dict(delays="zero")),
        ("w4-d64-rand-rec", _cfg(10, [16], 4, rec=[True], wb=4, depth=64), dict(steps=40)),
        ("w4-mul-2layer", _cfg(12, [10, 8], 5, wb=4, leak="mul"), dict()),
        ("w8-d1", _cfg(6, [5], 2, depth=1), dict()),
        ("w8-d8-max-rec", _cfg(8, [7], 3, rec=[True]), dict(delays="max", steps=20)),
        ("w8-d64-rand", _cfg(8, [12], 4, depth=64), dict(steps=80)),
        ("w8-3layer-rec", _cfg(9, [8, 7, 6], 4, rec=[True, False, True]), dict()),
        ("one-neuron", _cfg(1, [1], 1), dict(rate=0.7)),
        ("one-neuron-rec", _cfg(3, [1], 1, rec=[True], depth=1), dict(rate=0.7)),
        ("silent-input", _cfg(8, [6], 3), dict(rate=0.0)),
        ("saturated-input", _cfg(8, [6, 5], 3, rec=[False, True]), dict(rate=1.0)),
        ("membrane-saturation", _cfg(8, [6], 3, wb=8, depth=8), dict(rate=1.0, weights="max")),
        ("tern-saturation", _cfg(6, [4], 2, wb=2, ternary=True, leak="mul"), dict(rate=1.0, weights="max")),
        ("bad-events", _cfg(8, [6], 3), dict(bad=0.8)),
        ("tern-packed8", CoreConfig(n_in=20, sizes=(12, 8), n_out=4, weight_bits=2, ternary=True,
                                    depth=32, weights_per_word=8), dict(threshold_scale=0.2)),
        ("w4-packed4-rec", CoreConfig(n_in=9, sizes=(7,), n_out=3, recurrent=(True,), weight_bits=4,
                                      weights_per_word=4), dict()),
        ("excess-events", CoreConfig(n_in=8, sizes=(6,), n_out=3, max_events=3), dict(rate=0.8)),
        ("clear-mid-sample", _cfg(8, [6], 3, rec=[True]), dict(clear_at=3)),
        ("w2-signed", _cfg(10, [10], 3, wb=2), dict()),
        ("w6-mul-rec", _cfg(10, [10], 3, rec=[True], wb=6, leak="mul"), dict()),
        ("n32", _cfg(16, [32], 8), dict(rate=0.3, steps=12)),
        ("n64-rec", _cfg(24, [64], 10, rec=[True], wb=4), dict(rate=0.2, steps=12)),
        ("n128-tern", _cfg(32, [128], 10, wb=2, ternary=True, depth=8), dict(rate=0.2, steps=40)),
        ("n256", _cfg(16, [256], 10, wb=4, depth=8), dict(rate=0.3, steps=40)),
        ("n256-rec-d64", _cfg(8, [256], 4, rec=[True], wb=2, ternary=True, depth=64), dict(rate=0.4, steps=30, threshold_scale=0.15)),
        ("deep-narrow", _cfg(4, [3, 3, 3, 3], 2), dict(rate=0.5, threshold_scale=0.2)),
        ("wide-in", _cfg(200, [16], 4, wb=2, ternary=True), dict(rate=0.1)),
        ("v8-bits", CoreConfig(n_in=6, sizes=(6,), n_out=2, v_bits=8, weight_bits=4), dict(rate=0.6)),
        ("v24-bits", CoreConfig(n_in=6, sizes=(6,), n_out=2, v_bits=24, weight_bits=8), dict(rate=0.6)),
        ("d3-odd-depth", _cfg(8, [8], 3, depth=3), dict()),
        ("mul-d64-deep", _cfg(8, [8, 8], 3, depth=64, leak="mul"), dict(delays="max", steps=70)),
        ("n200-long", _cfg(20, [200, 50], 10, rec=[False, True], wb=4, depth=16), dict(rate=0.3, steps=100, threshold_scale=0.25)),
        # lanes (docs/core.md section 6): K neurons per cycle; appended so the seeds above stay
        ("lanes2-tern-packed8", CoreConfig(n_in=20, sizes=(12, 8), n_out=4, weight_bits=2, ternary=True,
                                           depth=32, weights_per_word=8, lanes=2), dict(threshold_scale=0.2)),
        ("lanes4-tern-rec", CoreConfig(n_in=16, sizes=(16, 8), n_out=4, recurrent=(True, False),
                                       weight_bits=2, ternary=True, depth=16, weights_per_word=8,
                                       lanes=4), dict(threshold_scale=0.2, rate=0.5)),
        ("lanes2-w4-rec", CoreConfig(n_in=9, sizes=(8,), n_out=2, recurrent=(True,), weight_bits=4,
                                     weights_per_word=4, lanes=2), dict()),
        ("lanes4-one-group", CoreConfig(n_in=5, sizes=(4,), n_out=4, weight_bits=4, weights_per_word=4,
                                        lanes=4), dict(rate=0.7)),
        ("lanes8-n64", CoreConfig(n_in=24, sizes=(64,), n_out=8, weight_bits=8, weights_per_word=8,
                                  lanes=8), dict(rate=0.3, steps=12)),
        ("lanes2-mul-3layer", CoreConfig(n_in=12, sizes=(10, 8, 6), n_out=4, recurrent=(False, True, False),
                                         weight_bits=4, weights_per_word=2, leak_mode="mul", lanes=2),
         dict(threshold_scale=0.2)),
        # the input delay stage (docs/core.md 2.7); appended so the seeds above stay
        ("indelay-rec", CoreConfig(n_in=9, sizes=(8,), n_out=3, recurrent=(True,), weight_bits=4,
                                   depth=8, input_delays=True),
         dict(rate=0.5, clear_at=3, steps=12, threshold_scale=0.15)),
    ]
    cases = []
    for i, (name, cfg, kw) in enumerate(specs):
        if only is not None and name not in only:
            continue
        seed = base_seed * 1000 + i
        cases.append(make_case(f"{name}-cycle", cfg, seed, mode="cycle", **kw))
        cases.append(make_case(f"{name}-bp", cfg, seed + 500, mode="state", valid_p=0.7,
                               ready_p=0.5, bad=max(kw.pop("bad", 0.0), 0.1), **kw))
    return cases


# The configurations `make test` runs: every axis at least once, small sizes.
QUICK = {"tern-d64-max", "w4-d64-rand-rec", "w8-3layer-rec", "membrane-saturation",
         "bad-events", "excess-events", "tern-packed8", "one-neuron-rec", "n64-rec", "mul-d64-deep",
         "lanes4-tern-rec", "lanes4-one-group", "indelay-rec"}
# The lanes configurations (python -m verification.runners.regression --lanes).
LANES = {"lanes2-tern-packed8", "lanes4-tern-rec", "lanes2-w4-rec", "lanes4-one-group", "lanes8-n64",
         "lanes2-mul-3layer"}

