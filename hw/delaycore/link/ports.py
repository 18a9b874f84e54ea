"""The host link's port engine (docs/link.md, commands): a job -> the core's ports, and the
response's payload into the frame buffer.

`PortEngine` reads each record of the request back from the frame buffer (one byte a cycle,
`FETCH`), decodes its fields in place (`DECODE`: keeps the decoding off the paths into the
core's handshakes) and hands it to the core's port when the core accepts it: WRITE to `load`,
EVENTS to `core_i`, READ to `rb_req` / `rb_resp`, LABEL to the learning engine's `label`.
Results go into the buffer (`STORE`): READ runs its records last to first and writes each 8-byte
result where records already used were. PING and IDENT answer from constants and a ROM, STATUS
from the core's 5 counters (readback space STATUS) and the link's 4 error counters, which live
in a small block RAM bumped by a read-modify-write (`ERROR` -> `ERROR_INC`: one incrementer for
all four). When the payload is in place it starts the response (`respond`).
"""

from enum import IntEnum
from types import SimpleNamespace

from amaranth import *
from amaranth.lib import data, wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.events import EventKind
from corespec.link import (MAX_PAYLOAD, RESPONSE, VERSION, Command, ErrorCode, STATUS_FIELDS,
                           WRITE_BYTES, READ_BYTES, EVENT_BYTES, WORD_BYTES, LABEL_BYTES)
from corespec.spaces import Space, StatusCounter
from corespec.config import CoreConfig
from delaycore.core.block_ram import collision_free_memory, collision_free
from delaycore.core.layouts import EventLayout, WriteLayout, ReadLayout, DATA_BITS
from delaycore.link.buffer import BufferWriteSignature, CursorSignature, BufferPosition, BUF_DEPTH
from delaycore.link.decode import Action, JobSignature

PING_MAGIC = b"DSNN"                    # the PING response: magic, VERSION, n_layers
STATUS_WORD_BYTES = 4
CORE_STATUS_WORDS = len(StatusCounter)  # through the readback port, then the link's own
STATUS_WORDS = len(STATUS_FIELDS)


class LinkCounter(IntEnum):
    """The link's STATUS words (after the core's), one word each of the counter RAM."""
    BAD_CRC = 0
    TRUNCATED = 1
    UNKNOWN_CMD = 2
    BAD_LENGTH = 3


assert [c.name.lower() for c in LinkCounter] == list(STATUS_FIELDS[CORE_STATUS_WORDS:])
# The counter an error bumps: OVERSIZE counts as bad_length, STEP_OPEN is not counted.
COUNTER_OF = {ErrorCode.BAD_CRC: LinkCounter.BAD_CRC, ErrorCode.TRUNCATED: LinkCounter.TRUNCATED,
              ErrorCode.UNKNOWN_CMD: LinkCounter.UNKNOWN_CMD,
              ErrorCode.OVERSIZE: LinkCounter.BAD_LENGTH, ErrorCode.BAD_LENGTH: LinkCounter.BAD_LENGTH}

# A WRITE / READ record as it arrives (READ's ends after addr); byte-wide fields.
WireRecord = data.StructLayout({"layer": 8, "space": 8, "addr": 24, "data": DATA_BITS})
_port = data.Layout.cast(ReadLayout)
LAYER_BITS, SPACE_BITS, ADDR_BITS = (_port[f].width for f in ("layer", "space", "addr"))
# Where a record with a field wider than the port goes: layer 15, space 0 (weights), addr 0,
# which no network has (layer 15 is beyond the last layer, or the input delay stage, which has
# no weight space): a write there is dropped and counted, a read returns 0.
OUT_OF_RANGE_LAYER, OUT_OF_RANGE_SPACE, OUT_OF_RANGE_ADDR = (1 << LAYER_BITS) - 1, Space.WEIGHT, 0
RECORD_BYTES = {Action.WRITE: WRITE_BYTES, Action.READ: READ_BYTES, Action.EVENTS: EVENT_BYTES,
                Action.LABEL: LABEL_BYTES}
ErrorPayload = data.StructLayout({"code": 8, "cmd": 8})


