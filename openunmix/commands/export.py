"""``python -m openunmix.export``: ONNX graphs of the target models and a TorchScript separator."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from ..export import ExportError, export_model
from ..utils import ModelError
from .argtypes import ArgumentParser
from .common import add_filter_arguments, add_model_arguments, error, filter_settings


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and export; returns the exit status (0 done, 1 export failed, 2 bad model)."""
    p = ArgumentParser(prog="python -m openunmix.export",
                       description="Export target models to ONNX and the separator to TorchScript.")
    add_model_arguments(p, optional=False)
    p.add_argument("--output", required=True, metavar="DIR",
                   help="folder to write (new, empty, or a previous export, which is replaced)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to export (default: all of the model's)")
    add_filter_arguments(p, niter_help="EM iterations of the separator's Wiener filter; 0 is the ratio mask "
                                       "(default: %(default)s)", wiener_win_len=True)
    p.add_argument("--fp16", action="store_true", help="store the ONNX weights in half precision (half the size)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    a = p.parse_args(argv)
    settings = filter_settings(p, a)
    try:
        written = export_model(a.model, a.output, a.targets, settings, fp16=a.fp16, models_file=a.models,
                               cache_dir=a.cache_dir, progress=not a.quiet)
    except ModelError as err:
        error(str(err))
        return 2
    except (ExportError, OSError) as err:
        error(str(err))
        return 1
    if not a.quiet:
        print(f"{a.output}/: {', '.join(written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
