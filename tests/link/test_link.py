"""The host link (docs/link.md): codec properties, the RTL in amaranth.sim (byte level and through
the UART), and a randomised corrupt-frame run of the RTL on Verilator (verification/benches/link_tb.py).

Counts of the fuzzing go to build/reports/link-fuzz.json.
"""

import copy
import fcntl
import hashlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, note, seed, settings, HealthCheck
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

from golden_model import (CLEAR, EOT, RESERVED, SPIKE, CoreConfig, GoldenNetwork,  # noqa: E402
                          encode_event, load_words, random_params)
from golden_model.network import snapshot  # noqa: E402
from hostlink import frames as fr  # noqa: E402
from hostlink.frames import (Frame, DecodeError, FrameDecoder, encode, crc16,  # noqa: E402
                             check_request, write_payload, read_payload, events_payload)
from hostlink.driver import CoreLink  # noqa: E402
from hostlink.transports import SimTransport  # noqa: E402

REPORT = ROOT / "build" / "reports" / "link-fuzz.json"
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM, STATUS_SPACE = 0, 1, 2, 3, 4, 5, 7
MASK64 = (1 << 64) - 1
CFG = CoreConfig(n_in=3, sizes=(3,), n_out=2, recurrent=(True,), weight_bits=4, depth=4,
                 v_bits=12)
SEED = 20240611