class ResponseSignature(wiring.Signature):
    """A response to send, from the port engine's side: its payload is in the frame buffer,
    from the first byte. `cmd` and `length` hold until `done`.

    Members
    -------
    start : :py:`Out(1)`
        Pulse: send it.
    cmd : :py:`Out(8)`
        The response's command byte.
    length : :py:`Out(range(MAX_PAYLOAD + 1))`
    done : :py:`In(1)`
        Pulse: its last byte has gone to the frame encoder.
    """

    def __init__(self):
        super().__init__({"start": Out(1), "cmd": Out(8), "length": Out(range(MAX_PAYLOAD + 1)),
                          "done": In(1)})


class PortEngine(wiring.Component):
    """`job` -> the core's ports (`core_i`, `load`, `rb_req`/`rb_resp`, with `learning` `label`)
    -> the response's payload in the buffer (`fetch` reads records, `store` writes results) ->
    `respond`. `ident`: the IDENT response (corespec.identity), held in a ROM."""

    def __init__(self, config: CoreConfig, ident: bytes, learning: bool = False):
        self.config = config
        self.ident = ident
        self.learning = learning
        ports = {
            "job": In(JobSignature()),
            "fetch": Out(CursorSignature()),
            "store": Out(BufferWriteSignature()),
            "respond": Out(ResponseSignature()),
            "core_i": Out(stream.Signature(EventLayout)),
            "load": Out(stream.Signature(WriteLayout)),
            "rb_req": Out(stream.Signature(ReadLayout)),
            "rb_resp": In(stream.Signature(DATA_BITS)),
        }
        if learning:
            ports["label"] = Out(stream.Signature(16))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        r = self._registers()
        self._error_counters(m, r)
        self._record_end(m, r)
        m.submodules.ident = ident = Memory(shape=8, depth=len(self.ident), init=self.ident,
                                            attrs={"ram_style": "block"})
        r.ident_rd = ident.read_port()
        m.d.comb += [self.job.step_open.eq(r.step_open), self.job.done.eq(self.respond.done),
                     self.respond.cmd.eq(r.rcmd), self.respond.length.eq(r.rlen),
                     # The event register drives the core's input in every state (valid says
                     # when it counts), so the guard's checks start at a register.
                     self.core_i.payload.eq(r.event)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.job.start):
                    self._start(m, r)
            self._fetch_states(m, r)
            self._write_states(m, r)
            self._event_states(m, r)
            if self.learning:
                self._label_state(m, r)
            self._read_states(m, r)
            self._status_states(m, r)
            self._ident_state(m, r)
            self._store_state(m, r)
            self._error_states(m, r)
        return m

    def _registers(self):
        """The engine's registers. `rec` holds the record being handled; DECODE rewrites its
        fields in place (no copy): `port` (layer, space, addr, data as the load / rb_req ports
        take them) and `event` are views of it."""
        r = SimpleNamespace()               # (attributes, so that the signals get their names)
        r.action = Signal(Action)
        r.err_code = Signal(ErrorCode)
        r.rec = Signal(8 * WRITE_BYTES)
        r.wire = wire = data.View(WireRecord, r.rec)
        r.port = data.View(WriteLayout, Cat(wire.layer[:LAYER_BITS], wire.space[:SPACE_BITS],
                                            wire.addr[:ADDR_BITS], wire.data))
        r.event = data.View(EventLayout, r.rec[:data.Layout.cast(EventLayout).size])
        r.fcount = Signal(range(WRITE_BYTES + 1))   # FETCH: bytes of the record placed so far
        r.phase = Signal()                          # FETCH / I_COPY: past the first cycle
        r.applied = Signal(range(MAX_PAYLOAD // EVENT_BYTES + 1))  # records handed on
        r.base = Signal(BufferPosition)             # READ: next record, walked backwards
        r.wbase = Signal(BufferPosition)            # READ: its result's place
        r.idx = Signal(range(BUF_DEPTH))            # READ: records left; STATUS: word; IDENT: byte
        r.wval = Signal(DATA_BITS)                  # STORE: bytes to store, low first
        r.wcount = Signal(range(WORD_BYTES + 1))
        r.waddr = Signal(range(BUF_DEPTH))
        r.final = Signal()                          # STORE ends the job
        r.rcmd = Signal(8)                          # the response's cmd and length
        r.rlen = Signal(range(MAX_PAYLOAD + 1))
        r.step_open = Signal()
        return r

    def _error_counters(self, m, r):
        """The link's 4 STATUS counters, one word each of a small block RAM. Its ports address
        the counter of `err_code` unless STATUS reads another (`cnt_rd`, `cnt_wr`, `cnt_next`:
        the word + 1 with the carry out, which says it saturated)."""
        m.submodules.counts = counts = collision_free_memory(shape=32, depth=len(LinkCounter),
                                                             attrs={"ram_style": "block"})
        r.cnt_wr, r.cnt_rd = counts.write_port(), counts.read_port()
        collision_free(m, r.cnt_rd, r.cnt_wr)
        word = Signal(range(len(LinkCounter)))
        with m.Switch(r.err_code):
            for code, counter in COUNTER_OF.items():
                with m.Case(code):
                    m.d.comb += word.eq(counter)
        m.d.comb += [r.cnt_rd.addr.eq(word), r.cnt_wr.addr.eq(word)]
        r.cnt_next = Signal(33)
        m.d.comb += [r.cnt_next.eq(r.cnt_rd.data + 1), r.cnt_wr.data.eq(r.cnt_next[:32])]

    def _record_end(self, m, r):
        """`r.last`: the last byte of the action's record (FETCH)."""
        r.last = Signal(range(WRITE_BYTES))
        with m.Switch(r.action):
            for action, nbytes in RECORD_BYTES.items():
                with m.Case(action):
                    m.d.comb += r.last.eq(nbytes - 1)

    # -- helpers that end a state ------------------------------------------------------------
    def _fetch(self, m, r, start=None):
        """Read the next record from the buffer into `rec` (from `start`, else from where the
        cursor is), then DECODE."""
        if start is not None:
            m.d.comb += [self.fetch.load.eq(1), self.fetch.start.eq(start)]
        m.d.sync += [r.fcount.eq(0), r.phase.eq(0)]
        m.next = "FETCH"

    def _respond_with(self, m, r, cmd, value, nbytes):
        """Store `value` (`nbytes` LE) at the buffer's start, then respond with `cmd`."""
        m.d.sync += [r.rcmd.eq(cmd), r.rlen.eq(nbytes),
                     r.wval.eq(value), r.wcount.eq(nbytes), r.waddr.eq(0), r.final.eq(1)]
        m.next = "STORE"

    def _respond(self, m, r, cmd, length):
        """The payload is in place: respond with `cmd`."""
        m.d.sync += [r.rcmd.eq(cmd), r.rlen.eq(length)]
        self._send(m)

    def _send(self, m):
        m.d.comb += self.respond.start.eq(1)
        m.next = "IDLE"

    def _store_word(self, m, r, value, nbytes, addr):
        """Store `value` (`nbytes` LE) at `addr`, then go on with the job."""
        m.d.sync += [r.wval.eq(value), r.wcount.eq(nbytes), r.waddr.eq(addr), r.final.eq(0)]
        m.next = "STORE"

    # -- states ------------------------------------------------------------------------------
    def _start(self, m, r):
        """A job arrives (IDLE): set it up (the buffer's cursor at its start)."""
        job = self.job
        m.d.sync += [r.action.eq(job.action), r.applied.eq(0)]
        m.d.comb += [self.fetch.load.eq(1), self.fetch.start.eq(0)]
        with m.Switch(job.action):
            with m.Case(Action.FAIL):
                m.d.sync += r.err_code.eq(job.error)
                m.next = "ERROR"
            with m.Case(Action.PING):
                ping = PING_MAGIC + bytes([VERSION, self.config.n_layers])
                self._respond_with(m, r, Command.PING | RESPONSE, int.from_bytes(ping, "little"),
                                   len(ping))
            with m.Case(Action.IDENT):
                m.d.sync += [r.idx.eq(0), r.phase.eq(0)]
                m.next = "I_COPY"
            with m.Case(Action.WRITE):
                m.next = "W_NEXT"
            with m.Case(Action.READ):
                m.d.sync += [r.idx.eq(job.reads), r.base.eq(job.length - READ_BYTES),
                             r.wbase.eq(job.reads * WORD_BYTES - WORD_BYTES)]
                m.next = "R_NEXT"
            with m.Case(Action.EVENTS):
                m.next = "E_NEXT"
            with m.Case(Action.STATUS):
                m.d.sync += r.idx.eq(0)
                m.next = "S_NEXT"
            if self.learning:
                with m.Case(Action.LABEL):
                    self._fetch(m, r, start=0)

    def _fetch_states(self, m, r):
        """FETCH: one cycle to address the record's first byte, then one byte a cycle into the
        bottom of `rec`. DECODE: its fields, in place. A WRITE / READ field wider than the port
        sends the record OUT_OF_RANGE; an event word with any of bits 18..23 set becomes kind
        RESERVED, which the guard drops and counts. (The data field needs no decoding.)"""
        with m.State("FETCH"):
            m.d.sync += r.phase.eq(1)
            with m.If(r.phase):
                m.d.comb += self.fetch.step.eq(1)
                m.d.sync += [r.rec.word_select(r.fcount, 8).eq(self.fetch.data),
                             r.fcount.eq(r.fcount + 1)]
                with m.If(r.fcount == r.last):
                    m.next = "DECODE"
        with m.State("DECODE"):
            w = r.wire
            fits = (w.layer < (1 << LAYER_BITS)) & (w.space < (1 << SPACE_BITS)) & \
                (w.addr < (1 << ADDR_BITS))
            word = r.rec[:8 * EVENT_BYTES]
            with m.Switch(r.action):
                with m.Case(Action.WRITE, Action.READ):
                    m.d.sync += [w.layer[:LAYER_BITS].eq(Mux(fits, w.layer, OUT_OF_RANGE_LAYER)),
                                 w.space[:SPACE_BITS].eq(Mux(fits, w.space, OUT_OF_RANGE_SPACE)),
                                 w.addr[:ADDR_BITS].eq(Mux(fits, w.addr, OUT_OF_RANGE_ADDR))]
                with m.Case(Action.EVENTS):
                    high = word[len(r.event.as_value()):]
                    m.d.sync += r.event.kind.eq(Mux(high.any(), EventKind.RESERVED, r.event.kind))
            handler = {Action.WRITE: "W_LOAD", Action.READ: "R_REQ", Action.EVENTS: "E_PUSH"}
            if self.learning:
                handler[Action.LABEL] = "L_PUSH"
            with m.Switch(r.action):
                for action, state in handler.items():
                    with m.Case(action):
                        m.next = state

    def _write_states(self, m, r):
        """WRITE: records to the parameter-load port in order; the response counts them."""
        with m.State("W_NEXT"):
            with m.If(self.fetch.pos == self.job.length):
                self._respond_with(m, r, Command.WRITE | RESPONSE, r.applied, 2)
            with m.Else():
                self._fetch(m, r)
        with m.State("W_LOAD"):
            m.d.comb += [self.load.valid.eq(1), self.load.payload.eq(r.port)]
            with m.If(self.load.ready):
                m.d.sync += r.applied.eq(r.applied + 1)
                m.next = "W_NEXT"

    def _event_states(self, m, r):
        """EVENTS: event words to the core's input, as it accepts them; the response counts
        them. With `learning`, `step_open` follows them (set by a non-marker event, cleared by
        EOT or CLEAR: the rule of the engine)."""
        with m.State("E_NEXT"):
            with m.If(self.fetch.pos == self.job.length):
                self._respond_with(m, r, Command.EVENTS | RESPONSE, r.applied, 2)
            with m.Else():
                self._fetch(m, r)
        with m.State("E_PUSH"):
            m.d.comb += self.core_i.valid.eq(1)
            with m.If(self.core_i.ready):
                m.d.sync += r.applied.eq(r.applied + 1)
                if self.learning:
                    kind = r.event.kind
                    m.d.sync += r.step_open.eq((kind != EventKind.EOT) & (kind != EventKind.CLEAR))
                m.next = "E_NEXT"

    def _label_state(self, m, r):
        """LABEL: the class (2 bytes LE, at the bottom of `rec`) to the learning engine; the
        response echoes it. The engine takes it between samples only (never blocked here, since
        no step is open) and then runs LEARN, during which READ / WRITE wait for it."""
        with m.State("L_PUSH"):
            y = r.rec[:8 * LABEL_BYTES]
            m.d.comb += [self.label.valid.eq(1), self.label.payload.eq(y)]
            with m.If(self.label.ready):
                self._respond_with(m, r, Command.LABEL | RESPONSE, y, LABEL_BYTES)

    def _read_states(self, m, r):
        """READ: last record first, its 8-byte result in place of the records before it."""
        with m.State("R_NEXT"):
            with m.If(r.idx == 0):
                self._respond(m, r, Command.READ | RESPONSE, self.job.reads * WORD_BYTES)
            with m.Else():
                self._fetch(m, r, start=r.base)
        with m.State("R_REQ"):
            req = self.rb_req.payload
            m.d.comb += [self.rb_req.valid.eq(1), req.layer.eq(r.port.layer),
                         req.space.eq(r.port.space), req.addr.eq(r.port.addr)]
            with m.If(self.rb_req.ready):
                m.next = "R_RESP"
        with m.State("R_RESP"):
            m.d.comb += self.rb_resp.ready.eq(1)
            with m.If(self.rb_resp.valid):
                self._store_word(m, r, self.rb_resp.payload, WORD_BYTES, r.wbase)
                m.d.sync += [r.wbase.eq(r.wbase - WORD_BYTES), r.base.eq(r.base - READ_BYTES),
                             r.idx.eq(r.idx - 1)]

    def _status_states(self, m, r):
        """STATUS: the core's counters through the readback port, then the link's."""
        place = r.idx * STATUS_WORD_BYTES
        with m.State("S_NEXT"):
            with m.If(r.idx < CORE_STATUS_WORDS):
                m.d.comb += [self.rb_req.valid.eq(1), self.rb_req.payload.space.eq(Space.STATUS),
                             self.rb_req.payload.addr.eq(r.idx)]
                with m.If(self.rb_req.ready):
                    m.next = "S_RESP"
            with m.Elif(r.idx < STATUS_WORDS):
                m.d.comb += r.cnt_rd.addr.eq(r.idx - CORE_STATUS_WORDS)
                m.next = "S_LINK"
            with m.Else():
                self._respond(m, r, Command.STATUS | RESPONSE, STATUS_WORDS * STATUS_WORD_BYTES)
        with m.State("S_LINK"):             # the link's counter, addressed in S_NEXT
            self._store_word(m, r, r.cnt_rd.data, STATUS_WORD_BYTES, place)
            m.d.sync += r.idx.eq(r.idx + 1)
        with m.State("S_RESP"):
            m.d.comb += self.rb_resp.ready.eq(1)
            with m.If(self.rb_resp.valid):
                self._store_word(m, r, self.rb_resp.payload[:8 * STATUS_WORD_BYTES],
                                 STATUS_WORD_BYTES, place)
                m.d.sync += r.idx.eq(r.idx + 1)

    def _ident_state(self, m, r):
        """IDENT: the ROM into the buffer, one byte a cycle (the ROM answers in the next cycle:
        `waddr` is the address of the byte on its data), then the response."""
        with m.State("I_COPY"):
            m.d.comb += r.ident_rd.addr.eq(r.idx)
            m.d.sync += [r.idx.eq(r.idx + 1), r.waddr.eq(r.idx), r.phase.eq(1)]
            with m.If(r.phase):
                m.d.comb += [self.store.en.eq(1), self.store.addr.eq(r.waddr),
                             self.store.data.eq(r.ident_rd.data)]
                with m.If(r.waddr == len(self.ident) - 1):
                    self._respond(m, r, Command.IDENT | RESPONSE, len(self.ident))

    def _store_state(self, m, r):
        """STORE: `wval`'s low `wcount` bytes to buf[waddr:], then respond or go on."""
        with m.State("STORE"):
            m.d.comb += [self.store.en.eq(1), self.store.addr.eq(r.waddr),
                         self.store.data.eq(r.wval[:8])]
            m.d.sync += [r.wval.eq(r.wval >> 8), r.waddr.eq(r.waddr + 1),
                         r.wcount.eq(r.wcount - 1)]
            with m.If(r.wcount == 1):
                with m.If(r.final):
                    self._send(m)
                with m.Elif(r.action == Action.READ):
                    m.next = "R_NEXT"
                with m.Else():
                    m.next = "S_NEXT"

    def _error_states(self, m, r):
        """ERROR: the error's counter word is read; ERROR_INC: it is written back + 1 (unless
        saturated, or STEP_OPEN, which is not counted) and ERROR(code, cmd) is the response."""
        with m.State("ERROR"):
            m.next = "ERROR_INC"
        with m.State("ERROR_INC"):
            m.d.comb += r.cnt_wr.en.eq((r.err_code != ErrorCode.STEP_OPEN) & ~r.cnt_next[32])
            payload = Signal(ErrorPayload)
            m.d.comb += [payload.code.eq(r.err_code), payload.cmd.eq(self.job.cmd)]
            self._respond_with(m, r, Command.ERROR, payload, 2)
