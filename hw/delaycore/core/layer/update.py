"""The integrate and fire stages of a layer (docs/core.md 2.2-2.3), K lanes.

Stage 1 integrates (leak + exact sum) what the read stage holds, stage 2 fires (saturate,
threshold, reset, history, delay tap); each registers its result, so the long arithmetic is split
in two cycles and stays off the write-back / emit stage's handshake.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from delaycore.core.layer.signatures import NeuronStateSignature, RegistersSignature, UpdateResultSignature
from delaycore.core.neuron import Integrate, Fire, total_shape


class UpdateLanes(wiring.Component):
    """`state`: the read stage; `result`: what stage 3 (write back and emit) gets. Both stages
    move when `advance` is high. Every lane computes whatever the stages hold; only an update's
    result is used."""

    def __init__(self, shape: LayerShape, leak_mode: str):
        self.shape = shape
        self.leak_mode = leak_mode
        super().__init__({
            "state": In(NeuronStateSignature(shape)),
            "registers": In(RegistersSignature(shape, leak_mode)),
            "advance": In(1),
            "result": Out(UpdateResultSignature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        regs, state, result = self.registers, self.state, self.result
        for k in range(s.lanes):
            lane = "" if s.lanes == 1 else str(k)
            m.submodules[f"integrate{lane}"] = integrate = Integrate(s, self.leak_mode)
            m.submodules[f"fire{lane}"] = fire = Fire(s)
            total = Signal(total_shape(s), name=f"s2_total{lane}")
            m.d.comb += [integrate.v.eq(state.v[k]), integrate.acc.eq(state.acc[k]),
                         integrate.leak.eq(regs.leak),
                         fire.total.eq(total), fire.threshold.eq(regs.threshold),
                         fire.reset_mode.eq(regs.reset_mode)]
            with m.If(self.advance):
                m.d.sync += [total.eq(integrate.total), result.v[k].eq(fire.v_new)]
            if s.spiking:
                hist = Signal(s.depth, name=f"s2_hist{lane}")
                delay = Signal(s.delay_bits, name=f"s2_delay{lane}")
                m.d.comb += [fire.hist.eq(hist), fire.delay.eq(delay)]
                with m.If(self.advance):
                    m.d.sync += [hist.eq(state.hist[k]), delay.eq(state.delay[k]),
                                 result.hist[k].eq(fire.hist_new), result.y[k].eq(fire.y)]
        return m