def record_fuzz(name, **counts):
    """Merge one test's counts into link-fuzz.json (totals over the tests that ran)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with open(REPORT.parent / ".link-fuzz.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
        detail = data.get("detail", {})
        detail[name] = counts
        totals = {k: sum(d.get(k, 0) for d in detail.values())
                  for k in ("python_frames_tried", "python_corrupt_accepted",
                            "rtl_frames_tried", "rtl_state_corruptions")}
        REPORT.write_text(json.dumps({**totals, "detail": detail}, indent=1))


# =================================================================================================
# 1. Codec
# =================================================================================================
def test_crc_check_value_and_rtl_function_agree():
    from delaycore.link.crc16 import crc16_byte
    assert crc16(b"123456789") == 0x29B1
    rng = random.Random(SEED)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        c = 0xFFFF
        for b in data:
            c = crc16_byte(c, b)
        assert c == crc16(data), f"seed {SEED}: {data.hex()}"


def decode_all(decoder, stream, cuts):
    """Feed `stream` cut at `cuts`, then end it with a line timeout."""
    out, last = [], 0
    for c in sorted(set(cuts)) + [len(stream)]:
        out += decoder.feed(stream[last:c])
        last = c
    return out + decoder.timeout()


def corrupt(frame: bytes, kind: str, pos: int, value: int, junk: bytes) -> bytes:
    """One damaged frame. pos/value/junk are free draws; every kind must end in an error or in
    bytes the hunter discards, never in a frame."""
    b = bytearray(frame)
    if kind == "flip":
        b[pos % len(b)] ^= value or 1
    elif kind == "truncate":
        b = b[:1 + pos % (len(b) - 1)]
    elif kind == "drop":
        del b[1 + pos % (len(b) - 2)]
    elif kind == "oversize":
        n = fr.MAX_PAYLOAD + 1 + (pos * 977 + value) % (0x10000 - fr.MAX_PAYLOAD - 1)
        b = bytearray([fr.SOF, b[1], n & 0xFF, n >> 8]) + junk
    elif kind == "garbage":
        b = bytearray(junk)
    return bytes(b)


CORRUPTIONS = ("flip", "truncate", "drop", "oversize", "garbage")


def is_subsequence(got, want):
    it = iter(want)
    return all(any(g == w for w in it) for g in got)


class FuzzCount:
    def __init__(self):
        self.tried = 0
        self.accepted = 0


def check_corruption(before, bad_frame, after, kind, rescan, chunks, count, log=None):
    """Frames before and after one corrupted frame: nothing but intact frames may come out; the
    damage shows as an error or as discarded bytes; with rescan every intact frame is found."""
    intact = before + after
    stream = b"".join(encode(c, p) for c, p in before) + bad_frame + \
        b"".join(encode(c, p) for c, p in after)
    dec = FrameDecoder(rescan=rescan)
    items = decode_all(dec, stream, chunks)
    got = [(i.cmd, i.payload) for i in items if isinstance(i, Frame)]
    errors = [i for i in items if isinstance(i, DecodeError)]
    count.tried += len(intact) + 1
    wrong = [g for g in got if g not in intact]
    count.accepted += len(wrong) + (0 if is_subsequence(got, intact) else 1)
    if log:
        log(f"kind={kind} rescan={rescan} got={got} errors={errors}")
    assert not wrong, f"{kind}: decoded a frame that was never sent: {wrong}"
    assert is_subsequence(got, intact), f"{kind}: frames out of order or repeated"
    assert got[:len(before)] == before, f"{kind}: frames before the damage were lost"
    if kind != "garbage":
        assert errors or dec.discarded, f"{kind}: the damaged frame left no trace"
    if kind == "oversize":
        assert any(e.code == fr.OVERSIZE for e in errors)
    if rescan:
        assert got == intact, f"{kind}: the rescanning decoder lost an intact frame"


payloads = st.binary(min_size=0, max_size=fr.MAX_PAYLOAD)
small_payloads = st.binary(min_size=0, max_size=40)
cmds = st.integers(0, 255)
HYP = settings(max_examples=250, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_codec_roundtrip():
    count = FuzzCount()

    @seed(SEED)
    @HYP
    @given(cmd=cmds, payload=payloads,
           cuts=st.lists(st.integers(0, fr.MAX_PAYLOAD + 6), max_size=6), rescan=st.booleans(),
           junk=st.binary(max_size=20).map(lambda b: b.replace(b"\xa5", b"")))
    def roundtrip(cmd, payload, cuts, rescan, junk):
        frame = encode(cmd, payload)
        assert len(frame) == len(payload) + 6 and frame[0] == fr.SOF
        dec = FrameDecoder(rescan=rescan)
        items = decode_all(dec, junk + frame + junk + frame, cuts)
        count.tried += 2
        count.accepted += sum(1 for i in items if isinstance(i, Frame) and i != Frame(cmd, payload))
        assert items == [Frame(cmd, payload)] * 2, f"seed {SEED}"
        assert dec.discarded == 2 * len(junk)

    roundtrip()
    record_fuzz("python_roundtrip", python_frames_tried=count.tried,
                python_corrupt_accepted=count.accepted)


def test_codec_rejects_oversize_encode():
    with pytest.raises(ValueError):
        encode(fr.PING, bytes(fr.MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        encode(256, b"")


def test_codec_corruption_never_yields_a_wrong_frame():
    count = FuzzCount()

    @seed(SEED)
    @HYP
    @given(before=st.lists(st.tuples(cmds, small_payloads), max_size=2),
           frame=st.tuples(cmds, st.one_of(small_payloads, payloads)),
           after=st.lists(st.tuples(cmds, small_payloads), max_size=3),
           kind=st.sampled_from(CORRUPTIONS), pos=st.integers(0, 1 << 16),
           value=st.integers(0, 255), junk=st.binary(max_size=300), rescan=st.booleans(),
           cuts=st.lists(st.integers(0, 1500), max_size=5))
    def prop(before, frame, after, kind, pos, value, junk, rescan, cuts):
        bad = corrupt(encode(*frame), kind, pos, value, junk)
        note(f"seed={SEED} bad={bad.hex()}")
        check_corruption(before, bad, after, kind, rescan, cuts, count, note)

    prop()
    record_fuzz("python_corruption", python_frames_tried=count.tried,
                python_corrupt_accepted=count.accepted)


def test_codec_garbage():
    count = FuzzCount()

    @seed(SEED)
    @HYP
    @given(junk=st.binary(max_size=2000), rescan=st.booleans(),
           cuts=st.lists(st.integers(0, 2000), max_size=8))
    def prop(junk, rescan, cuts):
        dec = FrameDecoder(rescan=rescan)
        items = decode_all(dec, junk, cuts)
        frames = [i for i in items if isinstance(i, Frame)]
        count.tried += 1
        count.accepted += len(frames)
        assert not frames, f"seed {SEED}: garbage decoded as {frames}"
        assert dec.idle and dec.discarded <= len(junk)

    prop()
    record_fuzz("python_garbage", python_frames_tried=count.tried,
                python_corrupt_accepted=count.accepted)


def test_codec_bulk_fuzz():
    """A seeded bulk run of the same property (cheap, so many frames), and the report."""
    rng = random.Random(SEED)
    count = FuzzCount()
    for case in range(3000):
        def frame():
            n = rng.choice([0, 1, 3, 5, 13, 26, rng.randrange(64), rng.randrange(fr.MAX_PAYLOAD + 1)])
            return rng.randrange(256), bytes(rng.randrange(256) for _ in range(n))
        before = [frame() for _ in range(rng.randrange(3))]
        after = [frame() for _ in range(rng.randrange(4))]
        kind = rng.choice(CORRUPTIONS)
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        bad = corrupt(encode(*frame()), kind, rng.randrange(1 << 16), rng.randrange(256), junk)
        cuts = [rng.randrange(len(bad) + 200) for _ in range(rng.randrange(4))]
        try:
            check_corruption(before, bad, after, kind, rng.random() < 0.5, cuts, count)
        except AssertionError as e:
            raise AssertionError(f"seed {SEED} case {case}: {e}") from None
    record_fuzz("python_bulk", python_frames_tried=count.tried,
                python_corrupt_accepted=count.accepted)
    assert count.accepted == 0


def test_check_request_lengths():
    assert check_request(Frame(fr.PING, b"")) is None
    assert check_request(Frame(fr.PING, b"x")) == fr.BAD_LENGTH
    assert check_request(Frame(fr.STATUS, b"")) is None
    assert check_request(Frame(fr.WRITE, bytes(26))) is None
    assert check_request(Frame(fr.WRITE, bytes(27))) == fr.BAD_LENGTH
    assert check_request(Frame(fr.READ, bytes(5 * 127))) is None
    assert check_request(Frame(fr.READ, bytes(5 * 128))) == fr.BAD_LENGTH
    assert check_request(Frame(fr.EVENTS, bytes(1020))) is None
    assert check_request(Frame(fr.EVENTS, bytes(4))) == fr.BAD_LENGTH
    assert check_request(Frame(0x06, b"")) == fr.UNKNOWN_CMD


# =================================================================================================
# 2. Models of the core (readback view) and of the device (decoder + executor)
# =================================================================================================
def sext(x, bits):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


class CoreModel:
    """What the readback port returns, as valid WRITE and EVENTS frames change it. EVENTS must
    start with CLEAR (the golden model runs each from a cleared state)."""

    def __init__(self, params):
        self.params = copy.deepcopy(params)
        self.cfg = params.config
        assert getattr(self.cfg, "weights_per_word", 1) == 1, "the model reads one weight a word"
        self.shapes = self.cfg.layers
        self.state = [{"membrane": [0] * s.n, "history": [0] * s.n} for s in self.shapes]
        self.status = [0] * 5          # dropped_kind, dropped_addr, dropped_writes, steps, excess

    def _size(self, s, space, readback=False):
        sizes = {WEIGHT: s.n_rows * s.n, MEMBRANE: s.n, REGISTER: 4}
        if s.spiking:
            sizes.update({DELAY: s.n, HISTORY: s.n})
        if readback:
            sizes[ACCUM] = s.n
        return sizes.get(space, 0)

    def write(self, layer, space, addr, data):
        if layer >= 16 or space >= 8 or addr >= 1 << 20 or layer >= len(self.shapes) \
                or addr >= self._size(self.shapes[layer], space):
            self.status[2] += 1
            return
        s, p = self.shapes[layer], self.params.layers[layer]
        if space == WEIGHT:
            p.weight.view(-1)[addr] = sext(data, s.weight_bits)
        elif space == DELAY:
            p.delay[addr] = data & ((1 << s.delay_bits) - 1)
        elif space == REGISTER:
            name, bits = [("threshold", s.v_bits - 1),
                          ("leak", 5 if self.cfg.leak_mode == "shift" else 9),
                          ("weight_shift", 3), ("reset_mode", 1)][addr]
            setattr(p, name, data & ((1 << bits) - 1))
        elif space == MEMBRANE:
            self.state[layer]["membrane"][addr] = sext(data, s.v_bits)
        elif space == HISTORY:
            self.state[layer]["history"][addr] = data & ((1 << s.depth) - 1)

    def read(self, layer, space, addr):
        if layer >= 16 or space >= 8 or addr >= 1 << 20:
            return 0
        if space == STATUS_SPACE:
            return self.status[addr] if addr < 5 else 0
        if layer >= len(self.shapes) or addr >= self._size(self.shapes[layer], space, True):
            return 0
        p = self.params.layers[layer]
        if space == WEIGHT:
            v = int(p.weight.reshape(-1)[addr])
        elif space == DELAY:
            v = int(p.delay[addr])
        elif space == REGISTER:
            v = [p.threshold, p.leak, p.weight_shift, p.reset_mode][addr]
        elif space in (MEMBRANE, HISTORY):
            v = self.state[layer]["membrane" if space == MEMBRANE else "history"][addr]
        else:
            v = 0                                    # accum: zero between timesteps
        return v & MASK64

    def events(self, words):
        words = [w if w < (1 << 18) else (RESERVED | (w & 0x3FFFC)) for w in words]
        assert words and words[0] & 3 == CLEAR and words[-1] & 3 in (EOT, CLEAR)
        res = GoldenNetwork(self.params).run_stream(words)
        self.state = [{"membrane": d["membrane"], "history": d["history"]}
                      for d in snapshot(res.final_state)]
        for i, n in enumerate((res.dropped_kind, res.dropped_addr)):
            self.status[i] += n
        self.status[3] += sum(1 for w in words if w & 3 == EOT)
        self.status[4] += res.dropped_excess
        return res.outputs

    def state_records(self):
        recs = []
        for l, s in enumerate(self.shapes):
            for space in (WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM):
                recs += [(l, space, a) for a in range(self._size(s, space, True))]
        return recs + [(0, STATUS_SPACE, a) for a in range(5)]


class DeviceModel:
    """The device's reaction to bytes: its decoder (rescan=False), checks, and the core model."""

    def __init__(self, params, ident: bytes | None = None):
        from corespec.identity import identity_bytes
        self.core = CoreModel(params)
        self.ident = ident or identity_bytes(params.config, learning=False, baud=115200,
                                             clk_hz=12e6)
        self.dec = FrameDecoder(rescan=False)
        self.counts = {fr.BAD_CRC: 0, fr.TRUNCATED: 0, fr.UNKNOWN_CMD: 0, fr.BAD_LENGTH: 0}

    def feed(self, data, end_with_timeout=True):
        """-> (response frames [(cmd, payload)], output items, frames executed)"""
        items = self.dec.feed(data)
        if end_with_timeout:
            items += self.dec.timeout()
        responses, outputs, executed = [], [], 0
        for item in items:
            code = item.code if isinstance(item, DecodeError) else check_request(item)
            if code is not None:
                self.counts[fr.BAD_LENGTH if code == fr.OVERSIZE else code] += 1
                responses.append((fr.ERROR, bytes([code, item.cmd])))
                continue
            executed += 1
            resp, outs = self.execute(item)
            responses.append((item.cmd | 0x80, resp))
            outputs += outs
        return responses, outputs, executed

    def execute(self, f):
        p = f.payload
        if f.cmd == fr.PING:
            return b"DSNN" + bytes([fr.VERSION, self.core.cfg.n_layers]), []
        if f.cmd == fr.IDENT:
            return self.ident, []
        if f.cmd == fr.STATUS:
            words = self.core.status + [self.counts[c] for c in
                                        (fr.BAD_CRC, fr.TRUNCATED, fr.UNKNOWN_CMD, fr.BAD_LENGTH)]
            return b"".join((w & 0xFFFFFFFF).to_bytes(4, "little") for w in words), []
        if f.cmd == fr.WRITE:
            recs = [p[i:i + 13] for i in range(0, len(p), 13)]
            for r in recs:
                self.core.write(r[0], r[1], int.from_bytes(r[2:5], "little"),
                                int.from_bytes(r[5:13], "little"))
            return len(recs).to_bytes(2, "little"), []
        if f.cmd == fr.READ:
            recs = [p[i:i + 5] for i in range(0, len(p), 5)]
            return b"".join(self.core.read(r[0], r[1], int.from_bytes(r[2:5], "little"))
                            .to_bytes(8, "little") for r in recs), []
        words = [int.from_bytes(p[i:i + 3], "little") for i in range(0, len(p), 3)]
        outs = self.core.events(words) if words else []
        return len(words).to_bytes(2, "little"), outs


