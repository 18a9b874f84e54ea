"""A deploy folder as the deploy command writes it (build/deploy/<run>-<board>/: image.json,
manifest.json, deploy.json), made from parameters here, for tests and the board benchmark: they
must not wait for a bitstream or depend on the deploy command's other work."""

import hashlib
import json
from pathlib import Path

from corespec.identity import config_dict, identity
from hostlink.image import save_image


def make_deploy_folder(folder, params, manifest: dict | None = None, *, board: str = "icebreaker",
                       baud: int = 3_000_000, clk_hz: float = 24e6,
                       learning: bool = False) -> Path:
    """Write the three files for `params` (already packed for the board) and return the folder.
    `manifest` is the training export's (task, test_acc, ...); its core_config is the image's."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_image(folder / "image.json", params)
    cfg = config_dict(params.config)
    man = {"task": "fsdd", **(manifest or {}), "core_config": cfg,
           "prediction_rule": "argmax over classes of the readout summed over all steps "
                              "(int64); first class on ties"}
    (folder / "manifest.json").write_text(json.dumps(man, indent=1))
    deploy = {"board": board, "core_config": cfg, "learning": learning, "baud": baud,
              "clk_hz": clk_hz,
              "identity": identity(params.config, learning=learning, baud=baud, clk_hz=clk_hz,
                                   board=board),
              "image_sha256": hashlib.sha256((folder / "image.json").read_bytes()).hexdigest()}
    (folder / "deploy.json").write_text(json.dumps(deploy, indent=1))
    return folder
