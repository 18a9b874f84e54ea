"""The arithmetic of one neuron in one timestep (docs/core.md, 2.2-2.3), combinational."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import LayerShape


class NeuronUpdate(wiring.Component):
    """leak, one saturating add of the exact input sum, threshold, reset, history shift, delay tap."""

    def __init__(self, shape: LayerShape, leak_mode: str):
        self.shape = shape
        self.leak_mode = leak_mode
        s = shape
        super().__init__({
            "v": In(signed(s.v_bits)),
            "acc": In(signed(s.acc_bits)),
            "hist": In(s.depth),
            "delay": In(s.delay_bits),
            "threshold": In(s.v_bits - 1),
            "leak": In(5 if leak_mode == "shift" else 9),
            "reset_mode": In(1),
            "v_new": Out(signed(s.v_bits)),
            "spike": Out(1),
            "hist_new": Out(s.depth),
            "y": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        if self.leak_mode == "shift":
            leaked = self.v - (self.v >> self.leak)
        else:
            leaked = (self.v * Cat(self.leak, C(0, 1)).as_signed()) >> 8
        total = Signal(signed(max(s.v_bits, s.acc_bits) + 2))
        v1 = Signal(signed(s.v_bits))
        m.d.comb += total.eq(leaked + self.acc)
        with m.If(total > s.v_max):
            m.d.comb += v1.eq(s.v_max)
        with m.Elif(total < s.v_min):
            m.d.comb += v1.eq(s.v_min)
        with m.Else():
            m.d.comb += v1.eq(total)
        if not s.spiking:
            m.d.comb += self.v_new.eq(v1)
            return m
        thr = Cat(self.threshold, C(0, 1)).as_signed()
        m.d.comb += self.spike.eq(v1 >= thr)
        with m.If(self.spike):
            m.d.comb += self.v_new.eq(Mux(self.reset_mode, 0, v1 - thr))
        with m.Else():
            m.d.comb += self.v_new.eq(v1)
        m.d.comb += [
            self.hist_new.eq(Cat(self.spike, self.hist)[:s.depth]),
            self.y.eq(self.hist_new.bit_select(self.delay, 1)),
        ]
        return m