def make_words(rng, cfg, steps, bad=True):
    words = [encode_event(CLEAR)]
    for _ in range(steps):
        ev = [encode_event(SPIKE, rng.randrange(cfg.n_in)) for _ in range(rng.randrange(5))]
        if bad and rng.random() < 0.3:
            ev.append(rng.choice([encode_event(RESERVED, rng.randrange(1 << 16)),
                                  encode_event(SPIKE, rng.randint(cfg.n_in, 0xFFFF))]))
        words += ev + [encode_event(EOT)]
    return words


def good_params(cfg, seed_):
    return random_params(cfg, seed_, threshold_scale=0.3)


# =================================================================================================
# 3. The RTL in amaranth.sim, byte level (hostlink.SimTransport runs delaycore.link.ByteLinkedCore)
# =================================================================================================
def exchange(t, raw):
    """Send raw bytes; collect what comes back until the line has been quiet for 3 timeouts."""
    t.write(raw)
    dec = FrameDecoder()
    items = []
    while True:
        data = t.read(t.link_timeout * 3)
        if not data and not t.busy:
            return items + dec.timeout()
        items += dec.feed(data)


def read_state(link, model):
    return link.read(model.state_records())


def test_rtl_ping_write_read_events_status():
    rng = random.Random(SEED)
    params = good_params(CFG, SEED)
    t = SimTransport(CFG)
    link = CoreLink(t)
    assert link.ping() == {"magic": "DSNN", "version": 1, "n_layers": CFG.n_layers}
    assert link.load_image(params, verify="full")["checked"] > 0
    model = CoreModel(params)
    assert read_state(link, model) == [model.read(*r) for r in model.state_records()], \
        f"seed {SEED}: state after load"
    # WRITE then READ back: a weight, a delay, a register, out of range (dropped and counted).
    recs = [(0, WEIGHT, 4, -3), (0, DELAY, 1, 2), (1, REGISTER, 1, 3), (0, WEIGHT, 999, 1),
            (200, WEIGHT, 0, 1)]
    assert link.write(recs) == len(recs)
    for r in recs:
        model.write(r[0], r[1], r[2], r[3] & MASK64)
    got = link.read([r[:3] for r in recs])
    assert got == [(-3) & MASK64, 2, 3, 0, 0]
    # Empty record lists are whole numbers of records.
    assert exchange(t, encode(fr.READ) + encode(fr.WRITE) + encode(fr.EVENTS)) == [
        Frame(fr.READ | 0x80, b""), Frame(fr.WRITE | 0x80, b"\0\0"), Frame(fr.EVENTS | 0x80, b"\0\0")]
    # EVENTS: a few timesteps; OUTPUT frames equal the golden model's outputs.
    words = make_words(rng, CFG, 5)[1:]
    items = link.run_sample(words, n_out=CFG.n_out)
    want = model.events([encode_event(CLEAR)] + words)
    assert items == want, f"seed {SEED}"
    assert read_state(link, model) == [model.read(*r) for r in model.state_records()], \
        f"seed {SEED}: state after the sample"
    st_ = link.status()
    assert [st_[k] for k in fr.STATUS_FIELDS[:5]] == model.status
    assert [st_[k] for k in fr.STATUS_FIELDS[5:]] == [0, 0, 0, 0]
    assert link.stats["resends"] == 0


