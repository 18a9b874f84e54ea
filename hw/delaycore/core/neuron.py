"""The arithmetic of one neuron in one timestep (docs/core.md, 2.2-2.3), in two halves.

`Integrate` (leak, exact sum) and `Fire` (saturate, threshold, reset, history, delay tap) are
separate so that the layer can put a pipeline register between them; `NeuronUpdate` is the two
together, the combinational reference the unit tests check against the spec.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape


# Width of the `leak` register (docs/core.md, run-time registers): in shift mode a shift of
# 0 .. v_bits - 1 <= 23 (5 bits), in mul mode a factor of 0 .. 256 over 256, 256 being "no leak"
# (9 bits).
LEAK_BITS = {"shift": 5, "mul": 9}


def leak_shape(leak_mode: str) -> int:
    """Width of the leak register in `leak_mode`."""
    return LEAK_BITS[leak_mode]


def total_shape(s: LayerShape):
    """leak(v) + acc, exact: the wider of the two plus a carry bit and a sign bit."""
    return signed(max(s.v_bits, s.acc_bits) + 2)


class Integrate(wiring.Component):
    """total = leak(v) + acc, exact (no saturation yet)."""

    def __init__(self, shape: LayerShape, leak_mode: str):
        self.shape = shape
        self.leak_mode = leak_mode
        super().__init__({
            "v": In(signed(shape.v_bits)),
            "acc": In(signed(shape.acc_bits)),
            "leak": In(leak_shape(leak_mode)),
            "total": Out(total_shape(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.leak_mode == "shift":
            leaked = self.v - (self.v >> self.leak)
        else:
            leaked = (self.v * Cat(self.leak, C(0, 1)).as_signed()) >> 8
        m.d.comb += self.total.eq(leaked + self.acc)
        return m


class Fire(wiring.Component):
    """v1 = sat(total); spike = v1 >= threshold; reset; history shift; delayed spike y.

    Since 1 <= threshold <= v_max, `v1 >= threshold` equals `total >= threshold`, and the
    subtraction that gives the reset value is the same one that decides the spike."""

    def __init__(self, shape: LayerShape):
        self.shape = shape
        s = shape
        super().__init__({
            "total": In(total_shape(shape)),
            "hist": In(s.depth),
            "delay": In(s.delay_bits),
            "threshold": In(s.v_bits - 1),
            "reset_mode": In(1),
            "v_new": Out(signed(s.v_bits)),
            "spike": Out(1),
            "hist_new": Out(s.depth),
            "y": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        t = self.total
        v1 = Signal(signed(s.v_bits))
        # Saturation by the sign-extension bits: no comparator needed.
        top = t[s.v_bits - 1:]
        with m.If(~t[-1] & top.any()):
            m.d.comb += v1.eq(s.v_max)
        with m.Elif(t[-1] & ~top.all()):
            m.d.comb += v1.eq(s.v_min)
        with m.Else():
            m.d.comb += v1.eq(t)
        if not s.spiking:
            m.d.comb += self.v_new.eq(v1)
            return m
        thr = Cat(self.threshold, C(0, 1)).as_signed()
        diff = Signal(signed(len(t) + 1))
        m.d.comb += [diff.eq(t - thr), self.spike.eq(~diff[-1])]
        room = Signal(signed(s.v_bits + 1))          # v_max - threshold: the largest v1 - thr
        m.d.comb += room.eq(s.v_max - thr)
        # diff > room  <=>  total > v_max: the saturation test above, without a second comparator.
        over = ~t[-1] & top.any()
        with m.If(self.spike):
            m.d.comb += self.v_new.eq(Mux(self.reset_mode, 0, Mux(over, room, diff)))
        with m.Else():
            m.d.comb += self.v_new.eq(v1)
        # y = hist_new[delay]: the history tap is selected from the old history, so that only a
        # 2:1 multiplexer follows the threshold comparison.
        tap = Signal()
        if s.depth > 1:
            m.d.comb += tap.eq(self.hist[:s.depth - 1].bit_select((self.delay - 1)[:len(self.delay)], 1))
        m.d.comb += [
            self.hist_new.eq(Cat(self.spike, self.hist)[:s.depth]),
            self.y.eq(Mux(self.delay == 0, self.spike, tap)),
        ]
        return m


class NeuronUpdate(wiring.Component):
    """Integrate then Fire, combinationally."""

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
            "leak": In(leak_shape(leak_mode)),
            "reset_mode": In(1),
            "v_new": Out(signed(s.v_bits)),
            "spike": Out(1),
            "hist_new": Out(s.depth),
            "y": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.integrate = integrate = Integrate(self.shape, self.leak_mode)
        m.submodules.fire = fire = Fire(self.shape)
        m.d.comb += [
            integrate.v.eq(self.v), integrate.acc.eq(self.acc), integrate.leak.eq(self.leak),
            fire.total.eq(integrate.total), fire.hist.eq(self.hist), fire.delay.eq(self.delay),
            fire.threshold.eq(self.threshold), fire.reset_mode.eq(self.reset_mode),
            self.v_new.eq(fire.v_new), self.spike.eq(fire.spike), self.hist_new.eq(fire.hist_new),
            self.y.eq(fire.y),
        ]
        return m
