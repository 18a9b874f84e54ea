"""Replay an on-chip adaptation to a new speaker (sw/onchip_learning/adapt.py) on the RTL, bit-exactly.

`python -m verification.runners.adapt_replay --speaker george --k 5 [--run RUN] [--eval-each N]
[--final-eval M]` (RUN: a training run or a towers folder, as `delaysnn adapt --run`)

The fold's network goes into the Verilator model of `LearningNetwork` (a network trained with the
input delay stage runs as the host sends it: the same layers without the stage, the rasters
delayed by the host, `adapt.host_delayed` / `adapt.delay_input`), then the learning registers of
the preset; then every labelled sample in the order `adapt.presentation` gives (CLEAR, events,
EOTs, the label), and after each the evaluation: learning switched off (`enable` = 0), N of the
speaker's test recordings (the next N each time, round the 450), learning back on. At the end M
test recordings (speaker's, then other speakers') with learning off. Before every label the
scores are read back, after every LEARN the learned weights and delays, `lfsr` and `learned`; every output item
and readback word is compared with the golden learner (`learning_replay`'s stimulus file, C++
driver and comparison). Report: build/reports/adapt-rtl-<name>.json, with the cycles per STEP,
LEARN and labelled sample against the cycle model (`adapt.sample_time`).

Measured (george, k=5, 3 passes, preset adapt): 150 labelled samples, 450 test recordings after
them (3 each) and the 650 of the final evaluation, 0 mismatches in 1,376,250 output items and
45,000 readback words; 794 M cycles, 5.7 min. The towers network of the jackson fold
(1400-256-10, `--run build/towers/towers-tilt+spknorm/towers-tilt+spknorm-jackson-s0 --k 1
--eval-each 1 --final-eval 200`): 120 labelled samples, 0 mismatches in 484,440 output items
and 70,560 readback words; 1,622 M cycles, 10.4 min.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from golden_model import GoldenNetwork, SPIKE, CLEAR
from golden_model.params import load_words
from golden_model.learning import (GoldenLearner, LearnRegisters, LEARN, REGION_REGS, REGION_SCORE,
                                   REGION_STATUS, STATUS_LEARNED, SCORE_MIN, SCORE_MAX)
from corespec.files import atomic_write_json

from .learning_replay import (Stimulus, build, simulate, param_reads, learned_layers,
                              expected_items, send_sample,
                              load_word, _desc, BUILD, REPORTS)
from ..cases.learning import learn_addr, REG_LFSR, U64

REG_ENABLE = LearnRegisters.number("enable")


def set_enable(st: Stimulus, value: int) -> None:
    st.op("L", load_word(0, LEARN, learn_addr(REGION_REGS, REG_ENABLE), int(value)))


def write_stimulus(params, regs, xs, ys, order, x_eval, eval_each: int, x_final,
                   ops_file: Path) -> dict:
    """Golden adaptation (GoldenLearner, every labelled sample from a clear state) and the
    evaluations, written as stream operations with what the RTL must answer."""
    cfg = params.config
    which = learned_layers(cfg)
    st = Stimulus(ops_file, cfg.v_bits)
    for w in load_words(params):
        st.op("L", load_word(*w))
    for i, v in regs.words():
        st.op("L", load_word(0, LEARN, learn_addr(REGION_REGS, i), v))
    G = GoldenLearner(GoldenNetwork(copy.deepcopy(params)), copy.deepcopy(regs))
    learned_addrs = [(l, s, a) for l, s, a, _ in param_reads(G.net, which)]
    learned_addrs += [(0, LEARN, learn_addr(REGION_REGS, REG_LFSR)),
                      (0, LEARN, learn_addr(REGION_STATUS, STATUS_LEARNED))]
    learned_desc = _desc(learned_addrs[:-2]) + ("lfsr", "learned")
    score_addrs = [(0, LEARN, learn_addr(REGION_SCORE, o)) for o in range(cfg.n_out)]
    score_desc = tuple(f"score {o}" for o in range(cfg.n_out))
    marks, evaluated = [], 0
    for s, i in enumerate(order):
        x = torch.as_tensor(np.asarray(xs[i]), dtype=torch.int64)
        clear = st.n
        _, eots = send_sample(st, x)
        out = G.run_sample(x, label=None)            # observe only; the label follows
        expected_items(st, out, cfg.n_out, s)
        score = [0] * cfg.n_out
        for row in out.to(torch.int64).tolist():
            score = [min(max(a + v, SCORE_MIN), SCORE_MAX) for a, v in zip(score, row)]
        st.reads(s, score_addrs, [v & U64 for v in score], score_desc)
        label = st.op("Y", int(ys[i]), log=True)
        st.log_next = True
        G.learn([int(ys[i])])
        words = [w for *_, w in param_reads(G.net, which)]
        st.reads(s, learned_addrs, words + [G.regs.lfsr, G.learned], learned_desc)
        marks.append({"clear": clear, "eots": eots, "label": label})
        rot = [(s * eval_each + j) % len(x_eval) for j in range(eval_each)] if len(x_eval) else []
        evaluated += evaluate(st, G, x_eval[rot], regs.enable, f"eval after {s}")
    evaluated += evaluate(st, G, x_final, regs.enable, "final")
    st.close()
    return {"st": st, "marks": marks, "learner": G, "evaluated": evaluated}


def evaluate(st: Stimulus, G: GoldenLearner, xs, enable: int, tag: str) -> int:
    """Learning off, the samples (outputs compared), learning back on; the golden network on
    the parameters learned so far gives the outputs."""
    if len(xs) == 0:
        return 0
    set_enable(st, 0)
    net = GoldenNetwork(copy.deepcopy(G.net.params))
    for x in xs:
        xt = torch.as_tensor(np.asarray(x), dtype=torch.int64)
        send_sample(st, xt)
        expected_items(st, net.run(xt.unsqueeze(0))["readout"][0], G.config.n_out, tag)
    set_enable(st, enable)
    return len(xs)


def compare(st: Stimulus, sim: dict) -> dict:
    """Mismatches of every output item and readback word (counts and the first few)."""
    want_o, got_o = np.array(st.exp_out, dtype=np.int64), np.array(sim["outs"], dtype=np.int64)
    want_r, got_r = np.array(st.exp_resp, dtype=np.uint64), np.array(sim["resps"], dtype=np.uint64)
    n, m = min(len(want_o), len(got_o)), min(len(want_r), len(got_r))
    bad_o = np.flatnonzero(want_o[:n] != got_o[:n])
    bad_r = np.flatnonzero(want_r[:m] != got_r[:m])
    first = [{"output_index": int(k)} for k in bad_o[:5]] + [{"readback_index": int(k)} for k in bad_r[:5]]
    return {"mismatches": int(len(bad_o) + abs(len(want_o) - len(got_o)) + len(bad_r)
                              + abs(len(want_r) - len(got_r))),
            "output_items_compared": len(want_o), "readback_words_compared": len(want_r),
            "first_mismatches": first}


def rtl_predictions(st: Stimulus, sim: dict, tag: str, n_out: int, v_bits: int) -> list[int]:
    """Predictions (argmax of the summed readout) from the RTL's output items of the samples
    tagged `tag`."""
    from .learning_replay import decode_output
    preds = []
    for start, t in st.out_seg:
        if t != tag:
            continue
        items = sim["outs"][start + 1:]
        total = [0] * n_out
        for p in items:
            kind, addr, value = decode_output(p, v_bits)
            if kind == SPIKE:
                total[addr] += value
            elif kind == CLEAR:
                break
        preds.append(int(np.argmax(total)))
    return preds


def cycles(g: dict, st: Stimulus, sim: dict, n_out: int) -> dict:
    """Cycles per STEP and per LEARN of the labelled samples, at the ports (no backpressure)."""
    acc, oc = sim["accept"], sim["out_cycles"]
    step, learn = [], []
    for mk in g["marks"]:
        learn.append(acc[mk["label"] + 1] - acc[mk["label"]])
    for mk, (start, _) in zip(g["marks"], [sg for sg in st.out_seg if isinstance(sg[1], int)]):
        for t, op in enumerate(mk["eots"]):
            step.append(acc[op + 1] - oc[start + 1 + t * (n_out + 1) + n_out])
    per_sample = [acc[mk["label"] + 1] - acc[mk["clear"]] for mk in g["marks"]]
    return {"cycles_per_labelled_sample": per_sample,
            "cycles_per_STEP_mean": float(np.mean(step)) if step else None,
            "cycles_per_LEARN_mean": float(np.mean(learn)) if learn else None,
            "steps_per_sample": len(g["marks"][0]["eots"]) if g["marks"] else None}


def model_check(P, regs, x_adapt, order, rtl: list[int], n: int = 5) -> dict:
    """Time per labelled sample on the iCEBreaker (24 MHz) from the cycle model
    (adapt.sample_time) against the RTL's cycles from CLEAR to the end of LEARN, first n samples."""
    from onchip_learning import adapt as A
    rows = []
    for s, i in enumerate(order[:n]):
        m = A.sample_time(P, regs, x_adapt[i], 24e6, 3_000_000)
        rows.append({"sample": s, "model_cycles": m["cycles"], "rtl_cycles": rtl[s],
                     "model_core_cycles": m["core_cycles"], "model_ms": round(m["compute_ms"], 2),
                     "rtl_ms": round(1e3 * rtl[s] / 24e6, 2), "uart_ms": round(m["uart_ms"], 2)})
    err = [r["model_cycles"] / r["rtl_cycles"] - 1 for r in rows]
    return {"rows": rows, "model_error_mean": float(np.mean(err)) if err else None,
            "rtl_ms_per_labelled_sample_mean_all": round(1e3 * float(np.mean(rtl)) / 24e6, 2)}


