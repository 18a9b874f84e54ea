"""On-chip learning through the host link (docs/link.md, LABEL; docs/learning.md sections 5-6):
the LABEL frame's codec, and the RTL (ByteLinkedCore with a LearningNetwork, amaranth.sim at the
byte level, hostlink.SimTransport) against GoldenLearner: load an image and the learning
registers, run samples each followed by a LABEL, read back the engine's state, weights and
delays after every phase and compare them with the golden model's.
"""

import random

import pytest
import torch
from hypothesis import given, seed, settings, HealthCheck
from hypothesis import strategies as st


from golden_model import (CoreConfig, GoldenNetwork, random_params, raster_words,  # noqa: E402
                          encode_event, SPIKE, EOT)
from golden_model.learning import GoldenLearner, LearnRegisters  # noqa: E402
from hostlink import frames as fr  # noqa: E402
from hostlink.frames import Frame, FrameDecoder, encode, check_request  # noqa: E402
from hostlink.driver import CoreLink, LinkError, LEARN_REGISTERS, readout  # noqa: E402
from hostlink.transports import SimTransport  # noqa: E402
from verification.cases.learning import random_registers, learner_reads, core_reads  # noqa: E402

SEED = 20261129
HYP = settings(max_examples=200, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])
# Two LIF layers, so both pairs (R and H) of the engine take part; ternary weights packed 4 a word.
CFG = CoreConfig(n_in=4, sizes=(6, 4), n_out=3, weight_bits=2, ternary=True, weights_per_word=4,
                 depth=8)


# =================================================================================================
# Codec
# =================================================================================================
@seed(SEED)
@HYP
@given(y=st.integers(0, 0xFFFF), junk=st.binary(max_size=20).map(lambda b: b.replace(b"\xa5", b"")),
       cut=st.integers(0, 20), rescan=st.booleans())
def test_label_frame_roundtrip(y, junk, cut, rescan):
    raw = encode(fr.LABEL, fr.label_payload(y))
    assert len(raw) == 8 and raw[1] == fr.LABEL == 0x06
    stream = junk + raw
    dec = FrameDecoder(rescan=rescan)
    items = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
    assert items == [Frame(fr.LABEL, y.to_bytes(2, "little"))]
    assert check_request(items[0], learning=True) is None
    assert check_request(items[0], learning=False) == fr.UNKNOWN_CMD
    assert check_request(items[0], learning=True, step_open=True) == fr.STEP_OPEN
    assert fr.parse_label(encode(fr.LABEL | fr.RESPONSE, fr.label_payload(y))[4:6]) == y


@seed(SEED)
@HYP
@given(n=st.integers(0, 40).filter(lambda n: n != 2), learning=st.booleans(),
       step_open=st.booleans())
def test_label_frame_lengths_and_step_open(n, learning, step_open):
    f = Frame(fr.LABEL, bytes(n))
    assert check_request(f, learning, step_open) == (fr.BAD_LENGTH if learning else fr.UNKNOWN_CMD)
    # While a step is open a learning device refuses every command but PING and EVENTS.
    for cmd, payload in ((fr.PING, b""), (fr.EVENTS, bytes(3)), (fr.WRITE, bytes(13)),
                         (fr.READ, bytes(5)), (fr.STATUS, b"")):
        want = fr.STEP_OPEN if learning and step_open and cmd not in (fr.PING, fr.EVENTS) else None
        assert check_request(Frame(cmd, payload), learning, step_open) == want


def test_label_payload_range():
    assert fr.label_payload(0x1234) == b"\x34\x12"
    for bad in (-1, 1 << 16):
        with pytest.raises(ValueError):
            fr.label_payload(bad)


# =================================================================================================
# The RTL: Link + LearningNetwork, byte level
# =================================================================================================
def compare(link, reads, what):
    got = link.read([tuple(r[:3]) for r in reads])
    for r, g in zip(reads, got):
        assert g == r[3], f"seed {SEED}: {what}: layer {r[0]} space {r[1]} addr {r[2]:#x}: " \
                          f"read {fr.signed64(g)}, golden {fr.signed64(r[3])}"
    return len(reads)


