"""What a trained network fixes about the core, and what the board chooses.

The network fixes sizes, weight bits, ternary, delay depth, the input delay stage, recurrence
and n_out (`params.config`). The board chooses how weights are packed into memory words
(`weights_per_word`), lanes, whether the learning engine is built, the core clock and the UART
rate. The image the host loads is the same network repacked into the board's configuration.
"""

from corespec.errors import UserError
import dataclasses
from dataclasses import dataclass

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
    any number of layers (pair H only with two or more LIF layers)."""
    if cfg.input_delays:
        return "the network has the input delay stage (trained with --input-delays)"
    return None


def choose_learning(cfg: CoreConfig, board: str, requested: bool | None,
                    default: bool) -> tuple[bool, str]:
    """(learning, a line saying why). `requested` None: the board's default where the network
    qualifies (the fit check may still turn it off). LEARNING=1 on a network that cannot have
    the engine is a user error."""
    obstacle = learning_obstacle(cfg)
    if requested is True:
        if obstacle:
            raise DeployError(f"LEARNING=1: no learning engine possible, {obstacle}, expected "
                              f"LEARNING=0 or a network trained without --input-delays")
        return True, "learning engine: on (LEARNING=1)"
    if requested is False:
        return False, "learning engine: off (LEARNING=0)"
    if not default:
        return False, f"learning engine: off (the {board} default; LEARNING=1 builds it)"
    if obstacle:
        return False, f"learning engine: off ({obstacle})"
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
