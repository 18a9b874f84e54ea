"""The parameter image as a file: the core's configuration and its load_words, as JSON.

    {"format": "delaycore-image", "version": 1,
     "config": {"n_in": 3, "sizes": [3], "n_out": 2, "recurrent": [false], "weight_bits": 4,
                "ternary": false, "depth": 4, "v_bits": 12, "leak_mode": "shift",
                "max_events": 4095},
     "writes": [[layer, space, addr, data], ...]}

`writes` is `golden_model.load_words(params)`: registers, weights (row-major), delays, per layer;
with `"input_delays": true` in the config, then the input channels' delays (layer 15, space 1).
"""

import json
from dataclasses import asdict

FORMAT = "delaycore-image"


def image_dict(params) -> dict:
    from golden_model.params import load_words
    cfg = asdict(params.config)
    return {"format": FORMAT, "version": 1,
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
            "writes": [list(w) for w in load_words(params)]}


def save_image(path, params):
    with open(path, "w") as f:
        json.dump(image_dict(params), f)


def load_image_file(path):
    """-> (CoreConfig, writes). Checks the format and that every write names a layer, space and
    address of the configuration."""
    from golden_model.config import CoreConfig
    from golden_model.params import INPUT_STAGE
    with open(path) as f:
        d = json.load(f)
    if d.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format={d.get('format')!r})")
    cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d["config"].items()})
    writes = [tuple(int(x) for x in w) for w in d["writes"]]
    for i, w in enumerate(writes):
        if len(w) != 4:
            raise ValueError(f"{path}: write {i} has {len(w)} fields, expected 4")
        layer, space, addr, _ = w
        stage = cfg.input_delays and layer == INPUT_STAGE and space == 1 and 0 <= addr < cfg.n_in
        if not stage and (not 0 <= layer < cfg.n_layers or space not in (0, 1, 2, 3, 4)
                          or not 0 <= addr < (1 << 20)):
            raise ValueError(f"{path}: write {i} {w} is outside the configuration")
    return cfg, writes
