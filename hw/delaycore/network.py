"""The whole core: guard, LIF layers and readout chained by streams, plus load and readback ports."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from golden_model.config import CoreConfig
from .guard import Guard
from .layer import Layer
from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout, DATA_BITS

STATUS = 7
EOT = 1


class Network(wiring.Component):
    """Parameter writes and readback requests to a layer are served only while that layer is idle
    and nothing is presented at its input, so they never interleave with the datapath."""

    def __init__(self, config: CoreConfig):
        self.config = config
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(OutputLayout(config.v_bits))),
            "load": In(stream.Signature(WriteLayout)),
            "rb_req": In(stream.Signature(ReadLayout)),
            "rb_resp": Out(stream.Signature(DATA_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.guard = guard = Guard(cfg.n_in, cfg.max_events)
        layers = []
        for k, shape in enumerate(cfg.layers):
            layer = Layer(shape, cfg.leak_mode)
            m.submodules[f"layer{k}" if shape.spiking else "readout"] = layer
            layers.append(layer)
        wiring.connect(m, wiring.flipped(self.i), guard.i)
        wiring.connect(m, guard.o, layers[0].i)
        for a, b in zip(layers, layers[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, layers[-1].o, wiring.flipped(self.o))

        nl = len(layers)
        quiet = Array([l.idle & ~l.i.valid for l in layers] + [C(1, 1)] * (16 - nl))

        dropped_writes = Signal(32)
        steps = Signal(32)
        with m.If(self.o.valid & self.o.ready & (self.o.payload.kind == EOT) & ~steps.all()):
            m.d.sync += steps.eq(steps + 1)

        # Parameter load.
        ld = self.load.payload
        serve = self.load.valid & quiet[ld.layer]
        m.d.comb += self.load.ready.eq(serve)
        drop = (serve & (ld.layer >= nl)) | Cat(l.wr_dropped for l in layers).any()
        for k, l in enumerate(layers):
            m.d.comb += [l.wr_en.eq(serve & (ld.layer == k)), l.wr_space.eq(ld.space),
                         l.wr_addr.eq(ld.addr), l.wr_data.eq(ld.data)]
        with m.If(drop & ~dropped_writes.all()):
            m.d.sync += dropped_writes.eq(dropped_writes + 1)

        # Readback: request -> (one cycle) -> response register held until taken.
        rq = self.rb_req.payload
        resp_valid = Signal()
        resp_data = Signal(DATA_BITS)
        pending = Signal()
        pending_layer = Signal(4)
        status = Array([guard.dropped_kind, guard.dropped_addr, dropped_writes, steps,
                        guard.dropped_excess])
        m.d.comb += [self.rb_resp.valid.eq(resp_valid), self.rb_resp.payload.eq(resp_data)]
        with m.If(self.rb_resp.valid & self.rb_resp.ready):
            m.d.sync += resp_valid.eq(0)
        is_status = rq.space == STATUS
        take = self.rb_req.valid & ~resp_valid & ~pending & (is_status | quiet[rq.layer])
        m.d.comb += self.rb_req.ready.eq(take)
        for k, l in enumerate(layers):
            m.d.comb += [l.rb_en.eq(take & ~is_status & (rq.layer == k)),
                         l.rb_space.eq(rq.space), l.rb_addr.eq(rq.addr)]
        with m.If(take):
            with m.If(is_status):
                m.d.sync += [resp_valid.eq(1),
                             resp_data.eq(Mux(rq.addr < 5, status[rq.addr[:3]], 0))]
            with m.Elif(rq.layer < nl):
                m.d.sync += [pending.eq(1), pending_layer.eq(rq.layer)]
            with m.Else():
                m.d.sync += [resp_valid.eq(1), resp_data.eq(0)]
        with m.If(pending):
            rb_data = Array([l.rb_data for l in layers])[pending_layer]
            m.d.sync += [pending.eq(0), resp_valid.eq(1), resp_data.eq(rb_data)]
        return m
