"""The parameter image as a file: the core's configuration and its load_words, as JSON.

    {"format": "delaycore-image", "version": 2,
     "config": {"n_in": 3, "sizes": [3], "n_out": 2, "recurrent": [false], "weight_bits": 4,
                "ternary": false, "depth": 4, "v_bits": 12, "leak_mode": "shift",
                "max_events": 4095, "weights_per_word": 1, "lanes": 1, "input_delays": false},
     "writes": [[layer, space, addr, data], ...],
     "sha256": "<sha256 of the canonical JSON of config and writes>"}

`writes` is `golden_model.load_words(params)`: registers, weights (row-major, packed
`weights_per_word` to a word), delays, per layer; with `"input_delays": true` in the config, then
the input channels' delays (layer 15, space 1). Version 1 files (no sha256) are still read.

Every check happens here, before a single word reaches a device (`read_image`): the file is an
image, its hash matches, the configuration is valid, and the writes are exactly those of a valid
parameter image (`image_params`): every register, weight word and delay written once, every
value in its field's range. A device is then only loaded if its identity matches the image's
configuration (hostlink.driver.CoreLink.load_image).
"""

from corespec.errors import UserError
from corespec.files import atomic_write_bytes, read_json
import hashlib
import json
from collections import Counter
from dataclasses import asdict, fields
from pathlib import Path

FORMAT = "delaycore-image"
VERSION = 2
# What a file given as an image should have been (the one wording of every "not an image" error).
NOT_AN_IMAGE = "an image JSON (expected the image.json of an export or deploy folder)"


class ImageError(UserError, ValueError):
    """An image that must not be loaded; the message names the file and what is wrong."""


