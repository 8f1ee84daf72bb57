"""What the programs share: model and separation arguments, the licence notice, one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from .argtypes import nonnegative_float, nonnegative_int, number, positive_float
from ..hub import DEFAULT_MODEL, licence_notice
from ..precision import PRECISIONS
from ..separate import DEFAULT_OVERLAP, DEFAULT_SEGMENT, SeparationSettings


def error(message: str) -> None:
    """Print one error line on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def add_separation_arguments(parser: argparse.ArgumentParser) -> None:
    """The separation flags that ``test.py`` and ``eval.py`` share."""
    p = parser
    p.add_argument("--niter", type=nonnegative_int, default=0, help="EM iterations of the Wiener filter; 0 is the ratio mask (default: %(default)s)")
    p.add_argument("--alpha", type=positive_float, default=1.0, help="exponent of the magnitudes in the ratio mask (default: %(default)s)")
    p.add_argument("--logit", type=number(float, 0, 1, True, True), default=None, help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true", help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    p.add_argument("--no-cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--segment", type=positive_float, default=DEFAULT_SEGMENT, help="seconds of audio separated at once; bounds memory (default: %(default)s)")
    p.add_argument("--overlap", type=nonnegative_float, default=DEFAULT_OVERLAP, help="seconds of cross-fade between segments (default: %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="of the target models (the filter stays float32): bfloat16 (measured SDR change +0.01 dB; "
                        "emulated, slower, on CPUs without bfloat16 units) or int8 weights (CPU only; measured "
                        "-0.12 dB vocals SDR on the demo model); see README 'Performance' (default: %(default)s)")


def add_model_arguments(parser: argparse.ArgumentParser, optional: bool = True) -> None:
    """``MODEL`` (a model folder or a model name; default ``umxhq``), ``--models`` and ``--cache-dir``."""
    p = parser
    default = f" ({DEFAULT_MODEL} when left out)" if optional else ""
    p.add_argument("model", metavar="MODEL", nargs="?" if optional else None, default=DEFAULT_MODEL if optional else None,
                   help=f"model folder (<target>.pth + <target>.json) or model name: umxhq, umxl, umx, umxse, "
                        f"or a name from --models{default}")
    p.add_argument("--models", metavar="FILE", default=None,
                   help="your own model table (json, same format as openunmix/models.json); its names take "
                        "precedence (default: $OPENUNMIX_MODELS if set)")
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="where downloaded model files are kept (default: torch's cache, $TORCH_HOME/hub/checkpoints)")


def print_licence_notice(model: str, models_file: Optional[str]) -> None:
    """Tell the user (stderr) when a named model's weights have a restricting licence."""
    notice = licence_notice(model, models_file)
    if notice:
        print(f"note: {notice}", file=sys.stderr)


def separation_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> SeparationSettings:
    """The flags of :func:`add_model_arguments` and :func:`add_separation_arguments` as settings
    (``parser.error`` on bad values)."""
    try:
        return SeparationSettings(
            niter=args.niter, alpha=args.alpha, logit=args.logit, softmask=not args.no_softmask,
            residual=args.residual, use_cuda=not args.no_cuda, segment=args.segment, overlap=args.overlap,
            models_file=args.models, cache_dir=args.cache_dir, precision=args.precision,
        )
    except ValueError as err:  # the message names the setting: its flag is --<setting>
        parser.error(f"--{err}")
