"""Training writes the export folder (build/train/<run>/export: params.pt, manifest.json,
image.json); this checks one before you use it (file and image checksums, the manifest against
the parameters: delay_training.export.load_export) and says what it holds. `--image FILE` writes
the host driver's image JSON (hostlink.image) somewhere else, e.g. for `delaysnn run --image`.
NIR: `delaysnn nir export`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `delaysnn export`."""
    parser.add_argument("run", metavar="RUN", type=Path,
                        help="training run folder (build/train/<name>; its export/ is used) or an "
                             "export folder")
    parser.add_argument("--image", metavar="FILE", type=Path, default=None,
                        help="also write the host driver's image JSON to FILE; None: check only")


def export_folder(path: Path) -> Path:
    """A run folder's export/ or the export folder itself (the one holding manifest.json)."""
    from delay_training.export import ExportError
    for folder in (path / "export", path):
        if (folder / "manifest.json").is_file():
            return folder
    what = "no such folder" if not path.exists() else "no manifest.json there or in its export/"
    raise ExportError(f"{path}: {what}, expected a training run folder (build/train/<name>) or "
                      f"its export folder")


def summary(folder: Path, params, manifest: dict) -> list[str]:
    """What a user wants to know before deploying: the network, its delays, its accuracy."""
    from deploy.derive import network_name
    cfg = params.config
    acc = manifest.get("test_acc")
    lines = [f"export    {folder}",
             f"network   {network_name(cfg)}, delays 0..{cfg.depth - 1} steps, "
             f"{cfg.v_bits}-bit membranes, leak {cfg.leak_mode}",
             f"task      {manifest.get('task', 'unknown')}"
             + (f", test accuracy {100 * acc:.2f} %" if acc is not None else ""),
             f"sha256    {manifest['sha256']} (parameters; checksums verified)"]
    return lines


def run(args: argparse.Namespace) -> int:
    """Check the export, print its summary, write the image where asked."""
    from delay_training.export import load_export, read_manifest
    folder = export_folder(args.run)
    params = load_export(folder)
    for line in summary(folder, params, read_manifest(folder)):
        print(line)
    if args.image is not None:
        from hostlink.image import save_image
        save_image(args.image, params)
        print(f"image     {args.image}")
    print(f"next      delaysnn deploy {args.run} --board icebreaker|ulx3s")
    return 0
