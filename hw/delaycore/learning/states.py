"""Named states and phases of the learning engine's sequencer (docs/learning.md, section 6).

Both are `amaranth.lib.enum` shapes: a signal of them shows the names in amaranth.sim traces and
VCD files, and a testbench reads members back. States of a phase are listed together; the
numbering follows the declaration (nothing to keep by hand).
"""

from amaranth.lib import enum

# A load or readback address in space LEARN: addr[19:16] is the region (`corespec.learning.
# Region`), addr[15:0] the index in it.
REGION_LSB, REGION_BITS = 16, 4


def learn_region(addr):
    """The region of a space-LEARN address."""
    return addr[REGION_LSB:REGION_LSB + REGION_BITS]


def learn_index(addr):
    """The index of a space-LEARN address within its region."""
    return addr[:REGION_LSB]


def _from_zero(name, start, count, last_values):
    """`enum.auto()`: members numbered from 0 in declaration order."""
    return count


class State(enum.Enum, shape=6):
    """The sequencer's states. The core access subroutine (C_RD, C_RDW, C_WR) returns to the
    state its caller gave (`CoreAccess`)."""

    _generate_next_value_ = staticmethod(_from_zero)

    # The outside: forwarding (IDLE), its loads and readbacks, the end of a step.
    IDLE = enum.auto()          # forward input; take a label, a load or a readback request
    WAIT_OUT = enum.auto()      # an EOT / CLEAR passed: wait for the core's output marker
    XLD = enum.auto()           # decode an outside load (a register, or on to the core)
    XRQ = enum.auto()           # an outside readback request to the core
    XRD_CORE = enum.auto()      # ... its response
    XRD_LOCAL = enum.auto()     # an outside readback of space LEARN (the engine's own data)
    XRESP = enum.auto()         # ... its response
    # Core access subroutine.
    C_RD = enum.auto()          # readback request
    C_RDW = enum.auto()         # readback response
    C_WR = enum.auto()          # load
    # STEP 3.1: scores.
    SC = enum.auto()
    SC_UPD = enum.auto()
    # STEP 3.2-3.4, pair R (and psi of layer L for pair H), per neuron j of layer L.
    R_THR = enum.auto()         # layer L's threshold (pair H only)
    R_THR2 = enum.auto()
    R_HIST = enum.auto()        # delay of j
    R_H2 = enum.auto()          # membrane (pair H) or history of j
    R_D2 = enum.auto()          # history of j (pair H)
    R_UPD = enum.auto()         # trace (and psi)
    R_ALT = enum.auto()         # trace_alt
    R_EL = enum.auto()          # elig_w
    R_EL2 = enum.auto()         # elig_d
    # STEP, pair H: traces of layer L-1, then the synapses of row j.
    H_HIST = enum.auto()
    H_H2 = enum.auto()
    H_UPD = enum.auto()
    H_ALT = enum.auto()
    H_PREP = enum.auto()
    H_MUL = enum.auto()
    H_CALC = enum.auto()
    # LEARN 4.1: the ternary error.
    E_PREP = enum.auto()
    E_CALC = enum.auto()        # clear e, find the rival
    E_SY = enum.auto()          # score[y] is read
    E_Y = enum.auto()           # the hinge
    E_R = enum.auto()
    # LEARN 4.2/4.3: a walk over a weight memory, one word read (and written) at a time.
    W_START = enum.auto()
    W_RD = enum.auto()
    W_GOT = enum.auto()
    W_PREP = enum.auto()        # w
    W_MUL = enum.auto()         # products
    W_SH = enum.auto()          # shift and rounding, lr_shift + 1 cycles
    W_CALC = enum.auto()        # clamped weight, G, L_k
    W_ROW = enum.auto()
    W_DSTEP = enum.auto()
    W_NEXT = enum.auto()
    # Status counters (read-modify-write) and the clear of the state.
    CNT_RD = enum.auto()
    CNT_WR = enum.auto()
    CLR = enum.auto()


class Phase(enum.Enum, shape=4):
    """What the memory addresses follow (stable across core accesses)."""

    _generate_next_value_ = staticmethod(_from_zero)

    NONE = enum.auto()
    EXTERNAL = enum.auto()      # an outside readback of space LEARN: x_region, x_idx
    SCORE = enum.auto()         # STEP 3.1
    PAIR_R = enum.auto()        # STEP, pair R
    PAIR_H = enum.auto()        # STEP, pair H
    ERROR = enum.auto()         # LEARN 4.1
    SIGNAL = enum.auto()        # LEARN: L_k (a walk over the readout weights)
    WEIGHTS_H = enum.auto()     # LEARN: pair H's walk
    WEIGHTS_R = enum.auto()     # LEARN: pair R's walk
    CLEAR = enum.auto()         # the clear sweep
    COUNTER = enum.auto()       # a status counter's read-modify-write
