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


def classify(words: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split event words into kind, addr and the guard's verdict (0 ok, 1 bad kind, 2 bad addr)."""
    words = torch.as_tensor(words, dtype=torch.int64)
    kind, addr = words & 3, (words >> 2) & 0xFFFF
    verdict = torch.zeros_like(words)
    verdict[kind == RESERVED] = 1
    verdict[(kind == SPIKE) & (addr >= n_in)] = 2
    return kind, addr, verdict


def check_events(words, n_in: int) -> None:
    """Raise ValueError naming the first event the hardware guard would drop."""
    words = torch.as_tensor(words, dtype=torch.int64)
    if words.numel() and ((words < 0) | (words >= (1 << EVENT_BITS))).any():
        i = int(torch.nonzero((words < 0) | (words >= (1 << EVENT_BITS)))[0])
        raise ValueError(f"event {i}: word {int(words[i]):#x} does not fit {EVENT_BITS} bits")
    kind, addr, verdict = classify(words, n_in)
    bad = torch.nonzero(verdict)
    if len(bad):
        i = int(bad[0])
        if verdict[i] == 1:
            raise ValueError(f"event {i}: malformed (reserved kind 3, word {int(words[i]):#x})")
        raise ValueError(f"event {i}: SPIKE addr {int(addr[i])} out of range [0, {n_in - 1}]")