def _config_json(config) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def image_sha256(config_json: dict, writes) -> str:
    text = json.dumps({"config": config_json, "writes": [list(map(int, w)) for w in writes]},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def image_dict(params) -> dict:
    from golden_model.params import load_words
    cfg = _config_json(params.config)
    writes = [list(w) for w in load_words(params)]
    return {"format": FORMAT, "version": VERSION, "config": cfg, "writes": writes,
            "sha256": image_sha256(cfg, writes)}


def save_image(path, params) -> dict:
    """Write the image atomically (a reader never sees half a file); returns the dict."""
    d = image_dict(params)
    atomic_write_bytes(path, json.dumps(d).encode())
    return d


def config_from_json(d: dict, where: str):
    """A CoreConfig from its JSON form; ImageError naming an unknown or bad field."""
    from golden_model.config import CoreConfig
    if not isinstance(d, dict):
        raise ImageError(f"{where}: 'config' must be an object, got {type(d).__name__}")
    known = {f.name for f in fields(CoreConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ImageError(f"{where}: unknown configuration key {unknown[0]!r} (expected one of "
                         f"{', '.join(sorted(known))})")
    try:
        return CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
    except (TypeError, ValueError) as e:
        raise ImageError(f"{where}: {e}") from None


def image_params(config, writes, where: str = "image"):
    """The NetworkParams that the writes load, or ImageError: a write outside the configuration,
    written twice or missing, or a value outside its field's range (golden_model.validate)."""
    import torch
    from golden_model.params import (NetworkParams, LayerParams, validate, load_words, WEIGHT,
                                     DELAY, REGISTER, INPUT_STAGE)
    writes = [tuple(w) for w in writes]
    seen = Counter((l, s, a) for l, s, a, _ in writes)
    dup = next((k for k, n in seen.items() if n > 1), None)
    if dup is not None:
        raise ImageError(f"{where}: layer {dup[0]} space {dup[1]} addr {dup[2]} is written "
                         f"{seen[dup]} times")
    value = {(l, s, a): d for l, s, a, d in writes}
    P, b = config.weights_per_word, config.weight_bits
    layers = []
    try:
        for l, shape in enumerate(config.layers):
            def get(space, addr, what):
                key = (l, space, addr)
                if key not in value:
                    raise ImageError(f"{where}: incomplete image: no write of layer {l} {what} "
                                     f"(space {space} addr {addr})")
                return value[key]
            regs = [get(REGISTER, r, name) for r, name in
                    enumerate(("threshold", "leak", "weight_shift", "reset_mode"))]
            flat = []
            for a in range(shape.weight_words):
                word = get(WEIGHT, a, f"weight word {a}")
                if P == 1:
                    flat.append(word)
                else:
                    if not 0 <= word < (1 << (P * b)):
                        raise ImageError(f"{where}: layer {l} weight word {a}: {word} is not a "
                                         f"{P * b}-bit word of {P} packed weights")
                    for k in range(P):
                        w = (word >> (k * b)) & ((1 << b) - 1)
                        flat.append(w - (1 << b) if w >> (b - 1) else w)
            n_w = shape.n_rows * shape.n
            weight = torch.tensor(flat[:n_w], dtype=torch.int64).reshape(shape.n_rows, shape.n)
            if shape.spiking:
                delay = torch.tensor([get(DELAY, a, f"delay {a}") for a in range(shape.n)],
                                     dtype=torch.int64)
            else:
                delay = torch.zeros(shape.n, dtype=torch.int64)
            layers.append(LayerParams(weight, delay, *regs))
        input_delay = None
        if config.input_delays:
            missing = [c for c in range(config.n_in) if (INPUT_STAGE, DELAY, c) not in value]
            if missing:
                raise ImageError(f"{where}: incomplete image: no write of input channel "
                                 f"{missing[0]}'s delay (layer {INPUT_STAGE} space {DELAY})")
            input_delay = torch.tensor([value[(INPUT_STAGE, DELAY, c)] for c in range(config.n_in)],
                                       dtype=torch.int64)
        params = NetworkParams(config, layers, input_delay)
        validate(params)
    except ImageError:
        raise
    except (ValueError, TypeError, RuntimeError) as e:
        raise ImageError(f"{where}: {e}") from None
    extra = set(value) - {(l, s, a) for l, s, a, _ in load_words(params)}
    if extra:
        l, s, a = min(extra)
        raise ImageError(f"{where}: write to layer {l} space {s} addr {a} is outside the "
                         f"configuration")
    return params


def read_image(path):
    """-> (CoreConfig, writes, params): the whole image checked (see the module docstring)."""
    path = Path(path)
    d = read_json(path, NOT_AN_IMAGE, ImageError)
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        found = f"format {d.get('format')!r}" if isinstance(d, dict) else f"a JSON {type(d).__name__}"
        raise ImageError(f"{path}: {found}, not {NOT_AN_IMAGE}")
    if d.get("version") not in (1, VERSION):
        raise ImageError(f"{path}: image version {d.get('version')!r}; this host reads 1 and {VERSION}")
    for key in ("config", "writes"):
        if key not in d:
            raise ImageError(f"{path}: no {key!r}")
    cfg = config_from_json(d["config"], str(path))
    writes = d["writes"]
    if not isinstance(writes, list):
        raise ImageError(f"{path}: 'writes' must be a list of [layer, space, addr, data]")
    for i, w in enumerate(writes):
        if (not isinstance(w, list) or len(w) != 4
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in w)):
            raise ImageError(f"{path}: write {i} is {w!r}, expected [layer, space, addr, data] integers")
    if "sha256" in d and image_sha256(d["config"], writes) != d["sha256"]:
        raise ImageError(f"{path}: contents do not match its sha256 (edited or corrupted)")
    writes = [tuple(w) for w in writes]
    params = image_params(cfg, writes, str(path))
    return cfg, writes, params


def load_image_file(path):
    """-> (CoreConfig, writes), fully checked (read_image)."""
    cfg, writes, _ = read_image(path)
    return cfg, writes


def check_learning_registers(regs: dict, where: str = "learning registers") -> list[tuple[int, int]]:
    """{name: value} -> (register number, value) pairs, or ImageError naming an unknown register
    (with the known names) or a value outside its width (docs/learning.md section 5)."""
    from golden_model.learning import LearnRegisters
    names = [f.name for f in fields(LearnRegisters)]
    if not isinstance(regs, dict):
        raise ImageError(f"{where}: expected an object {{register name: value}}, got {type(regs).__name__}")
    pairs = []
    for name, v in regs.items():
        if name not in names:
            raise ImageError(f"{where}: no learning register {name!r}; registers: {', '.join(names)}")
        i = names.index(name)
        width = LearnRegisters.WIDTHS[i]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < (1 << width):
            raise ImageError(f"{where}: {name} = {v!r} is not an integer in [0, {(1 << width) - 1}]")
        pairs.append((i, v))
    return pairs
