"""The whole core: guard, [input delay stage,] LIF layers and readout chained by streams, plus load
and readback ports."""

from amaranth import *
from amaranth.lib import wiring

from corespec.config import CoreConfig, clog2
from corespec.events import EventKind
from corespec.spaces import Space, StatusCounter, INPUT_STAGE_LAYER
from delaycore.core.guard import Guard
from delaycore.core.input_delay import InputDelay
from delaycore.core.layer.layer import Layer
from delaycore.core.status_counters import StatusCounters
from delaycore.core.layouts import CoreSignature, DATA_BITS, LAYER_BITS, PORT_ADDR_BITS

INPUT_STAGE = INPUT_STAGE_LAYER   # port layer of the input delay stage (docs/core.md, 2.7)
LAYER_SLOTS = 1 << LAYER_BITS     # port layers the `layer` field of a Write / Read names


class Network(wiring.Component):
    """Parameter writes and readback requests to a layer are taken only while that layer is idle
    and nothing is presented at its input, and applied in the next cycle while the layer is held,
    so they never interleave with the datapath."""

    def __init__(self, config: CoreConfig):
        self.config = config
        super().__init__(CoreSignature(config.v_bits))

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
        stage = None
        if cfg.input_delays:
            m.submodules.input_delay = stage = InputDelay(cfg.n_in, cfg.depth)
            wiring.connect(m, guard.o, stage.i)
            wiring.connect(m, stage.o, layers[0].i)
        else:
            wiring.connect(m, guard.o, layers[0].i)
        for a, b in zip(layers, layers[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, layers[-1].o, wiring.flipped(self.o))

        blocks = dict(enumerate(layers))        # port layer -> block
        if stage is not None:
            blocks[INPUT_STAGE] = stage
        m.submodules.status = status = StatusCounters(len(StatusCounter))
        dropped_write = self.port_engine(m, blocks, self.quiet(layers, stage), status)
        counted = {StatusCounter.DROPPED_KIND: guard.drop_kind,
                   StatusCounter.DROPPED_ADDR: guard.drop_addr,
                   StatusCounter.DROPPED_WRITES: dropped_write,
                   StatusCounter.STEPS: self.o.valid & self.o.ready & (self.o.payload.kind == EventKind.EOT),
                   StatusCounter.DROPPED_EXCESS: guard.drop_excess}
        m.d.comb += status.inc.eq(Cat(counted[c] for c in StatusCounter))
        return m

    def quiet(self, layers, stage):
        """Per port layer: a write or read to it may be taken now. The first block after the guard
        (the input delay stage if there is one, else layer 0) counts as busy while anything is
        presented at the core's input, good or bad: that keeps the guard's checks off the port
        engine's path (a bad event is taken at once, so it delays a request by one cycle at most).
        The others are quiet when idle and nothing is presented at their input. A port layer
        without a block is always quiet (its writes are dropped at once)."""
        slots = [C(1, 1)] * LAYER_SLOTS
        for k, layer in enumerate(layers):
            slots[k] = layer.port.idle & ~layer.i.valid
        first = 0 if stage is None else INPUT_STAGE
        slots[first] = (layers[0] if stage is None else stage).port.idle & ~self.i.valid
        return Array(slots)

    def port_engine(self, m, blocks: dict, quiet, status):
        """Parameter load and readback share one registered port engine: a request is taken while
        its block is quiet, and is applied to the block in the next cycle, while the block is
        held (it takes no input event), so no port path runs combinationally into a memory.
        -> the signal that a write was dropped (no such block, or outside the block's space)."""
        ld, rq = self.load.payload, self.rb_req.payload
        wr_pend, rb_pend = Signal(), Signal()
        rb_wait, rb_wait2, rb_wait3 = Signal(), Signal(), Signal()
        st_read, st_wait = Signal(), Signal()   # a status read: the counter is read, then answered
        p_layer, p_space = Signal(range(LAYER_SLOTS)), Signal(Space)
        p_addr, p_data = Signal(PORT_ADDR_BITS), Signal(DATA_BITS)
        resp_valid = Signal()
        resp_data = Signal(DATA_BITS)   # holds a response until the next request is taken (the
                                        # learning engine computes from it: no copy there)
        busy = wr_pend | rb_pend | rb_wait | rb_wait2 | rb_wait3 | st_read | st_wait | resp_valid
        for k, block in blocks.items():
            sel = p_layer == k
            port = block.port
            m.d.comb += [port.hold.eq((wr_pend | rb_pend) & sel),
                         port.write.en.eq(wr_pend & sel), port.read.en.eq(rb_pend & sel),
                         port.write.space.eq(p_space), port.write.addr.eq(p_addr),
                         port.write.data.eq(p_data),
                         port.read.space.eq(p_space), port.read.addr.eq(p_addr)]

        n_layers = len(self.config.layers)

        def exists(layer):
            """A block answers at port layer `layer`: layers 0 .. L, and the input delay stage."""
            return (layer < n_layers) | (layer == INPUT_STAGE) if INPUT_STAGE in blocks \
                else layer < n_layers

        take_wr = self.load.valid & ~busy & quiet[ld.layer]
        m.d.comb += self.load.ready.eq(take_wr)
        is_status = rq.space == Space.STATUS
        take_rb = self.rb_req.valid & ~busy & ~self.load.valid & (is_status | quiet[rq.layer])
        m.d.comb += self.rb_req.ready.eq(take_rb)
        m.d.sync += [wr_pend.eq(0), rb_pend.eq(0), rb_wait.eq(rb_pend), rb_wait2.eq(rb_wait),
                     rb_wait3.eq(rb_wait2), st_read.eq(0), st_wait.eq(st_read)]
        with m.If(take_wr):
            m.d.sync += [wr_pend.eq(exists(ld.layer)), p_layer.eq(ld.layer), p_space.eq(ld.space),
                         p_addr.eq(ld.addr), p_data.eq(ld.data)]
        # A status read accepted at c reads its counter at c + 1 (from the port registers, so no
        # path runs from the requester into the counters) and is answered at c + 3 with the count
        # of every event up to and including cycle c + 1.
        counter_ok = p_addr < len(StatusCounter)
        m.d.comb += [status.rd_en.eq(st_read & counter_ok),
                     status.rd_addr.eq(p_addr[:clog2(len(StatusCounter))])]
        with m.If(st_wait):
            m.d.sync += [resp_valid.eq(1), resp_data.eq(Mux(counter_ok, status.rd_data, 0))]
        with m.If(take_rb):
            m.d.sync += [p_layer.eq(rq.layer), p_space.eq(rq.space), p_addr.eq(rq.addr)]
            with m.If(is_status):
                m.d.sync += st_read.eq(1)
            with m.Elif(exists(rq.layer)):
                m.d.sync += rb_pend.eq(1)
            with m.Else():
                m.d.sync += [resp_valid.eq(1), resp_data.eq(0)]
        # A block returns the word three cycles after it was addressed (its read stage registers
        # the memory outputs, then its port decoder registers the selected word).
        layers = [block for k, block in sorted(blocks.items()) if k != INPUT_STAGE]
        rb_data = Array([layer.port.read.data for layer in layers])[p_layer]
        if INPUT_STAGE in blocks:
            rb_data = Mux(p_layer == INPUT_STAGE, blocks[INPUT_STAGE].port.read.data, rb_data)
        with m.If(rb_wait3):
            m.d.sync += [resp_valid.eq(1), resp_data.eq(rb_data)]
        m.d.comb += [self.rb_resp.valid.eq(resp_valid), self.rb_resp.payload.eq(resp_data)]
        with m.If(self.rb_resp.valid & self.rb_resp.ready):
            m.d.sync += resp_valid.eq(0)
        return ((take_wr & ~exists(ld.layer))
                | Cat(block.port.write.dropped for block in blocks.values()).any())
