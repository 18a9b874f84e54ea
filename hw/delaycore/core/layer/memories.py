"""A layer's per-neuron memories (membrane, accum, history, delay; docs/core.md 1) and their read
stage, once per lane, with who may address them.

Every memory has one read and one write port (simple dual-port block RAM). Reads: the issue stage
(an accumulate reads the group's sums, an update every word of the group) or a readback request;
the read stage registers what they return, so no arithmetic follows a block-RAM output in the
same cycle. Writes, later ones winning: the accumulate stage's sums, the write-back of an update,
a parameter write.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from delaycore.core.block_ram import collision_free_memory, collision_free
from delaycore.core.layer.signatures import (Op, StageSignature, LoadSignature, ReadAddressSignature,
                               NeuronStateSignature, AccumulateWriteSignature, UpdateWriteSignature,
                               writable_spaces)


class NeuronMemories(wiring.Component):
    """`issue`: the operation issued this cycle; `state`: the read stage (held while `advance` is
    low); `accumulate` / `update`: the write-backs; `load` / `read_addr`: the parameter port."""

    def __init__(self, shape: LayerShape):
        self.shape = shape
        K = shape.lanes
        groups = shape.n // K
        super().__init__({
            "issue": In(StageSignature(groups)),
            "advance": In(1),
            "state": Out(NeuronStateSignature(shape)),
            "accumulate": In(AccumulateWriteSignature(shape)),
            "update": In(UpdateWriteSignature(shape)),
            "load": In(LoadSignature(writable_spaces(shape), K)),
            "read_addr": In(ReadAddressSignature(K)),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.shape
        groups = s.n // s.lanes
        # From three groups on, no read whose word is used meets a write of its address: stage 0
        # reads group g while stage 1 writes the group before it and stage 3 the group three
        # operations back (a sweep, or a marker and the first accumulates after one), so the
        # membrane, accum and history memories need no collision logic (block_ram.py). With one
        # or two groups those reads must see the word written in the same cycle (transparent).
        free = groups >= 3
        ports = {"v": [], "acc": [], "hist": [], "delay": []}     # per lane: (write, read)

        def state_memory(field, name, shape):
            mem = (collision_free_memory(shape=shape, depth=groups) if free
                   else Memory(shape=shape, depth=groups, init=[]))
            m.submodules[name] = mem
            wr = mem.write_port()
            rd = mem.read_port(transparent_for=() if free else (wr,))
            if free:
                collision_free(m, rd, wr, en=self.advance, compare_addresses=True)
            else:
                m.d.comb += rd.en.eq(self.advance)
            ports[field].append((wr, rd))

        for k in range(s.lanes):
            lane = "" if s.lanes == 1 else str(k)
            state_memory("v", f"membrane{lane}", signed(s.v_bits))
            state_memory("acc", f"accum{lane}", signed(s.acc_bits))
            if s.spiking:
                state_memory("hist", f"history{lane}", s.depth)
                # Delays are written only through the parameter port, while the layer is held.
                mem = collision_free_memory(shape=s.delay_bits, depth=groups)
                m.submodules[f"delay{lane}"] = mem
                wr, rd = mem.write_port(), mem.read_port()
                collision_free(m, rd, wr, en=self.advance)
                ports["delay"].append((wr, rd))
        self.address_reads(m, ports)
        self.read_stage(m, ports, groups)
        self.write(m, ports)
        return m

    def address_reads(self, m, ports):
        """An accumulate reads the sums of its group (`issue.group` is 0 when nothing is issued),
        an update every word of it, a readback request every word of its neuron's lane."""
        reads = [rd for field in ports.values() for _, rd in field]
        m.d.comb += [rd.addr.eq(self.issue.group) for _, rd in ports["acc"]]
        with m.If(self.issue.op == Op.UPDATE):
            m.d.comb += [rd.addr.eq(self.issue.group) for rd in reads]
        with m.If(self.read_addr.en):
            m.d.comb += [rd.addr.eq(self.read_addr.word) for rd in reads]

    def read_stage(self, m, ports, groups):
        """Register what the memories return. An accumulate reads its sums when it is issued and
        writes them back two cycles later, in stage 1; the next access to the same group
        (accumulate, or update reading it) is issued at least `groups` cycles after it, so only
        one group needs the sums of stage 1 forwarded into the read stage."""
        acc = self.accumulate
        with m.If(self.advance):
            for field, lanes in ports.items():
                for k, (_, rd) in enumerate(lanes):
                    data = rd.data
                    if field == "acc" and groups == 1:
                        data = Mux(acc.en, acc.sum[k], rd.data)
                    m.d.sync += getattr(self.state, field)[k].eq(data)

    def write(self, m, ports):
        """The accumulate stage's sums, then (winning) an update's write-back, then (winning) a
        parameter write: neuron j is word j // K of lane j % K."""
        acc, upd, load = self.accumulate, self.update, self.load
        with m.If(acc.en):
            for k, (wr, _) in enumerate(ports["acc"]):
                m.d.comb += [wr.addr.eq(acc.group), wr.en.eq(1), wr.data.eq(acc.sum[k])]
        with m.If(upd.en):
            for k, (wr, _) in enumerate(ports["acc"]):
                m.d.comb += [wr.addr.eq(upd.group), wr.en.eq(1), wr.data.eq(0)]
            for k, (wr, _) in enumerate(ports["v"]):
                m.d.comb += [wr.addr.eq(upd.group), wr.en.eq(1),
                             wr.data.eq(Mux(upd.clear, 0, upd.result.v[k]))]
            for k, (wr, _) in enumerate(ports["hist"]):
                m.d.comb += [wr.addr.eq(upd.group), wr.en.eq(1),
                             wr.data.eq(Mux(upd.clear, 0, upd.result.hist[k]))]
        for field, space in (("v", "membrane"), ("delay", "delay"), ("hist", "history")):
            if not ports[field]:
                continue                        # the readout has no delays and no history
            with m.If(getattr(load, space)):
                for k, (wr, _) in enumerate(ports[field]):
                    m.d.comb += [wr.addr.eq(load.word), wr.data.eq(load.data),
                                 wr.en.eq(load.lane[k])]
