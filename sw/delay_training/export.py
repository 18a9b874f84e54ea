"""From a trained DelaySNN to the core's parameter image, and checks that both agree exactly."""

from __future__ import annotations

from corespec.errors import UserError
from corespec.files import atomic_write, atomic_write_bytes, atomic_write_json, read_json  # noqa: F401 (re-exported)
import hashlib
import json
from pathlib import Path

import torch

from golden_model import CoreConfig, GoldenNetwork, LayerParams, NetworkParams, validate

from .model import DelaySNN, predict
from .quant import is_float, is_ternary

MANIFEST_VERSION = 1


def core_config(model: DelaySNN) -> CoreConfig:
    cfg = model.config
    if is_float(cfg.wbits):
        raise ValueError(f"cannot export a float-weight model (wbits={cfg.wbits:g}): the core "
                         "stores integer weights (ternary or 2..8 bits); train with "
                         "--wbits 1.58, 2, 4 or 8")
    ternary = is_ternary(cfg.wbits)
    return CoreConfig(n_in=cfg.n_in, sizes=tuple(cfg.sizes), n_out=cfg.n_out,
                      recurrent=tuple(cfg.recurrent), weight_bits=2 if ternary else int(cfg.wbits),
                      ternary=ternary, depth=cfg.depth, v_bits=cfg.v_bits,
                      leak_mode=cfg.leak_mode, max_events=cfg.max_events,
                      input_delays=cfg.input_delays)


def to_params(model: DelaySNN) -> NetworkParams:
    """The parameter image that makes GoldenNetwork (and the core) compute exactly what the model
    computes in hardware mode, with the registers in use (learned thresholds / leaks rounded and
    clamped as the forward pass uses them). Raises ValueError for a float-weight model."""
    config = core_config(model)
    cfg = model.config
    layers = []
    for l in range(len(cfg.sizes) + 1):
        spiking = l < len(cfg.sizes)
        n = cfg.sizes[l] if spiking else cfg.n_out
        layers.append(LayerParams(
            weight=model.weight_levels(l),
            delay=model.int_delays(l) if spiking else torch.zeros(n, dtype=torch.int64),
            threshold=model.threshold(l) if spiking else 1,
            leak=model.leak_register(l), weight_shift=model.weight_shift(l),
            reset_mode=int(cfg.reset_mode) if spiking else 0))
    params = NetworkParams(config, layers,
                           model.int_input_delays() if cfg.input_delays else None)
    validate(params)
    return params


def _params_payload(params: NetworkParams) -> dict:
    d = {"layers": [{"weight": p.weight.to(torch.int64).clone(), "delay": p.delay.to(torch.int64).clone(),
                     "threshold": p.threshold, "leak": p.leak, "weight_shift": p.weight_shift,
                     "reset_mode": p.reset_mode} for p in params.layers]}
    if params.input_delay is not None:
        d["input_delay"] = params.input_delay.to(torch.int64).clone()
    return d


def _config_dict(c: CoreConfig) -> dict:
    return {"n_in": c.n_in, "sizes": list(c.sizes), "n_out": c.n_out, "recurrent": list(c.recurrent),
            "weight_bits": c.weight_bits, "ternary": c.ternary, "depth": c.depth, "v_bits": c.v_bits,
            "leak_mode": c.leak_mode, "max_events": c.max_events,
            **({"input_delays": True} if c.input_delays else {})}   # older images stay valid


