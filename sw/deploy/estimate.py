"""Will it fit? A resource estimate of a board build in seconds, before any synthesis.

Memories: the board top is elaborated to RTLIL (what yosys reads) and every memory it declares
is mapped to the device's RAM the way yosys's memory_libmap does:
  iCE40: every memory to SB_RAM40_4K (256x16 / 512x8 / 1024x4 / 2048x2, the fewest tiles),
         weight memories of 16 x >2048 are SB_SPRAM256KA instances already (WeightMemory);
  ECP5:  DP16KD (16384x1 ... 1024x18, 512x36; cost 128 a tile) unless distributed RAM
         (TRELLIS_DPR16X4, 16x4, cost 4 a cell) is cheaper, or `ram_style = "block"` forces it.
Checked against yosys's own mapping of the default builds (700-128-20 UP5K with and without the
learning engine, 700-128-128-20 ECP5 with and without): the same memories in the same RAMs. yosys
may still save a tile by trimming unused bits (FSDD 700-128-10 with the input stage: 27 estimated,
26 used), so the block RAM estimate errs on the safe side.

Logic: a model whose terms are differences between measured builds (LOGIC_MODEL, the
README's board tables; the per-layer and weight-width terms from yosys runs of variants scaled to
the device's cells). The calibration builds are reproduced by construction, so the error that
counts is the one on builds outside that set (LOGIC_CHECKS): see `model_error()`.
"""

import re
from dataclasses import dataclass, field
from math import ceil

from corespec.config import CoreConfig

from .derive import DeployError, Target, network_name

# board -> device figures (what nextpnr reports as available).
DEVICES = {
    "icebreaker": {"device": "iCE40UP5K", "family": "ice40", "logic_unit": "LC",
                   "capacity": {"logic": 5280, "RAM40": 30, "SPRAM": 4}},
    "ulx3s": {"device": "LFE5U-85F", "family": "ecp5", "logic_unit": "LUT",
              "capacity": {"logic": 83640, "DP16KD": 208}},
}
RESOURCE_NAMES = {"logic": "logic", "RAM40": "SB_RAM40_4K block RAM", "SPRAM": "SPRAM (16k x 16)",
                  "DP16KD": "DP16KD block RAM"}

ICE40_RAM = ((256, 16), (512, 8), (1024, 4), (2048, 2))                  # depth, width
ECP5_RAM = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
ECP5_BRAM_COST, ECP5_LUTRAM_COST = 128, 4                               # yosys brams_16kd.txt / lutrams_trellis.txt
SPRAM_WORDS = 16384


def tiles(width: int, depth: int, shapes) -> int:
    """Fewest RAM tiles of the given (depth, width) configurations that hold width x depth."""
    return min(ceil(width / w) * ceil(depth / d) for d, w in shapes)


def lutram_cells(width: int, depth: int) -> int:
    return ceil(width / 4) * ceil(depth / 16)


@dataclass
class Memory:
    name: str
    width: int
    depth: int
    block: bool          # ram_style = "block"


def rtlil_memories(rtlil: str) -> tuple[list[Memory], int]:
    """The memories an RTLIL file declares (with their ram_style) and its SB_SPRAM256KA cells.
    Amaranth writes one RTLIL module per instance, so a declaration is one memory."""
    mems, block, spram = [], False, 0
    for line in rtlil.splitlines():
        s = line.strip()
        if s.startswith("attribute \\ram_style"):
            block = '"block"' in s
            continue
        if s.startswith("attribute "):
            continue
        if m := re.match(r"memory width (\d+) size (\d+) (\S+)", s):
            mems.append(Memory(m[3], int(m[1]), int(m[2]), block))
        elif s.startswith("cell \\SB_SPRAM256KA "):
            spram += 1
        block = False
    return mems, spram


def memory_use(family: str, mems: list[Memory], spram: int) -> dict:
    """Block RAM tiles (and distributed-RAM cells on the ECP5) yosys will use for these memories."""
    if family == "ice40":
        return {"RAM40": sum(tiles(m.width, m.depth, ICE40_RAM) for m in mems), "SPRAM": spram}
    bram = lut = 0
    for m in mems:
        t, c = tiles(m.width, m.depth, ECP5_RAM), lutram_cells(m.width, m.depth)
        if not m.block and c * ECP5_LUTRAM_COST < t * ECP5_BRAM_COST:
            lut += c
        else:
            bram += t
    return {"DP16KD": bram, "lutram_cells": lut}


