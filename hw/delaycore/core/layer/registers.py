"""A layer's run-time registers (docs/core.md 1), written through the parameter port's REGISTER
space at the `Register` addresses."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape, clog2
from corespec.spaces import Register
from delaycore.core.layer.signatures import LoadSignature, RegistersSignature, writable_spaces


class LayerRegisters(wiring.Component):
    """`values`: threshold, leak, weight_shift, reset_mode; each keeps the low bits of the word
    written to it."""

    def __init__(self, shape: LayerShape, leak_mode: str):
        super().__init__({
            "load": In(LoadSignature(writable_spaces(shape), shape.lanes)),
            "values": Out(RegistersSignature(shape, leak_mode)),
        })

    def elaborate(self, platform):
        m = Module()
        load = self.load
        with m.If(load.register & load.ok):
            with m.Switch(load.addr[:clog2(len(Register))]):
                for register in Register:
                    with m.Case(register):
                        field = getattr(self.values, RegistersSignature.field(register))
                        m.d.sync += field.eq(load.data)
        return m
