"""The interfaces between the stages of a layer (and of the input delay stage), by name.

A layer (layer.py) is a pipeline: the sequencer issues one operation a cycle (`Op` on a group of
`K` neurons), the read stage registers what the memories return, then the operation is finished
by the accumulate or the integrate / fire stages and the write-back / emit stage. Every signature
here is seen from the side that drives its `Out` members; the other side has it flipped (`In`).
"""

from amaranth import signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from corespec.config import LayerShape
from corespec.spaces import Space, Register
from delaycore.core.layouts import DATA_BITS, PORT_ADDR_BITS
from delaycore.core.neuron import leak_shape


class Op(enum.Enum, shape=2):
    """What one pipeline stage carries."""
    NONE = 0        # a bubble
    ACCUMULATE = 1  # add one source's K weights to the sums of a group; finished after the read stage
    UPDATE = 2      # update a group of K neurons (in the input delay stage: one channel)
    TOKEN = 3       # the marker (EOT or CLEAR) that follows an update sweep


class StageSignature(wiring.Signature):
    """What one pipeline stage holds.

    Members
    -------
    op : Out(Op)
    group : Out(range(groups))
        The group of neurons (the channel, in the input delay stage) the operation works on.
    """

    def __init__(self, groups: int):
        super().__init__({"op": Out(Op), "group": Out(range(groups))})


class QueueReadSignature(wiring.Signature):
    """The sequencer reads the recurrent queue (the neurons that fired last step) while it issues
    their rows.

    Members
    -------
    addr : Out(range(n))
        Queue entry to read; its index arrives on `data` in the next cycle.
    restart : Out(1)
        The update sweep starts: the queue empties (it fills again with this step's events).
    data : In(index_bits)
    length : In(range(n + 1))
        Entries queued.
    """

    def __init__(self, n: int, index_bits: int):
        super().__init__({"addr": Out(range(n)), "restart": Out(1), "data": In(index_bits),
                          "length": In(range(n + 1))})


class QueuePushSignature(wiring.Signature):
    """The emit stage queues every event of an update it hands on (recurrent layers).

    Members
    -------
    en : Out(1)
    index : Out(range(max(2, n)))
        The neuron that fired.
    """

    def __init__(self, n: int):
        super().__init__({"en": Out(1), "index": Out(range(max(2, n)))})


class LoadSignature(wiring.Signature):
    """A decoded parameter write (port_decoder.py to the memories and registers).

    Members
    -------
    <space> : Out(1), one per writable space (`weight`, `delay`, `register`, `membrane`,
        `history`)
        A write to that space in this cycle, whether or not its address is in range.
    ok : Out(1)
        The address is inside the space: the write happens.
    lane : Out(1).array(lanes)
        `ok`, and the neuron is in lane k (neuron j is word j // K of lane j % K).
    addr : Out(PORT_ADDR_BITS)
        The address as written (a weight word, a register number).
    word : Out(PORT_ADDR_BITS - log2(lanes))
        The word of a per-neuron memory: addr // K.
    data : Out(DATA_BITS)
    """

    def __init__(self, spaces, lanes: int):
        lane_bits = lanes.bit_length() - 1
        super().__init__({
            **{space.name.lower(): Out(1) for space in spaces},
            "ok": Out(1), "lane": Out(1).array(lanes), "addr": Out(PORT_ADDR_BITS),
            "word": Out(PORT_ADDR_BITS - lane_bits), "data": Out(DATA_BITS),
        })


class ReadAddressSignature(wiring.Signature):
    """A readback request addresses the memories (port_decoder.py to the memories).

    Members
    -------
    en : Out(1)
    addr : Out(PORT_ADDR_BITS)
        The address as requested (a weight word).
    word : Out(PORT_ADDR_BITS - log2(lanes))
        The word of a per-neuron memory: addr // K.
    """

    def __init__(self, lanes: int):
        lane_bits = lanes.bit_length() - 1
        super().__init__({"en": Out(1), "addr": Out(PORT_ADDR_BITS),
                          "word": Out(PORT_ADDR_BITS - lane_bits)})