def test_rtl_corrupt_frames_answer_errors_and_change_nothing():
    rng = random.Random(SEED + 1)
    params = good_params(CFG, SEED + 1)
    t = SimTransport(CFG)
    link = CoreLink(t)
    link.load_image(params, verify="none")
    model = CoreModel(params)
    words = make_words(rng, CFG, 3)
    assert link.run_sample(words[1:]) == model.events(words)
    before = read_state(link, model)
    assert before == [model.read(*r) for r in model.state_records()]

    w = write_payload([(0, WEIGHT, 0, 7), (0, MEMBRANE, 1, 100), (0, REGISTER, 0, 1)])
    wf = encode(fr.WRITE, w)
    ev = encode(fr.EVENTS, events_payload([encode_event(CLEAR), encode_event(SPIKE, 1),
                                           encode_event(EOT)]))

    def flip(b, i, x=0x10):
        b = bytearray(b)
        b[i] ^= x
        return bytes(b)

    def header(cmd, n):
        return bytes([fr.SOF, cmd, n & 0xFF, n >> 8])

    cases = [
        ("bad CRC", flip(wf, len(wf) - 1), (fr.BAD_CRC, fr.WRITE)),
        ("payload bit", flip(wf, 10, 0x01), (fr.BAD_CRC, fr.WRITE)),
        ("cmd byte", flip(ev, 1, 0x02), (fr.BAD_CRC, fr.EVENTS ^ 0x02)),
        ("truncated", ev[:9], (fr.TRUNCATED, fr.EVENTS)),
        ("SOF alone", bytes([fr.SOF]), (fr.TRUNCATED, 0)),
        ("unknown command", encode(0x3F, b"abc"), (fr.UNKNOWN_CMD, 0x3F)),
        ("unknown response cmd", encode(0x82, b"\x01\x00"), (fr.UNKNOWN_CMD, 0x82)),
        ("oversize", header(fr.WRITE, 1100) + bytes(rng.randrange(256) for _ in range(1102)),
         (fr.OVERSIZE, fr.WRITE)),
        ("oversize, header only", header(fr.EVENTS, 0xFFFF), (fr.OVERSIZE, fr.EVENTS)),
        ("WRITE not whole records", encode(fr.WRITE, w[:14]), (fr.BAD_LENGTH, fr.WRITE)),
        ("READ too many", encode(fr.READ, read_payload([(0, 0, 0)] * 128)),
         (fr.BAD_LENGTH, fr.READ)),
        ("EVENTS not whole words", encode(fr.EVENTS, b"\x01\x00"), (fr.BAD_LENGTH, fr.EVENTS)),
        ("PING with payload", encode(fr.PING, b"x"), (fr.BAD_LENGTH, fr.PING)),
        ("STATUS with payload", encode(fr.STATUS, b"xy"), (fr.BAD_LENGTH, fr.STATUS)),
        ("byte lost in the middle", wf[:12] + wf[13:], (fr.TRUNCATED, fr.WRITE)),
    ]
    expect_counts = {"bad_crc": 3, "truncated": 3, "unknown_cmd": 2, "bad_length": 7}
    for label, raw, (code, cmd) in cases:
        items = exchange(t, raw)
        assert items == [Frame(fr.ERROR, bytes([code, cmd]))], f"seed {SEED + 1}: {label}: {items}"
        after = read_state(link, model)
        assert after == before, f"seed {SEED + 1}: {label} changed the core's state"
    # Garbage without a start byte: no answer, no change; the next frame is fine.
    assert exchange(t, bytes(x for x in range(256) if x != fr.SOF)) == []
    assert read_state(link, model) == before
    st_ = link.status()
    assert {k: st_[k] for k in expect_counts} == expect_counts
    assert [st_[k] for k in fr.STATUS_FIELDS[:5]] == model.status


