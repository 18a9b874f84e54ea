"""The core with the on-chip learning engine in front of it (docs/learning.md, section 6)."""

from amaranth import *
from amaranth.lib import wiring

from corespec.config import CoreConfig
from delaycore.core.layouts import CoreSignature
from delaycore.core.network import Network
from delaycore.learning.learner import Learner


class LearningNetwork(wiring.Component):
    """`Network` + `Learner`: the core's ports plus `label` (16-bit class after a sample)."""

    def __init__(self, config: CoreConfig):
        if config.input_delays:
            self._MustUse__silence = True   # nothing is built: no "created but never used" warning
            raise ValueError("LearningNetwork: the learning engine is not built with the input "
                             "delay stage (docs/core.md, 2.7); use input_delays=False")
        self.config = config
        super().__init__(CoreSignature(config.v_bits, learning=True))

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Network(self.config)
        m.submodules.learner = lrn = Learner(self.config)
        self.learner = lrn
        wiring.connect(m, wiring.flipped(self.i), lrn.i)
        wiring.connect(m, lrn.ci, core.i)
        wiring.connect(m, core.o, lrn.co)
        wiring.connect(m, lrn.o, wiring.flipped(self.o))
        for port in ("load", "rb_req", "rb_resp"):     # the core's ports, through the engine
            wiring.connect(m, wiring.flipped(getattr(self, port)), getattr(lrn.host, port))
            wiring.connect(m, getattr(lrn.core, port), getattr(core, port))
        wiring.connect(m, wiring.flipped(self.label), lrn.label)
        return m
