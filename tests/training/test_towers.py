"""Towers (delay_training.towers) and `delaysnn loso --ensemble A,B` (loso_ensemble): two networks
as one core image. The merged network's hidden spikes are exactly the members' and its readout
integrates the sum of their readout currents (golden model against a reference, random networks
with random delays), its export loads like any other, what cannot merge is
refused naming the register, and the LOSO report `--compare` reads."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from delay_training.export import load_export, read_manifest, write_export
from delay_training.loso import LosoError, main as loso_main, official_summary
from delay_training.loso_compare import compare
from delay_training.loso_ensemble import ensemble, golden_predictions, table
from delay_training.towers import TowerError, memory_bits, merge_params, write_towers
from golden_model import CoreConfig, GoldenNetwork, random_params
from golden_model.network import leak


def _pair(seed=0, v_bits=16):
    a = random_params(CoreConfig(n_in=5, sizes=(4,), n_out=10, weight_bits=2, ternary=True, depth=8,
                                 v_bits=v_bits, input_delays=True), seed)
    b = random_params(CoreConfig(n_in=3, sizes=(6,), n_out=10, weight_bits=2, ternary=True, depth=8,
                                 v_bits=v_bits, input_delays=True), seed + 1)
    # one register per merged layer: B takes A's
    b.layers = [dataclasses.replace(lb, **{k: getattr(la, k) for k in ("threshold", "leak", "weight_shift",
                                                                      "reset_mode")})
                for la, lb in zip(a.layers, b.layers)]
    return a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_towers_readout_is_the_sum_of_the_members_readouts(seed):
    a, b = _pair(seed)
    m = merge_params(a, b)
    assert (m.config.n_in, m.config.sizes, m.config.n_out) == (8, (10,), 10)
    assert torch.equal(m.layers[0].weight[:5, 4:], torch.zeros(5, 6, dtype=torch.int64))   # A's inputs, B's neurons
    assert torch.equal(m.layers[0].weight[5:, :4], torch.zeros(3, 4, dtype=torch.int64))
    assert torch.equal(m.input_delay, torch.cat([a.input_delay, b.input_delay]))
    g = torch.Generator().manual_seed(seed)
    xa = (torch.rand(7, 30, 5, generator=g) < 0.4).to(torch.int64)
    xb = (torch.rand(7, 30, 3, generator=g) < 0.4).to(torch.int64)
    ra, rb = GoldenNetwork(a).run(xa), GoldenNetwork(b).run(xb)
    rm = GoldenNetwork(m).run(torch.cat([xa, xb], 2))
    assert torch.equal(torch.cat(rm["spikes"], 0), torch.cat([torch.cat([sa, sb], 2) for sa, sb in
                                                             zip(ra["spikes"], rb["spikes"])], 0))
    assert torch.equal(rm["readout"], ref_towers_readout(a, b, ra, rb))


def ref_towers_readout(a, b, ra, rb):
    """The readout of the towers network from the members' delayed hidden spikes: both currents
    summed, one leak, one clip (docs/core.md's readout arithmetic)."""
    ro = a.layers[1]
    current = (ra["spikes"][0].long() @ a.layers[1].weight + rb["spikes"][0].long() @ b.layers[1].weight) << ro.weight_shift
    lo, hi = -(1 << (a.config.v_bits - 1)), (1 << (a.config.v_bits - 1)) - 1
    v, out = torch.zeros_like(current[:, 0]), []
    for t in range(current.shape[1]):
        v = (leak(v, ro.leak, a.config.leak_mode) + current[:, t]).clamp(lo, hi)
        out.append(v)
    return torch.stack(out, 1)


def test_the_summed_readout_clips_at_v_bits_as_any_membrane():
    a, b = _pair(0, v_bits=8)
    for net in (a, b):   # every neuron spikes at every step; the readout gains 8 per spike, leaks 1/32
        net.layers[0] = dataclasses.replace(net.layers[0], threshold=1)
        net.layers[1] = dataclasses.replace(net.layers[1], weight=torch.ones_like(net.layers[1].weight),
                                            weight_shift=3, leak=5)
        net.layers[0].weight.fill_(1)
    m = merge_params(a, b)
    xa, xb = torch.ones(1, 20, 5, dtype=torch.int64), torch.ones(1, 20, 3, dtype=torch.int64)
    ra, rb = GoldenNetwork(a).run(xa), GoldenNetwork(b).run(xb)
    ro = GoldenNetwork(m).run(torch.cat([xa, xb], 2))["readout"]
    assert int((ra["readout"] + rb["readout"]).max()) > 127 and int(ro.max()) == 127
    assert torch.equal(ro, ref_towers_readout(a, b, ra, rb))


@pytest.mark.parametrize("field, value, message", [
    ("threshold", 3, "differ in the hidden layer's threshold"),
    ("leak", 1, "differ in the hidden layer's leak"),
])
def test_what_cannot_merge_is_refused_naming_it(field, value, message):
    a, b = _pair()
    b.layers[0] = dataclasses.replace(b.layers[0], **{field: getattr(a.layers[0], field) + value})
    with pytest.raises(TowerError, match=message):
        merge_params(a, b)
    a, b = _pair()
    b.layers[1] = dataclasses.replace(b.layers[1], weight_shift=a.layers[1].weight_shift + 1)
    with pytest.raises(TowerError, match="differ in the readout's weight_shift"):
        merge_params(a, b)
    c = random_params(CoreConfig(n_in=3, sizes=(6,), n_out=10, weight_bits=2, ternary=True, depth=16,
                                 input_delays=True), 4)
    with pytest.raises(TowerError, match=r"differ in depth \(8 and 16\)"):
        merge_params(a, c)
    two = random_params(CoreConfig(n_in=3, sizes=(6, 4), n_out=10, weight_bits=2, ternary=True, depth=8,
                                   input_delays=True), 4)
    with pytest.raises(TowerError, match="towers need one feed-forward hidden layer"):
        merge_params(a, two)


def _export(tmp_path, name, params, front_end):
    out = tmp_path / name
    write_export(params, out, {"n_in": params.config.n_in}, {"task": "fsdd-loso", "front_end": front_end})
    return out


def test_write_towers_gives_an_export_with_both_front_ends(tmp_path):
    a, b = _pair()
    ea = _export(tmp_path, "a", a, {"tilt_degree": 1})
    eb = _export(tmp_path, "b", b, {"speaker_norm": 1})
    params, path = write_towers(ea, eb, tmp_path / "t")
    m = read_manifest(tmp_path / "t")
    assert m["front_end"] == [{"tilt_degree": 1}, {"speaker_norm": 1}] and m["task"] == "fsdd-loso"
    assert m["towers_of"] == [str(ea.resolve()), str(eb.resolve())] and m["model_config"]["n_in"] == 8
    loaded = load_export(tmp_path / "t")
    assert torch.equal(loaded.layers[0].weight, params.layers[0].weight)
    bits = memory_bits(params, dbits=3)
    assert bits["weights"] == 2 * (8 * 10 + 10 * 10) and bits["delays"] == 3 * (8 + 10)
    _export(tmp_path, "c", b, [{"tilt_degree": 1}, {}])
    with pytest.raises(TowerError, match="two audio networks of one front end each"):
        write_towers(ea, tmp_path / "c", tmp_path / "t2")
    assert not (tmp_path / "t2").exists()


def _report(path, name, keys, folder_of, official_seeds=()):
    runs = [{"protocol": "speaker", "speaker": s, "seed": seed, "folder": str(folder_of(s, seed)),
             "test_acc": 0.5, "val_acc": 0.9, "per_digit_acc": [0.5] * 10} for s, seed in keys]
    official = [{"protocol": "official", "speaker": None, "seed": seed, "folder": str(folder_of(None, seed)),
                 "test_acc": 0.5, "val_acc": 0.9, "per_digit_acc": [0.5] * 10} for seed in official_seeds]
    doc = {"name": name, "folds": [], "mean_test_acc": 0.5, "recipe": {"dbits": 3},
           "seeds": sorted({k[1] for k in keys}), "runs": runs,       # as loso.summarise writes it
           "official": official_summary(official) if official else None}
    (path / f"loso-{name}.json").write_text(json.dumps(doc))


def test_loso_ensemble_merges_each_fold_and_reports_what_the_towers_network_predicts(tmp_path):
    a, b = _pair()
    for s in ("ann", "bob"):                          # run folders hold export/
        _export(tmp_path / f"a-{s}", "export", a, {"tilt_degree": 1})
        _export(tmp_path / f"b-{s}", "export", b, {"speaker_norm": 1})
    _report(tmp_path, "A", [("ann", 0), ("bob", 0), ("bob", 1)], lambda s, seed: tmp_path / f"a-{s}")
    _report(tmp_path, "B", [("ann", 0), ("bob", 0)], lambda s, seed: tmp_path / f"b-{s}")
    g = torch.Generator().manual_seed(0)
    labels = np.arange(20) % 10
    sets = {"a": (torch.rand(20, 30, 5, generator=g) < 0.4).numpy().astype(np.uint8),
            "b": (torch.rand(20, 30, 3, generator=g) < 0.4).numpy().astype(np.uint8)}
    held_out = lambda run: (sets[run["folder"].split("/")[-1][0]], labels)
    doc = ensemble(["A", "B"], reports_dir=tmp_path, towers_dir=tmp_path / "towers", progress=False,
                   held_out=held_out)
    assert doc["name"] == "ens-A+B" and [(r["speaker"], r["seed"]) for r in doc["runs"]] == [("ann", 0), ("bob", 0)]
    m = merge_params(a, b)
    expected = golden_predictions(m, np.concatenate([sets["a"], sets["b"]], axis=2))
    ra, rb = (GoldenNetwork(n).run(torch.as_tensor(sets[k]).long()) for n, k in ((a, "a"), (b, "b")))
    assert np.array_equal(expected, ref_towers_readout(a, b, ra, rb).sum(1).argmax(-1).numpy())
    assert doc["runs"][0]["test_acc"] == float((expected == labels).mean())
    assert doc["runs"][0]["members_test_acc"] == [
        float((golden_predictions(a, sets["a"]) == labels).mean()),
        float((golden_predictions(b, sets["b"]) == labels).mean())]
    assert doc["core_config"] == "8-10-10" and doc["memory_bits"]["weights"] == 2 * (8 * 10 + 10 * 10)
    assert load_export(tmp_path / "towers" / "ens-A+B" / "ens-A+B-bob-s0").config.n_in == 8
    text, _ = compare(["A", "ens-A+B"], reports_dir=tmp_path, plots_dir=tmp_path)
    assert "| ens-A+B |" in text


def test_loso_ensemble_merges_the_official_split_runs_both_reports_hold(tmp_path):
    """The official split's runs (`loso --official`) are merged seed by seed, like the folds, and
    tested on their own test set: the second figure. A seed only one report has is left out, and
    reports without official runs give None."""
    a, b = _pair()
    for who in ("ann", "off"):
        _export(tmp_path / f"a-{who}", "export", a, {"tilt_degree": 1})
        _export(tmp_path / f"b-{who}", "export", b, {"speaker_norm": 1})
    folder = lambda side: (lambda s, seed: tmp_path / f"{side}-{s or 'off'}")
    _report(tmp_path, "A", [("ann", 0)], folder("a"), official_seeds=(0, 1))
    _report(tmp_path, "B", [("ann", 0)], folder("b"), official_seeds=(1,))
    g = torch.Generator().manual_seed(1)
    labels = {"speaker": np.arange(20) % 10, "official": (np.arange(30) * 3) % 10}
    sets = {(side, proto): (torch.rand(len(labels[proto]), 30, n, generator=g) < 0.4).numpy().astype(np.uint8)
            for side, n in (("a", 5), ("b", 3)) for proto in labels}
    held_out = lambda run: (sets[(run["folder"].split("/")[-1][0], run["protocol"])], labels[run["protocol"]])
    doc = ensemble(["A", "B"], name="T", reports_dir=tmp_path, towers_dir=tmp_path / "towers",
                   progress=False, held_out=held_out)
    off = doc["official"]
    assert [(r["protocol"], r["seed"]) for r in off["runs"]] == [("official", 1)]
    assert [r["protocol"] for r in doc["runs"]] == ["speaker"] and doc["speakers"] == ["ann"]
    x = np.concatenate([sets[("a", "official")], sets[("b", "official")]], axis=2)
    expected = float((golden_predictions(merge_params(a, b), x) == labels["official"]).mean())
    assert off["test_acc_mean"] == off["runs"][0]["test_acc"] == expected
    assert off["members_test_acc_mean"] == [
        float((golden_predictions(n, sets[(k, "official")]) == labels["official"]).mean())
        for n, k in ((a, "a"), (b, "b"))]
    assert load_export(tmp_path / "towers" / "T" / "T-official-s1").config.n_in == 8
    assert table(doc).splitlines()[-1].split() == [
        "official", *(f"{100 * m:.1f}" for m in off["members_test_acc_mean"]), f"{100 * expected:.1f}",
        "(seeds", "1)"]
    _report(tmp_path, "C", [("ann", 0)], folder("a"))
    assert ensemble(["C", "B"], name="U", reports_dir=tmp_path, towers_dir=tmp_path / "towers",
                    progress=False, held_out=held_out)["official"] is None


def test_loso_ensemble_refusals_are_one_line(tmp_path, capsys):
    _report(tmp_path, "A", [("ann", 0)], lambda s, seed: tmp_path)
    _report(tmp_path, "B", [("bob", 0)], lambda s, seed: tmp_path)
    with pytest.raises(LosoError, match="expected two report names, comma-separated .towers of two networks., got 1"):
        ensemble(["A"], reports_dir=tmp_path, progress=False)
    with pytest.raises(LosoError, match=r"--ensemble A,B: the reports share no \(held-out speaker, seed\)"):
        ensemble(["A", "B"], reports_dir=tmp_path, progress=False)
    with pytest.raises(LosoError, match="--name A: .*loso-A.json is a trained LOSO report"):
        ensemble(["A", "B"], name="A", reports_dir=tmp_path, progress=False)
    a, b = _pair()
    b.layers[0] = dataclasses.replace(b.layers[0], threshold=a.layers[0].threshold + 1)
    for s, net in (("ann", a), ("bob", a)):
        _export(tmp_path / f"a-{s}", "export", net, {"tilt_degree": 1})
    _export(tmp_path / "b-ann", "export", a, {"speaker_norm": 1})
    _export(tmp_path / "b-bob", "export", b, {"speaker_norm": 1})       # only the second fold differs
    _report(tmp_path, "C", [("ann", 0), ("bob", 0)], lambda s, seed: tmp_path / f"a-{s}")
    _report(tmp_path, "D", [("ann", 0), ("bob", 0)], lambda s, seed: tmp_path / f"b-{s}")
    with pytest.raises(TowerError, match="b-bob/export differ in the hidden layer's threshold"):
        ensemble(["C", "D"], reports_dir=tmp_path, towers_dir=tmp_path / "towers", progress=False)
    assert not (tmp_path / "towers").exists()                            # nothing half-written
    with pytest.raises(SystemExit) as e:
        loso_main(["--ensemble", "A,nothere", "--reports-dir", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("loso-nothere.json: cannot read (No such file or directory)")
