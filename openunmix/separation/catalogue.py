"""Separating catalogues: long lists of files, in one process or shared by many.

:func:`separate_catalogue` separates a list of audio files into
``OUTDIR/<folder>/<source><ext>``. Folder names come from
:func:`~openunmix.separation.names.output_names` over the whole list, so that every
process names every input alike. Each process takes its share of the list
(:mod:`openunmix.separation.sharding`: balanced by audio length read from the file
headers), loads the model once (its caller does), writes every output
atomically and appends one record per input to ``OUTDIR/manifest.jsonl``
(:mod:`openunmix.separation.manifest`). A bad input is recorded with its error and
the others go on. A rerun skips the inputs whose outputs are complete: the
latest record of their folder says ``done`` with the same input file (size
and modification time) and the same separation settings, and every output
file it names exists.

A record holds ``input`` (as listed), ``folder`` (under ``OUTDIR``),
``outputs`` (``{source: path relative to OUTDIR}``), ``duration`` (seconds
of audio, from the header; null when unreadable), ``seconds`` (taken to
separate it), ``status`` (``done`` or ``failed``), ``error`` (one line, or
null), ``settings`` (a digest of the separation settings), ``input_bytes``
and ``input_mtime_ns``, and who did it when: ``run`` (one id shared by the
processes of a run), ``shard``, ``rank``, ``host``, ``pid``, ``finished``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch

from ..audio import AudioError
from ..distributed import Context, barrier, broadcast_object
from .manifest import MANIFEST_NAME, Manifest
from .names import output_names
from .separate import DEFAULT_OVERLAP, DEFAULT_SEGMENT, SeparationSettings, separate_file
from .sharding import Shard, audio_duration, share_of
from ..utils import PathLike, make_output_folder, remove_stale_temporaries

ALONE = Context(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))  # one process, no torchrun


@dataclass(frozen=True)
class CatalogueItem:
    """One input of a catalogue.

    Attributes:
        index: its place in the whole list.
        input: the path as listed.
        folder: its output folder under ``OUTDIR`` (distinct for every input of the list).
        duration: seconds of audio from the file's header; None when the header cannot be read.
    """

    index: int
    input: str
    folder: str
    duration: Optional[float]


@dataclass
class CatalogueResult:
    """What :func:`separate_catalogue` did.

    On rank 0 of a ``torchrun`` run, ``done`` and ``failed`` are the records
    of every process; elsewhere, those of this process.

    Attributes:
        items: the inputs of this run's share (of a job array; all of them without one).
        done: records of the inputs separated now.
        failed: records of the inputs that failed.
        skipped: inputs complete from an earlier run, not separated again.
        seconds: wall time of the run.
        manifest: the manifest's path.
    """

    items: List[CatalogueItem]
    done: List[Dict[str, Any]] = field(default_factory=list)
    failed: List[Dict[str, Any]] = field(default_factory=list)
    skipped: List[CatalogueItem] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Optional[Path] = None

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio separated now."""
        return sum(r["duration"] or 0.0 for r in self.done)


