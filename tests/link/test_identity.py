"""Device identity (IDENT, docs/link.md) and load safety: every check of an image happens before
the first word is written, and a device built for another network is refused by name.

The RTL runs in amaranth.sim behind the unchanged host driver (SimTransport); a recording
transport shows which commands reached the device.
"""

import dataclasses
import json

import pytest

from corespec.identity import (IdentityError, first_difference, identity, identity_bytes,
                               parse_identity)
from golden_model import CoreConfig, load_words, random_params
from hostlink import frames as fr
from hostlink.driver import CoreLink, ImageMismatch, LinkError
from hostlink.transports import SimTransport
from hostlink.image import ImageError, check_learning_registers, image_params, read_image, save_image

CFG = CoreConfig(n_in=4, sizes=(3,), n_out=2, weight_bits=4, depth=4, v_bits=12)


class RecordingTransport(SimTransport):
    """SimTransport that remembers the command byte of every frame the host sends."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = []

    def write(self, data: bytes):
        self.sent.append(data[1])
        super().write(data)


def test_identity_bytes_are_canonical_and_hashed():
    a = identity(CFG, learning=False, baud=3_000_000, clk_hz=24e6, board="icebreaker")
    raw = identity_bytes(CFG, learning=False, baud=3_000_000, clk_hz=24e6, board="icebreaker")
    assert parse_identity(raw) == a
    assert json.loads(raw) == a and b" " not in raw
    # Every parameter changes the hash.
    for change in (dict(learning=True), dict(baud=2_000_000), dict(clk_hz=12e6), dict(board="ulx3s")):
        kw = dict(learning=False, baud=3_000_000, clk_hz=24e6, board="icebreaker") | change
        assert identity(CFG, **kw)["hash"] != a["hash"], change
    assert identity(dataclasses.replace(CFG, depth=8), learning=False, baud=3_000_000,
                    clk_hz=24e6, board="icebreaker")["hash"] != a["hash"]
    # A tampered identity is refused.
    bad = raw.replace(b'"depth":4', b'"depth":8')
    with pytest.raises(IdentityError, match="hash"):
        parse_identity(bad)
    with pytest.raises(IdentityError, match="not JSON"):
        parse_identity(b"DSNN\x01\x02")


def test_first_difference_names_the_first_key():
    assert first_difference({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}}) == "b.c: 2 != 3"
    assert first_difference({"a": 1}, {"a": 1}) is None
    assert first_difference({"a": 1}, {}) == "a: 1 != '<absent>'"


def test_rtl_ident_reports_what_it_was_built_for():
    t = RecordingTransport(CFG, learning=False)
    link = CoreLink(t)
    got = link.identify()
    assert got == identity(CFG, learning=False, baud=1e6 / 8, clk_hz=1e6)
    assert got["config"]["depth"] == 4 and got["learning"] is False
    # IDENT with a payload is a BAD_LENGTH, answered with ERROR and nothing else.
    link.t.write(fr.encode(fr.IDENT, b"\x00"))
    frames = fr.FrameDecoder().feed(link.t.read(link.t.response_timeout))
    assert [(f.cmd, f.payload) for f in frames] == [(fr.ERROR, bytes([fr.BAD_LENGTH, fr.IDENT]))]


def test_rtl_ident_of_a_learning_device():
    cfg = CoreConfig(n_in=3, sizes=(4, 3), n_out=2, weight_bits=4, depth=4, v_bits=12)
    got = CoreLink(SimTransport(cfg, learning=True)).identify()
    assert got["learning"] is True and got["config"]["sizes"] == [4, 3]


def test_load_refuses_another_configuration_before_any_write():
    t = RecordingTransport(CFG)
    link = CoreLink(t)
    other = dataclasses.replace(CFG, depth=8)
    with pytest.raises(ImageMismatch, match=r"config\.depth: 8 != 4"):
        link.load_image(random_params(other, 1))
    assert fr.WRITE not in t.sent and t.sent == [fr.IDENT]
    # The matching image loads and verifies.
    rep = link.load_image(random_params(CFG, 1), verify="full")
    assert rep["device"]["config"]["depth"] == 4 and rep["checked"] > 0


@pytest.mark.parametrize("break_it, message", [
    (lambda w: w[:-1], "incomplete image: no write of layer 1 delay|incomplete image: no write"),
    (lambda w: [x for x in w if not (x[0] == 0 and x[1] == 2 and x[2] == 1)],
     "no write of layer 0 leak"),
    (lambda w: w + [w[5]], "written 2 times"),
    (lambda w: w + [(0, 1, 3, 0)], "layer 0 space 1 addr 3 is outside"),
    (lambda w: [(l, s, a, 99 if (s == 0 and a == 0 and l == 0) else d) for l, s, a, d in w],
     "layer 0 field 'weight': value 99"),
    (lambda w: [(l, s, a, 4 if (s == 1 and l == 0 and a == 2) else d) for l, s, a, d in w],
     r"layer 0 field 'delay': value 4 at index \(2,\) out of range \[0, 3\]"),
    (lambda w: [(l, s, a, 0 if (s == 2 and a == 0 and l == 0) else d) for l, s, a, d in w],
     "layer 0 field 'threshold': value 0"),
])
def test_bad_images_are_refused_before_the_first_write(break_it, message):
    writes = break_it(list(load_words(random_params(CFG, 2))))
    t = RecordingTransport(CFG)
    with pytest.raises(ImageError, match=message):
        CoreLink(t).load_image(writes, config=CFG)
    assert t.sent == []


def test_exact_boundaries_are_accepted():
    """The rails themselves: delay D-1, weight -8 and 7, threshold v_max, leak v_bits-1."""
    p = random_params(CFG, 3)
    p.layers[0].delay[0] = CFG.depth - 1
    p.layers[0].weight[0, 0], p.layers[0].weight[0, 1] = -8, 7
    p.layers[0].threshold, p.layers[0].leak = (1 << 11) - 1, 11
    assert image_params(CFG, load_words(p)).layers[0].threshold == 2047


def test_packed_weight_words_are_checked():
    cfg = CoreConfig(n_in=4, sizes=(4,), n_out=2, weight_bits=2, ternary=True, depth=4,
                     weights_per_word=4)
    writes = load_words(random_params(cfg, 4))
    assert image_params(cfg, writes).config.weights_per_word == 4
    # 0b10 in a ternary field is -2: outside [-1, 1].
    bad = [(l, s, a, 0b10 if (l, s, a) == (0, 0, 0) else d) for l, s, a, d in writes]
    with pytest.raises(ImageError, match="field 'weight': value -2"):
        image_params(cfg, bad)
    bad = [(l, s, a, 1 << 8 if (l, s, a) == (0, 0, 0) else d) for l, s, a, d in writes]
    with pytest.raises(ImageError, match="not a 8-bit word"):
        image_params(cfg, bad)


def test_image_files_fail_with_the_file_name(tmp_path):
    path = tmp_path / "image.json"
    d = save_image(path, random_params(CFG, 5))
    cfg, writes, _ = read_image(path)
    assert cfg == CFG and len(writes) == len(d["writes"])
    (tmp_path / "trunc.json").write_text(path.read_text()[:300])
    with pytest.raises(ImageError, match=r"trunc\.json: truncated or malformed JSON at line 1 column 301"):
        read_image(tmp_path / "trunc.json")
    (tmp_path / "params.pt").write_bytes(b"\x80\x02binary")
    with pytest.raises(ImageError, match=r"params\.pt: binary data, not an image JSON \(expected the image\.json"):
        read_image(tmp_path / "params.pt")
    edited = json.loads(path.read_text())
    edited["writes"][0][3] += 1
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(ImageError, match="sha256"):
        read_image(tmp_path / "edited.json")
    unknown = json.loads(path.read_text())
    unknown["config"]["n_inputs"] = 4
    (tmp_path / "unknown.json").write_text(json.dumps(unknown))
    with pytest.raises(ImageError, match="unknown configuration key 'n_inputs' \\(expected one of depth, "):
        read_image(tmp_path / "unknown.json")
    with pytest.raises(ImageError, match="missing.json: cannot read"):
        read_image(tmp_path / "missing.json")


def test_learning_register_names_and_widths():
    assert check_learning_registers({"enable": 7, "lr_shift_R": 31}) == [(0, 7), (1, 31)]
    with pytest.raises(ImageError, match="no learning register 'lr_shift_r'"):
        check_learning_registers({"lr_shift_r": 4})
    with pytest.raises(ImageError, match=r"lr_shift_R = 32 is not an integer in \[0, 31\]"):
        check_learning_registers({"lr_shift_R": 32})


def test_labels_to_a_device_without_the_engine_are_an_error():
    link = CoreLink(SimTransport(CFG))
    with pytest.raises(LinkError, match="no learning engine"):
        link.label(1)
    with pytest.raises(ImageMismatch, match="no learning engine"):
        link.check_device(CFG, learning=True)


def test_uart_divider_refuses_a_rate_more_than_two_percent_off():
    from delaycore.link.uart import divider
    assert divider(24e6, 3_000_000) == 8           # iCEBreaker: exact
    assert divider(80e6, 3_000_000) == 27          # ULX3S: 1.2 % off
    assert divider(40e6, 2_000_000) == 20
    with pytest.raises(ValueError, match=r"2\.6 % off"):
        divider(40e6, 3_000_000)                   # 13 -> 3.08 Mbaud
    with pytest.raises(ValueError, match="at least 4"):
        divider(12e6, 4_000_000)
