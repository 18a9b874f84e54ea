"""Replay an on-chip learning demonstration (sw/onchip_learning/demos.py) on the RTL, bit-exactly.

`python -m verification.runners.learning_replay --demo sequence|lag|fsdd --samples N [--seed S]`

The demo's network image and learning registers go in through the load port of the Verilator
model of `LearningNetwork`; then the first N training samples, in the order `learn_online`
presents them (`presentation_order`, the same function), each as the chip gets it: CLEAR, the
sample's events with an EOT after every step, then its label. Before every label the scores are
read back, after every LEARN all delays and weights of the learned layers (pair R: readout
weights, delays of layer L; pair H: weights of layer L, delays of layer L-1), the `lfsr` and the
`learned` counter; at the end the whole image. All of it, and every output item, is compared with
what `learn_online` (the golden trajectory of the demo, `GoldenLearner`) gives after the same
sample. The report goes to build/reports/onchip-rtl-<demo>.json.

The model is driven by a small C++ loop (verification/runners/learning_replay_tb.cpp) from a file of stream
operations, not by a per-cycle Python testbench: the replay's stimulus does not depend on what
the RTL answers, so it can be written out up front, and the FSDD network (700-128-10, 100
steps a sample) needs ~10^6 cycles a sample. Optional random valid/ready gaps (`--valid-p`,
`--ready-p`); cycle figures are those without. Cycles per STEP are measured at the ports: from
the cycle the output EOT of a step is taken to the cycle the next operation (an input event, a
readback request) is taken; per LEARN from the label taken to the next readback request taken.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from amaranth.back import verilog

from golden_model import GoldenNetwork, NetworkParams, encode_event, SPIKE, EOT, CLEAR
from golden_model.params import WEIGHT, DELAY, load_words, weight_words
from golden_model.learning import (LearnRegisters, LEARN, REGION_REGS, REGION_SCORE,
                                   REGION_STATUS, STATUS_LEARNED, SCORE_MIN, SCORE_MAX)
from delaycore import LearningNetwork
from onchip_learning import demos, fsdd_network, presets
from onchip_learning.online import learn_online, accuracy, presentation_order, lr_for_epoch

from .cosim import tool_path, ROOT
from ..cases.learning import learn_addr, core_reads, REG_LFSR, U64

REG_LR_SHIFT_R = LearnRegisters.number("lr_shift_R")

BUILD = ROOT / "build" / "sim" / "learning_replay"
REPORTS = ROOT / "build" / "reports"
TOP = "learning_top"
HARNESS = Path(__file__).with_name("learning_replay_tb.cpp")


# -- the demonstrations ----------------------------------------------------------------------
def demo_setup(demo: str, seed: int = 0, mode: str = "weights+delays") -> dict:
    """What the demo function hands `learn_online`: image, registers, data, epochs, seed."""
    if demo == "sequence":
        train, val, test = demos.sequence_data(200)
        return dict(params=demos.sequence_network(), regs=LearnRegisters(**presets.SEQUENCE_REGS),
                    train=(train.spikes, train.labels), evaluate=(val.spikes, val.labels),
                    test=(test.spikes, test.labels), epochs=2, seed=seed, eval_every=10)
    if demo == "lag":
        train, val, test = demos.lag_data(600)
        return dict(params=demos.lag_network(),
                    regs=LearnRegisters(enable=demos.LAG_MODES[mode], **presets.LAG_REGS),
                    train=(train.spikes, train.labels), evaluate=(val.spikes, val.labels),
                    test=(test.spikes, test.labels), epochs=3, seed=seed, eval_every=100, mode=mode)
    if demo == "fsdd":
        train, val, test = fsdd_network.fsdd_sets(True)
        params = demos.fsdd_demo_network(seed, train[0])
        schedule = fsdd_network.FSDD_LR_SCHEDULE
        regs = LearnRegisters(**presets.FSDD_REGS)
        if schedule:
            regs.lr_shift_R = schedule[0]
        return dict(params=params, regs=regs, train=train, evaluate=val, test=test,
                    epochs=len(schedule) if schedule else 12, seed=seed, eval_every=500,
                    lr_schedule=schedule)
    raise ValueError(f"unknown demo {demo!r}")


def learned_layers(config) -> list[tuple[int, int]]:
    """(layer, space) of every parameter the engine can change: pair R the readout weights and the
    delays of layer L, pair H (L >= 1) the weights of layer L and the delays of layer L-1."""
    L = len(config.sizes) - 1
    out = [(L + 1, WEIGHT), (L, DELAY)]
    if L >= 1:
        out += [(L, WEIGHT), (L - 1, DELAY)]
    return sorted(out)


def param_reads(net: GoldenNetwork, which) -> list[list[int]]:
    cfg = net.config
    reads = []
    for layer, space in which:
        p = net.params.layers[layer]
        if space == WEIGHT:
            reads += [[layer, WEIGHT, a, w & U64] for a, w in enumerate(weight_words(cfg, p.weight))]
        else:
            reads += [[layer, DELAY, a, int(d)] for a, d in enumerate(p.delay.tolist())]
    return reads


def rb_word(layer: int, space: int, addr: int) -> int:
    return layer | (space << 4) | (addr << 7)


def load_word(layer: int, space: int, addr: int, data: int) -> int:
    return layer | (space << 4) | (addr << 7) | ((data & U64) << 27)


def sample_events(x: torch.Tensor) -> list[list[int]]:
    """Input words per step: one SPIKE per spike (channel order), then EOT."""
    steps = []
    xs = x.to(torch.int64)
    for t in range(xs.shape[0]):
        row = xs[t]
        words = [encode_event(SPIKE, c) for c in torch.nonzero(row).flatten().tolist()
                 for _ in range(int(row[c]))]
        steps.append(words + [encode_event(EOT)])
    return steps


# -- golden side and the stimulus --------------------------------------------------------------
class Stimulus:
    """The stream operations, written to a file as they are made (FSDD: ~6000 a sample), and what
    the RTL must answer: expected output payloads and readback words, with segments that say
    which sample and which value each belongs to."""

    def __init__(self, path: Path, v_bits: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w")
        self.n = 0
        self.log_next = False
        self.v_mask = (1 << v_bits) - 1
        self.exp_out, self.out_seg = [], []         # payload ints; (start, sample)
        self.exp_resp, self.resp_seg = [], []       # words; (start, sample, descriptions)

    def op(self, kind: str, value: int, log: bool = False) -> int:
        log = log or self.log_next
        self.log_next = False
        self.f.write(f"{kind if log else kind.lower()} {value:x}\n")
        self.n += 1
        return self.n - 1

    def reads(self, sample, addrs, words, desc):
        self.resp_seg.append((len(self.exp_resp), sample, desc))
        for layer, space, addr in addrs:
            self.op("R", rb_word(layer, space, addr))
        self.exp_resp.extend(words)

    def close(self):
        self.f.close()


def expected_items(st: Stimulus, out: torch.Tensor, n_out: int, sample) -> None:
    """The output items of one sample (CLEAR, then per step the readout values and EOT)."""
    cols = torch.arange(n_out, dtype=torch.int64) << 2
    st.out_seg.append((len(st.exp_out), sample))
    st.exp_out.append(CLEAR)
    o64 = out.to(torch.int64)
    pay = torch.cat([(SPIKE | cols | ((o64 & st.v_mask) << 18)),
                     torch.full((o64.shape[0], 1), EOT, dtype=torch.int64)], 1)
    st.exp_out.extend(pay.flatten().tolist())


def send_sample(st: Stimulus, x: torch.Tensor) -> tuple[int, list[int]]:
    """CLEAR and the sample's events, as the host streams them; the op numbers of the CLEAR and
    of the EOTs."""
    clear = st.op("I", encode_event(CLEAR), log=True)
    eots = []
    for words in sample_events(x):
        for w in words[:-1]:
            st.op("I", w)
        eots.append(st.op("I", words[-1]))
        st.log_next = True                      # the next op's accept cycle (cycles per STEP)
    return clear, eots


def _desc(addrs) -> tuple:
    return tuple(f"layer {l} {'weight' if s == WEIGHT else 'delay'} {a}" for l, s, a in addrs)


def golden_replay(setup: dict, samples: int, ops_file: Path) -> dict:
    """Run `learn_online` for the first `samples` samples of the demo and write, from what it does
    after every sample, the stream operations and what the RTL must answer."""
    params, regs = setup["params"], setup["regs"]
    cfg = params.config
    xs, ys = setup["train"]
    which = learned_layers(cfg)
    st = Stimulus(ops_file, cfg.v_bits)
    for w in load_words(params):
        st.op("L", load_word(*w))
    for i, v in regs.words():
        st.op("L", load_word(0, LEARN, learn_addr(REGION_REGS, i), v))
    learned_addrs = [(l, s, a) for l, s, a, _ in param_reads(GoldenNetwork(params), which)]
    learned_addrs += [(0, LEARN, learn_addr(REGION_REGS, REG_LFSR)),
                      (0, LEARN, learn_addr(REGION_STATUS, STATUS_LEARNED))]
    learned_desc = _desc(learned_addrs[:-2]) + ("lfsr", "learned")
    score_addrs = [(0, LEARN, learn_addr(REGION_SCORE, o)) for o in range(cfg.n_out)]
    score_desc = tuple(f"score {o}" for o in range(cfg.n_out))
    marks, order, lr_writes = [], [], []
    schedule = setup.get("lr_schedule")

    def hook(seen, i, learner, out):
        x = torch.as_tensor(np.asarray(xs[i]), dtype=torch.int64)
        order.append(i)
        s = seen - 1
        clear, eots = send_sample(st, x)
        expected_items(st, out, cfg.n_out, s)
        o64 = out.to(torch.int64)
        score = [0] * cfg.n_out
        for row in o64.tolist():
            score = [min(max(a + v, SCORE_MIN), SCORE_MAX) for a, v in zip(score, row)]
        st.reads(s, score_addrs, [v & U64 for v in score], score_desc)
        label = st.op("Y", int(ys[i]), log=True)
        st.log_next = True
        words = [w for _, _, _, w in param_reads(learner.net, which)]
        st.reads(s, learned_addrs, words + [learner.regs.lfsr, learner.learned], learned_desc)
        marks.append({"clear": clear, "eots": eots, "label": label})
        if schedule and seen % len(xs) == 0:      # the host rewrites lr_shift_R between epochs
            lr = lr_for_epoch(schedule, seen // len(xs))
            learner.regs.lr_shift_R = lr
            st.op("L", load_word(0, LEARN, learn_addr(REGION_REGS, REG_LR_SHIFT_R), lr))
            lr_writes.append([seen, lr])

    t0 = time.time()
    learner, curve, _ = learn_online(params, regs, setup["train"], setup["evaluate"],
                                     epochs=setup["epochs"], seed=setup["seed"],
                                     eval_every=setup["eval_every"], desc="golden",
                                     max_samples=samples, on_sample=hook)
    assert order == list(presentation_order(len(xs), setup["epochs"], setup["seed"]))[:len(order)]
    final = core_reads(learner.net)
    st.log_next = True
    final_op = st.n
    st.reads("end", [(l, s, a) for l, s, a, _ in final], [w for *_, w in final],
             tuple("image: " + d for d in _desc([(l, s, a) for l, s, a, _ in final])))
    st.close()
    return {"st": st, "marks": marks, "order": order, "learner": learner, "curve": curve,
            "golden_seconds": time.time() - t0, "final_reads": final, "final_op": final_op,
            "learned_desc": learned_desc, "lr_writes": lr_writes}


# -- Verilator -------------------------------------------------------------------------------
def build(cfg) -> Path:
    """Verilog of LearningNetwork(cfg) and the C++ driver, compiled once per (Verilog, driver)."""
    text = verilog.convert(LearningNetwork(cfg), name=TOP, emit_src=False)
    key = hashlib.sha1((text + HARNESS.read_text()).encode()).hexdigest()[:12]
    d = BUILD / key
    exe = d / "obj" / "Vreplay"
    if exe.exists():
        return exe
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{TOP}.v").write_text(text)
    env = dict(os.environ, PATH=tool_path(), MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include")
    cmd = ["verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal", "--top-module", TOP,
           "-Mdir", str(d / "obj"), "-o", "Vreplay", "-j", "2", "-CFLAGS", "-O2",
           str(d / f"{TOP}.v"), str(HARNESS)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (d / "build.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0 or not exe.exists():
        raise RuntimeError(f"verilator build failed; see {d / 'build.log'}\n{r.stderr[-3000:]}")
    return exe


def simulate(exe: Path, ops_file: Path, n_out: int, n_resp: int, valid_p=1.0, ready_p=1.0,
             seed=1, max_idle=200_000) -> dict:
    log_file = ops_file.with_name("log.txt")
    t0 = time.time()
    r = subprocess.run([str(exe), str(ops_file), str(log_file), str(n_out), str(n_resp),
                        str(max_idle), str(valid_p), str(ready_p), str(seed)],
                       capture_output=True, text=True)
    wall = time.time() - t0
    accept, out_cycles, outs, resps, end = {}, [], [], [], None
    with open(log_file) as f:
        for line in f:
            p = line.split()
            if p[0] == "O":
                out_cycles.append(int(p[1]))
                outs.append(int(p[2], 16))
            elif p[0] == "R":
                resps.append(int(p[1], 16))
            elif p[0] == "A":
                accept[int(p[1])] = int(p[2])
            else:
                end = (int(p[1]), int(p[2]))
    return {"accept": accept, "out_cycles": out_cycles, "outs": outs, "resps": resps,
            "cycles": end[0] if end else None, "stalled": end is None or end[1] != 0,
            "returncode": r.returncode, "stderr": r.stderr[-2000:], "seconds": wall}



def decode_output(p: int, v_bits: int) -> list[int]:
    value = (p >> 18) & ((1 << v_bits) - 1)
    if value >> (v_bits - 1):
        value -= 1 << v_bits
    return [p & 3, (p >> 2) & 0xFFFF, value]


def params_from_reads(params: NetworkParams, reads, words) -> NetworkParams:
    """The image read back from the RTL (weights and delays), on top of a copy of `params`."""
    import copy
    out = copy.deepcopy(params)
    cfg = out.config
    P, b = cfg.weights_per_word, cfg.weight_bits
    flat = {}
    for (layer, space, addr, _), w in zip(reads, words):
        if space == DELAY:
            out.layers[layer].delay[addr] = w
        else:
            for k in range(P):
                v = (w >> (k * b)) & ((1 << b) - 1) if P > 1 else w & U64
                bits = b if P > 1 else 64
                if v >> (bits - 1):
                    v -= 1 << bits
                flat.setdefault(layer, {})[addr * P + k] = v
    for layer, vals in flat.items():
        wt = out.layers[layer].weight
        n = wt.numel()
        f = wt.reshape(-1).clone()
        for i, v in vals.items():
            if i < n:
                f[i] = v
        out.layers[layer].weight = f.reshape(wt.shape)
    return out


# -- the replay --------------------------------------------------------------------------------
def replay(demo: str, samples: int, seed: int = 0, mode: str = "weights+delays",
           valid_p: float = 1.0, ready_p: float = 1.0, report: bool = True,
           test_accuracy: bool = False, work_name: str | None = None,
           train_subset: int | None = None) -> dict:
    """Replay the first `samples` samples of a demo; returns the report (written to
    build/reports/onchip-rtl-<demo>.json if `report`). `train_subset` N: an epoch is N training
    samples only (a seeded random subset), so that a short replay crosses epoch boundaries and the host's
    register writes between epochs (the FSDD demo's `lr_shift_R` schedule) reach the RTL."""
    t_start = time.time()
    setup = demo_setup(demo, seed, mode)
    if train_subset:
        xs, ys = setup["train"]
        if not 0 < train_subset <= len(xs):
            raise ValueError(f"train_subset: expected 1..{len(xs)} samples, got {train_subset}")
        # a seeded random subset: the training set is sorted by digit, so its first N samples
        # would all be one class (the rule then stops learning after the first sample)
        pick = np.sort(np.random.default_rng(seed).choice(len(xs), train_subset, replace=False))
        setup["train"] = (xs[pick], ys[pick])
    cfg = setup["params"].config
    work = BUILD / "runs" / (work_name or f"{demo}-{seed}")
    if work.exists():
        shutil.rmtree(work)
    g = golden_replay(setup, samples, work / "ops.txt")
    st = g["st"]
    t1 = time.time()
    exe = build(cfg)
    t_build = time.time() - t1
    sim = simulate(exe, work / "ops.txt", len(st.exp_out), len(st.exp_resp), valid_p, ready_p, seed + 1)

    # compare: every output item, every readback word
    def out_tag(k):
        start, sample = st.out_seg[bisect.bisect_right([a for a, _ in st.out_seg], k) - 1]
        r = k - start
        return sample, "CLEAR" if r == 0 else f"STEP {(r - 1) // (cfg.n_out + 1)} item {(r - 1) % (cfg.n_out + 1)}"

    def resp_tag(k):
        start, sample, desc = st.resp_seg[bisect.bisect_right([a for a, *_ in st.resp_seg], k) - 1]
        return sample, desc[k - start]

    first = []
    want_o = np.array(st.exp_out, dtype=np.int64)
    got_o = np.array(sim["outs"], dtype=np.int64)
    n = min(len(want_o), len(got_o))
    bad_o = np.flatnonzero(want_o[:n] != got_o[:n])
    for k in bad_o[:10]:
        sample, what = out_tag(int(k))
        first.append({"sample": sample, "what": "output " + what,
                      "got": decode_output(int(got_o[k]), cfg.v_bits),
                      "expected": decode_output(int(want_o[k]), cfg.v_bits)})
    want_r = np.array(st.exp_resp, dtype=np.uint64)
    got_r = np.array(sim["resps"], dtype=np.uint64)
    m = min(len(want_r), len(got_r))
    bad_r = np.flatnonzero(want_r[:m] != got_r[:m])
    for k in bad_r[:10]:
        sample, what = resp_tag(int(k))
        first.append({"sample": sample, "what": what, "got": hex(int(got_r[k])),
                      "expected": hex(int(want_r[k]))})
    mismatches = (len(bad_o) + abs(len(want_o) - len(got_o)) + len(bad_r)
                  + abs(len(want_r) - len(got_r)))
    first.sort(key=lambda d: d["sample"] if isinstance(d["sample"], int) else 1 << 62)
    first = first[:10]

    # cycles, at the ports (meaningful without backpressure)
    acc, out_cycles = sim["accept"], sim["out_cycles"]
    step_cycles, learn_cycles, sample_cycles = [], [], []
    if not sim["stalled"] and len(got_o) == len(want_o):
        for mk, (start, _) in zip(g["marks"], st.out_seg):
            for t, op in enumerate(mk["eots"]):
                eot_item = start + 1 + t * (cfg.n_out + 1) + cfg.n_out
                step_cycles.append(acc[op + 1] - out_cycles[eot_item])
            learn_cycles.append(acc[mk["label"] + 1] - acc[mk["label"]])
        starts = [mk["clear"] for mk in g["marks"]] + [g["final_op"]]
        sample_cycles = [acc[b] - acc[a] for a, b in zip(starts, starts[1:])]

    learner, curve = g["learner"], g["curve"]
    steps = sum(len(mk["eots"]) for mk in g["marks"])
    rep = {
        "demo": demo, "seed": seed, "mode": setup.get("mode"),
        "network": f"{cfg.n_in}-{'-'.join(map(str, cfg.sizes))}-{cfg.n_out}, "
                   f"{'ternary' if cfg.ternary else f'{cfg.weight_bits}-bit'}, D={cfg.depth}, "
                   f"P={cfg.weights_per_word}",
        "registers": {k: getattr(setup["regs"], k) for k in setup["regs"].__dataclass_fields__},
        "samples": len(g["order"]), "samples_of_run": setup["epochs"] * len(setup["train"][0]),
        "train_subset": train_subset, "lr_shift_R_writes_between_epochs": g["lr_writes"],
        "epochs": setup["epochs"], "order_first": g["order"][:10],
        "phases_compared": {"CLEAR": len(g["marks"]), "STEP": steps, "LEARN": len(g["marks"])},
        "output_items_compared": len(want_o), "readback_words_compared": len(want_r),
        "learned_layers_read_after_every_LEARN": [[l, "weight" if s == WEIGHT else "delay"]
                                                  for l, s in learned_layers(cfg)],
        "mismatches": mismatches, "mismatched_outputs": len(bad_o), "mismatched_readbacks": len(bad_r),
        "first_mismatches": first,
        "stalled": sim["stalled"], "valid_p": valid_p, "ready_p": ready_p,
        "simulated_cycles": sim["cycles"],
        "cycles_per_STEP_mean": float(np.mean(step_cycles)) if step_cycles else None,
        "cycles_per_STEP_range": [min(step_cycles), max(step_cycles)] if step_cycles else None,
        "cycles_per_LEARN_mean": float(np.mean(learn_cycles)) if learn_cycles else None,
        "cycles_per_LEARN_range": [min(learn_cycles), max(learn_cycles)] if learn_cycles else None,
        "cycles_per_sample_mean": float(np.mean(sample_cycles)) if sample_cycles else None,
        "cycle_measurement": "at the ports, no backpressure: STEP from the output EOT taken to the "
                             "next operation taken; LEARN from the label taken to the next readback "
                             "request taken (includes the clear sweep); sample from CLEAR to CLEAR "
                             "including the host's score and parameter readbacks",
        "wall_seconds": {"golden": round(g["golden_seconds"], 1), "build": round(t_build, 1),
                         "simulation": round(sim["seconds"], 1),
                         "total": round(time.time() - t_start, 1)},
        "simulated_cycles_per_second": round(sim["cycles"] / sim["seconds"]) if sim["cycles"] else None,
        "golden_eval_curve": {"samples": curve.samples, "eval_acc": curve.eval_acc},
        "delays_changed_by_rtl": None,
    }
    # what the RTL ended with, from the final full readback
    nfin = len(g["final_reads"])
    fin_words = sim["resps"][len(want_r) - nfin:len(want_r)] if len(got_r) >= len(want_r) else []
    if len(fin_words) == nfin:
        rtl_params = params_from_reads(setup["params"], g["final_reads"], fin_words)
        rep["delays_changed_by_rtl"] = sum(int((a.delay != b.delay).sum()) for a, b in
                                          zip(rtl_params.layers[:-1], setup["params"].layers[:-1]))
        rep["weights_changed_by_rtl"] = sum(int((a.weight != b.weight).sum()) for a, b in
                                           zip(rtl_params.layers, setup["params"].layers))
        if demo == "sequence":
            rep["rtl_delays_layer1"] = rtl_params.layers[0].delay.tolist()
        if test_accuracy:
            rep["test_accuracy_start"] = accuracy(GoldenNetwork(setup["params"]), *setup["test"])
            rep["test_accuracy_golden_network_on_rtl_image"] = accuracy(GoldenNetwork(rtl_params), *setup["test"])
            rep["test_accuracy_golden_learner"] = accuracy(learner.net, *setup["test"])
    # the sample after which the learned parameters read back from the RTL stopped changing
    last = 0
    prev = np.array([w for *_, w in param_reads(GoldenNetwork(setup["params"]), learned_layers(cfg))],
                    dtype=np.uint64)
    for start, sample, desc in st.resp_seg:
        if desc is g["learned_desc"] and start + len(desc) <= len(got_r):
            now = got_r[start:start + len(desc) - 2]
            if not np.array_equal(now, prev):
                last = sample + 1
            prev = now
    rep["rtl_learned_params_last_changed_after_sample"] = last
    if test_accuracy and curve.best_samples:
        rep["golden_best_validation_at_sample"] = curve.best_samples
        rep["test_accuracy_at_best_validation"] = accuracy(GoldenNetwork(learner.best_params), *setup["test"])
        rep["note_best_validation"] = ("the image a host keeps (best validation); the RTL's learned "
                                       "parameters were compared equal after that sample too")
    if 1.0 in curve.eval_acc:
        rep["golden_eval_100pct_at_sample"] = curve.samples[curve.eval_acc.index(1.0)]
    if report:
        REPORTS.mkdir(parents=True, exist_ok=True)
        out = REPORTS / f"onchip-rtl-{demo}{f'-subset{train_subset}' if train_subset else ''}.json"
        out.write_text(json.dumps(rep, indent=2))
        rep["report"] = str(out)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Replay an on-chip learning demo on the RTL (Verilator)")
    ap.add_argument("--demo", choices=("sequence", "lag", "fsdd"), required=True)
    ap.add_argument("--samples", type=int, required=True, help="first N samples of the demo's run")
    ap.add_argument("--seed", type=int, default=0, help="the demo's seed (order of samples)")
    ap.add_argument("--mode", default="weights+delays", help="lag demo: weights+delays | weights only")
    ap.add_argument("--valid-p", type=float, default=1.0)
    ap.add_argument("--ready-p", type=float, default=1.0)
    ap.add_argument("--train-subset", type=int, default=None,
                    help="an epoch is N training samples, a seeded random subset (short replays across epoch boundaries)")
    ap.add_argument("--test-accuracy", action="store_true",
                    help="evaluate the golden network on the image read back from the RTL")
    a = ap.parse_args(argv)
    rep = replay(a.demo, a.samples, a.seed, a.mode, a.valid_p, a.ready_p,
                 test_accuracy=a.test_accuracy or a.demo == "sequence", train_subset=a.train_subset)
    show = {k: v for k, v in rep.items() if k not in ("golden_eval_curve", "registers", "first_mismatches")}
    print(json.dumps(show, indent=1))
    if rep["first_mismatches"]:
        print("first mismatches:", json.dumps(rep["first_mismatches"], indent=1))
    return 0 if rep["mismatches"] == 0 and not rep["stalled"] else 1


if __name__ == "__main__":
    sys.exit(main())
