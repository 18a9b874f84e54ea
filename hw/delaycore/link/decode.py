"""The host link's command decoder (docs/link.md, commands): a received frame -> what to do.

`CommandDecoder` takes a frame from the `FrameReceiver` and, in one cycle (`CHECK`), turns its
command and length into a job for the `PortEngine`: execute a known command whose length fits
it, or refuse it (UNKNOWN_CMD, BAD_LENGTH, and with the learning engine STEP_OPEN while a step is
open); a broken frame becomes a refusal at once. Error precedence (docs/link-implementation.md):
the receiver's errors first, then UNKNOWN_CMD, then BAD_LENGTH, then STEP_OPEN.
"""

from amaranth import *
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from corespec.link import MAX_PAYLOAD, Command, ErrorCode, LABEL_BYTES, WORD_BYTES
from delaycore.link.rx import FrameSignature, MAX_READ_RECORDS

MAX_READS = MAX_PAYLOAD // WORD_BYTES   # the READ response (8 bytes a record) must fit a frame


class Action(enum.Enum, shape=3):
    """What the port engine does with a frame: a command's code, or FAIL (answer ERROR)."""
    FAIL = 0
    PING = int(Command.PING)
    WRITE = int(Command.WRITE)
    READ = int(Command.READ)
    EVENTS = int(Command.EVENTS)
    STATUS = int(Command.STATUS)
    LABEL = int(Command.LABEL)
    IDENT = int(Command.IDENT)


class JobSignature(wiring.Signature):
    """A job for the port engine, from the decoder's side. `cmd`, `length` and `reads` hold until
    `done`.

    Members
    -------
    start : :py:`Out(1)`
        Pulse: do `action` now (the port engine is idle).
    action : :py:`Out(Action)`
    error : :py:`Out(ErrorCode)`
        With FAIL: the code to answer.
    cmd : :py:`Out(8)`
        The frame's command byte (an ERROR response names it).
    length : :py:`Out(range(MAX_PAYLOAD + 1))`
        Payload bytes, in the frame buffer from its first byte.
    reads : :py:`Out(range(MAX_READ_RECORDS + 1))`
        READ records in the payload.
    step_open : :py:`In(1)`
        The last event passed to a learning engine was not EOT / CLEAR: it takes nothing but
        events until the step ends.
    done : :py:`In(1)`
        Pulse: the job's response is out.
    """

    def __init__(self):
        super().__init__({
            "start": Out(1), "action": Out(Action), "error": Out(ErrorCode),
            "cmd": Out(8), "length": Out(range(MAX_PAYLOAD + 1)),
            "reads": Out(range(MAX_READ_RECORDS + 1)),
            "step_open": In(1), "done": In(1),
        })


class CommandDecoder(wiring.Component):
    """`frame` -> `job`. `learning`: LABEL is known, and WRITE, READ, STATUS and LABEL are refused
    with STEP_OPEN while a step is open (the engine would hold them until the step's EOT, which
    would be queued behind them); without it LABEL is an unknown command."""

    def __init__(self, learning: bool = False):
        self.learning = learning
        super().__init__({"frame": In(FrameSignature()), "job": Out(JobSignature())})

    def elaborate(self, platform):
        m = Module()
        frame, job = self.frame, self.job
        m.d.comb += [job.cmd.eq(frame.cmd), job.length.eq(frame.length), job.reads.eq(frame.reads),
                     frame.release.eq(job.done)]
        # The decision is made from the frame's fields in every cycle and registered: in CHECK it
        # is the one made in the cycle of `done`, when the fields (and `step_open`: no event
        # passes while a frame is received) were already what they are in CHECK. This keeps the
        # decoding off the paths of the CHECK cycle, into the port engine's registers.
        decision, refusal = self._decide(m)
        action, error = Signal(Action, name="action"), Signal(ErrorCode, name="error")
        m.d.sync += [action.eq(decision), error.eq(refusal)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(frame.error):
                    m.d.comb += [job.start.eq(1), job.action.eq(Action.FAIL),
                                 job.error.eq(frame.code)]
                with m.Elif(frame.done):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += [job.start.eq(1), job.action.eq(action), job.error.eq(error)]
                m.next = "IDLE"
        return m

    def _rules(self) -> dict:
        """command -> (its length is right, refused while a step is open)."""
        f = self.frame
        rules = {
            Command.PING: (f.length == 0, False),
            Command.IDENT: (f.length == 0, False),
            Command.WRITE: (f.whole_writes, True),
            Command.READ: (f.whole_reads & (f.reads <= MAX_READS), True),
            Command.EVENTS: (f.whole_events, False),
            Command.STATUS: (f.length == 0, True),
        }
        if self.learning:
            rules[Command.LABEL] = (f.length == LABEL_BYTES, True)
        return rules

    def _decide(self, m):
        """-> (action, error code with FAIL) for the frame's command, combinationally."""
        action, error = Signal(Action, name="decision"), Signal(ErrorCode, name="refusal")

        def refuse(code):
            m.d.comb += [action.eq(Action.FAIL), error.eq(code)]

        with m.Switch(self.frame.cmd):
            for cmd, (length_ok, refused_while_open) in self._rules().items():
                with m.Case(cmd):
                    with m.If(~length_ok):
                        refuse(ErrorCode.BAD_LENGTH)
                    if self.learning and refused_while_open:
                        with m.Elif(self.job.step_open):
                            refuse(ErrorCode.STEP_OPEN)
                    with m.Else():
                        m.d.comb += action.eq(Action[cmd.name])
            with m.Default():
                refuse(ErrorCode.UNKNOWN_CMD)
        return action, error