def test_rtl_backpressure_no_deadlock():
    """Throttled tx: the core stalls on its output, EVENTS drain into it as it accepts, OUTPUT
    frames and responses stay whole; READ right behind EVENTS waits for the core to go idle."""
    cfg = CoreConfig(n_in=6, sizes=(10,), n_out=3, weight_bits=4, depth=4, v_bits=12)
    rng = random.Random(SEED + 2)
    params = good_params(cfg, SEED + 2)
    t = SimTransport(cfg, tx_ready=lambda c: c % 3 == 0)
    link = CoreLink(t)
    link.load_image(params, verify="none")
    model = CoreModel(params)
    words = make_words(rng, cfg, 6, bad=False)
    raw = encode(fr.EVENTS, events_payload(words)) + \
        encode(fr.READ, read_payload([(0, MEMBRANE, j) for j in range(10)]))
    items = exchange(t, raw)
    want_out = model.events(words)
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == len(items), f"seed {SEED + 2}: undecodable bytes: {items}"
    outs = [fr.parse_output(f.payload) for f in frames if f.cmd == fr.OUTPUT]
    resps = [f for f in frames if f.cmd != fr.OUTPUT]
    assert outs == want_out, f"seed {SEED + 2}"
    assert resps[0] == Frame(fr.EVENTS | 0x80, len(words).to_bytes(2, "little"))
    assert resps[1] == Frame(fr.READ | 0x80, b"".join(
        model.read(0, MEMBRANE, j).to_bytes(8, "little") for j in range(10)))
    # The EVENTS response overtook output frames (the command path did not wait for the UART).
    first_resp = frames.index(resps[0])
    assert first_resp < len(frames) - 2