class ReadbackSourcesSignature(wiring.Signature):
    """The words a block can read back, per space, as the port decoder selects them.

    Members
    -------
    <space> : Out(shape).array(count), one per readable space
        The register-file values (`register`, indexed by `Register`) or the read stage's
        registers (one per lane); signed ones are sign-extended into the response.
    """

    def __init__(self, readable: dict):
        super().__init__({space.name.lower(): Out(shape).array(count)
                          for space, (shape, count) in readable.items()})


class RegistersSignature(wiring.Signature):
    """A layer's run-time registers (docs/core.md, 1: run-time registers).

    Members
    -------
    threshold : Out(v_bits - 1, init=1)
    leak : Out(5 or 9), see `neuron.LEAK_BITS`
    weight_shift : Out(3)
        A weight w counts w << weight_shift, 0 .. 7.
    reset_mode : Out(1)
    """

    def __init__(self, shape: LayerShape, leak_mode: str):
        super().__init__({
            "threshold": Out(shape.v_bits - 1, init=1), "leak": Out(leak_shape(leak_mode)),
            "weight_shift": Out(3), "reset_mode": Out(1),
        })

    @staticmethod
    def field(register: Register) -> str:
        """The member that holds `register`."""
        return register.name.lower()


class NeuronStateSignature(wiring.Signature):
    """What the read stage holds: the per-neuron words of a group, one per lane, as the memories
    returned them.

    Members
    -------
    v : Out(signed(v_bits)).array(lanes)
    acc : Out(signed(acc_bits)).array(lanes)
    hist : Out(depth).array(lanes)                 (LIF layers only)
    delay : Out(delay_bits).array(lanes)           (LIF layers only)
    """

    def __init__(self, shape: LayerShape):
        K = shape.lanes
        members = {"v": Out(signed(shape.v_bits)).array(K),
                   "acc": Out(signed(shape.acc_bits)).array(K)}
        if shape.spiking:
            members.update(hist=Out(shape.depth).array(K), delay=Out(shape.delay_bits).array(K))
        super().__init__(members)


class AccumulateWriteSignature(wiring.Signature):
    """The accumulate stage writes a group's new sums back.

    Members
    -------
    en : Out(1)
    group : Out(range(groups))
    sum : Out(signed(acc_bits)).array(lanes)
    """

    def __init__(self, shape: LayerShape):
        super().__init__({"en": Out(1), "group": Out(range(shape.n // shape.lanes)),
                          "sum": Out(signed(shape.acc_bits)).array(shape.lanes)})


class UpdateResultSignature(wiring.Signature):
    """What the fire stage hands to the write-back / emit stage, per lane.

    Members
    -------
    v : Out(signed(v_bits)).array(lanes)
        The new membrane.
    hist : Out(depth).array(lanes)                 (LIF layers only)
        The new spike history.
    y : Out(1).array(lanes)                        (LIF layers only)
        The delayed spike: the neuron emits an event.
    """

    def __init__(self, shape: LayerShape):
        K = shape.lanes
        members = {"v": Out(signed(shape.v_bits)).array(K)}
        if shape.spiking:
            members.update(hist=Out(shape.depth).array(K), y=Out(1).array(K))
        super().__init__(members)


class UpdateWriteSignature(wiring.Signature):
    """The write-back stage stores an updated group (or zeroes it, for a CLEAR); the group's sums
    restart from 0.

    Members
    -------
    en : Out(1)
    group : Out(range(groups))
    clear : Out(1)
        Write zeros instead of the new membranes and histories.
    result : Out(UpdateResultSignature)
    """

    def __init__(self, shape: LayerShape):
        super().__init__({"en": Out(1), "group": Out(range(shape.n // shape.lanes)),
                          "clear": Out(1), "result": Out(UpdateResultSignature(shape))})


def writable_spaces(shape: LayerShape) -> dict:
    """{space: words} a layer's parameter port writes (docs/core.md, 4)."""
    sizes = {Space.WEIGHT: shape.weight_words, Space.MEMBRANE: shape.n, Space.REGISTER: len(Register)}
    if shape.spiking:
        sizes.update({Space.DELAY: shape.n, Space.HISTORY: shape.n})
    return sizes


def readable_spaces(shape: LayerShape) -> dict:
    """{space: words} a layer's readback port reads (docs/core.md, 5): what it writes, and the
    accumulated sums."""
    return {**writable_spaces(shape), Space.ACCUM: shape.n}