# -- logic -----------------------------------------------------------------------------------
# Each term is one measured difference (README board tables, commit log) or, where no board build
# isolates it, a yosys synthesis of the two variants scaled to the device's cells (marked).
LOGIC_MODEL = {
    "ice40": {                  # nextpnr ICESTORM_LC
        "reference": 3448,      # 700-128-20 ternary, D=32, P=8, no learning engine
        "ref_lif_layers": 1,
        "lif_layer": 860,       # yosys 700-128-128-20 vs 700-128-20: +675 LUT4, +311 FF (x LC/cell of the reference)
        "per_weight_bit": 35,   # yosys 4-bit P=4 vs ternary P=8: +85 LUT4, -25 FF -> +70 LC for 2 bits
        "input_stage": 536,     # 3,984 - 3,448
        "learning": 1722,       # 5,170 - 3,448 (one LIF layer: pair R only)
        "learning_pair_h": 500,  # not measured on the UP5K: the small-network synthesis figures
        "lane_per_layer": 660,  # not measured on the UP5K: the ECP5 figure
        "bank_mux": 6,          # x4 per extra block-RAM bank of a weight memory (16-bit read mux: ~24 LUT4)
        "link_ident": 19,       # the IDENT ROM: learning build 5,189 - 5,170 (seed 1)
    },
    "ecp5": {                   # nextpnr TRELLIS_COMB
        "reference": 5020,      # 700-128-128-20 ternary, D=32, P=8, no learning engine
        "ref_lif_layers": 2,
        "lif_layer": 973,       # yosys 700-128-128-20 vs 700-128-20: +741 LUT4, +44 CCU2C, +16 DPR16X4
        "per_weight_bit": 35,   # not measured on the ECP5: the UP5K figure
        "input_stage": 98,      # 5,118 - 5,020
        "learning": 1344,       # 6,864 - 5,020 = 1,844 with pair H (two LIF layers), less pair H
        "learning_pair_h": 500,
        "lane_per_layer": 660,  # 7,001 - 5,020 = 1,981 over 3 layers, lanes 2
        "bank_mux": 6,
        "link_ident": 33,       # the IDENT ROM: default build 5,053 - 5,020 (seed 1)
    },
}
# The reference builds' weight-memory banks beyond the first (their mux is in "reference").
REF_EXTRA_BANKS = {"ice40": 0, "ecp5": 10}   # ECP5: 11,200 words of 16 bits in 11 x 1024x18


def weight_banks(family: str, cfg: CoreConfig) -> int:
    """Block-RAM banks (tiles deep) of the weight memories beyond the first of each: each adds
    an input to the read multiplexer. SPRAM weight memories (UP5K) are in the reference."""
    extra = 0
    for s in cfg.layers:
        width = s.weights_per_word * s.weight_bits
        if family == "ice40" and width == 16 and s.weight_words > 2048:
            continue
        shapes = ICE40_RAM if family == "ice40" else ECP5_RAM
        d, w = min(shapes, key=lambda dw: (ceil(width / dw[1]) * ceil(s.weight_words / dw[0]),
                                           ceil(s.weight_words / dw[0])))
        extra += ceil(s.weight_words / d) - 1
    return extra


# Revisions of the host link the measured builds were made on (the calibration builds predate
# the identity ROM); an estimate is for the current one.
LINK_REVISIONS = {"base": (), "ident": ("link_ident",), "current": ("link_ident",)}


def logic_estimate(family: str, cfg: CoreConfig, learning: bool, rev: str = "current") -> int:
    """Logic cells (UP5K LC / ECP5 LUT) of a board build, from LOGIC_MODEL, for the host link
    revision `rev`."""
    m = LOGIC_MODEL[family]
    n_lif = len(cfg.sizes)
    est = m["reference"] + m["lif_layer"] * (n_lif - m["ref_lif_layers"])
    est += m["per_weight_bit"] * (cfg.weight_bits - 2) * (n_lif + 1)
    est += m["input_stage"] * cfg.input_delays
    if learning:
        est += m["learning"] + m["learning_pair_h"] * (n_lif >= 2)
    est += m["lane_per_layer"] * (cfg.lanes - 1) * (n_lif + 1)
    est += m["bank_mux"] * (weight_banks(family, cfg) - REF_EXTRA_BANKS[family]) * 4
    est += sum(m[term] for term in LINK_REVISIONS[rev])
    return int(est)


def _ref(**kw) -> CoreConfig:
    base = dict(n_in=700, sizes=(128,), n_out=20, weight_bits=2, ternary=True, depth=32,
                weights_per_word=8)
    return CoreConfig(**{**base, **kw})


