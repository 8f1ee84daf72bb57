"""What the programs share: model, filter and separation arguments, the licence notice, one-line errors."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Optional, Tuple

from .argtypes import nonnegative_float, nonnegative_int, number, positive_float, positive_int
from ..filtering import FilterSettings
from ..models.hub import DEFAULT_MODEL, licence_notice
from ..precision import PRECISIONS
from ..separation.separate import DEFAULT_OVERLAP, DEFAULT_SEGMENT, SeparationSettings
from ..separation.sharding import Shard


def error(message: str) -> None:
    """Print one error line on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


NITER_HELP = "EM iterations of the Wiener filter; 0 is the ratio mask (default: %(default)s)"


def add_filter_arguments(parser: argparse.ArgumentParser, niter_help: str = NITER_HELP,
                         wiener_win_len: bool = False) -> None:
    """The Wiener filter's flags: ``--niter``, ``--alpha``, ``--logit``, ``--no-softmask``, ``--residual``.

    Args:
        niter_help: the help of ``--niter`` (the stream's filter steps frame by frame).
        wiener_win_len: also ``--wiener-win-len`` (frames filtered at once; 0: all).

    :func:`filter_settings` turns them into a :class:`~openunmix.filtering.FilterSettings`.
    """
    p = parser
    defaults = FilterSettings()
    p.add_argument("--niter", type=nonnegative_int, default=defaults.niter, help=niter_help)
    p.add_argument("--alpha", type=positive_float, default=defaults.alpha, help="exponent of the magnitudes in the ratio mask (default: %(default)s)")
    p.add_argument("--logit", type=number(float, 0, 1, True, True), default=None, help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true", help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    if wiener_win_len:
        p.add_argument("--wiener-win-len", type=nonnegative_int, default=defaults.wiener_win_len,
                       help="frames Wiener-filtered at once; 0 filters the whole input at once (default: %(default)s)")


def filter_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> FilterSettings:
    """The flags of :func:`add_filter_arguments` as settings (``parser.error`` on bad values)."""
    more = {}
    if hasattr(args, "wiener_win_len"):
        more["wiener_win_len"] = args.wiener_win_len or None  # 0: the whole input at once
    try:
        return FilterSettings(niter=args.niter, softmask=not args.no_softmask, alpha=args.alpha, logit=args.logit,
                              residual=args.residual, **more)
    except ValueError as err:  # the message starts with the setting's name: its flag is --<setting>
        name, _, rest = str(err).partition(" ")
        parser.error(f"--{name.replace('_', '-')} {rest}")


def add_separation_arguments(parser: argparse.ArgumentParser) -> None:
    """The separation flags that ``test.py`` and ``eval.py`` share (the filter's among them)."""
    p = parser
    add_filter_arguments(p)
    p.add_argument("--no-cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--segment", type=positive_float, default=DEFAULT_SEGMENT, help="seconds of audio separated at once; bounds memory (default: %(default)s)")
    p.add_argument("--overlap", type=nonnegative_float, default=DEFAULT_OVERLAP, help="seconds of cross-fade between segments (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=None, metavar="K",
                   help="segments of a long song separated as one batch (default for Open-Unmix and X-UMX: from "
                        "the song's length, the threads and --segment, at most 30 s of audio at once, so 1 with "
                        "the default --segment and 2 with --segment 15; other models: 1)")
    p.add_argument("--chunk-size", type=nonnegative_int, default=None, metavar="SAMPLES",
                   help="models that separate in chunks (RoFormers): samples per chunk; 0: whole segments "
                        "(default: the model folder's chunk_size)")
    p.add_argument("--num-overlap", type=positive_int, default=None, metavar="N",
                   help="models that separate in chunks: chunks over each sample (default: the model folder's)")
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
    wiener = filter_settings(parser, args)
    try:
        return SeparationSettings(
            filter=wiener, use_cuda=not args.no_cuda, segment=args.segment, overlap=args.overlap,
            models_file=args.models, cache_dir=args.cache_dir, precision=args.precision, batch=args.batch,
            chunk_size=args.chunk_size, num_overlap=args.num_overlap,
        )
    except ValueError as err:  # the message names the setting: its flag is --<setting>
        parser.error(f"--{err}")


# how long a process under torchrun waits for the others at the end: a share may take days, and
# resumed runs leave some processes little to do
SHARE_WAIT = timedelta(days=7)


def shard_spec(text: str) -> Shard:
    """An argparse ``type``: ``K/N``, share K of N (counted from 1)."""
    try:
        return Shard.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_shard_arguments(parser: argparse.ArgumentParser, what: str = "inputs") -> None:
    """``--shard K/N``: the share of a job array (:func:`job_shard` reads it)."""
    parser.add_argument("--shard", type=shard_spec, default=None, metavar="K/N",
                        help=f"do only share K of N of the {what} (balanced by audio length), e.g. one task of a job "
                             f"array; default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set, else all "
                             f"(1/1 takes all {what} in a SLURM array too). Under torchrun the processes divide "
                             "their share among themselves")


def job_shard(parser: argparse.ArgumentParser, args: argparse.Namespace,
              what: str = "input") -> Tuple[Shard, Optional[str]]:
    """The share of ``--shard`` or of the SLURM array this process runs in, and a note saying where a share
    that does not come from the command line comes from (``parser.error`` on bad SLURM variables)."""
    if args.shard is not None:
        return args.shard, None
    try:
        shard = Shard.from_environment()
    except ValueError as err:
        parser.error(f"argument --shard: {err}")
    if shard is None or shard.whole:
        return Shard(), None
    return shard, f"share {shard} from the SLURM array (SLURM_ARRAY_TASK_ID); --shard 1/1 takes every {what}"


def join_processes(use_cuda: bool):
    """This process's place under ``torchrun`` (a gloo process group; one GPU per process where there are
    GPUs): :func:`openunmix.distributed.setup`. Alone, rank 0 of 1.

    The program owns its process: the GPU of its ``LOCAL_RANK`` becomes the current device (what
    ``SeparationSettings.device``'s ``cuda`` means) and cuDNN autotunes, for the rest of the program."""
    import torch

    from ..distributed import setup

    ctx = setup(use_cuda, backend="gloo", timeout=SHARE_WAIT)
    if ctx.device.type == "cuda":
        torch.cuda.set_device(ctx.device)
        torch.backends.cudnn.benchmark = True
    return ctx
