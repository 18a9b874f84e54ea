"""Event words of the input and inter-layer streams (docs/core.md, section 3)."""

import torch

SPIKE, EOT, CLEAR, RESERVED = 0, 1, 2, 3
KIND_NAMES = {SPIKE: "SPIKE", EOT: "EOT", CLEAR: "CLEAR", RESERVED: "RESERVED"}
ADDR_BITS = 16
EVENT_BITS = 2 + ADDR_BITS


def encode_event(kind: int, addr: int = 0) -> int:
    return (kind & 3) | ((addr & 0xFFFF) << 2)


def decode_event(word: int) -> tuple[int, int]:
    return word & 3, (word >> 2) & 0xFFFF


OK, BAD_KIND, BAD_ADDR, EXCESS = 0, 1, 2, 3


def classify(words, n_in: int, max_events: int = 65535):
    """Split event words into kind, addr and the guard's verdict: OK, BAD_KIND, BAD_ADDR, or
    EXCESS (a good spike beyond max_events in its timestep)."""
    words = torch.as_tensor(words, dtype=torch.int64).reshape(-1)
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
    """Raise ValueError naming the first event the hardware guard would drop."""
    words = torch.as_tensor(words, dtype=torch.int64)
    if words.numel() and ((words < 0) | (words >= (1 << EVENT_BITS))).any():
        i = int(torch.nonzero((words < 0) | (words >= (1 << EVENT_BITS)))[0])
        raise ValueError(f"event {i}: word {int(words[i]):#x} does not fit {EVENT_BITS} bits")
    kind, addr, verdict = classify(words, n_in, max_events)
    bad = torch.nonzero(verdict)
    if len(bad):
        i = int(bad[0])
        if verdict[i] == 1:
            raise ValueError(f"event {i}: malformed (reserved kind 3, word {int(words[i]):#x})")
        if verdict[i] == BAD_ADDR:
            raise ValueError(f"event {i}: SPIKE addr {int(addr[i])} out of range [0, {n_in - 1}]")
        raise ValueError(f"event {i}: more than {max_events} SPIKE events in one timestep")


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
