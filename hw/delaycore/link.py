"""The host link of docs/link.md: framed commands over a byte stream, executed against the core.

    rx bytes -> FIFO -> Link FSM (hunt, header, payload into `buf`, CRC check, execute) -> response -+
    core.o   -> OutputFramer (one OUTPUT frame per item)  -> header, bytes -> TxShared (FrameEncoder) -+-> tx

The Link FSM handles one frame at a time: receive, check, execute, hand the response to the
encoder. While it executes or responds, bytes wait in the rx FIFO. Output items have their own
framer, so the core never waits on the command path: an EVENTS frame drains into the core as the
core accepts it while OUTPUT frames keep leaving. Responses and OUTPUT frames share one
FrameEncoder, which never interleaves two frames (when both wait, they alternate).
"""

from types import SimpleNamespace

from amaranth import *
from amaranth.lib import wiring, stream, data
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from corespec.identity import identity_bytes
from golden_model.config import CoreConfig
from .block_ram import collision_free_memory, collision_free
from .crc16 import Crc16
from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout, DATA_BITS
from .network import Network
from .learning_network import LearningNetwork
from .uart import UartRx, UartTx, divider as uart_divider

SOF = 0xA5
MAX_PAYLOAD = 1020
TIMEOUT_BITS = 4096
VERSION = 1
BUF_DEPTH = 1024

PING, WRITE, READ, EVENTS, STATUS, LABEL, IDENT = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
OUTPUT, ERROR = 0x90, 0xEE
BAD_CRC, TRUNCATED, UNKNOWN_CMD, OVERSIZE, BAD_LENGTH, STEP_OPEN = 1, 2, 3, 4, 5, 6
WRITE_BYTES, READ_BYTES, EVENT_BYTES, LABEL_BYTES = 13, 5, 3, 2
MAX_READS = MAX_PAYLOAD // 8           # the response must fit a frame: 127 records
STATUS_SPACE = 7
RESERVED_KIND = 3
EOT_KIND, CLEAR_KIND = 1, 2

HeaderLayout = data.StructLayout({"cmd": 8, "len": 16})
TxByteLayout = data.StructLayout({"data": 8, "last": 1})


class FrameEncoder(wiring.Component):
    """A header (`cmd`, `len`) on `hdr`, then exactly `len` payload bytes on `data`, become
    `0xA5 cmd len payload crc` on `o`; `last` marks the frame's final byte.

    `max_len`: the longest payload its user sends (the length registers are that wide);
    `cmd`: the command of every frame, when its user sends only one (no register for it)."""

    def __init__(self, max_len: int = 0xFFFF, cmd: int | None = None):
        self.max_len = max_len
        self.cmd = cmd
        super().__init__({
            "hdr": In(stream.Signature(HeaderLayout)),
            "data": In(stream.Signature(8)),
            "o": Out(stream.Signature(TxByteLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        cmd = Signal(8) if self.cmd is None else C(self.cmd, 8)
        length = Signal(range(self.max_len + 1))
        remaining = Signal(range(self.max_len + 1))
        sent = self.o.valid & self.o.ready
        m.d.comb += crc.data.eq(self.o.payload.data)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.hdr.ready.eq(1)
                with m.If(self.hdr.valid):
                    m.d.comb += crc.clear.eq(1)
                    if self.cmd is None:
                        m.d.sync += cmd.eq(self.hdr.payload.cmd)
                    m.d.sync += [length.eq(self.hdr.payload.len), remaining.eq(self.hdr.payload.len)]
                    m.next = "SOF"
            with m.State("SOF"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(SOF)]
                with m.If(sent):
                    m.next = "CMD"
            for state, byte, nxt in (("CMD", cmd, "LEN0"), ("LEN0", length[:8], "LEN1"),
                                     ("LEN1", length[8:], None)):
                with m.State(state):
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(byte), crc.en.eq(sent)]
                    with m.If(sent):
                        if nxt:
                            m.next = nxt
                        else:
                            with m.If(length == 0):
                                m.next = "CRC0"
                            with m.Else():
                                m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.o.valid.eq(self.data.valid), self.o.payload.data.eq(self.data.payload),
                             self.data.ready.eq(self.o.ready), crc.en.eq(sent)]
                with m.If(sent):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "CRC0"
            with m.State("CRC0"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[:8])]
                with m.If(sent):
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[8:]),
                             self.o.payload.last.eq(1)]
                with m.If(sent):
                    m.next = "IDLE"
        return m


