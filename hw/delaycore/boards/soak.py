"""A self-driving wrapper for throughput measurements: an LFSR feeds the core, the sink is always
ready. Simulated without any per-cycle testbench code it shows the raw simulator speed."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from corespec.config import CoreConfig
from delaycore.core.network import Network


class SoakTop(wiring.Component):
    def __init__(self, config: CoreConfig, spikes_per_step: int = 8):
        self.config = config
        self.spikes_per_step = spikes_per_step
        super().__init__({"outputs": Out(32), "steps": Out(32)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Network(self.config)
        lfsr = Signal(16, init=0xACE1)
        count = Signal(range(self.spikes_per_step + 1))
        is_eot = count == self.spikes_per_step
        m.d.comb += [
            core.i.valid.eq(1),
            core.i.payload.kind.eq(Mux(is_eot, 1, 0)),
            core.i.payload.addr.eq(lfsr % self.config.n_in),
            core.o.ready.eq(1),
        ]
        with m.If(core.i.ready):
            m.d.sync += [lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5])),
                         count.eq(Mux(is_eot, 0, count + 1))]
        with m.If(core.o.valid):
            m.d.sync += self.outputs.eq(self.outputs + 1)
            with m.If(core.o.payload.kind == 1):
                m.d.sync += self.steps.eq(self.steps + 1)
        return m
