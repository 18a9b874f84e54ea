"""The on-chip learning engine (spec: docs/learning.md, sections 3-6; golden: GoldenLearner).

The engine sits between the outside and the core (`LearningNetwork`): it forwards input events
(`i` -> `ci`) and readout outputs (`co` -> `o`), and owns the core's load and readback ports
(`core`, a `CorePort`); the outside's loads and readback requests (`host`) are latched and
replayed from the engine's request register (no combinational path from the host link into
the core's port engine).

It is built from named parts joined through their signatures:

* `LearnerMemories` (learning/memories.py): the state of spec section 2 and the scratch memories,
  one `MemoryPort` each;
* `LearnerRegisters` (learning/registers.py): the register file of spec section 5;
* `LearnerSequencer` (learning/sequencer.py): the state machine with named states (`State`,
  `Phase`: learning/states.py), the core access subroutine (`CoreAccess`: learning/core_port.py)
  and the datapath (learning/datapath.py: `TraceUnit`, `StochasticRounder` and the arithmetic).

Sizes and widths come from `LearnerGeometry` (learning/geometry.py).
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.config import CoreConfig
from delaycore.core.layouts import EventLayout, OutputLayout
from delaycore.learning.core_port import CorePort
from delaycore.learning.geometry import LearnerGeometry
from delaycore.learning.memories import LearnerMemories
from delaycore.learning.registers import LearnerRegisters
from delaycore.learning.sequencer import LearnerSequencer
from delaycore.learning.states import State, Phase

# The states and phases tests/test_learning_rtl.py measures the engine's phases with.
IDLE, WAIT_OUT, XRD_CORE, XRD_LOCAL, XRESP = (State.IDLE, State.WAIT_OUT, State.XRD_CORE,
                                              State.XRD_LOCAL, State.XRESP)
PH_SCORE, PH_E, PH_CLR = Phase.SCORE, Phase.ERROR, Phase.CLEAR


class Learner(wiring.Component):
    """The learning engine of a network (`config`).

    Members
    -------
    i, ci: input events from the outside, to the core.
    co, o: the core's outputs, to the outside.
    host: :py:`In(CorePort())`    the outside's loads and readback requests.
    core: :py:`Out(CorePort())`   the core's load and readback ports.
    label: :py:`In(stream.Signature(16))`    the class of the sample just stepped (LEARN).

    After elaboration, `fsm_state` and `fsm_phase` are the sequencer's state and phase (for
    testbenches: cycle counts).
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        self.geometry = LearnerGeometry(config)
        out = OutputLayout(config.v_bits)
        super().__init__({
            "i": In(stream.Signature(EventLayout)), "ci": Out(stream.Signature(EventLayout)),
            "co": In(stream.Signature(out)), "o": Out(stream.Signature(out)),
            "host": In(CorePort()), "core": Out(CorePort()),
            "label": In(stream.Signature(16)),
        })

    def elaborate(self, platform):
        m = Module()
        g = self.geometry
        m.submodules.memories = memories = LearnerMemories(g)
        m.submodules.registers = registers = LearnerRegisters(g.has_H)
        m.submodules.sequencer = sequencer = LearnerSequencer(g)
        wiring.connect(m, memories, sequencer.memories)
        wiring.connect(m, registers, sequencer.registers)
        for name in ("i", "co", "host", "label"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(sequencer, name))
        for name in ("ci", "o", "core"):
            wiring.connect(m, getattr(sequencer, name), wiring.flipped(getattr(self, name)))
        self.fsm_state, self.fsm_phase = sequencer.state, sequencer.phase
        return m