class OutputFramer(wiring.Component):
    """One OUTPUT frame (cmd 0x90) per output item of the core: `kind|addr<<2` (3 bytes LE) and
    `value` sign-extended to 3 bytes LE, as a header on `hdr` and its 6 payload bytes on `data`
    (for a FrameEncoder). It takes the next item when the previous frame's bytes are out."""

    def __init__(self, v_bits: int):
        super().__init__({
            "i": In(stream.Signature(OutputLayout(v_bits))),
            "hdr": Out(stream.Signature(HeaderLayout)),
            "data": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(48)
        count = Signal(range(7))
        idle = count == 0
        m.d.comb += [
            self.hdr.valid.eq(self.i.valid & idle),
            self.hdr.payload.cmd.eq(OUTPUT), self.hdr.payload.len.eq(6),
            self.i.ready.eq(self.hdr.ready & idle),
            self.data.valid.eq(~idle), self.data.payload.eq(shreg[:8]),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg[:24].eq(Cat(self.i.payload.kind, self.i.payload.addr)),
                         shreg[24:].eq(self.i.payload.value), count.eq(6)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shreg.eq(shreg >> 8), count.eq(count - 1)]
        return m


class TxShared(wiring.Component):
    """Two framed sources (a header, then its payload bytes) onto one FrameEncoder and one byte
    stream: a frame, once its header is taken, goes out whole; when both headers wait, the
    source that did not send last goes first. (One encoder and CRC for responses and output
    frames: the encoder sends one frame at a time anyway.)"""

    a_hdr: In(stream.Signature(HeaderLayout))
    a_data: In(stream.Signature(8))
    b_hdr: In(stream.Signature(HeaderLayout))
    b_data: In(stream.Signature(8))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.enc = enc = FrameEncoder(max_len=MAX_PAYLOAD)
        owner = Signal()          # the frame being sent: 0 a, 1 b
        prefer_b = Signal()
        pick = Mux(self.a_hdr.valid & self.b_hdr.valid, prefer_b, self.b_hdr.valid)
        m.d.comb += [
            enc.hdr.valid.eq(self.a_hdr.valid | self.b_hdr.valid),
            enc.hdr.payload.eq(Mux(pick, self.b_hdr.payload.as_value(), self.a_hdr.payload.as_value())),
            self.a_hdr.ready.eq(enc.hdr.ready & ~pick), self.b_hdr.ready.eq(enc.hdr.ready & pick),
            enc.data.valid.eq(Mux(owner, self.b_data.valid, self.a_data.valid)),
            enc.data.payload.eq(Mux(owner, self.b_data.payload, self.a_data.payload)),
            self.a_data.ready.eq(enc.data.ready & ~owner), self.b_data.ready.eq(enc.data.ready & owner),
            self.o.valid.eq(enc.o.valid), self.o.payload.eq(enc.o.payload.data),
            enc.o.ready.eq(self.o.ready),
        ]
        with m.If(enc.hdr.valid & enc.hdr.ready):
            m.d.sync += owner.eq(pick)
        with m.If(enc.o.valid & enc.o.ready & enc.o.payload.last):
            m.d.sync += prefer_b.eq(~owner)
        return m


class Link(wiring.Component):
    """Frame decoder, command executor and response encoder (docs/link.md).

    `rx`/`tx` are byte streams (a UART, or a testbench); `core_i`, `core_o`, `load`, `rb_req` and
    `rb_resp` connect to the Network's `i`, `o`, `load`, `rb_req`, `rb_resp`. A frame that has
    started ends as truncated when no byte arrives for `timeout_cycles` (default
    `(TIMEOUT_BITS + 10) * divider`: a line idle for more than 4096 bit times between bytes).

    `learning`: the core is a LearningNetwork; `label` connects to its `label` stream and the
    LABEL command is known (without it LABEL is an unknown command and `label` stays idle). The
    learning engine takes nothing but input events while a step is open (after a non-marker
    event, before the next EOT or CLEAR), so with `learning` a LABEL, WRITE, READ or STATUS
    frame that arrives then is refused with STEP_OPEN instead of holding the link for ever.

    IDENT answers with the device identity (corespec.identity: the configuration, `learning`,
    `baud`, the clock and `board`, canonical JSON with a hash), held in a ROM.
    """

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.ident = identity_bytes(config, learning=learning, baud=baud, clk_hz=clk_freq,
                                    board=board)
        self.divider = uart_divider(clk_freq, baud)
        self.timeout_cycles = timeout_cycles or (TIMEOUT_BITS + 10) * self.divider
        self.rx_fifo_depth = rx_fifo_depth
        ports = {
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "core_i": Out(stream.Signature(EventLayout)),
            "core_o": In(stream.Signature(OutputLayout(config.v_bits))),
            "load": Out(stream.Signature(WriteLayout)),
            "rb_req": Out(stream.Signature(ReadLayout)),
            "rb_resp": In(stream.Signature(DATA_BITS)),
            "discarded": Out(32),
        }
        if learning:        # without it the Link is exactly what it was before the engine
            ports["label"] = Out(stream.Signature(16))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config

        # -- submodules --------------------------------------------------------------------------
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=self.rx_fifo_depth)
        wiring.connect(m, wiring.flipped(self.rx), fifo.w_stream)
        # Neither memory's word is used after a cycle that writes it (block_ram.py).
        m.submodules.buf = buf = collision_free_memory(shape=8, depth=BUF_DEPTH)
        wr, rd = buf.write_port(), buf.read_port()
        collision_free(m, rd, wr)
        # The STATUS error counters bad_crc, truncated, unknown_cmd, bad_length: one word each of a
        # small block RAM, bumped by a read-modify-write in ERROR / ERROR_INC (one incrementer
        # for all four instead of four counters in logic cells).
        m.submodules.counts = counts = collision_free_memory(shape=32, depth=4,
                                                             attrs={"ram_style": "block"})
        cnt_wr, cnt_rd = counts.write_port(), counts.read_port()
        collision_free(m, cnt_rd, cnt_wr)
        # The identity (IDENT): a ROM copied into buf when asked for.
        m.submodules.ident = ident = Memory(shape=8, depth=len(self.ident), init=self.ident,
                                            attrs={"ram_style": "block"})
        ident_rd = ident.read_port()
        m.submodules.crc = crc = Crc16()
        m.submodules.out = out = OutputFramer(cfg.v_bits)
        m.submodules.tx = txs = TxShared()
        wiring.connect(m, wiring.flipped(self.core_o), out.i)
        wiring.connect(m, out.hdr, txs.b_hdr)
        wiring.connect(m, out.data, txs.b_data)
        wiring.connect(m, txs.o, wiring.flipped(self.tx))
        # The response source (a): the FSM drives its header and payload bytes.
        resp = SimpleNamespace(hdr=txs.a_hdr, data=txs.a_data)

        # -- registers ---------------------------------------------------------------------------
        # One register after the FIFO (a byte a cycle still), so that the FIFO's block-RAM read
        # port feeds no FSM logic in the same cycle.
        byte = Signal(8)
        have = Signal()
        take = Signal()
        m.d.comb += fifo.r_stream.ready.eq(~have | take)
        with m.If(~have | take):
            m.d.sync += [have.eq(fifo.r_stream.valid), byte.eq(fifo.r_stream.payload)]
        got = have & take

        cmd = Signal(8)
        length = Signal(16)
        ptr = Signal(range(BUF_DEPTH + 1))
        skip = Signal(17)
        crc_lo = Signal(8)
        timer = Signal(range(self.timeout_cycles + 1))
        timeout = Signal()
        err_code = Signal(3)
        # Records counted while the payload arrives: mod 3/5/13 and whole records.
        m3, m5, m13 = Signal(range(3)), Signal(range(5)), Signal(range(13))
        k5 = Signal(range(BUF_DEPTH))

        rp = Signal(range(BUF_DEPTH + 1))       # record fetch pointer
        fcount = Signal(range(WRITE_BYTES + 1))  # FETCH: bytes of the record placed so far
        phase = Signal()
        rec = Signal(8 * WRITE_BYTES)
        # DECODE rewrites the record's fields in place (no copy): `port` (layer, space, addr as
        # the load / rb_req ports take them) and `event` are views of `rec`.
        port = data.View(WriteLayout, Cat(rec[0:4], rec[8:11], rec[16:36], rec[40:104]))
        event = data.View(EventLayout, rec[0:18])
        applied = Signal(range(MAX_PAYLOAD // EVENT_BYTES + 1))   # records handed on
        base = Signal(range(BUF_DEPTH + 1))     # READ: next record, walked backwards
        wbase = Signal(range(BUF_DEPTH + 1))    # READ: its result's place
        idx = Signal(range(BUF_DEPTH))          # READ: records left; STATUS: word index
        wval = Signal(DATA_BITS)
        wcount = Signal(4)
        waddr = Signal(range(BUF_DEPTH))
        final = Signal()                        # STORE ends the command
        rcmd = Signal(8)
        rlen = Signal(range(MAX_PAYLOAD + 1))
        stale = Signal()
        step_open = Signal()                    # the last event passed was not EOT / CLEAR

        def refuse_open():
            """With learning: WRITE / READ / STATUS / LABEL are refused while a step is open."""
            if self.learning:
                with m.Elif(step_open):
                    fail(STEP_OPEN)

        # err_code -> counter word (OVERSIZE counts as bad_length; STEP_OPEN is not counted).
        counter_of = {BAD_CRC: 0, TRUNCATED: 1, UNKNOWN_CMD: 2, OVERSIZE: 3, BAD_LENGTH: 3}
        cnt_word = Signal(2)
        with m.Switch(err_code):
            for code, word in counter_of.items():
                with m.Case(code):
                    m.d.comb += cnt_word.eq(word)
        m.d.comb += [cnt_rd.addr.eq(cnt_word), cnt_wr.addr.eq(cnt_word)]
        cnt_next = Signal(33)                   # the carry out: the counter saturated
        m.d.comb += [cnt_next.eq(cnt_rd.data + 1),
                     cnt_wr.data.eq(cnt_next[:32])]

        def bump(counter):
            with m.If(~counter.all()):
                m.d.sync += counter.eq(counter + 1)

        def fail(code):
            m.d.sync += err_code.eq(code)
            m.next = "ERROR"

        def respond_with(code, value, nbytes):
            """Store `value` (nbytes LE) at buf[0] and respond with `code`."""
            m.d.sync += [rcmd.eq(code), rlen.eq(nbytes),
                         wval.eq(value), wcount.eq(nbytes), waddr.eq(0), final.eq(1)]
            m.next = "STORE"

        rec_last = Signal(range(WRITE_BYTES))   # the last byte of the command's record
        with m.Switch(cmd):
            for c_, n_ in ((WRITE, WRITE_BYTES), (READ, READ_BYTES), (EVENTS, EVENT_BYTES),
                           (LABEL, LABEL_BYTES)):
                with m.Case(c_):
                    m.d.comb += rec_last.eq(n_ - 1)

        def fetch(start, nbytes):
            m.d.sync += [rp.eq(start), fcount.eq(0), phase.eq(0)]
            m.next = "FETCH"

        # The frame timer runs while a frame is open and no byte is waiting.
        receiving = Signal()
        with m.If(~receiving | have):
            m.d.sync += timer.eq(0)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)
        m.d.comb += timeout.eq(receiving & ~have & (timer == self.timeout_cycles - 1))

        m.d.comb += [crc.data.eq(byte), wr.data.eq(byte), wr.addr.eq(ptr), rd.addr.eq(rp)]
        # The event register drives the core's input in every state (valid says when it counts), so
        # the guard's checks start at a register, not at the state machine.
        m.d.comb += self.core_i.payload.eq(event)

        with m.FSM():
            # -- receive -----------------------------------------------------------------------
            with m.State("HUNT"):
                m.d.comb += take.eq(1)
                with m.If(got):
                    with m.If(byte == SOF):
                        m.d.comb += crc.clear.eq(1)
                        m.d.sync += cmd.eq(0)
                        m.next = "CMD"
                    with m.Else():
                        bump(self.discarded)

            for state in ("CMD", "LEN0", "LEN1", "PAYLOAD", "CRC0", "CRC1", "SKIP"):
                with m.State(state):
                    m.d.comb += [receiving.eq(1), take.eq(1)]
                    with m.If(timeout):
                        fail(OVERSIZE if state == "SKIP" else TRUNCATED)
                    with m.Elif(got):
                        if state in ("CMD", "LEN0", "LEN1", "PAYLOAD"):
                            m.d.comb += crc.en.eq(1)
                        if state == "CMD":
                            m.d.sync += cmd.eq(byte)
                            m.next = "LEN0"
                        elif state == "LEN0":
                            m.d.sync += length[:8].eq(byte)
                            m.next = "LEN1"
                        elif state == "LEN1":
                            full = Cat(length[:8], byte)
                            m.d.sync += [length[8:].eq(byte), ptr.eq(0), m3.eq(0), m5.eq(0),
                                         m13.eq(0), k5.eq(0), skip.eq(full + 2)]
                            with m.If(full > MAX_PAYLOAD):
                                m.next = "SKIP"
                            with m.Elif(full == 0):
                                m.next = "CRC0"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += wr.en.eq(1)
                            m.d.sync += ptr.eq(ptr + 1)
                            for mod, n in ((m3, 3), (m5, 5), (m13, 13)):
                                with m.If(mod == n - 1):
                                    m.d.sync += mod.eq(0)
                                with m.Else():
                                    m.d.sync += mod.eq(mod + 1)
                            with m.If(m5 == 4):
                                m.d.sync += k5.eq(k5 + 1)
                            with m.If(ptr == length - 1):
                                m.next = "CRC0"
                        elif state == "CRC0":
                            m.d.sync += crc_lo.eq(byte)
                            m.next = "CRC1"
                        elif state == "CRC1":
                            with m.If(Cat(crc_lo, byte) == crc.crc):
                                m.next = "CHECK"
                            with m.Else():
                                fail(BAD_CRC)
                        elif state == "SKIP":
                            m.d.sync += skip.eq(skip - 1)
                            with m.If(skip == 1):
                                fail(OVERSIZE)

            with m.State("ERROR"):              # the counter word is read
                m.next = "ERROR_INC"
            with m.State("ERROR_INC"):
                m.d.comb += cnt_wr.en.eq((err_code != STEP_OPEN) & ~cnt_next[32])
                respond_with(ERROR, Cat(err_code, C(0, 5), cmd), 2)

            # -- check and dispatch ------------------------------------------------------------
            with m.State("CHECK"):
                m.d.sync += [applied.eq(0), rp.eq(0)]
                with m.Switch(cmd):
                    with m.Case(PING):
                        with m.If(length != 0):
                            fail(BAD_LENGTH)
                        with m.Else():
                            ping = int.from_bytes(b"DSNN" + bytes([VERSION, cfg.n_layers]), "little")
                            respond_with(PING | 0x80, ping, 6)
                    with m.Case(IDENT):
                        with m.If(length != 0):
                            fail(BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [idx.eq(0), phase.eq(0)]
                            m.next = "I_COPY"
                    with m.Case(WRITE):
                        with m.If(m13 != 0):
                            fail(BAD_LENGTH)
                        refuse_open()
                        with m.Else():
                            m.next = "W_NEXT"
                    with m.Case(READ):
                        with m.If((m5 != 0) | (k5 > MAX_READS)):
                            fail(BAD_LENGTH)
                        refuse_open()
                        with m.Else():
                            m.d.sync += [idx.eq(k5), base.eq(length - READ_BYTES),
                                         wbase.eq((k5 << 3) - 8)]
                            m.next = "R_NEXT"
                    with m.Case(EVENTS):
                        with m.If(m3 != 0):
                            fail(BAD_LENGTH)
                        with m.Else():
                            m.next = "E_NEXT"
                    with m.Case(STATUS):
                        with m.If(length != 0):
                            fail(BAD_LENGTH)
                        refuse_open()
                        with m.Else():
                            m.d.sync += idx.eq(0)
                            m.next = "S_NEXT"
                    if self.learning:
                        with m.Case(LABEL):
                            with m.If(length != LABEL_BYTES):
                                fail(BAD_LENGTH)
                            refuse_open()
                            with m.Else():
                                fetch(0, LABEL_BYTES)
                    with m.Default():
                        fail(UNKNOWN_CMD)

            # -- fetch one record from buf[rp:] into the bottom of `rec`: one cycle to address the
            # first byte, then one byte a cycle (the read port answers in the next cycle) ---------
            with m.State("FETCH"):
                m.d.sync += phase.eq(1)
                with m.If(phase):
                    m.d.comb += rd.addr.eq(rp + 1)
                    m.d.sync += [rec.word_select(fcount, 8).eq(rd.data), rp.eq(rp + 1),
                                 fcount.eq(fcount + 1)]
                    with m.If(fcount == rec_last):
                        m.next = "DECODE"

            # -- DECODE: the record's fields, in place in `rec` (keeps the record decoding off
            # the paths into the core's handshakes). Fields wider than the port go to layer
            # 15, beyond the last layer: a write there is dropped and counted, a read returns 0.
            # The data field needs no decoding: the load port takes it from `rec` itself.
            with m.State("DECODE"):
                layer, space, addr = rec[0:8], rec[8:16], rec[16:40]
                fits = (layer < 16) & (space < 8) & (addr < (1 << 20))
                word = rec[:24]
                with m.Switch(cmd):
                    with m.Case(WRITE, READ):
                        m.d.sync += [rec[0:4].eq(Mux(fits, layer[:4], 15)),
                                     rec[8:11].eq(Mux(fits, space[:3], 0)),
                                     rec[16:36].eq(Mux(fits, addr[:20], 0))]
                    with m.Case(EVENTS):
                        m.d.sync += rec[0:2].eq(Mux(word[18:].any(), RESERVED_KIND, word[:2]))
                with m.Switch(cmd):
                    with m.Case(WRITE):
                        m.next = "W_LOAD"
                    with m.Case(READ):
                        m.next = "R_REQ"
                    with m.Case(EVENTS):
                        m.next = "E_PUSH"
                    if self.learning:
                        with m.Case(LABEL):
                            m.next = "L_PUSH"

            # -- WRITE: records to the parameter-load port in order ------------------------------
            with m.State("W_NEXT"):
                with m.If(rp == length):
                    respond_with(WRITE | 0x80, applied, 2)
                with m.Else():
                    fetch(rp, WRITE_BYTES)
            with m.State("W_LOAD"):
                m.d.comb += [self.load.valid.eq(1), self.load.payload.eq(port),
                             self.load.payload.data.eq(rec[40:104])]
                with m.If(self.load.ready):
                    m.d.sync += applied.eq(applied + 1)
                    m.next = "W_NEXT"

            # -- EVENTS: event words to the core's input, as it accepts them ---------------------
            with m.State("E_NEXT"):
                with m.If(rp == length):
                    respond_with(EVENTS | 0x80, applied, 2)
                with m.Else():
                    fetch(rp, EVENT_BYTES)
            with m.State("E_PUSH"):
                m.d.comb += self.core_i.valid.eq(1)
                with m.If(self.core_i.ready):
                    m.d.sync += applied.eq(applied + 1)
                    if self.learning:
                        m.d.sync += step_open.eq((event.kind != EOT_KIND) & (event.kind != CLEAR_KIND))
                    m.next = "E_NEXT"

            # -- LABEL: the class (2 bytes LE, at the bottom of `rec`) to the learning engine; the
            # response echoes it. The engine takes it between samples only (never blocked here,
            # since no step is open) and then runs LEARN, during which READ / WRITE wait for it.
            if self.learning:
                with m.State("L_PUSH"):
                    y = rec[:16]
                    m.d.comb += [self.label.valid.eq(1), self.label.payload.eq(y)]
                    with m.If(self.label.ready):
                        respond_with(LABEL | 0x80, y, 2)

            # -- READ: last record first, its 8-byte result in place of the records before it -----
            with m.State("R_NEXT"):
                with m.If(idx == 0):
                    m.d.sync += [rcmd.eq(READ | 0x80), rlen.eq(k5 << 3)]
                    m.next = "RESPOND"
                with m.Else():
                    fetch(base, READ_BYTES)
            with m.State("R_REQ"):
                rq = self.rb_req.payload
                m.d.comb += [self.rb_req.valid.eq(1), rq.layer.eq(port.layer),
                             rq.space.eq(port.space), rq.addr.eq(port.addr)]
                with m.If(self.rb_req.ready):
                    m.next = "R_RESP"
            with m.State("R_RESP"):
                m.d.comb += self.rb_resp.ready.eq(1)
                with m.If(self.rb_resp.valid):
                    m.d.sync += [wval.eq(self.rb_resp.payload), wcount.eq(8), waddr.eq(wbase),
                                 final.eq(0), wbase.eq(wbase - 8), base.eq(base - READ_BYTES),
                                 idx.eq(idx - 1)]
                    m.next = "STORE"

            # -- STATUS: 5 core counters through the readback port, then the link's 4 -------------
            with m.State("S_NEXT"):
                with m.If(idx < 5):
                    m.d.comb += [self.rb_req.valid.eq(1), self.rb_req.payload.space.eq(STATUS_SPACE),
                                 self.rb_req.payload.addr.eq(idx)]
                    with m.If(self.rb_req.ready):
                        m.next = "S_RESP"
                with m.Elif(idx < 9):
                    m.d.comb += cnt_rd.addr.eq((idx - 5)[:2])
                    m.next = "S_LINK"
                with m.Else():
                    m.d.sync += [rcmd.eq(STATUS | 0x80), rlen.eq(36)]
                    m.next = "RESPOND"
            with m.State("S_LINK"):             # the link's counter word idx - 5, read in S_NEXT
                m.d.sync += [wval.eq(cnt_rd.data), wcount.eq(4),
                             waddr.eq(idx << 2), final.eq(0), idx.eq(idx + 1)]
                m.next = "STORE"
            with m.State("S_RESP"):
                m.d.comb += self.rb_resp.ready.eq(1)
                with m.If(self.rb_resp.valid):
                    m.d.sync += [wval.eq(self.rb_resp.payload[:32]), wcount.eq(4),
                                 waddr.eq(idx << 2), final.eq(0), idx.eq(idx + 1)]
                    m.next = "STORE"

            # -- IDENT: the ROM into buf[0:], one byte a cycle (the read port answers in the next
            # cycle: `waddr` is the address of the byte on ident_rd.data), then the response ---
            with m.State("I_COPY"):
                m.d.comb += ident_rd.addr.eq(idx)
                m.d.sync += [idx.eq(idx + 1), waddr.eq(idx), phase.eq(1)]
                with m.If(phase):
                    m.d.comb += [wr.addr.eq(waddr), wr.data.eq(ident_rd.data), wr.en.eq(1)]
                    with m.If(waddr == len(self.ident) - 1):
                        m.d.sync += [rcmd.eq(IDENT | 0x80), rlen.eq(len(self.ident))]
                        m.next = "RESPOND"

            # -- STORE: wval's low `wcount` bytes to buf[waddr:] ---------------------------------
            with m.State("STORE"):
                m.d.comb += [wr.addr.eq(waddr), wr.data.eq(wval[:8]), wr.en.eq(1)]
                m.d.sync += [wval.eq(wval >> 8), waddr.eq(waddr + 1), wcount.eq(wcount - 1)]
                with m.If(wcount == 1):
                    with m.If(final):
                        m.next = "RESPOND"
                    with m.Elif(cmd == READ):
                        m.next = "R_NEXT"
                    with m.Else():
                        m.next = "S_NEXT"

            # -- RESPOND: header, then buf[0:rlen] to the response encoder -----------------------
            with m.State("RESPOND"):
                m.d.comb += [resp.hdr.valid.eq(1), resp.hdr.payload.cmd.eq(rcmd),
                             resp.hdr.payload.len.eq(rlen)]
                with m.If(resp.hdr.ready):
                    m.d.sync += [rp.eq(0), stale.eq(1)]
                    with m.If(rlen == 0):
                        m.next = "HUNT"
                    with m.Else():
                        m.next = "SEND"
            with m.State("SEND"):
                # The read port is addressed one byte ahead when a byte is taken: one a cycle.
                m.d.sync += stale.eq(0)
                m.d.comb += [resp.data.valid.eq(~stale), resp.data.payload.eq(rd.data)]
                with m.If(resp.data.valid & resp.data.ready):
                    m.d.sync += rp.eq(rp + 1)
                    m.d.comb += rd.addr.eq(rp + 1)
                    with m.If(rp == rlen - 1):
                        m.next = "HUNT"
        return m


class ByteLinkedCore(wiring.Component):
    """Link + Network (or LearningNetwork, with `learning`) with byte streams `rx`/`tx`: what
    LinkedCore is without its UART."""

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.link_args = dict(clk_freq=clk_freq, baud=baud, timeout_cycles=timeout_cycles,
                              rx_fifo_depth=rx_fifo_depth, learning=learning, board=board)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "discarded": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = Link(self.config, **self.link_args)
        m.submodules.core = core = (LearningNetwork if self.learning else Network)(self.config)
        self.core = core
        if self.learning:
            wiring.connect(m, link.label, core.label)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        wiring.connect(m, link.core_i, core.i)
        wiring.connect(m, core.o, link.core_o)
        wiring.connect(m, link.load, core.load)
        wiring.connect(m, link.rb_req, core.rb_req)
        wiring.connect(m, core.rb_resp, link.rb_resp)
        m.d.comb += self.discarded.eq(link.discarded)
        return m


class LinkedCore(wiring.Component):
    """UART + Link + Network (LearningNetwork with `learning`): the core behind two pins, for the
    board top levels.

    `overruns` counts bytes lost because the rx FIFO was full (a host that does not wait for
    responses), `frame_errors` bytes with a low stop bit."""

    def __init__(self, config: CoreConfig, clk_freq: float = 12e6, baud: int = 115200, *,
                 timeout_cycles: int | None = None, rx_fifo_depth: int = 512,
                 learning: bool = False, board: str = ""):
        self.config = config
        self.learning = learning
        self.divider = uart_divider(clk_freq, baud)
        self.link_args = dict(clk_freq=clk_freq, baud=baud, timeout_cycles=timeout_cycles,
                              rx_fifo_depth=rx_fifo_depth, learning=learning, board=board)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "overruns": Out(16),
            "frame_errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = urx = UartRx(self.divider)
        m.submodules.uart_tx = utx = UartTx(self.divider)
        m.submodules.linked = linked = ByteLinkedCore(self.config, **self.link_args)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, urx.o, linked.rx)
        wiring.connect(m, linked.tx, utx.i)
        with m.If(urx.overrun & ~self.overruns.all()):
            m.d.sync += self.overruns.eq(self.overruns + 1)
        with m.If(urx.frame_error & ~self.frame_errors.all()):
            m.d.sync += self.frame_errors.eq(self.frame_errors + 1)
        return m
