"""Host driver of the link: stop-and-wait commands with resend, image load with verification,
one sample in and its output items out.

A transport moves bytes: `write(data)`, `read(timeout) -> bytes` (waits up to `timeout` seconds
for at least one byte, returns b"" if none), `link_timeout` (seconds of silence after which the
device has ended any open frame) and `response_timeout` (how long a command may take).

The transports (`SerialTransport` for a serial port, `SimTransport` for the RTL in amaranth.sim)
are in `hostlink.transports`.

Every command gets one response frame, so the driver sends a frame and waits for its response
before the next one (the device queues at most its rx FIFO while it works). The exception is a
sample's EVENTS frames (`run_sample`): one more frame, small enough for the rx FIFO, goes out
while the device executes the previous one (EVENT_WINDOW), so the line never idles. A frame answered by
an ERROR frame had no effect on the device and is resent after the line has been quiet for the
link timeout (so the device has dropped any half frame). A missing or garbled response is resent
too for commands that can be repeated harmlessly (PING, READ, STATUS, WRITE); for EVENTS it
raises `LinkError`, and `run_sample` restarts the sample from its CLEAR. UNKNOWN_CMD and
STEP_OPEN answers are not resent (the same frame would get the same answer).

On-chip learning (a device built with the learning engine, docs/learning.md): `set_learning` /
`read_learning` write and read the engine's registers (space 6 through WRITE / READ), `label`
sends the class of the sample just run (LABEL), `learn(words, y)` does both for one sample, and
`read_learning_state` reads traces, eligibilities and scores back.
"""

from collections import deque
from dataclasses import fields

from corespec.events import EventKind
from corespec.learning import LearnRegisters, LearnStatus, Region
from corespec.spaces import Space

from . import frames as fr
from .frames import Frame, FrameDecoder, encode

MASK64 = (1 << 64) - 1
WEIGHT, DELAY, REGISTER, MEMBRANE, HISTORY, ACCUM, LEARN, STATUS_SPACE = tuple(Space)
SPIKE, EOT, CLEAR = EventKind.SPIKE, EventKind.EOT, EventKind.CLEAR
IDEMPOTENT = {fr.PING, fr.READ, fr.STATUS, fr.WRITE}
FINAL_ERRORS = {fr.UNKNOWN_CMD, fr.STEP_OPEN}      # resending the frame cannot help
# The learning engine's registers (space LEARN, region REGS; docs/learning.md section 5), by number.
LEARN_REGISTERS = tuple(f.name for f in fields(LearnRegisters))
LEARN_STATUS = tuple(s.name.lower() for s in LearnStatus)              # region STATUS
# Regions of the engine's state (section 5): name -> region.
LEARN_REGIONS = {"trace_R": Region.TRACE_R, "trace_alt_R": Region.TRACE_ALT_R,
                 "elig_w_R": Region.ELIG_W_R, "elig_d_R": Region.ELIG_D_R, "trace_H": Region.TRACE_H,
                 "trace_alt_H": Region.TRACE_ALT_H, "elig_w_H": Region.ELIG_W_H,
                 "elig_d_H": Region.ELIG_D_H, "score": Region.SCORE}
REGION_STATUS = Region.STATUS
SIGNED_REGIONS = {"elig_d_R", "elig_d_H", "score"}


def learn_addr(region: int, index: int) -> int:
    return (region << 16) | index


class LinkError(RuntimeError):
    pass


class ImageMismatch(LinkError):
    pass


