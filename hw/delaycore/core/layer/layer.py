"""One time-multiplexed layer: LIF with per-neuron axonal delays, or the non-spiking readout.

One datapath is shared by every neuron. With `lanes` K (docs/core.md, section 6) it serves K
neurons at once: the neurons are taken in groups `g` of K consecutive indices (`j = g * K + k`,
lane `k`), every per-neuron memory is split into K lane memories of `n / K` words (neuron `j` is
word `g` of lane `k`), one weight-memory word holds the K weights of a group (K divides P and n),
and there are K copies of the accumulate adder, Integrate and Fire. So one cycle does K synaptic
accumulates or K neuron updates; K = 1 is the plain one-neuron datapath.

Every operation issues its memory reads (stage 0), then registers what the memories return
(the read stage), so no arithmetic follows a block-RAM output in the same cycle. Accumulates then
add and write back (stage 1). Neuron updates take five stages: issue; read; integrate (leak +
sum); fire (saturate, threshold, reset, delay tap); write back and emit. Only the last stage can
be stalled, by the output stream, and it emits the events of its group one per cycle (lane
order), holding the pipeline until the last one is accepted; its stall signal comes straight from
registers, which keeps the long arithmetic off the handshake path. Timing is the schedule of
docs/core.md, section 6, which `golden_model.schedule` reproduces cycle for cycle.

The stages are components, one per file, joined by the signatures of core/layer/signatures.py:

    Sequencer (core/layer/sequencer.py)      issue: which operation enters the pipeline
    OpPipeline (core/layer/pipeline.py)      which operation each later stage holds
    WeightStage (core/layer/weights.py)      weight memory and its read stage
    NeuronMemories (core/layer/memories.py)  membrane, accum, history, delay per lane, read stage
    Accumulate (core/layer/accumulate.py)    stage 1 of an accumulate
    UpdateLanes (core/layer/update.py)       stages 1-2 of an update: integrate, fire
    EmitStage (core/layer/emit.py)           stage 3: write back and emit
    RecurrentQueue (core/layer/recurrent_queue.py)
    PortDecoder (core/layer/port_decoder.py), LayerRegisters (core/layer/registers.py): the parameter port
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from corespec.spaces import Space, Register
from delaycore.core.layouts import EventLayout, OutputLayout, BlockPortSignature
from delaycore.core.layer.accumulate import Accumulate
from delaycore.core.layer.emit import EmitStage
from delaycore.core.layer.memories import NeuronMemories
from delaycore.core.layer.pipeline import OpPipeline
from delaycore.core.layer.port_decoder import PortDecoder
from delaycore.core.layer.recurrent_queue import RecurrentQueue
from delaycore.core.layer.registers import LayerRegisters
from delaycore.core.layer.sequencer import Sequencer
from delaycore.core.layer.signatures import RegistersSignature, writable_spaces, readable_spaces
from delaycore.core.layer.update import UpdateLanes
from delaycore.core.layer.weights import WeightStage

STAGES = 4      # registered stages after issue: read, integrate / accumulate, fire, emit
ACCUMULATE_STAGE = 1
EMIT_STAGE = 3


class Layer(wiring.Component):
    """`port`: parameter load and readback, used only while `port.idle`, with `port.hold` high so
    that no input event is taken in the same cycle."""

    def __init__(self, shape: LayerShape, leak_mode: str = "shift"):
        self.shape = shape
        self.leak_mode = leak_mode
        out = EventLayout if shape.spiking else OutputLayout(shape.v_bits)
        super().__init__({
            "i": In(stream.Signature(EventLayout)),
            "o": Out(stream.Signature(out)),
            "port": In(BlockPortSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        groups = s.n // s.lanes
        m.submodules.sequencer = seq = Sequencer(groups, s)
        m.submodules.pipeline = pipe = OpPipeline(groups, STAGES, ACCUMULATE_STAGE)
        m.submodules.weights = weights = WeightStage(s)
        m.submodules.memories = mems = NeuronMemories(s)
        m.submodules.accumulate = acc = Accumulate(s)
        m.submodules.update = upd = UpdateLanes(s, self.leak_mode)
        m.submodules.emit = emit = EmitStage(groups, s.lanes, None if s.spiking else s.v_bits)
        m.submodules.registers = regs = LayerRegisters(s, self.leak_mode)
        m.submodules.port_decoder = dec = PortDecoder(writable_spaces(s), readable_spaces(s),
                                                      self.readable(), s.lanes)

        wiring.connect(m, wiring.flipped(self.i), seq.i)
        wiring.connect(m, emit.o, wiring.flipped(self.o))
        wiring.connect(m, seq.issue, pipe.issue, mems.issue)
        wiring.connect(m, pipe.stage[ACCUMULATE_STAGE], acc.stage)
        wiring.connect(m, pipe.stage[EMIT_STAGE], emit.stage)
        wiring.connect(m, acc.write, mems.accumulate)
        wiring.connect(m, mems.state, upd.state)
        wiring.connect(m, regs.values, upd.registers)
        wiring.connect(m, upd.result, mems.update.result)
        wiring.connect(m, wiring.flipped(self.port.write), dec.write)
        wiring.connect(m, wiring.flipped(self.port.read), dec.read)
        wiring.connect(m, dec.load, weights.load, mems.load, regs.load)
        wiring.connect(m, dec.read_addr, weights.read_addr, mems.read_addr)

        advance = ~emit.stall
        m.d.comb += [
            seq.hold.eq(self.port.hold), seq.stall.eq(emit.stall), seq.drained.eq(emit.drained),
            self.port.idle.eq(seq.resting & pipe.empty),
            pipe.advance.eq(advance), weights.advance.eq(advance), mems.advance.eq(advance),
            upd.advance.eq(advance),
            weights.flat.eq(seq.flat),
            acc.word.eq(weights.word), acc.select.eq(weights.select),
            acc.weight_shift.eq(regs.values.weight_shift),
            emit.clear.eq(seq.clear), emit.marker.eq(seq.marker),
            # the readout emits every neuron
            emit.fired.eq(Cat(upd.result.y) if s.spiking else (1 << s.lanes) - 1),
            mems.update.en.eq(emit.retire), mems.update.clear.eq(seq.clear),
            mems.update.group.eq(pipe.stage[EMIT_STAGE].group),
        ]
        m.d.comb += [a.eq(b) for a, b in zip(acc.acc, mems.state.acc)]
        if not s.spiking:
            m.d.comb += [a.eq(b) for a, b in zip(emit.values, upd.result.v)]
        if s.recurrent:
            m.submodules.recurrent_queue = queue = RecurrentQueue(s.n, s.index_bits)
            wiring.connect(m, seq.queue, queue.read)
            wiring.connect(m, emit.push, queue.push)
        self.readback_sources(m, dec.sources, weights, mems, regs)
        return m

    def readable(self) -> dict:
        """{space: (shape, count)} of the words the readback port selects from."""
        s = self.shape
        P, K = s.weights_per_word, s.lanes
        registers = RegistersSignature(s, self.leak_mode).members.values()
        register_bits = max(Shape.cast(member.shape).width for member in registers)
        spaces = {Space.WEIGHT: (signed(s.weight_bits) if P == 1 else P * s.weight_bits, 1),
                  Space.MEMBRANE: (signed(s.v_bits), K), Space.ACCUM: (signed(s.acc_bits), K),
                  Space.REGISTER: (register_bits, len(Register))}
        if s.spiking:
            spaces.update({Space.DELAY: (s.delay_bits, K), Space.HISTORY: (s.depth, K)})
        return spaces

    def readback_sources(self, m, sources, weights, mems, regs):
        """Readback reads the read stage's registers (the layer is idle, so they hold what the
        request addressed) and the registers."""
        m.d.comb += sources.weight[0].eq(weights.word)
        for register in Register:
            m.d.comb += sources.register[register].eq(
                getattr(regs.values, RegistersSignature.field(register)))
        pairs = [("membrane", "v"), ("accum", "acc")]
        if self.shape.spiking:
            pairs += [("delay", "delay"), ("history", "hist")]
        for space, field in pairs:
            m.d.comb += [a.eq(b) for a, b in zip(getattr(sources, space), getattr(mems.state, field))]
