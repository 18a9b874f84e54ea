"""Would a wider readout, or a wider margin, let pair R adapt better? A study, not a core feature
(issue 17, section 3).

The issue allows a per-layer weight precision in the core if the readout needs more weight bits
than the hidden layers for adaptation to work. This measures that first, in the exact replica of
the engine (FastPairR): the readout's ternary weights w become w * 2^(b-2) in b bits and its
`weight_shift` drops by b - 2, so the network computes exactly what it did (checked on every
fold), but pair R now steps in quarters (b = 4) or 64ths (b = 8) of a ternary step and may hold
any value of the b-bit range. Each variant is the `adapt` flow's pair R (same samples, order,
passes and registers as `delaysnn adapt` on chip) with `lr_shift_R` given, and optionally a
`margin` beyond the register's 16 bits (the scores of a trained network reach 10^6, so the hinge
never fires on a word it already gets right by more than 65,535: george's ten words at k = 1).

    python -m onchip_learning.readout_bits_study --k 1 --seeds 0,1,2 \\
        --variants 2:19,4:16,8:12,2:19:262144

writes build/reports/readout-bits-<name>.json and prints the mean over folds per variant.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
from pathlib import Path

import numpy as np
import torch

from corespec.errors import UserError, run_parsed

from . import adapt as A
from .fast_pair_r import FastPairR, fast_accuracy

REPO = Path(__file__).resolve().parents[2]
TOWERS_RUN = "build/towers/towers-tilt+spknorm/towers-tilt+spknorm-{speaker}-s{seed}"


class StudyError(UserError, ValueError):
    """A bad option of the study (one line)."""


def widen_readout(params, bits: int):
    """The same network with its readout's weights in `bits` bits: w * 2^(bits-2) at
    weight_shift - (bits-2). Only the readout changes; the config's width becomes `bits` (the
    range pair R clamps to). The scores are unchanged."""
    if not 2 <= bits <= 8:
        raise StudyError(f"readout bits {bits}: expected 2..8 (the core's weight widths)")
    P = copy.deepcopy(params)
    s, L = bits - 2, P.layers[-1]
    if L.weight_shift < s:
        raise StudyError(f"readout weight_shift {L.weight_shift}: too small for {bits} bits")
    if s:
        L.weight = (L.weight.to(torch.int64) << s).to(L.weight.dtype)
        L.weight_shift -= s
        P.config = dataclasses.replace(P.config, ternary=False, weight_bits=bits)
    return P


def parse_variants(text: str) -> list[tuple[int, int, int | None]]:
    """'2:19,4:16:262144' -> [(2, 19, None), (4, 16, 262144)]: readout bits, lr_shift_R and the
    margin (None: the preset's)."""
    out = []
    for part in text.split(","):
        try:
            bits, lr, *margin = (int(v) for v in part.split(":"))
        except ValueError:
            raise StudyError(f"--variants {text!r}: expected bits:lr_shift_R[:margin], e.g. 2:19,4:16:262144") from None
        if not 2 <= bits <= 8 or not 0 <= lr <= 31 or len(margin) > 1 or any(m < 0 for m in margin):
            raise StudyError(f"--variants {part!r}: bits in 2..8, lr_shift_R in 0..31, a margin >= 0")
        out.append((bits, lr, margin[0] if margin else None))
    return out


def run_variant(params, regs, s_adapt, y_adapt, order, bits: int, lr: int, margin: int | None = None):
    """Pair R of the engine on a `bits`-bit readout: the adapted network. The delay rule's
    gradient sums readout weights, so it grows by 2^(bits-2) too; `delay_thresh_R` grows with it,
    and the delays learn exactly as with the ternary readout (only the weights' precision
    changes)."""
    regs = dataclasses.replace(copy.deepcopy(regs), lr_shift_R=lr)
    regs.delay_thresh_R <<= bits - 2      # may pass the register's 16 bits, as the margin may
    if margin is not None:
        regs.margin = margin          # past the register's 16 bits: set after its range check
    F = FastPairR(widen_readout(params, bits), regs, s_adapt)
    for i in order:
        F.learn_sample(i, int(y_adapt[i]))
    return F.params


def fold_rows(run: str, speaker: str, k: int, variants, seed: int) -> list[dict]:
    """Every variant on one fold, prepared as `delaysnn adapt --run RUN --speaker X --k K` does."""
    ap = argparse.ArgumentParser()
    A.add_arguments(ap)
    S = A.prepare(ap.parse_args(["--run", run, "--speaker", speaker, "--k", str(k)]), progress=False)
    P, f = S.params, S.fold
    s_ad, s_te, s_ot = (A.hidden_spikes(P, x) for x in (f.adapt_x, f.test_x, f.other_x))
    base = A.scores(P, s_te)
    before = float((base.argmax(1).numpy() == np.asarray(f.test_y)).mean()), fast_accuracy(P, s_ot, f.other_y)
    rows = []
    for bits, lr, margin in variants:
        wide = widen_readout(P, bits)
        if not torch.equal(A.scores(wide, s_te), base):
            raise AssertionError(f"{run}: the {bits}-bit readout does not compute what the ternary one does")
        Q = run_variant(P, S.regs, s_ad, f.adapt_y, S.order, bits, lr, margin)
        rows.append({"run": run, "speaker": speaker, "seed": seed, "k": k, "passes": len(S.order) // len(f.adapt_y),
                     "bits": bits, "lr_shift_R": lr, "margin": S.regs.margin if margin is None else margin,
                     "speaker_before": before[0], "others_before": before[1],
                     "speaker_after": fast_accuracy(Q, s_te, f.test_y),
                     "others_after": fast_accuracy(Q, s_ot, f.other_y),
                     "readout_weights_changed": int((Q.layers[-1].weight != wide.layers[-1].weight).sum())})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per variant: mean speaker accuracy and forgetting over folds and seeds, per seed too."""
    out = []
    key = lambda r: (r["bits"], r["lr_shift_R"], r["margin"])
    for k in dict.fromkeys(map(key, rows)):
        mine = [r for r in rows if key(r) == k]
        seeds = sorted({r["seed"] for r in mine})
        out.append({"bits": k[0], "lr_shift_R": k[1], "margin": k[2], "folds": len(mine),
                    "speaker": statistics.mean(r["speaker_after"] for r in mine),
                    "forgotten_points": 100 * statistics.mean(r["others_before"] - r["others_after"] for r in mine),
                    "worst_forgotten_points": 100 * max(r["others_before"] - r["others_after"] for r in mine),
                    "per_seed": {s: statistics.mean(r["speaker_after"] for r in mine if r["seed"] == s) for s in seeds}})
    return out


def main(argv=None) -> int:
    from corespec.files import atomic_write_json
    ap = argparse.ArgumentParser(prog="python -m onchip_learning.readout_bits_study", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=TOWERS_RUN, help="run folder template with {speaker} and {seed} "
                    "(default: the towers network's folds)")
    ap.add_argument("--speakers", default=None, help="comma-separated (default: every FSDD speaker)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--variants", default="2:19,4:16,8:12", help="bits:lr_shift_R[:margin], comma-separated")
    ap.add_argument("--name", default=None, help="report name (default k<K>-s<seeds>)")

    def run(args) -> int:
        torch.set_num_threads(1)
        variants = parse_variants(args.variants)
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise StudyError(f"--seeds {args.seeds!r}: comma-separated integers, e.g. 0,1,2") from None
        if "{speaker}" not in args.run or "{seed}" not in args.run:
            raise StudyError(f"--run {args.run!r}: a template with {{speaker}} and {{seed}}")
        try:
            args.run.format(speaker="x", seed=0)
        except (KeyError, IndexError, ValueError):
            raise StudyError(f"--run {args.run!r}: only {{speaker}} and {{seed}} may be in braces") from None
        known = A.data_speakers()
        speakers = args.speakers.split(",") if args.speakers else known
        if unknown := [x for x in speakers if x not in known]:
            raise StudyError(f"--speakers: {', '.join(unknown)} not among the FSDD speakers ({', '.join(known)})")
        rows = []
        for seed in seeds:
            for speaker in speakers:
                rows += fold_rows(args.run.format(speaker=speaker, seed=seed), speaker, args.k, variants, seed)
                print(f"{speaker} seed {seed}: " + ", ".join(
                    f"{r['bits']}:{r['lr_shift_R']}:{r['margin']} {100 * r['speaker_after']:.1f}"
                    for r in rows[-len(variants):]), flush=True)
        name = args.name or f"k{args.k}-s{'.'.join(map(str, seeds))}"
        doc = {"study": "pair R with a wider readout or margin (emulated in the exact replica)", "run": args.run,
               "k": args.k, "seeds": seeds, "summary": summary(rows), "rows": rows}
        path = REPO / "build" / "reports" / f"readout-bits-{name}.json"
        atomic_write_json(path, doc)
        for s in doc["summary"]:
            print(f"{s['bits']}-bit readout, lr_shift_R {s['lr_shift_R']}, margin {s['margin']}: {100 * s['speaker']:.1f} % / "
                  f"{s['forgotten_points']:.1f} points forgotten (seeds " +
                  " / ".join(f"{100 * v:.1f}" for v in s["per_seed"].values()) + ")")
        print(f"report {path}")
        return 0
    return run_parsed(ap, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
