"""Named register presets of the on-chip learning engine: the settings the demonstrations use
(docs/learning.md, section 5 for each register's meaning and width), as a deployed board carries
them (`build/deploy/<run>-<board>/learning.json`, written by `make deploy` with the engine in).

A preset is a {register name: value} dict; `LearnRegisters(**preset)` checks every name and
width, so a preset that does not match docs/learning.md fails on import, not on a board.
"""

from golden_model.learning import (LearnRegisters, LEARN_ON, LEARN_W_R, LEARN_D_R, LEARN_W_H,
                                   LEARN_D_H, STOCHASTIC)

# a. sequence detection: only the hidden delays learn (pair H).
SEQUENCE_REGS = dict(enable=LEARN_ON | LEARN_D_H, trace_shift_H=5, trace_inc_H=64, psi_shift=1,
                     elig_shift_H=0, margin=64, delay_thresh_H=10)
# b. lag task: weights and delays of both pairs (the enable bits per mode in demos.LAG_MODES).
LAG_REGS = dict(lr_shift_R=12, lr_shift_H=22, trace_shift_R=4, trace_inc_R=64, trace_shift_H=5,
                trace_inc_H=64, psi_shift=1, elig_shift_R=2, elig_shift_H=0, margin=64,
                delay_thresh_R=0, delay_thresh_H=10, lfsr=12345)
# c. spoken digits: readout weights and last-layer delays (pair R); the host lowers lr_shift_R
# between epochs (fsdd_network.FSDD_LR_SCHEDULE).
FSDD_REGS = dict(lr_shift_R=8, lr_shift_H=14, trace_shift_R=4, trace_inc_R=64, trace_shift_H=3,
                 trace_inc_H=64, psi_shift=3, elig_shift_R=4, elig_shift_H=4, margin=16384,
                 delay_thresh_R=100, delay_thresh_H=100, lfsr=1,
                 enable=LEARN_ON | LEARN_W_R | LEARN_D_R | STOCHASTIC)

# For a network trained offline (make train -> make deploy): pair R at a small step. Selected on
# validation with the golden learner (= RTL), 700-128-10 ternary trained 20 epochs, 50 more
# training samples online: lr_shift_R 8 (demo c's, for learning from scratch) 91.2 % -> 10 %;
# 12: 82.8 %; 14: 90.8 %; 16: 91.2 %; 18: 90.8 %.
FINE_TUNE_REGS = dict(FSDD_REGS, lr_shift_R=16)

# Adaptation of a LOSO network to a new speaker (onchip_learning.adapt, issue 17): pair R at a
# very small step, replayed for a few passes (adapt.DEFAULT_PASSES). Mean over the five seed-0
# LOSO folds (700-128-10 ternary, input delays), speaker / forgetting in points: k=1 12 passes
# 64.7 -> 69.1 / 1.9; k=2 5 passes 69.9 / 1.7; k=5 3 passes 69.6 / 1.4. lr_shift_R 16 (the
# fine-tune preset) forgets 2-14 points; 22 barely moves.
ADAPT_REGS = dict(FSDD_REGS, lr_shift_R=19)

PRESETS = {
    "off": {"enable": 0},
    "fine-tune": dict(FINE_TUNE_REGS),                                 # trained networks
    "adapt": dict(ADAPT_REGS),                                         # a new speaker
    "readout": dict(FSDD_REGS),                                       # demo c
    "hidden-delays": dict(SEQUENCE_REGS),                             # demo a
    "all": dict(LAG_REGS, enable=LEARN_ON | LEARN_W_R | LEARN_D_R | LEARN_W_H | LEARN_D_H
                | STOCHASTIC),                                       # demo b, both pairs
}
DESCRIPTIONS = {
    "off": "learning off: labels are counted as ignored",
    "fine-tune": "readout weights and last-layer delays at a small step (lr_shift_R 16), for a "
                 "network trained offline; 'readout' (lr_shift_R 8) would overwrite it",
    "adapt": "readout weights and last-layer delays at a small step, for adapting a leave-one-"
             "speaker-out network to a new speaker from a few labelled words (delaysnn adapt)",
    "readout": "readout weights and last-layer delays (pair R), demo c's registers: large steps "
               "for learning from scratch",
    "hidden-delays": "delays of the last hidden layer only (pair H), demo a's registers",
    "all": "weights and delays of both pairs (R and H): demo b's registers, every pair on",
}

for _name, _regs in PRESETS.items():          # every preset is checked against the register map
    LearnRegisters(**_regs)


def presets_file() -> dict:
    """The JSON a deployed folder carries (learning.json)."""
    return {"default": "fine-tune",
            "presets": {k: {"registers": v, "description": DESCRIPTIONS[k]}
                        for k, v in PRESETS.items()}}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"no learning preset {name!r}; presets: {', '.join(PRESETS)}")
    return dict(PRESETS[name])
