"""``test.py`` and the installed ``umx``: separate audio files with a model folder or a named model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..models.hub import load_with
from ..separation.catalogue import CatalogueResult, read_input_list, separate_catalogue, settings_key
from ..distributed import cleanup
from ..separation.separate import SeparationSettings
from ..separation.sharding import Shard
from ..utils import ModelError
from .argtypes import ArgumentParser, positive_int, writable_extension
from .runtime import starting, tune_allocator
from .common import (
    add_model_arguments, add_separation_arguments, add_shard_arguments, error, job_shard, join_processes,
    print_licence_notice, separation_settings,
)


def separate_main(
    model: str,
    inputs: Sequence[str],
    outdir: str,
    targets: Optional[List[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    ext: str = ".wav",
    threads: Optional[int] = None,
    progress: bool = True,
    shard: Shard = Shard(),
    force: bool = False,
    note: Optional[str] = None,
) -> int:
    """Separate every input file with a model folder or named model into ``outdir/<name>/``.

    The model and ``targets`` are checked (loaded) before any input is read;
    an input that fails is reported in one line and the others are still
    separated. Folder names come from :func:`openunmix.separation.names.output_names`
    over all of ``inputs``. Every input gets a record in
    ``outdir/manifest.jsonl``; inputs separated earlier with the same settings
    are skipped unless ``force`` (see :mod:`openunmix.separation.catalogue`).

    Under ``torchrun`` the processes share the inputs (balanced by audio
    length, one GPU each where there are GPUs); rank 0 shows the progress of
    all of them and reports; the others print nothing. ``shard`` is this
    task's share of a job array (``note`` says where it came from).

    Returns:
        the exit status: 0 all separated, 1 some inputs failed, 2 no usable
        model or output folder (under ``torchrun``: rank 0's status is the
        run's, the other ranks return 0).
    """
    if threads:
        torch.set_num_threads(threads)
    ctx = join_processes(settings.use_cuda)
    try:
        return _separate(model, inputs, outdir, targets, settings, ext, progress, shard, force, note, ctx)
    finally:
        cleanup()


def _separate(model: str, inputs: Sequence[str], outdir: str, targets: Optional[List[str]],
              settings: SeparationSettings, ext: str, progress: bool, shard: Shard, force: bool,
              note: Optional[str], ctx: Any) -> int:
    lead = ctx.rank == 0
    alone = ctx.world_size == 1
    try:
        if lead:
            print_licence_notice(model, settings.models_file)
        separator = load_with(settings, model, targets, progress=progress and lead)
    except ModelError as err:
        if lead:
            error(str(err))
        return 2
    if lead and note:
        print(f"note: {note}", file=sys.stderr, flush=True)

    def say(record: Dict[str, Any]) -> None:  # alone: each input as it is done
        from tqdm import tqdm

        if record["status"] != "done":
            tqdm.write(f"error: {record['error']}", file=sys.stderr)
        elif progress:
            tqdm.write(f"{record['input']} -> {Path(outdir) / record['folder']}/ ({', '.join(record['outputs'])})",
                       file=sys.stderr)

    try:
        result = separate_catalogue(
            separator, inputs, outdir, settings_key(model, targets, settings, ext), ext=ext,
            segment=settings.segment, overlap=settings.overlap, shard=shard, ctx=ctx, force=force,
            progress=progress, on_record=say if alone else None,
            on_note=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True),
        )
    except OSError as err:
        if lead:
            error(str(err))
        return 2
    if not lead:
        return 0
    if not alone:
        for record in result.failed:
            error(record["error"])
    if progress:
        print(_summary(result, outdir), file=sys.stderr, flush=True)
    if result.failed:
        error(f"{len(result.failed)} of {len(result.items)} input files failed (see {result.manifest}); "
              "the same command again retries them")
        return 1
    return 0


def _summary(result: CatalogueResult, outdir: str) -> str:
    hours = result.audio_seconds / 3600
    rate = f", {hours / (result.seconds / 3600):.2f} h of audio per hour" if result.done and result.seconds else ""
    earlier = f", {len(result.skipped)} done earlier" if result.skipped else ""
    failed = f", {len(result.failed)} failed" if result.failed else ""
    return (f"{len(result.done)} of {len(result.items)} inputs separated into {outdir}{earlier}{failed} "
            f"({hours:.2f} h of audio in {result.seconds:.1f} s{rate}; manifest: {result.manifest})")


def separate_command(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``test.py`` / ``umx``: parse the command line and separate; returns the exit status."""
    p = ArgumentParser(prog=prog, description="Open-Unmix separation of audio files")
    add_model_arguments(p)
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--input", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    given.add_argument("--input-list", metavar="LIST",
                       help="a text file of audio file paths, one a line (relative to the current folder)")
    p.add_argument("--outdir", default="separated",
                   help="output folder; results go to OUTDIR/<input name>/, a record per input to "
                        "OUTDIR/manifest.jsonl (default: %(default)s)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: all of the model's)")
    add_separation_arguments(p)
    p.add_argument("--ext", type=writable_extension, default=".wav", help="output file extension (default: %(default)s)")
    add_shard_arguments(p)
    p.add_argument("--force", action="store_true",
                   help="separate again inputs that an earlier run separated with the same settings (they are "
                        "skipped otherwise; after changing a model folder's files, use --force)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    with starting():
        a = p.parse_args(argv)
        settings = separation_settings(p, a)
        shard, note = job_shard(p, a)
        if a.input_list is not None:
            try:
                inputs = read_input_list(a.input_list)
            except (OSError, ValueError) as err:
                error(str(err))
                return 2
        else:
            inputs = a.input
    try:
        return separate_main(a.model, inputs, a.outdir, a.targets, settings, ext=a.ext, threads=a.threads,
                             progress=not a.quiet, shard=shard, force=a.force, note=note)
    except KeyboardInterrupt:  # partial downloads and outputs are removed on the way out
        error("interrupted; files not finished were removed; the same command again resumes")
        return 130


def umx() -> int:
    """``umx`` as it was installed before the entry point moved to :func:`openunmix.commands.entry.umx`
    (which also handles Ctrl-C during the imports): the same command."""
    tune_allocator(arenas=1)
    return separate_command(prog="umx")
