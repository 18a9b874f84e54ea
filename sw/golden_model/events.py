"""Event words of the input and inter-layer streams (docs/core.md, section 3)."""

import numpy as np
import torch

from corespec.errors import UserError

SPIKE, EOT, CLEAR, RESERVED = 0, 1, 2, 3
KIND_NAMES = {SPIKE: "SPIKE", EOT: "EOT", CLEAR: "CLEAR", RESERVED: "RESERVED"}
ADDR_BITS = 16
EVENT_BITS = 2 + ADDR_BITS


def encode_event(kind: int, addr: int = 0) -> int:
    return (kind & 3) | ((addr & 0xFFFF) << 2)


def decode_event(word: int) -> tuple[int, int]:
    return word & 3, (word >> 2) & 0xFFFF


OK, BAD_KIND, BAD_ADDR, EXCESS = 0, 1, 2, 3


class EventError(UserError, ValueError):
    """An input stream that is not a flat sequence of event words, or (check_events) has an event
    the hardware guard would drop; the message names the first bad event by index and value."""


def _is_word_type(t: type) -> bool:
    return issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))


def _not_a_word(i: int, v) -> EventError:
    """The error for element i, which is not an integer in the word range."""
    if _is_word_type(type(v)):
        return EventError(f"event {i}: word {v} ({v:#x}) does not fit {EVENT_BITS} bits "
                          f"(expected an integer in [0, {(1 << EVENT_BITS) - 1:#x}])")
    hint = ("a stream is a flat sequence of integers" if isinstance(v, (list, tuple, np.ndarray, torch.Tensor))
            else "an integer")
    return EventError(f"event {i}: {v!r} is a {type(v).__name__}, not an event word ({hint} in "
                      f"[0, {(1 << EVENT_BITS) - 1:#x}])")


def _array_words(words) -> torch.Tensor:
    """A numpy array or torch tensor as int64 words: 1-D, of an integer dtype (not bool)."""
    if words.ndim != 1:
        raise EventError(f"events: expected a flat sequence of event words, got an array of "
                         f"shape {tuple(words.shape)}")
    if isinstance(words, torch.Tensor):
        integer = not (words.dtype.is_floating_point or words.dtype.is_complex
                       or words.dtype == torch.bool)
        t = words.detach().to("cpu", torch.int64) if integer else None
    else:
        integer = words.dtype.kind in "iu"
        t = torch.from_numpy(words.astype(np.int64, copy=False)) if integer else None
    if integer:
        return t
    if len(words):
        raise _not_a_word(0, words[0].item())
    return torch.zeros(0, dtype=torch.int64)


def _sequence_words(words) -> torch.Tensor:
    """A Python sequence as int64 words: every element an int (numpy integers too, no bools,
    floats or nested sequences). One pass over the types, then numpy converts in C."""
    try:
        seq = words if isinstance(words, (list, tuple)) else list(words)
    except TypeError:
        raise EventError(f"events: expected a sequence of event words, got {words!r} "
                         f"({type(words).__name__})") from None
    if not all(_is_word_type(t) for t in set(map(type, seq))):
        i = next(i for i, v in enumerate(seq) if not _is_word_type(type(v)))
        raise _not_a_word(i, seq[i])
    try:
        arr = np.fromiter(seq, dtype=np.int64, count=len(seq))
    except OverflowError:         # beyond int64: the slow search for it is only on this path
        i = next(i for i, v in enumerate(seq) if not 0 <= v < (1 << EVENT_BITS))
        raise _not_a_word(i, seq[i]) from None
    return torch.from_numpy(arr)


def event_words(words) -> torch.Tensor:
    """The stream as a 1-D int64 tensor of event words, or EventError naming the first element
    (index and value) that is not an integer in [0, 2^18): a float, a bool, a nested list or a
    word too wide would otherwise be truncated, masked or flattened into another stream. The one
    check of every stream: classify (run_stream, schedule) and check_events call it."""
    if isinstance(words, (np.ndarray, torch.Tensor)):
        t = _array_words(words)
    else:
        t = _sequence_words(words)
    bad = (t >> EVENT_BITS) != 0          # negative or wider than a word, in one pass
    if t.numel() and bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        raise _not_a_word(i, int(t[i]))
    return t


def classify(words, n_in: int, max_events: int = 65535):
    """Split event words into kind, addr and the guard's verdict: OK, BAD_KIND, BAD_ADDR, or
    EXCESS (a good spike beyond max_events in its timestep). EventError for a stream that is not
    one of event words (event_words)."""
    words = event_words(words)
    kind, addr = words & 3, (words >> 2) & 0xFFFF
    verdict = torch.zeros_like(words)
    verdict[kind == RESERVED] = BAD_KIND
    verdict[(kind == SPIKE) & (addr >= n_in)] = BAD_ADDR
    good_spike = (verdict == OK) & (kind == SPIKE)
    count = torch.cumsum(good_spike.to(torch.int64), 0)
    # count of good spikes at the last marker before each position: forward-fill marker values
    is_marker = (kind == EOT) | (kind == CLEAR)
    idx = torch.arange(len(words))
    last_marker = torch.cummax(torch.where(is_marker, idx, -1), 0).values if len(words) else idx
    base = torch.where(last_marker >= 0, count[last_marker.clamp(min=0)], 0)
    verdict[good_spike & (count - base > max_events)] = EXCESS
    return kind, addr, verdict


def check_events(words, n_in: int, max_events: int = 65535) -> None:
    """Raise EventError naming the first element that is not an event word (event_words) or the
    first event the hardware guard would drop."""
    words = event_words(words)
    kind, addr, verdict = classify(words, n_in, max_events)
    bad = torch.nonzero(verdict)
    if len(bad):
        i = int(bad[0])
        if verdict[i] == BAD_KIND:
            raise EventError(f"event {i}: malformed (reserved kind 3, word {int(words[i]):#x})")
        if verdict[i] == BAD_ADDR:
            raise EventError(f"event {i}: SPIKE addr {int(addr[i])} out of range [0, {n_in - 1}]")
        raise EventError(f"event {i}: more than {max_events} SPIKE events in one timestep")


def raster_words(raster: torch.Tensor, clear: bool = False) -> list[int]:
    """A [T, n_in] spike-count raster as an event stream: each step's spikes in channel order
    (a count of k gives k events), then EOT; with `clear`, a CLEAR first (a new sample)."""
    raster = torch.as_tensor(raster)
    words = [encode_event(CLEAR)] if clear else []
    for t in range(raster.shape[0]):
        chans = torch.nonzero(raster[t]).flatten()
        counts = raster[t][chans].tolist()
        words += [encode_event(SPIKE, int(c)) for c, k in zip(chans.tolist(), counts) for _ in range(int(k))]
        words.append(encode_event(EOT))
    return words