def read_input_list(path: PathLike) -> List[str]:
    """The paths of an input list: one a line, as written (relative paths are relative to the
    current folder, as on the command line). Blank lines and lines whose first non-blank character
    is ``#`` (comments) are skipped: write a file whose name starts with ``#`` as ``./#name``.

    Raises:
        OSError: the list cannot be read; ValueError: it holds no path. Both one line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file of paths (one a line, UTF-8)") from None
    except OSError as err:
        raise OSError(f"{path}: cannot read the input list ({err.strerror or type(err).__name__})") from None
    lines = (raw.rstrip("\r") for raw in text.split("\n"))
    inputs = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not inputs:
        raise ValueError(f"{path}: the input list holds no path")
    return inputs


def plan(inputs: Sequence[PathLike]) -> List[CatalogueItem]:
    """Every input with its output folder (distinct over the whole list) and its duration from its header."""
    names = output_names(inputs)
    return [CatalogueItem(i, str(p), n, audio_duration(p)) for i, (p, n) in enumerate(zip(inputs, names))]


def shard_items(items: Sequence[CatalogueItem], shard: Shard) -> List[CatalogueItem]:
    """The items of ``shard`` (balanced by duration; unreadable inputs weigh nothing), in list order."""
    return [items[i] for i in share_of([it.duration or 0.0 for it in items], shard)]


def settings_key(model: str, targets: Optional[Sequence[str]], settings: SeparationSettings, ext: str) -> str:
    """A short digest of what decides the outputs: model, targets, filter, segments, precision, extension.

    Not the device: CPU and GPU outputs differ by rounding only.
    """
    name = os.path.abspath(model) if os.path.exists(model) else model
    what = {
        "model": name, "targets": list(targets) if targets else None, "filter": asdict(settings.filter),
        "segment": settings.segment, "overlap": settings.overlap, "precision": settings.precision, "ext": ext,
        "models_file": settings.models_file,
    }
    if settings.batch is not None:  # (keys of runs before the setting existed stay valid)
        what["batch"] = settings.batch
    if settings.chunk_size is not None or settings.num_overlap is not None:  # only when given: older keys stay
        what["chunk"] = [settings.chunk_size, settings.num_overlap]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _input_stat(path: str) -> Optional[tuple]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def is_complete(item: CatalogueItem, record: Optional[Mapping[str, Any]], outdir: PathLike, key: str) -> bool:
    """Whether the latest record of an item's folder says it was separated from this very input with
    these settings, and every output it names exists."""
    if not record or record.get("status") != "done" or record.get("input") != item.input:
        return False
    if record.get("settings") != key or not record.get("outputs"):
        return False
    if _input_stat(item.input) != (record.get("input_bytes"), record.get("input_mtime_ns")):
        return False
    return all((Path(outdir) / rel).is_file() for rel in record["outputs"].values())


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


class CatalogueProgress:
    """One progress bar for a run: files done of the total, hours of audio per hour, failures.

    Fed with this process's records (:meth:`add`) and, under ``torchrun``,
    with the other processes' records read from the manifest every
    ``poll`` seconds by a background thread (:meth:`start_polling`).
    """

    def __init__(self, total: int, complete: int, run: str, manifest: Optional[Manifest] = None,
                 poll: float = 1.0, enabled: bool = True):
        from tqdm import tqdm

        self.run = run
        self.records: Dict[str, Dict[str, Any]] = {}
        self.start = time.perf_counter()
        self.complete = complete
        self.lock = threading.Lock()
        self.bar = tqdm(total=total, initial=complete, unit="file", desc="separating", disable=not enabled,
                        dynamic_ncols=True)
        self._reader = manifest.follow() if manifest is not None else None
        self._poll = poll
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._refresh()

    def add(self, record: Mapping[str, Any]) -> None:
        with self.lock:
            self.records[record["folder"]] = dict(record)
            self._refresh()

    def start_polling(self) -> None:
        if self._reader is None or self.bar.disable:
            return
        self._thread = threading.Thread(target=self._follow, name="catalogue-progress", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(self._poll):
            self.poll()

    def poll(self) -> None:
        """Take in the records of this run that the manifest holds now."""
        if self._reader is None:
            return
        new = [r for r in self._reader.new_records() if r.get("run") == self.run]
        if new:
            with self.lock:
                for record in new:
                    self.records[record["folder"]] = record
                self._refresh()

    def _refresh(self) -> None:
        if self.bar.disable:
            return
        done = [r for r in self.records.values() if r.get("status") == "done"]
        failed = len(self.records) - len(done)
        hours = (time.perf_counter() - self.start) / 3600
        audio = sum(r.get("duration") or 0.0 for r in done) / 3600
        self.bar.n = self.complete + len(self.records)
        postfix = f"{audio / hours:.2f} h audio/h" if hours > 0 and audio > 0 else "h audio/h: -"
        self.bar.set_postfix_str(postfix + (f", {failed} failed" if failed else ""), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()
        with self.lock:
            self._refresh()
            self.bar.close()


def separate_catalogue(
    separator: Any,
    inputs: Sequence[PathLike],
    outdir: PathLike,
    key: str,
    ext: str = ".wav",
    segment: float = DEFAULT_SEGMENT,
    overlap: float = DEFAULT_OVERLAP,
    subtype: Optional[str] = None,
    shard: Shard = Shard(),
    ctx: Context = ALONE,
    force: bool = False,
    progress: bool = True,
    on_record: Optional[Callable[[Dict[str, Any]], None]] = None,
    on_note: Optional[Callable[[str], None]] = None,
) -> CatalogueResult:
    """Separate this process's share of ``inputs`` into ``outdir/<folder>/``, recording each in the manifest.

    Args:
        separator: the loaded model (on this process's device).
        inputs: the whole list; every process of a run must get the same one.
        key: :func:`settings_key` of the settings ``separator`` was loaded with.
        shard: this task's share of a job array (default: all of ``inputs``);
            the ``torchrun`` processes of ``ctx`` divide it among themselves.
        ctx: this process's place under ``torchrun``
            (:func:`openunmix.distributed.setup`, with a process group when
            there are several processes); every process must call this function.
        force: separate again inputs that are complete.
        progress: show the progress bar (rank 0 only; it counts every process's files) and
            a progress bar per file when alone.
        on_record: called with each record this process writes (e.g. to print a line).
        on_note: called with one line when lines of the manifest are set aside (a last line cut short
            by a crash; see :mod:`~openunmix.separation.manifest`); default ``warnings.warn``.

    Returns:
        what was done (on rank 0 of several processes: by all of them, read from the manifest).

    Raises:
        OSError: ``outdir`` cannot be created or written, or its manifest is a folder or unreadable.
    """
    start = time.perf_counter()
    outdir = Path(outdir)
    make_output_folder(outdir)
    remove_stale_temporaries(outdir)  # e.g. of a compaction killed halfway
    items = plan(inputs)
    mine = shard_items(items, shard.within(ctx.rank, ctx.world_size))
    manifest = Manifest.of(outdir, on_note)
    manifest.records()  # every process: a manifest that is a folder or unreadable stops all of them alike
    if ctx.rank == 0:
        manifest.mend()  # a crash's torn last line is set aside and reported before any work
    run = broadcast_object(uuid.uuid4().hex if ctx.rank == 0 else None, ctx)  # after the mending
    latest = manifest.latest()
    shown = mine
    if ctx.world_size > 1 and ctx.rank == 0:  # the shares of every process of this run
        shown = sorted({it for r in range(ctx.world_size) for it in shard_items(items, shard.within(r, ctx.world_size))},
                       key=lambda it: it.index)
    complete = {it.index for it in shown if not force and is_complete(it, latest.get(it.folder), outdir, key)}
    barrier(ctx)  # every process has seen what was complete before any writes
    display = CatalogueProgress(len(shown), len(complete), run, manifest if ctx.world_size > 1 else None,
                                enabled=progress and ctx.rank == 0)
    display.start_polling()
    result = CatalogueResult(items=shown, manifest=manifest.path)
    host = socket.gethostname()
    try:
        for item in mine:
            if item.index in complete:
                result.skipped.append(item)
                continue
            record = _separate_one(separator, item, outdir, key, ext, segment, overlap, subtype,
                                   progress and ctx.world_size == 1)
            record.update(run=run, shard=str(shard.within(ctx.rank, ctx.world_size)), rank=ctx.rank, host=host,
                          pid=os.getpid(), finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            manifest.append(record)
            (result.done if record["status"] == "done" else result.failed).append(record)
            display.add(record)
            if on_record is not None:
                on_record(record)
        barrier(ctx)  # every process is done
    finally:
        display.close()
    if ctx.rank == 0:
        manifest.compact([it.folder for it in items])
        if ctx.world_size > 1:  # everyone's records of this run
            records = [r for r in manifest.records() if r.get("run") == run]
            result.done = [r for r in records if r.get("status") == "done"]
            result.failed = [r for r in records if r.get("status") != "done"]
            result.skipped = [it for it in shown if it.index in complete]
    result.seconds = time.perf_counter() - start
    return result


def _separate_one(separator: Any, item: CatalogueItem, outdir: Path, key: str, ext: str, segment: float,
                  overlap: float, subtype: Optional[str], file_progress: bool) -> Dict[str, Any]:
    """Separate one input; its record (without who and when). Errors become a failed record."""
    stat = _input_stat(item.input)
    record: Dict[str, Any] = {
        "input": item.input, "folder": item.folder, "outputs": {}, "duration": item.duration, "seconds": 0.0,
        "status": "failed", "error": None, "settings": key,
        "input_bytes": stat[0] if stat else None, "input_mtime_ns": stat[1] if stat else None,
    }
    t = time.perf_counter()
    try:
        outputs = separate_file(separator, item.input, outdir / item.folder, segment=segment, overlap=overlap,
                                ext=ext, subtype=subtype, progress=file_progress)
    except (AudioError, OSError) as err:
        record["error"] = _first_line(err)
    except RuntimeError as err:  # e.g. out of GPU memory: this input fails, the others go on
        record["error"] = f"{item.input}: separation failed ({type(err).__name__}: {_first_line(err)})"
    else:
        record["status"] = "done"
        record["outputs"] = {name: f"{item.folder}/{path.name}" for name, path in outputs.items()}
    record["seconds"] = round(time.perf_counter() - t, 3)
    return record


__all__ = [
    "MANIFEST_NAME", "CatalogueItem", "CatalogueProgress", "CatalogueResult", "is_complete", "plan",
    "read_input_list", "separate_catalogue", "settings_key", "shard_items",
]