# =================================================================================================
# 4. Through the UART at the bit level (LinkedCore, small divider)
# =================================================================================================
class UartMonitor:
    """Decodes the tx pin: start bit, 8 data bits sampled in their middle, stop bit."""

    def __init__(self, div):
        self.div = div
        self.t = None
        self.bits = []

    def step(self, v):
        if self.t is None:
            if v == 0:
                self.t, self.bits = self.div // 2, []
            return None
        self.t -= 1
        if self.t:
            return None
        self.t = self.div
        self.bits.append(v)
        if len(self.bits) == 1 and v:
            self.t = None                # glitch
        elif len(self.bits) == 10:
            self.t = None
            assert v == 1, "stop bit low on tx"
            return sum(b << i for i, b in enumerate(self.bits[1:9]))
        return None


def test_uart_bit_level():
    from amaranth.sim import Simulator
    from delaycore.link.link import LinkedCore
    div, timeout = 6, 2500
    dut = LinkedCore(CFG, clk_freq=6 * 115200, baud=115200, timeout_cycles=timeout)
    assert dut.divider == div
    model = DeviceModel(good_params(CFG, 0))
    # The RTL comes out of reset with zero weights and threshold 1, leak 0 ...: mirror that.
    for p in model.core.params.layers:
        p.weight.zero_()
        p.delay.zero_()
        p.threshold, p.leak, p.weight_shift, p.reset_mode = 1, 0, 0, 0
    script = [
        encode(fr.PING),
        encode(fr.WRITE, write_payload([(1, WEIGHT, 1, -2), (0, REGISTER, 1, 3)])),
        encode(fr.READ, read_payload([(1, WEIGHT, 1), (0, REGISTER, 1), (0, REGISTER, 0)])),
        encode(fr.EVENTS, events_payload([encode_event(CLEAR), encode_event(SPIKE, 2),
                                          encode_event(EOT)])),
        bytes([fr.SOF, fr.READ, 5]),            # truncated: the line goes quiet
        encode(fr.STATUS),
    ]
    expected = [model.feed(raw) for raw in script]
    seen = []

    async def bench(ctx):
        mon = UartMonitor(div)
        dec = FrameDecoder()

        async def idle(n):
            for _ in range(n):
                b = mon.step(ctx.get(dut.tx))
                if b is not None:
                    seen[-1] += dec.feed(bytes([b]))
                await ctx.tick()

        ctx.set(dut.rx, 1)
        await idle(20)
        for raw, (resp, outs, _) in zip(script, expected):
            seen.append([])
            for byte in raw:
                for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                    ctx.set(dut.rx, bit)
                    await idle(div)
            want = len(resp) + len(outs)
            waited = 0
            while len(seen[-1]) < want and waited < timeout + 40_000:
                await idle(100)
                waited += 100
            await idle(30 * div)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == len(script)
    assert [len(o) for _, o, _ in expected] == [0, 0, 0, CFG.n_out + 2, 0, 0]
    for raw, got, (resp, outs, _) in zip(script, seen, expected):
        assert [(f.cmd, f.payload) for f in got if f.cmd != fr.OUTPUT] == resp, raw.hex()
        assert [fr.parse_output(f.payload) for f in got if f.cmd == fr.OUTPUT] == outs, raw.hex()


# =================================================================================================
# 5. Randomised corrupt frames on Verilator (cocotb: verification/benches/link_tb.py)
# =================================================================================================
RTL_SEED = 7
RTL_TRANSACTIONS = 300
RTL_TIMEOUT = 200
TOP = "linkcore_top"


