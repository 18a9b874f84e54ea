"""What a trained network fixes about the core, and what the board chooses.

The network fixes sizes, weight bits, ternary, delay depth, the input delay stage, recurrence
and n_out (`params.config`). The board chooses how weights are packed into memory words
(`weights_per_word`), lanes, whether the learning engine is built, the core clock and the UART
rate. The image the host loads is the same network repacked into the board's configuration.
"""

from corespec.errors import UserError
import copy
import dataclasses
from dataclasses import dataclass

import numpy as np

from corespec.config import CoreConfig
from golden_model.params import NetworkParams

WORD_BITS = 16          # SB_SPRAM256KA is 16 bits wide: the UP5K keeps big weight memories there


class DeployError(UserError, ValueError):
    """A user error: one line '<what>, expected <what>' on stderr and exit status 2."""


def weights_per_word(cfg: CoreConfig) -> int:
    """Most weights (a power of two) in a 16-bit word: ternary/2-bit 8, 3/4-bit 4, 5..8-bit 2.
    16-bit words are what puts a large weight memory into SPRAM on the UP5K
    (WeightMemory.use_spram) and into whole 18-bit DP16KD words on the ECP5."""
    p = 1
    while p * 2 * cfg.weight_bits <= WORD_BITS and p * 2 <= 16:
        p *= 2
    return p


def learning_obstacle(cfg: CoreConfig) -> str | None:
    """Why the on-chip learning engine cannot be built for this network, or None.
    LearningNetwork rejects the input delay stage (docs/core.md 2.7); the Learner itself takes
    any number of layers (pair H only with two or more LIF layers). `--host-input-delays`
    (`host_delayed`) removes this obstacle."""
    if cfg.input_delays:
        return "the network has the input delay stage (trained with --input-delays)"
    return None


HOST_DELAYS_HINT = ("--host-input-delays (HOST_INPUT_DELAYS=1) builds the engine with the "
                    "stage moved to the host")


# -- the input delay stage on the host ---------------------------------------------------------
# A core with the learning engine is built without the input delay stage (docs/core.md 2.7). The
# stage is "counts -> spikes, then each channel delayed by its delay", so the host can do it
# before streaming: the same layers without the stage (`host_delayed`), fed the delayed 0/1
# spikes (`delay_input` / `apply_input_delays`), give every readout value of the original network.
# `delaysnn deploy --host-input-delays` deploys that network and records the delays in deploy.json
# ("host_input_delays"); hostlink applies them to every sample it streams or evaluates.

def host_delayed(params):
    """The same network without the input delay stage, for a core with the learning engine: the
    host sends each channel's spikes already delayed (`delay_input`); every readout value is the
    same. max_events is raised to n_in where it was lower: the stage emits up to n_in spikes a
    step (so the accumulator widths stay those of the network with the stage, docs/core.md 2)."""
    if not params.config.input_delays:
        return params
    cfg = params.config
    cfg = dataclasses.replace(cfg, input_delays=False, max_events=max(cfg.max_events, cfg.n_in))
    return NetworkParams(cfg, copy.deepcopy(params.layers), None)


def apply_input_delays(x, delays) -> np.ndarray:
    """Rasters [..., T, n_in] (spike counts) through an input delay stage with `delays` (one per
    channel): y[..., t, c] = (x[..., t - d_c, c] > 0), 0 before the start; spikes delayed past
    the last step are lost, as on the core. uint8."""
    s = np.asarray(x) > 0
    d = np.asarray(delays, dtype=np.int64).reshape(-1)
    if s.ndim < 2 or s.shape[-1] != d.size:
        raise ValueError(f"input delays: {d.size} channel delays for input of shape {s.shape}")
    t = np.arange(s.shape[-2])[:, None] - d[None, :]                       # [T, n_in]
    idx = np.broadcast_to(np.clip(t, 0, None), s.shape)
    return (np.take_along_axis(s, idx, axis=-2) & (t >= 0)).astype(np.uint8)


