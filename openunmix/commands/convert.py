"""``python -m openunmix.convert``: a model folder from an MSST RoFormer's configuration and checkpoint."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from ..convert import MODEL_TYPES, convert_msst
from ..utils import ModelError
from .argtypes import ArgumentParser
from .common import error


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and convert; returns the exit status (0 done, 2 bad input)."""
    p = ArgumentParser(prog="python -m openunmix.convert",
                       description="Convert a BS-RoFormer or Mel-RoFormer of Music-Source-Separation-Training "
                                   "(YAML config + checkpoint) into a model folder of this toolkit.")
    p.add_argument("config", metavar="CONFIG.yaml", help="MSST's configuration (sections audio, model, training)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the state dict (.ckpt or .pth)")
    p.add_argument("--outdir", required=True, metavar="FOLDER", help="the model folder to write (new or empty)")
    p.add_argument("--model-type", default=None, metavar="TYPE",
                   help=f"MSST's model type: {', '.join(MODEL_TYPES)} (default: from the config's model section)")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    a = p.parse_args(argv)
    try:
        out = convert_msst(a.config, a.checkpoint, a.outdir, a.model_type)
    except ModelError as err:
        error(str(err))
        return 2
    except OSError as err:
        error(f"{a.outdir}: cannot write ({err.strerror or err})")
        return 1
    if not a.quiet:
        print(f"{out}/: converted; separate with: umx {out} SONG.wav", file=sys.stderr)
    return 0
