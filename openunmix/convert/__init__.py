"""Model folders of this package from other toolkits' checkpoints (``python -m openunmix.convert``).

:func:`convert_msst` turns a BS-RoFormer or Mel-RoFormer of
Music-Source-Separation-Training ("MSST": its YAML configuration and its
state dict) into a model folder: ``<architecture>.pth``, ``<architecture>.json``,
``separator.json`` and ``SHA256SUMS`` (``sha256sum -c`` format). From then on
the folder separates, evaluates, exports and compares like any other.
Nothing is written unless the whole conversion succeeds; the folder appears
complete or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from .. import architectures
from ..architectures.roformer import BandRoFormer
from ..utils import ModelError, PathLike
from .msst import MODEL_TYPES, gated_in, load_checkpoint, map_state, model_type, read_config, settings_of


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_outdir(outdir: Path) -> None:
    """Refuse an output that is a file, or a folder that holds anything (``ModelError``)."""
    if outdir.exists() and not outdir.is_dir():
        raise ModelError(f"{outdir}: exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()):
        raise ModelError(f"{outdir}: exists and holds other files; give a new or empty folder")


def convert_msst(config: PathLike, checkpoint: PathLike, outdir: PathLike,
                 kind: Optional[str] = None) -> Path:
    """Convert an MSST RoFormer into a model folder.

    Args:
        config: MSST's YAML configuration.
        checkpoint: its state dict (``.ckpt``/``.pth``), loaded with ``weights_only=True``.
        outdir: the folder to write (new or empty).
        kind: MSST's model type (``bs_roformer``, ``mel_band_roformer``); None: from the config.

    Returns:
        ``outdir``.

    Raises:
        ModelError: one line: a bad config or checkpoint, a key the config does not explain, a used output folder.
    """
    config, checkpoint, outdir = Path(config), Path(checkpoint), Path(outdir)
    check_outdir(outdir)
    data = read_config(config)
    kind = model_type(data, config, kind)
    settings, sample_rate = settings_of(data, config, kind)
    state = load_checkpoint(checkpoint)
    settings = dataclasses.replace(settings, gated=gated_in(state))
    model = BandRoFormer(settings)
    model.load_state_dict(map_state(state, model.state_dict(), checkpoint, config), strict=True)
    arch = architectures.get(MODEL_TYPES[kind])
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        source = {"toolkit": "MSST", "model_type": kind, "config": config.name, "checkpoint": checkpoint.name,
                  "checkpoint_sha256": _sha256(checkpoint)}
        arch.save(tmp, model, sample_rate, extra={"converted_from": source})
        sums = "".join(f"{_sha256(p)}  {p.name}\n" for p in sorted(tmp.iterdir()) if p.is_file())
        (tmp / "SHA256SUMS").write_text(sums)
        os.chmod(tmp, 0o755)
        if outdir.is_dir():
            outdir.rmdir()  # empty (checked above)
        os.replace(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outdir


__all__ = ["convert_msst", "check_outdir", "MODEL_TYPES"]