def delay_input(params, x) -> np.ndarray:
    """Rasters [N, T, n_in] (or [T, n_in]) through the input delay stage of `params` (0/1), as
    the host sends them to a core built without it; unchanged for a network without the stage."""
    if not params.config.input_delays:
        return np.asarray(x)
    return apply_input_delays(x, params.input_delay.tolist())


def choose_learning(cfg: CoreConfig, board: str, requested: bool | None,
                    default: bool) -> tuple[bool, str]:
    """(learning, a line saying why). `requested` None: the board's default where the network
    qualifies (the fit check may still turn it off). LEARNING=1 on a network that cannot have
    the engine is a user error."""
    obstacle = learning_obstacle(cfg)
    if requested is True:
        if obstacle:
            raise DeployError(f"LEARNING=1: no learning engine possible, {obstacle}, expected "
                              f"LEARNING=0, a network trained without --input-delays, or "
                              f"{HOST_DELAYS_HINT}")
        return True, "learning engine: on (LEARNING=1)"
    if requested is False:
        return False, "learning engine: off (LEARNING=0)"
    if not default:
        return False, f"learning engine: off (the {board} default; LEARNING=1 builds it)"
    if obstacle:
        return False, f"learning engine: off ({obstacle}; {HOST_DELAYS_HINT})"
    return True, f"learning engine: on (the {board} default; LEARNING=0 leaves it out)"


def board_config(cfg: CoreConfig, lanes: int = 1) -> CoreConfig:
    """The network's configuration with the board's packing and lanes."""
    try:
        return dataclasses.replace(cfg, weights_per_word=weights_per_word(cfg), lanes=lanes)
    except ValueError as e:
        raise DeployError(f"lanes={lanes}: {e}, expected lanes that divide every layer size") from None


def repack(params: NetworkParams, cfg: CoreConfig) -> NetworkParams:
    """The same layers and input delays under the board's configuration (packing is a matter of
    the load words, not of the parameters)."""
    return NetworkParams(cfg, params.layers, params.input_delay)


def network_name(cfg: CoreConfig) -> str:
    """'700-128-20 ternary' / '40-64-64-2 4-bit, recurrent, input delays': for messages."""
    name = "-".join(str(n) for n in (cfg.n_in, *cfg.sizes, cfg.n_out))
    name += " ternary" if cfg.ternary else f" {cfg.weight_bits}-bit"
    if any(cfg.recurrent):
        name += ", recurrent"
    if cfg.input_delays:
        name += ", input delays"
    return name


@dataclass(frozen=True)
class Target:
    """Everything the board top is built from, and what the device will report."""
    board: str
    config: CoreConfig
    learning: bool
    pll: object
    clk_hz: float
    baud: int
    dsp: bool = False

    def top(self):
        from delaycore.boards.top import BoardTop
        return BoardTop(self.config, baud=self.baud, pll=self.pll, learning=self.learning,
                        board=self.board)

    def identity(self) -> dict:
        from corespec.identity import identity
        return identity(self.config, learning=self.learning, baud=self.baud, clk_hz=self.clk_hz,
                        board=self.board)


def make_target(cfg: CoreConfig, board: str, learning: bool, *, baud: int | None = None,
                pll_mhz: float | None = None, dsp: bool = False) -> Target:
    """Core clock from the board's PLL settings (slower with the learning engine where it
    needs it), UART rate from the clock (build.choose_baud) unless `baud` is given."""
    from delaycore.boards import build as B
    try:
        pll = B.core_pll(board, learning, pll_mhz)
    except ValueError as e:
        raise DeployError(f"PLL={pll_mhz:g}: {e}") from None
    clk_hz = B.core_clock_hz(B.platform_of(board), pll)
    if baud is None:
        baud = B.choose_baud(clk_hz)
    elif round(clk_hz / baud) < 4 or B.baud_error(clk_hz, baud) > B.MAX_BAUD_ERROR:
        raise DeployError(f"BAUD={baud}: {100 * B.baud_error(clk_hz, baud):.2f} % off at a "
                          f"{clk_hz / 1e6:g} MHz core clock, expected a rate within 2 % "
                          f"(e.g. {B.choose_baud(clk_hz)})")
    return Target(board, cfg, learning, pll, clk_hz, baud, dsp)