# (family, configuration, learning, measured logic, link revision, where it was measured)
LOGIC_CALIBRATION = [
    ("ice40", _ref(), False, 3448, "base", "README: iCEBreaker LEARNING=0"),
    ("ice40", _ref(input_delays=True), False, 3984, "base", "README: iCEBreaker INPUT_DELAYS=1"),
    ("ice40", _ref(), True, 5170, "base", "README: iCEBreaker default (learning), commit 66b6db7"),
    ("ecp5", _ref(sizes=(128, 128)), False, 5020, "base", "README: ULX3S default"),
    ("ecp5", _ref(sizes=(128, 128), input_delays=True), False, 5118, "base", "README: ULX3S INPUT_DELAYS=1"),
    ("ecp5", _ref(sizes=(128, 128)), True, 6864, "base", "README: ULX3S LEARNING=1"),
    ("ecp5", _ref(sizes=(128, 128), lanes=2), False, 7001, "base", "README: ULX3S LANES=2"),
    # The link revisions' terms.
    ("ice40", _ref(), True, 5189, "ident", "make bitstream BOARD=icebreaker: IDENT ROM, seed 1"),
    ("ecp5", _ref(sizes=(128, 128)), False, 5053, "ident", "make bitstream BOARD=ulx3s: IDENT ROM, seed 1"),
]
# Builds that no term was taken from (the model's honest error), added as they are measured.
LOGIC_CHECKS = [
    ("ice40", _ref(n_out=10, input_delays=True), False, 3993, "ident",
     "make deploy: FSDD 700-128-10 ternary, input delays, 2 epochs (seed 1, 24.06 MHz; "
     "RAM40 26 estimated 27)"),
    ("ice40", _ref(), False, 3483, "ident",
     "make bitstream BOARD=icebreaker LEARNING=0 with the IDENT ROM (seed 1, "
     "24.96 MHz; RAM40 19 estimated 19)"),
    ("ecp5", _ref(sizes=(256, 128), n_out=10, input_delays=True), False, 4741, "ident",
     "make deploy BOARD=ulx3s: FSDD 700-256-128-10 ternary, input delays (seed 1, 75.08 MHz; "
     "DP16KD 42 estimated 42)"),
]


def model_error(points=None) -> dict:
    """Max and mean relative error of logic_estimate on measured builds (the calibration set by
    default; LOGIC_CHECKS for the builds it was not fitted to)."""
    points = LOGIC_CALIBRATION if points is None else points
    errs = [abs(logic_estimate(f, c, l, rev) - got) / got for f, c, l, got, rev, _ in points]
    return {"points": len(errs), "max_rel_error": round(max(errs), 4) if errs else None,
            "mean_rel_error": round(sum(errs) / len(errs), 4) if errs else None}


# -- the estimate of one target ----------------------------------------------------------------
@dataclass
class Estimate:
    board: str
    device: str
    used: dict                     # resource -> estimated use
    capacity: dict
    memories: int = 0              # memories declared in the RTLIL
    notes: list = field(default_factory=list)

    def over(self) -> dict:
        """resource -> (estimated, available) where the estimate exceeds the device."""
        return {k: (self.used[k], c) for k, c in self.capacity.items() if self.used.get(k, 0) > c}

    @property
    def fits(self) -> bool:
        return not self.over()

    def as_dict(self) -> dict:
        unit = DEVICES[self.board]["logic_unit"]
        return {"device": self.device, "logic_unit": unit, "used": self.used,
                "available": self.capacity, "fits": self.fits, "memories": self.memories,
                "logic_model_error": {"calibration": model_error(),
                                      "independent": model_error(LOGIC_CHECKS)},
                "notes": self.notes}


def weight_spram_demand(cfg: CoreConfig) -> int:
    """SPRAMs the UP5K's weight memories need (WeightMemory.use_spram), without elaborating:
    elaboration refuses a single memory of more than 4."""
    return sum(ceil(s.weight_words / SPRAM_WORDS) for s in cfg.layers
               if s.weights_per_word * s.weight_bits == 16 and s.weight_words > 2048)


def weight_bram_demand(cfg: CoreConfig) -> int:
    """DP16KD tiles of the ECP5's weight memories alone (a lower bound of the total)."""
    return sum(tiles(s.weights_per_word * s.weight_bits, s.weight_words, ECP5_RAM) for s in cfg.layers)


def elaborate_rtlil(target: Target) -> str:
    from delaycore.boards import build as B
    platform = B.platform_of(target.board)
    plan = platform.prepare(target.top(), name="top")
    return plan.files["top.il"]


def estimate(target: Target) -> Estimate:
    """The resource estimate of a target (about 1-3 s: one elaboration)."""
    dev = DEVICES[target.board]
    family, cfg = dev["family"], target.config
    used = {"logic": logic_estimate(family, cfg, target.learning)}
    est = Estimate(target.board, dev["device"], used, dict(dev["capacity"]))
    if family == "ice40" and (demand := weight_spram_demand(cfg)) > dev["capacity"]["SPRAM"]:
        used["SPRAM"] = demand            # too big to elaborate; block RAM not counted
        est.notes.append("block RAM not estimated: the weight memories alone exceed the SPRAMs")
        return est
    if family == "ecp5" and (demand := weight_bram_demand(cfg)) > dev["capacity"]["DP16KD"]:
        used["DP16KD"] = demand           # no need to elaborate a design this far over
        est.notes.append("DP16KD: the weight memories alone (the rest not counted)")
        return est
    try:
        mems, spram = rtlil_memories(elaborate_rtlil(target))
    except ValueError as e:
        raise DeployError(f"the core cannot be built for {network_name(cfg)}: {e}, "
                          f"expected a configuration the RTL accepts") from None
    used.update(memory_use(family, mems, spram))
    est.memories = len(mems)
    return est
