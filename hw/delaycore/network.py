"""The whole core: guard, [input delay stage,] LIF layers and readout chained by streams, plus load
and readback ports."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.config import CoreConfig
from corespec.events import EventKind
from corespec.spaces import Space, INPUT_STAGE_LAYER
from .guard import Guard
from .input_delay import InputDelay
from .layer import Layer
from .status_counters import StatusCounters
from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout, DATA_BITS

STATUS = Space.STATUS
EOT = EventKind.EOT
INPUT_STAGE = INPUT_STAGE_LAYER   # port layer of the input delay stage (docs/core.md, 2.7)


class Network(wiring.Component):
    """Parameter writes and readback requests to a layer are taken only while that layer is idle
    and nothing is presented at its input, and applied in the next cycle while the layer is held,
    so they never interleave with the datapath."""

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
        if cfg.input_delays:
            m.submodules.input_delay = stage = InputDelay(cfg.n_in, cfg.depth)
            wiring.connect(m, guard.o, stage.i)
            wiring.connect(m, stage.o, layers[0].i)
        else:
            wiring.connect(m, guard.o, layers[0].i)
        for a, b in zip(layers, layers[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, layers[-1].o, wiring.flipped(self.o))

        nl = len(layers)
        # Layer 0 counts as busy while anything is presented at the core's input, good or bad:
        # that keeps the guard's checks off the port engine's path (a bad event is taken at once,
        # so it delays a request by one cycle at most).
        # With the input delay stage, the stage takes that role (port layer 15) and layer 0 is
        # quiet like the others, when idle and nothing is presented at its input.
        if cfg.input_delays:
            quiet = Array([l.idle & ~l.i.valid for l in layers] + [C(1, 1)] * (15 - nl)
                          + [stage.idle & ~self.i.valid])
            ports = {**dict(enumerate(layers)), INPUT_STAGE: stage}
        else:
            quiet = Array([layers[0].idle & ~self.i.valid]
                          + [l.idle & ~l.i.valid for l in layers[1:]] + [C(1, 1)] * (16 - nl))
            ports = dict(enumerate(layers))

        def in_range(layer):
            ok = layer < nl
            return ok | (layer == INPUT_STAGE) if cfg.input_delays else ok

        # Status words 0-4 (docs/core.md 5): dropped_kind, dropped_addr, dropped_writes, steps,
        # dropped_excess, counted in one block RAM.
        m.submodules.status = status = StatusCounters(5)
        dropped_write = Signal()
        m.d.comb += status.inc.eq(Cat(guard.drop_kind, guard.drop_addr, dropped_write,
                                      self.o.valid & self.o.ready & (self.o.payload.kind == EOT),
                                      guard.drop_excess))

        # Parameter load and readback share one registered port engine: a request is taken while
        # its layer is quiet, and is applied to the layer in the next cycle, while the layer is
        # held (it takes no input event), so no port path runs combinationally into a memory.
        ld, rq = self.load.payload, self.rb_req.payload
        wr_pend, rb_pend = Signal(), Signal()
        rb_wait, rb_wait2, rb_wait3 = Signal(), Signal(), Signal()
        st_read, st_wait = Signal(), Signal()   # a status read: the counter is read, then answered
        p_layer, p_space = Signal(4), Signal(3)
        p_addr, p_data = Signal(20), Signal(DATA_BITS)
        resp_valid = Signal()
        resp_data = Signal(DATA_BITS)   # holds a response until the next request is taken (the
                                        # learning engine computes from it: no copy there)
        busy = wr_pend | rb_pend | rb_wait | rb_wait2 | rb_wait3 | st_read | st_wait | resp_valid
        for k, l in ports.items():
            sel = p_layer == k
            m.d.comb += [l.hold.eq((wr_pend | rb_pend) & sel),
                         l.wr_en.eq(wr_pend & sel), l.rb_en.eq(rb_pend & sel),
                         l.wr_space.eq(p_space), l.wr_addr.eq(p_addr), l.wr_data.eq(p_data),
                         l.rb_space.eq(p_space), l.rb_addr.eq(p_addr)]

        take_wr = self.load.valid & ~busy & quiet[ld.layer]
        m.d.comb += self.load.ready.eq(take_wr)
        is_status = rq.space == STATUS
        take_rb = self.rb_req.valid & ~busy & ~self.load.valid & (is_status | quiet[rq.layer])
        m.d.comb += self.rb_req.ready.eq(take_rb)
        m.d.sync += [wr_pend.eq(0), rb_pend.eq(0), rb_wait.eq(rb_pend), rb_wait2.eq(rb_wait),
                     rb_wait3.eq(rb_wait2), st_read.eq(0), st_wait.eq(st_read)]
        with m.If(take_wr):
            m.d.sync += [wr_pend.eq(in_range(ld.layer)), p_layer.eq(ld.layer), p_space.eq(ld.space),
                         p_addr.eq(ld.addr), p_data.eq(ld.data)]
        # A status read accepted at c reads its counter at c + 1 (from the port registers, so no
        # path runs from the requester into the counters) and is answered at c + 3 with the count
        # of every event up to and including cycle c + 1.
        m.d.comb += [status.rd_en.eq(st_read & (p_addr < 5)), status.rd_addr.eq(p_addr[:3])]
        with m.If(st_wait):
            m.d.sync += [resp_valid.eq(1), resp_data.eq(Mux(p_addr < 5, status.rd_data, 0))]
        with m.If(take_rb):
            m.d.sync += [p_layer.eq(rq.layer), p_space.eq(rq.space), p_addr.eq(rq.addr)]
            with m.If(is_status):
                m.d.sync += st_read.eq(1)
            with m.Elif(in_range(rq.layer)):
                m.d.sync += rb_pend.eq(1)
            with m.Else():
                m.d.sync += [resp_valid.eq(1), resp_data.eq(0)]
        # A layer returns the word three cycles after it was addressed (its read stage registers the
        # memory outputs, then Layer.rb_data registers the selected word).
        rb_data = Array([l.rb_data for l in layers])[p_layer]
        if cfg.input_delays:
            rb_data = Mux(p_layer == INPUT_STAGE, stage.rb_data, rb_data)
        with m.If(rb_wait3):
            m.d.sync += [resp_valid.eq(1), resp_data.eq(rb_data)]
        m.d.comb += [self.rb_resp.valid.eq(resp_valid), self.rb_resp.payload.eq(resp_data)]
        with m.If(self.rb_resp.valid & self.rb_resp.ready):
            m.d.sync += resp_valid.eq(0)

        missing = (ld.layer >= nl) & (ld.layer != INPUT_STAGE) if cfg.input_delays else ld.layer >= nl
        drop = (take_wr & missing) | Cat(l.wr_dropped for l in ports.values()).any()
        m.d.comb += dropped_write.eq(drop)
        return m