def random_frame(rng, model):
    """A valid frame that the models can follow."""
    cfg = model.core.cfg
    kind = rng.choices(["ping", "status", "read", "write", "events"], [1, 1, 3, 3, 3])[0]
    if kind == "ping":
        return encode(fr.PING)
    if kind == "status":
        return encode(fr.STATUS)
    recs = model.core.state_records()
    if kind == "read":
        return encode(fr.READ, read_payload(rng.sample(recs, rng.randint(1, min(20, len(recs))))))
    if kind == "write":
        writes = []
        for _ in range(rng.randint(1, 8)):
            l = rng.randrange(cfg.n_layers)
            s = cfg.layers[l]
            space = rng.choice([WEIGHT, WEIGHT, DELAY, REGISTER])
            if space == WEIGHT:
                a, d = rng.randrange(s.n_rows * s.n), rng.randint(*cfg.weight_range)
            elif space == DELAY and s.spiking:
                a, d = rng.randrange(s.n), rng.randrange(cfg.depth)
            elif space == REGISTER and rng.random() < 0.5:
                a, d = 0, rng.randint(1, max(1, s.v_max // 8))       # threshold
            else:
                a, d = 2, rng.randrange(4)                          # weight_shift
                space = REGISTER
            writes.append((l, space, a, d))
        if rng.random() < 0.1:
            writes.append((rng.randrange(16, 256), WEIGHT, 0, 1))  # dropped by the core
        return encode(fr.WRITE, write_payload(writes))
    return encode(fr.EVENTS, events_payload(make_words(rng, cfg, rng.randint(1, 3))))


def rtl_script(seed_, n):
    rng = random.Random(seed_)
    params = good_params(CFG, seed_)
    model = DeviceModel(params)
    txns = []
    corrupt_n = 0

    def add(raw, kind, label):
        resp, outs, executed = model.feed(raw)
        txns.append({"tx": raw.hex(), "kind": kind, "label": label,
                     "responses": [[c, p.hex()] for c, p in resp],
                     "outputs": [list(o) for o in outs]})
        return executed

    state_check = lambda: encode(fr.READ, read_payload(model.core.state_records()))  # noqa: E731
    load = load_words(params)
    for w in range(0, len(load), fr.MAX_WRITES):
        add(encode(fr.WRITE, write_payload(load[w:w + fr.MAX_WRITES])), "load", "image")
    for i in range(n):
        frame = random_frame(rng, model)
        if rng.random() < 0.5:
            prefix = bytes(rng.choice([0x00, 0xFF, 0x55, 0x5A]) for _ in range(rng.randrange(3)))
            add(prefix + frame, "valid", f"valid {frame[1]:#04x}")
            continue
        kind = rng.choice(["flip", "flip", "truncate", "drop", "oversize", "garbage",
                           "bad_length", "unknown"])
        if kind == "bad_length":
            cmd = frame[1]
            payload = frame[4:-2]
            payload = payload + b"\x00" if cmd in (fr.PING, fr.STATUS) or not payload \
                else payload[:-1]
            if cmd == fr.READ and rng.random() < 0.3:
                payload = read_payload([(0, 0, 0)] * 128)
            bad = encode(cmd, payload)
        elif kind == "unknown":
            bad = encode(rng.choice([0x00, 0x06, 0x7F, 0x81, 0x90, 0xEE, 0xFF]), frame[4:-2])
        else:
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            if kind == "oversize" and rng.random() < 0.5:
                junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1021, 1100) + 2))
            bad = corrupt(frame, kind, rng.randrange(1 << 16), rng.randrange(1, 256), junk)
            if kind == "oversize" and len(bad) > 4:
                n_ = bad[2] | bad[3] << 8
                bad = bad[:4] + bad[4:4 + n_ + 2]
        executed = add(bad, "corrupt", kind)
        corrupt_n += 1
        assert executed == 0, f"seed {seed_}: corrupt frame {i} ({kind}) would execute"
        add(state_check(), "check", f"state after {kind}")
    return {"seed": seed_, "timeout_cycles": RTL_TIMEOUT, "max_idle": 20 * RTL_TIMEOUT,
            "ready_p": 0.8, "transactions": txns}, corrupt_n


def build_link_verilator():
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner
    from delaycore.link.link import ByteLinkedCore
    from verification.runners.cosim import tool_path
    os.environ["PATH"] = tool_path()
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    text = verilog.convert(ByteLinkedCore(CFG, clk_freq=1e6, baud=125000,
                                          timeout_cycles=RTL_TIMEOUT), name=TOP, emit_src=False)
    build_dir = ROOT / "build" / "sim" / ("link-" + hashlib.sha1(text.encode()).hexdigest()[:12])
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{TOP}.v"
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    get_runner("verilator").build(sources=[src], hdl_toplevel=TOP, build_dir=build_dir,
                                  build_args=["-Wno-fatal", "-O2"], log_file=build_dir / "build.log")
    return build_dir