def replay(speaker: str, k: int, run=None, passes: int | None = None, seed: int = 0, preset: str = "adapt",
           eval_each: int = 0, final_eval: int = 0, limit: int | None = None,
           report: bool = True, work_name: str | None = None) -> dict:
    """Replay the adaptation of one fold (its first `limit` labelled samples if given)."""
    from onchip_learning import adapt as A
    from hostlink.deployed import load_deployment, front_end
    from delaysnn.export import export_folder
    t0 = time.time()
    args = argparse.Namespace(run=run, speaker=speaker, recipe=A.DEFAULT_RECIPE)
    run_dir = A.run_folder(args)
    dep = load_deployment(export_folder(run_dir))
    P = dep.params
    A.check_network(P)
    regs, _ = A.kit_registers(preset)
    passes = passes or A.DEFAULT_PASSES[A.check_k(k)]
    fold = A.fsdd_fold(front_end(dep), speaker, k, progress=False)
    order = A.presentation(len(fold.adapt_y), passes, seed)[:limit]
    params = A.for_board(P)
    xs = A.delay_input(P, fold.adapt_x)
    x_eval = A.delay_input(P, fold.test_x) if eval_each > 0 else fold.test_x[:0]
    n_sp = min(final_eval, len(fold.test_x))
    x_final = A.delay_input(P, np.concatenate([fold.test_x[:n_sp], fold.other_x[:final_eval - n_sp]]))
    name = work_name or ((f"{run_dir.name}-" if run is not None else "")
                         + f"{speaker}-k{k}-p{passes}-s{seed}" + (f"-n{limit}" if limit else ""))
    work = BUILD / "runs" / f"adapt-{name}"
    if work.exists():
        shutil.rmtree(work)
    g = write_stimulus(params, regs, xs, fold.adapt_y, order, x_eval, eval_each, x_final,
                       work / "ops.txt")
    t1 = time.time()
    exe = build(params.config)
    t2 = time.time()
    st = g["st"]
    sim = simulate(exe, work / "ops.txt", len(st.exp_out), len(st.exp_resp))
    rep = {"name": name, "speaker": speaker, "k": k, "passes": passes, "seed": seed,
           "registers": dataclasses.asdict(regs), "order": order,
           "preset": preset, "labelled_samples": len(order), "evaluated_samples": g["evaluated"],
           "eval_each": eval_each, "final_eval": len(x_final),
           **compare(st, sim), "stalled": sim["stalled"], "simulated_cycles": sim["cycles"],
           "wall_seconds": {"golden": round(t1 - t0, 1), "build": round(t2 - t1, 1),
                            "simulation": round(sim["seconds"], 1)},
           "golden_learned_params_changed": int(
               (g["learner"].net.params.layers[-1].weight != params.layers[-1].weight).sum()
               + (g["learner"].net.params.layers[0].delay != params.layers[0].delay).sum())}
    if not sim["stalled"]:
        rep.update(cycles(g, st, sim, params.config.n_out))
        rep["cycle_model"] = model_check(P, regs, fold.adapt_x, order, rep["cycles_per_labelled_sample"])
        pred = np.array(rtl_predictions(st, sim, "final", params.config.n_out, params.config.v_bits))
        y = np.concatenate([fold.test_y[:n_sp], fold.other_y[:final_eval - n_sp]])
        if len(pred) == len(y) and len(y):
            rep["rtl_final_speaker_accuracy"] = float((pred[:n_sp] == y[:n_sp]).mean()) if n_sp else None
            rep["rtl_final_others_accuracy"] = (float((pred[n_sp:] == y[n_sp:]).mean())
                                                if len(y) > n_sp else None)
    if report:
        out = REPORTS / f"adapt-rtl-{name}.json"
        atomic_write_json(out, rep)
        rep["report"] = str(out)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speaker", required=True)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--passes", type=int, default=None, help="default: adapt.DEFAULT_PASSES[k]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="adapt")
    ap.add_argument("--eval-each", type=int, default=0, help="test samples after every labelled one")
    ap.add_argument("--final-eval", type=int, default=0, help="test samples at the end")
    ap.add_argument("--limit", type=int, default=None, help="first N labelled samples only")
    a = ap.parse_args(argv)
    rep = replay(a.speaker, a.k, a.run, a.passes, a.seed, a.preset, a.eval_each, a.final_eval, a.limit)
    print(json.dumps({k: v for k, v in rep.items() if k != "first_mismatches"}, indent=1))
    return 0 if rep["mismatches"] == 0 and not rep["stalled"] else 1


if __name__ == "__main__":
    sys.exit(main())