def test_rtl_learning_through_link_equals_golden():
    rng = random.Random(SEED)
    params = random_params(CFG, SEED, threshold_scale=0.3)
    regs = random_registers(rng, stochastic=True)
    regs.margin = 1000               # keep the hinge active so every label changes something
    net = GoldenNetwork(params)
    lrn = GoldenLearner(net, LearnRegisters(**{k: getattr(regs, k) for k in LEARN_REGISTERS}))

    t = SimTransport(CFG, learning=True, response_cycles=400_000)
    link = CoreLink(t)
    assert link.ping()["n_layers"] == CFG.n_layers
    link.load_image(params, verify="full")
    assert link.set_learning(regs) == len(LEARN_REGISTERS)
    got = link.read_learning()
    assert {k: got[k] for k in LEARN_REGISTERS} == {k: getattr(regs, k) for k in LEARN_REGISTERS}
    assert [got[k] for k in ("learned", "rejected_labels", "ignored_labels")] == [0, 0, 0]

    compared = 0
    changed = False
    before = core_reads(net)
    labels = [1, 0, 2]
    for s, y in enumerate(labels):
        x = (torch.rand(5, CFG.n_in, generator=torch.Generator().manual_seed(SEED + s)) < 0.6)
        x = x.to(torch.int64)
        gold_out = lrn.run_sample(x)                       # STEPs, no label yet
        items = link.run_sample(raster_words(x), n_out=CFG.n_out)
        assert readout(items, CFG.n_out) == gold_out.tolist(), f"seed {SEED}: sample {s} outputs"
        state = link.read_learning_state(CFG)
        snap = lrn.snapshot()
        for k, v in state.items():
            assert v == snap[k], f"seed {SEED}: sample {s} {k} before LABEL"
        compared += sum(len(v) for v in state.values())
        if s == 0:
            # A class out of range: answered, rejected and counted by the engine, nothing learned.
            assert link.label(CFG.n_out + 4) == CFG.n_out + 4
            with pytest.raises(ValueError):
                lrn.learn([CFG.n_out + 4])
            compared += compare(link, learner_reads(lrn), "after a rejected label")
        assert link.label(y) == y
        lrn.learn([y])
        compared += compare(link, learner_reads(lrn) + core_reads(net), f"sample {s} after LABEL")
        changed |= core_reads(net) != before

    # LABEL or READ while a step is open: refused with STEP_OPEN (not held); EOT closes the step.
    assert link.events([encode_event(SPIKE, 1)]) == 1
    for call in (lambda: link.label(0), lambda: link.read([(0, 0, 0)])):
        with pytest.raises(LinkError, match="STEP_OPEN"):
            call()
    assert link.events([encode_event(EOT)]) == 1
    link._quiet()
    link.outputs.clear()
    # Learning off (enable = 0 through WRITE): a label is counted as ignored.
    link.set_learning(enable=0)
    assert link.label(0) == 0
    st_ = link.read_learning()
    assert (st_["learned"], st_["rejected_labels"], st_["ignored_labels"]) == (3, 1, 1)
    assert link.status()["dropped_writes"] == 0
    assert changed, f"seed {SEED}: learning changed no weight or delay; the test proves little"
    assert compared > 200


def test_label_unknown_without_learning_engine():
    cfg = CoreConfig(n_in=3, sizes=(3,), n_out=2, weight_bits=4, depth=4)
    link = CoreLink(SimTransport(cfg))
    with pytest.raises(LinkError, match="UNKNOWN_CMD"):
        link.label(1)
    assert link.status()["unknown_cmd"] == 1
    assert link.stats["resends"] == 0


def test_cli_run_with_labels_learns_like_golden(tmp_path, capsys):
    """python -m hostlink run --sim --learn-regs --labels: the device learns as GoldenLearner."""
    import json
    import numpy as np
    from hostlink.cli import main
    from hostlink.image import save_image
    cfg = CoreConfig(n_in=3, sizes=(5,), n_out=2, weight_bits=4, depth=4)
    params = random_params(cfg, SEED + 1, threshold_scale=0.3)
    rng = random.Random(SEED + 1)
    regs = random_registers(rng, stochastic=False)
    regs.margin = 1000
    x = (torch.rand(2, 4, cfg.n_in, generator=torch.Generator().manual_seed(SEED + 1)) < 0.6)
    x = x.to(torch.int64)
    labels = [1, 0]
    save_image(tmp_path / "img.json", params)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", np.asarray(labels))
    (tmp_path / "regs.json").write_text(json.dumps({k: getattr(regs, k) for k in LEARN_REGISTERS}))
    assert main(["run", "--sim", "--image", str(tmp_path / "img.json"), "--input",
                 str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"), "--learn-regs",
                 str(tmp_path / "regs.json"), "--verify", "none"]) == 0
    out = capsys.readouterr().out
    lrn = GoldenLearner(GoldenNetwork(params),
                        LearnRegisters(**{k: getattr(regs, k) for k in LEARN_REGISTERS}))
    for i, y in enumerate(labels):
        lrn.run_sample(x[i], y)
    assert "learning: " in out and f"learned={lrn.learned}" in out and f"lfsr={lrn.regs.lfsr}" in out


def test_bitstream_build_variants(tmp_path):
    """make bitstream: per-board learning default, report names, and the utilisation of a build
    that did not place (parsed from nextpnr's log)."""
    from delaycore.boards.build import BOARDS, variant, nextpnr_log
    assert BOARDS["icebreaker"][4] is True              # the UP5K holds the engine
    assert variant("icebreaker", None, False) == (True, "")
    assert variant("icebreaker", False, False) == (False, "-nolearning")
    assert variant("icebreaker", False, True) == (False, "-nolearning-dsp")
    default = BOARDS["ulx3s"][4]
    assert variant("ulx3s", not default, False) == (not default,
                                                     "-nolearning" if default else "-learning")
    log = tmp_path / "top.tim"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t         ICESTORM_LC:    7200/   5280   136%\n"
                   "Info: \t        ICESTORM_RAM:      20/     30    66%\n"
                   "Info: \t        ICESTORM_DSP:       0/      8     0%\n"
                   "ERROR: Unable to place cell 'x', no BELs remaining\nERROR: second\n")
    util, err = nextpnr_log(log)
    assert util == {"ICESTORM_LC": {"used": 7200, "available": 5280},
                    "ICESTORM_RAM": {"used": 20, "available": 30}}
    assert err == "Unable to place cell 'x', no BELs remaining"