def test_rtl_random_corrupt_frames_verilator():
    from cocotb_tools.runner import get_runner
    from verification.runners.cosim import tool_path
    case, corrupt_n = rtl_script(RTL_SEED, RTL_TRANSACTIONS)
    build_dir = build_link_verilator()
    work = ROOT / "build" / "sim" / "cases" / f"link-seed{RTL_SEED}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    case_file, result_file = work / "case.json", work / "result.json"
    case_file.write_text(json.dumps(case))
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT / "verification" / "benches"), str(ROOT / "sw")]    # the runner hands sys.path over
    exit_code = None
    t0 = time.time()
    try:
        get_runner("verilator").test(
            hdl_toplevel=TOP, hdl_toplevel_lang="verilog", test_module="link_tb",
            test_dir=work, build_dir=build_dir, log_file=work / "sim.log",
            # cocotb's assertion rewriting builds a pytest Config, which would put this
            # project's pytest `pythonpath` (tests/, holding this file: test_link) first.
            extra_env={"LINK_CASE": str(case_file), "LINK_RESULT": str(result_file),
                       "PATH": tool_path(), "COCOTB_REWRITE_ASSERTION_FILES": ""},
            results_xml=str(work / "results.xml"))
    except SystemExit as e:        # under pytest the runner exits when the cocotb test failed
        exit_code = e.code
    finally:
        sys.path[:] = saved
    assert result_file.exists(), \
        f"seed {RTL_SEED}: no result (simulator exit {exit_code}); see {work / 'sim.log'}"
    r = json.loads(result_file.read_text())
    record_fuzz("rtl_verilator", rtl_frames_tried=len(case["transactions"]),
                rtl_state_corruptions=r["state_corruptions"], rtl_corrupt_frames=corrupt_n,
                rtl_state_checks=r["state_checks"], rtl_mismatches=r["mismatches"],
                rtl_seed=RTL_SEED, rtl_sim_seconds=round(time.time() - t0, 1), rtl_cycles=r["cycles"])
    assert r["passed"], f"seed {RTL_SEED}: {r['mismatches']} (log {work / 'sim.log'})"
    assert r["state_corruptions"] == 0
    assert r["transactions"] == len(case["transactions"])
    assert r["frames_checked"] == sum(len(t["responses"]) for t in case["transactions"])


# =================================================================================================
# 6. The driver: pyserial through a pseudo-terminal, and resends after injected faults
# =================================================================================================
def test_serial_transport_and_resends_over_pty():
    """CoreLink on SerialTransport (pyserial) against the device model behind a pty, with one
    corrupted WRITE, one lost READ response and one lost OUTPUT frame: all recovered."""
    pytest.importorskip("serial")
    import pty
    import select
    import threading
    from hostlink.transports import SerialTransport
    master, slave = pty.openpty()
    params = good_params(CFG, 3)
    model = DeviceModel(params)
    faults = {"write": 1, "read": 1, "output": 1}
    stop = threading.Event()

    def device():
        while not stop.is_set():
            if not select.select([master], [], [], 0.02)[0]:
                continue
            data = bytearray(os.read(master, 4096))
            if faults["write"] and len(data) > 6 and data[1] == fr.WRITE:
                faults["write"] -= 1
                data[6] ^= 0x08
            resp, outs, _ = model.feed(bytes(data), end_with_timeout=False)
            out = b""
            for o in outs:
                if faults["output"] and o[0] == SPIKE:
                    faults["output"] -= 1
                    continue
                item = ((o[0] | o[1] << 2).to_bytes(3, "little") +
                        (o[2] & 0xFFFFFF).to_bytes(3, "little"))
                out += encode(fr.OUTPUT, item)
            for cmd, p in resp:
                if faults["read"] and cmd == fr.READ | 0x80:
                    faults["read"] -= 1
                    continue
                out += encode(cmd, p)
            os.write(master, out)

    th = threading.Thread(target=device, daemon=True)
    th.start()
    try:
        t = SerialTransport(os.ttyname(slave), 115200)
        link = CoreLink(t, response_timeout=0.3)
        assert link.ping()["n_layers"] == CFG.n_layers
        link.load_image(params, verify="full")
        rng = random.Random(SEED + 3)
        words = make_words(rng, CFG, 4, bad=False)
        gold = GoldenNetwork(params).run_stream(words).outputs
        assert link.run_sample(words[1:], n_out=CFG.n_out) == gold
        st_ = link.status()
        assert st_["bad_crc"] == 1 and st_["steps"] == 8   # the sample ran twice
        assert faults == {"write": 0, "read": 0, "output": 0}
        assert link.stats["resends"] == 2 and link.stats["errors_received"] == 1
        t.close()
    finally:
        stop.set()
        th.join()
        os.close(master)
        os.close(slave)


def test_sim_transport_fault_injection():
    """The RTL behind SimTransport: the first WRITE frame is corrupted on its way; the driver
    gets BAD_CRC, resends, and the verified image is right."""
    hits = []

    def fault(direction, data):
        if direction == "out" and data[1] == fr.WRITE and not hits:
            hits.append(1)
            data = data[:-3] + bytes([data[-3] ^ 1]) + data[-2:]
        return data

    params = good_params(CFG, 4)
    t = SimTransport(CFG, fault=fault)
    link = CoreLink(t)
    link.load_image(params, verify="full")
    assert hits and link.stats["resends"] == 1 and link.stats["errors_received"] == 1
    assert link.status()["bad_crc"] == 1
