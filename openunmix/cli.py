"""What the command-line scripts run, with plain arguments: errors become one line on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from .argtypes import ArgumentParser, nonnegative_float, nonnegative_int, number, positive_float, positive_int, writable_extension
from .audio import AudioError
from .hub import DEFAULT_MODEL, licence_notice
from .precision import PRECISIONS
from .separate import DEFAULT_OVERLAP, DEFAULT_SEGMENT, SeparationSettings, separate_file
from .utils import ModelError


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


def output_names(inputs: Sequence[str]) -> List[str]:
    """Output folder name per input: its stem, made longer only where stems collide.

    ``a/song.wav`` and ``b/song.flac`` give ``song.wav`` and ``song.flac``;
    ``a/song.wav`` and ``b/song.wav`` give ``a_song.wav`` and ``b_song.wav``;
    a remaining tie gets a counter.
    """
    paths = [Path(p) for p in inputs]
    names = [p.stem for p in paths]
    for longer in (lambda p: p.name, lambda p: f"{p.parent.name}_{p.name}"):
        clash = {n for n in names if names.count(n) > 1}
        names = [longer(p) if n in clash else n for p, n in zip(paths, names)]
    seen: Dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if names.count(n) == 1 else f"{n}_{seen[n]}")
    return unique


def separate_main(
    model: str,
    inputs: Sequence[str],
    outdir: str,
    targets: Optional[List[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    ext: str = ".wav",
    threads: Optional[int] = None,
    progress: bool = True,
) -> int:
    """Separate every input file with a model folder or named model.

    Returns:
        the exit status: 0 all separated, 1 some inputs failed, 2 no usable model.
    """
    if threads:
        torch.set_num_threads(threads)
    try:
        print_licence_notice(model, settings.models_file)
        separator = settings.load(model, targets, progress=progress)
    except ModelError as err:
        error(str(err))
        return 2
    failed = 0
    for name, folder in zip(inputs, output_names(inputs)):
        path = Path(name)
        target_dir = Path(outdir) / folder
        try:
            outputs = separate_file(
                separator, path, target_dir, segment=settings.segment, overlap=settings.overlap, ext=ext,
                progress=progress,
            )
        except (AudioError, OSError) as err:
            error(str(err))
            failed += 1
            continue
        if progress:
            print(f"{path} -> {target_dir}/ ({', '.join(outputs)})", file=sys.stderr)
    if failed:
        error(f"{failed} of {len(inputs)} input files failed")
        return 1
    return 0


def separate_command(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``test.py`` / ``umx``: parse the command line and separate; returns the exit status."""
    p = ArgumentParser(prog=prog, description="Open-Unmix separation of audio files")
    add_model_arguments(p)
    p.add_argument("--input", nargs="+", required=True, metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    p.add_argument("--outdir", default="separated",
                   help="output folder; results go to OUTDIR/<input name>/ (default: %(default)s)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: all of the model's)")
    add_separation_arguments(p)
    p.add_argument("--ext", type=writable_extension, default=".wav", help="output file extension (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    settings = separation_settings(p, a)
    try:
        return separate_main(a.model, a.input, a.outdir, a.targets, settings, ext=a.ext, threads=a.threads,
                             progress=not a.quiet)
    except KeyboardInterrupt:  # partial downloads and outputs are removed on the way out
        error("interrupted; files not finished were removed")
        return 130
