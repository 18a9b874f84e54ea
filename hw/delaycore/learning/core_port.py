"""The core's load and readback ports as the learning engine uses them (docs/learning.md, 6.1).

`CorePort` names the three streams; the engine has one towards the outside (`host`, flipped: it
serves the outside's requests) and one towards the core (`core`: it makes requests). `CoreAccess`
is how the sequencer makes a request: a request register the core's ports are driven from (no
combinational path from the outside into the core's port engine), and a subroutine of three
states that makes one transaction and returns to the state the caller named, so a phase is a
plain list of "read this, compute, write that" steps.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from delaycore.core.layouts import WriteLayout, ReadLayout, DATA_BITS
from delaycore.learning.states import State


class CorePort(wiring.Signature):
    """The core's load and readback ports, from the side that makes requests
    (docs/core.md, sections 4 and 5).

    Members
    -------
    load: :py:`Out(stream.Signature(WriteLayout))`
        A write of one word (weights, a delay, a register; space LEARN: the engine's registers).
    rb_req: :py:`Out(stream.Signature(ReadLayout))`
        A readback request.
    rb_resp: :py:`In(stream.Signature(DATA_BITS))`
        Its response; the core's response register holds the word until the next request.
    """

    def __init__(self):
        super().__init__({"load": Out(stream.Signature(WriteLayout)),
                          "rb_req": Out(stream.Signature(ReadLayout)),
                          "rb_resp": In(stream.Signature(DATA_BITS))})

    def __eq__(self, other):
        return type(self) is type(other)


class CoreAccess:
    """The sequencer's requests on `port` (a `CorePort`): `read` / `write` latch the request and
    enter the subroutine (C_RD, C_RDW / C_WR), which returns to `back` when the core has taken
    the load or answered the read. The outside's loads and readback requests are replayed from
    the same request register (`request`)."""

    def __init__(self, port, state, ret):
        self.port, self.state, self.ret = port, state, ret
        self.request = Signal(WriteLayout, name="request")

    def drive(self, m):
        """The core's request payloads come from the request register."""
        req = self.request
        m.d.comb += [self.port.load.payload.eq(req),
                     self.port.rb_req.payload.layer.eq(req.layer),
                     self.port.rb_req.payload.space.eq(req.space),
                     self.port.rb_req.payload.addr.eq(req.addr)]

    def read(self, m, layer, space, addr, back):
        """Read (layer, space, addr) from the core, then go to `back` (the word in `port.rb_resp.
        payload`, held there until the next request)."""
        req = self.request
        m.d.sync += [req.layer.eq(layer), req.space.eq(space), req.addr.eq(addr),
                     self.state.eq(State.C_RD), self.ret.eq(back)]

    def write(self, m, layer, space, addr, data, back):
        """Load `data` to (layer, space, addr) of the core, then go to `back`."""
        req = self.request
        m.d.sync += [req.layer.eq(layer), req.space.eq(space), req.addr.eq(addr),
                     req.data.eq(data), self.state.eq(State.C_WR), self.ret.eq(back)]

    def states(self, m):
        """The subroutine's states (inside the sequencer's `m.Switch(state)`)."""
        port, state = self.port, self.state
        with m.Case(State.C_RD):
            m.d.comb += port.rb_req.valid.eq(1)
            with m.If(port.rb_req.ready):
                m.d.sync += state.eq(State.C_RDW)
        with m.Case(State.C_RDW):
            m.d.comb += port.rb_resp.ready.eq(1)
            with m.If(port.rb_resp.valid):
                m.d.sync += state.eq(self.ret)
        with m.Case(State.C_WR):
            m.d.comb += port.load.valid.eq(1)
            with m.If(port.load.ready):
                m.d.sync += state.eq(self.ret)