class CoreLink:
    def __init__(self, transport, *, retries: int = 3, response_timeout: float | None = None):
        self.t = transport
        self.retries = retries
        self.response_timeout = response_timeout or transport.response_timeout
        self.decoder = FrameDecoder(rescan=True)
        self.outputs: list[tuple[int, int, int]] = []    # OUTPUT items not yet taken
        self._responses: deque = deque()
        self.stats = {"frames_sent": 0, "resends": 0, "errors_received": 0, "garbled": 0,
                      "missing": 0, "stray": 0}

    # -- plumbing ------------------------------------------------------------------------------
    def _sort(self, items):
        for item in items:
            if isinstance(item, Frame) and item.cmd == fr.OUTPUT and len(item.payload) == 6:
                self.outputs.append(fr.parse_output(item.payload))
            else:
                self._responses.append(item)

    def _pump(self, timeout: float) -> bool:
        data = self.t.read(timeout)
        if data:
            self._sort(self.decoder.feed(data))
        return bool(data)

    def _wait_response(self):
        """The next non-OUTPUT frame or decode error, or None after response_timeout of silence."""
        while not self._responses:
            if not self._pump(self.response_timeout):
                self._sort(self.decoder.timeout())
                if not self._responses:
                    return None
        return self._responses.popleft()

    def _quiet(self):
        """Wait until the line has been silent for the link timeout; keep OUTPUT items, return the
        responses that turned up (a late answer to the frame just sent)."""
        while self._pump(self.t.link_timeout * 1.5):
            pass
        self._sort(self.decoder.timeout())
        late = list(self._responses)
        self._responses.clear()
        return late

    def transact(self, cmd: int, payload: bytes = b"") -> Frame:
        """Send one frame and return its response frame (cmd | 0x80); resend as described above."""
        want = cmd | fr.RESPONSE

        def late_success():
            """Quiet the line; a success that turns up meanwhile answers our frame after all."""
            late = [r for r in self._quiet() if isinstance(r, Frame) and r.cmd == want]
            return late[0] if late else None

        last = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["resends"] += 1
            self.stats["stray"] += len(self._responses)
            self._responses.clear()
            self.t.write(encode(cmd, payload))
            self.stats["frames_sent"] += 1
            resp = self._wait_response()
            if isinstance(resp, Frame) and resp.cmd == want:
                return resp
            if isinstance(resp, Frame) and resp.cmd == fr.ERROR and len(resp.payload) == 2:
                # The frame had no effect (unless the error was for bytes before it and its own
                # answer is still coming).
                self.stats["errors_received"] += 1
                last = f"device answered {fr.ERROR_NAMES.get(resp.payload[0], resp.payload[0])}"
                if (ok := late_success()) is not None:
                    return ok
                if resp.payload[0] in FINAL_ERRORS and resp.payload[1] == cmd:
                    raise LinkError(f"{fr.COMMANDS.get(cmd, hex(cmd))}: {last}")
                continue
            if resp is None:
                self.stats["missing"] += 1
                last = "no response"
            else:
                self.stats["garbled"] += 1
                last = f"unexpected {resp!r}"
            if (ok := late_success()) is not None:
                return ok
            if cmd not in IDEMPOTENT:
                raise LinkError(f"{fr.COMMANDS.get(cmd, cmd)}: {last}; unknown whether applied")
        raise LinkError(f"{fr.COMMANDS.get(cmd, hex(cmd))}: {last} after {self.retries} resends")

    # -- commands ------------------------------------------------------------------------------
    def ping(self) -> dict:
        p = self.transact(fr.PING).payload
        if p[:4] != b"DSNN":
            raise LinkError(f"PING: unexpected identification {p!r}")
        return {"magic": p[:4].decode(), "version": p[4], "n_layers": p[5]}

    def identify(self) -> dict:
        """IDENT: the device's identity (corespec.identity: configuration, learning engine, baud,
        clock, board, hash), checked for well-formedness. LinkError from a device that does not
        know IDENT (built before it)."""
        from corespec.identity import IdentityError, parse_identity
        try:
            p = self.transact(fr.IDENT).payload
        except LinkError as e:
            if "UNKNOWN_CMD" in str(e):
                raise LinkError("the device does not report its identity (IDENT unknown: a "
                                "bitstream older than the identity command); rebuild it") from None
            raise
        try:
            return parse_identity(p)
        except IdentityError as e:
            raise LinkError(str(e)) from None

    def check_device(self, config, *, learning: bool | None = None) -> dict:
        """Refuse (ImageMismatch, naming the first difference) a device whose built configuration
        is not `config`, or (with `learning` True) one without the learning engine. Returns its
        identity."""
        from corespec.identity import config_dict, first_difference
        ident = self.identify()
        diff = first_difference(config_dict(config), ident["config"])
        if diff is not None:
            raise ImageMismatch(f"the device was built for another network: config.{diff} "
                                f"(image != device)")
        if learning and not ident["learning"]:
            raise ImageMismatch("the device has no learning engine (built with LEARNING=0 or a "
                                "network the engine does not support)")
        return ident

    def status(self) -> dict:
        return fr.parse_status(self.transact(fr.STATUS).payload)

    def write(self, records, progress=None) -> int:
        """(layer, space, addr, data) records to the parameter-load port; returns records applied."""
        records = list(records)
        applied = 0
        for i in range(0, len(records), fr.MAX_WRITES):
            chunk = records[i:i + fr.MAX_WRITES]
            n = fr.parse_count(self.transact(fr.WRITE, fr.write_payload(chunk)).payload)
            if n != len(chunk):
                raise LinkError(f"WRITE: device applied {n} of {len(chunk)} records")
            applied += n
            if progress:
                progress(len(chunk))
        return applied

    def read(self, records, progress=None) -> list[int]:
        """(layer, space, addr) records -> raw 64-bit words (signed fields sign-extended)."""
        records = list(records)
        words = []
        for i in range(0, len(records), fr.MAX_READS):
            chunk = records[i:i + fr.MAX_READS]
            got = fr.parse_words(self.transact(fr.READ, fr.read_payload(chunk)).payload)
            if len(got) != len(chunk):
                raise LinkError(f"READ: {len(got)} words for {len(chunk)} records")
            words += got
            if progress:
                progress(len(chunk))
        return words

    def events(self, words) -> int:
        """One EVENTS frame (at most MAX_EVENTS words); returns the events passed to the core."""
        words = list(words)
        if len(words) > fr.MAX_EVENTS:
            raise ValueError(f"{len(words)} events in one frame; at most {fr.MAX_EVENTS}")
        n = fr.parse_count(self.transact(fr.EVENTS, fr.events_payload(words)).payload)
        if n != len(words):
            raise LinkError(f"EVENTS: device took {n} of {len(words)} events")
        return n

    # -- on-chip learning (docs/learning.md) --------------------------------------------------
    def label(self, y: int) -> int:
        """LABEL: the class of the sample just run (after its last EOT). The engine runs LEARN
        (or counts the label as rejected / ignored); later READ and WRITE frames wait for it."""
        try:
            p = self.transact(fr.LABEL, fr.label_payload(int(y))).payload
        except LinkError as e:
            if "UNKNOWN_CMD" in str(e):
                raise LinkError("LABEL: the device has no learning engine (it answered "
                                "UNKNOWN_CMD: built with LEARNING=0, or for a network the engine "
                                "does not support); labels cannot be used") from None
            raise
        if len(p) != 2 or fr.parse_label(p) != y:
            raise LinkError(f"LABEL: device answered {p.hex()} for class {y}")
        return y

    def set_learning(self, regs=None, **named) -> int:
        """Write learning registers: `regs` is a golden_model.learning.LearnRegisters (all 14 are
        written), a dict {name or number: value}, or (number, value) pairs; keywords by name too.
        `set_learning(enable=0)` stops learning, `set_learning(enable=LEARN_ON | ...)` starts it.
        Returns the records written."""
        if regs is None:
            pairs = []
        elif hasattr(regs, "words"):
            pairs = list(regs.words())
        elif isinstance(regs, dict):
            pairs = list(regs.items())
        else:
            pairs = list(regs)
        pairs += list(named.items())
        recs = []
        for reg, value in pairs:
            num = LEARN_REGISTERS.index(reg) if isinstance(reg, str) else int(reg)
            if not 0 <= num < len(LEARN_REGISTERS):
                raise ValueError(f"no learning register {reg!r}")
            recs.append((0, LEARN, learn_addr(0, num), int(value)))
        return self.write(recs)

    def read_learning(self) -> dict:
        """The engine's 14 registers by name and its status counters (learned,
        rejected_labels, ignored_labels)."""
        recs = [(0, LEARN, learn_addr(0, i)) for i in range(len(LEARN_REGISTERS))]
        recs += [(0, LEARN, learn_addr(REGION_STATUS, i)) for i in range(len(LEARN_STATUS))]
        words = self.read(recs)
        return dict(zip(LEARN_REGISTERS + LEARN_STATUS, words))

    def read_learning_state(self, config) -> dict:
        """Traces, eligibilities and scores (the engine state of docs/learning.md section 2) for
        a network of `config`, as lists named like GoldenLearner.snapshot's."""
        sizes = config.sizes
        n_L, n_out = sizes[-1], config.n_out
        n_P = sizes[-2] if len(sizes) >= 2 else 0
        counts = {"trace_R": n_L, "trace_alt_R": n_L, "elig_w_R": n_L, "elig_d_R": n_L,
                  "trace_H": n_P, "trace_alt_H": n_P, "elig_w_H": n_P * n_L, "elig_d_H": n_P * n_L,
                  "score": n_out}
        recs = [(0, LEARN, learn_addr(LEARN_REGIONS[k], i)) for k, n in counts.items()
                for i in range(n)]
        words = iter(self.read(recs))
        out = {}
        for k, n in counts.items():
            vals = [next(words) for _ in range(n)]
            out[k] = [fr.signed64(v) for v in vals] if k in SIGNED_REGIONS else vals
        return out

    def learn(self, words, y: int, *, n_out: int | None = None,
              progress=None) -> list[tuple[int, int, int]]:
        """One training sample: run it (from a CLEAR, as run_sample) and send its label. Returns
        the sample's output items (the scores the engine judged are their sum)."""
        items = self.run_sample(words, n_out=n_out, progress=progress)
        self.label(y)
        return items

    # -- whole images and samples ------------------------------------------------------------
    def load_image(self, image, *, config=None, verify: str = "sample",
                   max_weight_checks: int = 512, progress=None) -> dict:
        """Load a NetworkParams (validated first) or a list of (layer, space, addr, data) writes.

        With `config` (the CoreConfig the writes are for; a NetworkParams carries its own), every
        check comes before the first write: the writes are exactly a valid image of `config`
        (hostlink.image.image_params: complete, in range, nothing outside) and the device's
        identity has that configuration (check_device). Without it the writes go as they are.

        Then read back every register and delay and, with verify="sample", an evenly spread
        sample of the weights (all of them with verify="full"), and check that the core counted
        no dropped writes. Raises ImageMismatch naming the first differing word."""
        writes = _writes_of(image)
        if config is None and hasattr(image, "config"):
            config = image.config
        report = {"writes": len(writes), "checked": 0}
        if config is not None:
            from .image import image_params
            image_params(config, writes, "image")
            report["device"] = self.check_device(config)
        before = self.status()["dropped_writes"]
        self.write(writes, progress=progress)
        if verify == "none":
            return report
        checks = [w for w in writes if w[1] != WEIGHT]
        weights = [w for w in writes if w[1] == WEIGHT]
        if verify == "sample" and len(weights) > max_weight_checks:
            step = len(weights) / max_weight_checks
            weights = [weights[int(i * step)] for i in range(max_weight_checks)] + [weights[-1]]
        checks += weights
        got = self.read([(l, s, a) for l, s, a, _ in checks])
        for (l, s, a, d), word in zip(checks, got):
            if word != d & MASK64:
                raise ImageMismatch(f"layer {l} space {s} addr {a}: read {fr.signed64(word)}, "
                                    f"wrote {d}")
        after = self.status()["dropped_writes"]
        if after != before:
            raise ImageMismatch(f"the core dropped {after - before} writes of the image")
        report["checked"] = len(checks)
        return report

    def run_sample(self, words, *, clear: bool = True, n_out: int | None = None,
                   progress=None) -> list[tuple[int, int, int]]:
        """Stream event words (a CLEAR first unless clear=False) and return every output item
        (kind, addr, value) the core produced for them, as GoldenNetwork.run_stream lists them.

        The sample is done when one output marker has come back per input marker. With `n_out`,
        each step must also have exactly n_out value items. A lost frame restarts the sample
        (only possible when it starts with its CLEAR)."""
        words = ([CLEAR] if clear else []) + [int(w) for w in words]
        markers = sum(1 for w in words if (w & 3) in (EOT, CLEAR) and w < (1 << 18))
        last_error = None
        for attempt in range(self.retries + 1 if clear else 1):
            try:
                return self._run_once(words, markers, n_out, progress)
            except LinkError as e:
                last_error = e
                self._quiet()
        raise LinkError(f"sample failed {self.retries + 1} times: {last_error}")

    # Streaming of a sample's EVENTS frames (docs/link.md): the device buffers a whole frame before
    # it executes it, and while it executes, the next frame's bytes wait in its rx FIFO (512 bytes,
    # hw/delaycore/link/link.py rx_fifo_depth). A UART has no flow control, so at most one frame may be
    # sent ahead of the one executing, and that frame must fit the FIFO: EVENT_WINDOW frames of at
    # most EVENTS_PER_FRAME words (165 words = 502 bytes) are unacknowledged at once. Window 1 is
    # stop-and-wait (then frames may be as large as fr.MAX_EVENTS).
    EVENT_WINDOW = 2
    EVENTS_PER_FRAME = 165
    RX_FIFO_BYTES = 512

    def _frame_events(self) -> int:
        """Event words per EVENTS frame: whole frames must fit the rx FIFO when pipelined."""
        if self.EVENT_WINDOW <= 1:
            return fr.MAX_EVENTS
        fits = (self.RX_FIFO_BYTES - 7) // fr.EVENT_BYTES
        return max(1, min(self.EVENTS_PER_FRAME, fits, fr.MAX_EVENTS))

    def _events_ack(self, n: int):
        """The response to the oldest EVENTS frame in flight. Any other answer (an ERROR, a lost
        or garbled response, a short count) raises LinkError: the frames behind it may already
        have been applied, so only a restart of the sample from its CLEAR is safe."""
        resp = self._wait_response()
        if not (isinstance(resp, Frame) and resp.cmd == fr.EVENTS | fr.RESPONSE):
            if isinstance(resp, Frame) and resp.cmd == fr.ERROR:
                self.stats["errors_received"] += 1
            else:
                self.stats["missing" if resp is None else "garbled"] += 1
            raise LinkError(f"EVENTS: {'no response' if resp is None else repr(resp)}")
        got = fr.parse_count(resp.payload)
        if got != n:
            raise LinkError(f"EVENTS: device took {got} of {n} events")

    def _run_once(self, words, markers, n_out, progress):
        self.outputs.clear()
        self.stats["stray"] += len(self._responses)
        self._responses.clear()
        size = self._frame_events()
        in_flight: deque = deque()
        for i in range(0, len(words), size):
            chunk = words[i:i + size]
            if len(in_flight) >= max(1, self.EVENT_WINDOW):
                done = in_flight.popleft()
                self._events_ack(done)
                if progress:
                    progress(done)
            self.t.write(encode(fr.EVENTS, fr.events_payload(chunk)))
            self.stats["frames_sent"] += 1
            in_flight.append(len(chunk))
        while in_flight:
            done = in_flight.popleft()
            self._events_ack(done)
            if progress:
                progress(done)
        while sum(1 for k, _, _ in self.outputs if k in (EOT, CLEAR)) < markers:
            if not self._pump(self.response_timeout):
                raise LinkError(f"outputs stopped after {len(self.outputs)} items")
        items = list(self.outputs)
        self.outputs.clear()
        if n_out is not None:
            run = 0
            for k, a, _ in items:
                if k == SPIKE:
                    if a != run:
                        raise LinkError(f"output items out of order: addr {a}, expected {run}")
                    run += 1
                else:
                    if k == EOT and run != n_out:
                        raise LinkError(f"a step with {run} of {n_out} output values")
                    run = 0
        return items


def _writes_of(image):
    if isinstance(image, (list, tuple)):
        return [tuple(int(x) for x in w) for w in image]
    from golden_model.params import load_words       # validates the image first
    return load_words(image)


def readout(items, n_out: int):
    """Output items -> per-step readout values [[v_0 .. v_{n_out-1}], ...] (EOT-terminated steps)."""
    steps, cur = [], [None] * n_out
    for kind, addr, value in items:
        if kind == SPIKE and addr < n_out:
            cur[addr] = value
        elif kind == EOT:
            steps.append(cur)
            cur = [None] * n_out
    return steps


# -- transports ------------------------------------------------------------------------------------
