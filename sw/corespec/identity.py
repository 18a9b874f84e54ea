"""The identity a built device reports (docs/link.md, `IDENT`): every elaboration parameter of
the core behind the link, whether the learning engine is in, the UART rate and the core clock,
and a hash of all of them.

The payload is canonical JSON (sorted keys, no spaces, ASCII), so that the host needs no decoder
of its own and a human can read it off the wire:

    {"baud":3000000,"board":"icebreaker","clk_hz":24000000,"config":{...},"format":"delaycore-ident",
     "hash":"<16 hex digits>","learning":false,"version":1}

`hash` is the first 16 hex digits of sha256 over the same JSON without the `hash` key. The RTL
stores the bytes in a ROM (hw/delaycore/link/link.py); the host (`hostlink.driver.CoreLink.identify`)
parses them, checks the hash and compares `config` with an image's before it writes a word.

Nothing here imports torch or amaranth: `config` is any dataclass instance or a plain dict.
"""

from .errors import UserError
import dataclasses
import hashlib
import json

FORMAT = "delaycore-ident"
VERSION = 1
MAX_BYTES = 1020            # one frame's payload (docs/link.md MAX_PAYLOAD)


def config_dict(config) -> dict:
    """A CoreConfig (or dict) as JSON-ready values: tuples become lists."""
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _canonical(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def identity_hash(ident: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in ident.items() if k != "hash"})).hexdigest()[:16]


def identity(config, *, learning: bool, baud: int, clk_hz: float, board: str = "") -> dict:
    """The identity of a link + core built with these parameters."""
    d = {"format": FORMAT, "version": VERSION, "config": config_dict(config),
         "learning": bool(learning), "baud": int(baud), "clk_hz": int(round(clk_hz)),
         "board": str(board)}
    d["hash"] = identity_hash(d)
    return d


def identity_bytes(config, *, learning: bool, baud: int, clk_hz: float, board: str = "") -> bytes:
    """The IDENT response payload the RTL stores in its ROM."""
    data = _canonical(identity(config, learning=learning, baud=baud, clk_hz=clk_hz, board=board))
    if len(data) > MAX_BYTES:
        raise ValueError(f"device identity is {len(data)} bytes; one frame holds {MAX_BYTES}")
    return data


class IdentityError(UserError, ValueError):
    pass


def parse_identity(payload: bytes) -> dict:
    """IDENT response payload -> dict; IdentityError if it is not a well-formed identity."""
    try:
        d = json.loads(payload.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as e:
        raise IdentityError(f"device identity is not JSON ({e}): {payload[:40]!r}...") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise IdentityError(f"device identity has format {d.get('format') if isinstance(d, dict) else None!r}, "
                            f"expected {FORMAT!r}")
    if d.get("version") != VERSION:
        raise IdentityError(f"device identity version {d.get('version')!r}; this host reads {VERSION}")
    for key in ("config", "learning", "baud", "clk_hz", "hash"):
        if key not in d:
            raise IdentityError(f"device identity lacks {key!r}")
    if identity_hash(d) != d["hash"]:
        raise IdentityError(f"device identity hash {d['hash']} does not match its contents "
                            f"({identity_hash(d)})")
    return d


def first_difference(expected: dict, got: dict, path: str = "") -> str | None:
    """The first key (in sorted order, depth first) where two JSON-like dicts differ, as
    'name: a != b', or None if equal."""
    for k in sorted(set(expected) | set(got)):
        name = f"{path}{k}"
        a, b = expected.get(k, "<absent>"), got.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            if (sub := first_difference(a, b, name + ".")) is not None:
                return sub
        elif a != b:
            return f"{name}: {a!r} != {b!r}"
    return None