def params_digest(params: NetworkParams) -> str:
    """sha256 over the configuration and every register and memory word, in load order."""
    h = hashlib.sha256(json.dumps(_config_dict(params.config), sort_keys=True).encode())
    for p in params.layers:
        h.update(json.dumps([p.threshold, p.leak, p.weight_shift, p.reset_mode]).encode())
        h.update(p.weight.to(torch.int64).contiguous().numpy().tobytes())
        h.update(p.delay.to(torch.int64).contiguous().numpy().tobytes())
    if params.input_delay is not None:
        h.update(params.input_delay.to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save into `path` atomically, readable by others (corespec.files.atomic_write)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def export(model: DelaySNN, out_dir: str | Path, extra: dict | None = None) -> tuple[NetworkParams, Path]:
    """Write `params.pt` (integer tensors and registers) and `manifest.json` (config, shapes,
    sha256 of the image and of the file) atomically into out_dir."""
    params = to_params(model)
    return params, write_export(params, out_dir, model.config.to_dict(), extra)


def write_export(params: NetworkParams, out_dir: str | Path, model_config: dict,
                 extra: dict | None = None) -> Path:
    """The export folder of a parameter image (`export`, and `towers` for two networks merged):
    params.pt, image.json and manifest.json, each written atomically; returns the manifest's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = _params_payload(params)
    payload["config"] = _config_dict(params.config)
    atomic_torch_save(payload, out / "params.pt")
    file_sha = hashlib.sha256((out / "params.pt").read_bytes()).hexdigest()
    # The host driver's image (hostlink.image), what `make deploy` repacks for a board.
    from hostlink.image import save_image
    image = save_image(out / "image.json", params)
    manifest = {
        "version": MANIFEST_VERSION,
        "core_config": _config_dict(params.config),
        "model_config": model_config,
        "layers": manifest_layers(params),
        **({"input_delay_max": int(params.input_delay.max())} if params.input_delay is not None else {}),
        "sha256": params_digest(params),
        "file": "params.pt",
        "file_sha256": file_sha,
        "image_file": "image.json",
        "image_sha256": image["sha256"],
        "prediction_rule": "argmax over classes of the readout summed over all steps (int64); "
                           "first class on ties",
        **(extra or {}),
    }
    path = out / "manifest.json"
    atomic_write_json(path, manifest)
    return path


def manifest_layers(params: NetworkParams) -> list[dict]:
    """The manifest's description of each layer (cross-checked against params.pt on load)."""
    return [{"kind": "lif" if s.spiking else "readout", "n_src": s.n_src, "n": s.n,
             "recurrent": s.recurrent, "weight_shape": list(p.weight.shape),
             "threshold": p.threshold, "leak": p.leak, "weight_shift": p.weight_shift,
             "reset_mode": p.reset_mode,
             "delay_max": int(p.delay.max()) if p.delay.numel() else 0}
            for s, p in zip(params.config.layers, params.layers)]


class ExportError(UserError, ValueError):
    """An export folder that must not be used; the message names the file and the problem."""


def read_manifest(out_dir: str | Path) -> dict:
    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        raise ExportError(f"{path}: no such file (an export folder holds manifest.json, params.pt "
                          f"and image.json; a training run writes it to build/train/<name>/export)")
    m = read_json(path, "an export manifest (the manifest.json a training run writes)",
                  ExportError)
    if not isinstance(m, dict):
        raise ExportError(f"{path}: expected a JSON object, got {type(m).__name__}")
    for key in ("core_config", "layers", "sha256", "file", "file_sha256"):
        if key not in m:
            raise ExportError(f"{path}: no {key!r}")
    return m


def load_export(out_dir: str | Path) -> NetworkParams:
    """Read an export back: the file and image checksums, and the manifest's configuration and
    layer list against the parameters (a manifest that describes another network is refused,
    naming the first difference)."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    pt = out / manifest["file"]
    try:
        blob = pt.read_bytes()
    except OSError as e:
        raise ExportError(f"{pt}: cannot read ({e.strerror or e})") from None
    if hashlib.sha256(blob).hexdigest() != manifest["file_sha256"]:
        raise ExportError(f"{pt}: checksum does not match manifest.json")
    import io
    from hostlink.image import ImageError, config_from_json
    try:
        payload = torch.load(io.BytesIO(blob), weights_only=True)
        config = config_from_json(payload["config"], str(pt))    # names an unknown key
        params = NetworkParams(config, [LayerParams(**p) for p in payload["layers"]],
                               payload.get("input_delay"))
        validate(params)
    except ImageError as e:
        raise ExportError(str(e)) from None
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, EOFError) as e:
        raise ExportError(f"{pt}: not a valid parameter file ({e})") from None
    from corespec.identity import first_difference
    where = out / "manifest.json"
    if (diff := first_difference({"core_config": manifest["core_config"]},
                                 {"core_config": _config_dict(config)})) is not None:
        raise ExportError(f"{where} does not describe {pt.name}: {diff} (manifest != parameters)")
    layers = manifest_layers(params)
    if len(manifest["layers"]) != len(layers):
        raise ExportError(f"{where} lists {len(manifest['layers'])} layers, {pt.name} has "
                          f"{len(layers)}")
    for l, (a, b) in enumerate(zip(manifest["layers"], layers)):
        if (diff := first_difference(a, b)) is not None:
            raise ExportError(f"{where} does not describe {pt.name}: layer {l} {diff} "
                              f"(manifest != parameters)")
    if params_digest(params) != manifest["sha256"]:
        raise ExportError(f"{out}: parameter image checksum does not match manifest.json")
    return params


@torch.no_grad()
def compare(model: DelaySNN, params: NetworkParams, x: torch.Tensor, batch: int = 256) -> dict:
    """Run the model (hardware mode) and the golden model on x [N, T, n_in]; agreement figures."""
    golden = GoldenNetwork(params)
    n = x.shape[0]
    agree = equal = 0
    max_diff = 0
    preds_m, preds_g = [], []
    dev = next(model.parameters()).device
    for i in range(0, n, batch):
        xb = x[i:i + batch]
        rm = model(xb.to(dev))["readout"].cpu()
        rg = golden.run(xb.to(torch.int64))["readout"]
        rm_i = rm.round().to(torch.int64)
        pm, pg = predict(rm_i), predict(rg)
        preds_m.append(pm)
        preds_g.append(pg)
        agree += int((pm == pg).sum())
        same = (rm == rg.to(rm.dtype)).flatten(1).all(1) & (rm == rm.round()).flatten(1).all(1)
        equal += int(same.sum())
        max_diff = max(max_diff, int((rm_i - rg).abs().max()) if rg.numel() else 0)
    return {"n": n, "prediction_agreement": agree / max(n, 1), "n_agree": agree,
            "readout_bit_equal_samples": equal, "readout_max_abs_diff": max_diff,
            "pred_model": torch.cat(preds_m), "pred_golden": torch.cat(preds_g)}
