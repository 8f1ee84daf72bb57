"""``OUTDIR/manifest.jsonl``: what happened to each input of a catalogue, one json object a line.

Many processes append to the same manifest (``torchrun`` ranks, the tasks of
a job array, on one machine or several sharing a file system). Each record
is written with one ``write`` to a file opened for appending while holding
an exclusive POSIX lock (``lockf``, which network file systems honour), so
lines never interleave. :meth:`Manifest.compact` rewrites the file with the
latest record per output folder, under the same lock and by an atomic
rename; a writer that waited for the lock notices the new file and appends
to it instead. Readers skip a last line still being written and lines that
are not json objects.

A process killed mid-write (power loss, a full disk) leaves a last line cut
short. The next append, under the lock, finds the file not ending in a
newline: it moves the fragment to ``manifest.torn`` beside the manifest,
reports it once (``report``) and starts its record on a fresh line.
Compaction sets aside the same way every line that is not a record, so
nothing is deleted unseen. A record that an older version appended onto a
fragment (one line holding both) is still read, and kept by compaction.

A record (see :mod:`openunmix.separation.catalogue` for the fields) is identified by its
``folder``, the output folder under ``OUTDIR``: an input's latest record is
the last line with its folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
import warnings
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..utils import PathLike, atomic_path, file_mode

MANIFEST_NAME = "manifest.jsonl"
TORN_NAME = "manifest.torn"  # beside the manifest: the lines set aside, one a line

try:  # POSIX; elsewhere appends are not locked (one process at a time)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """A descriptor of ``path`` (created if missing; writes append) under an exclusive lock.

    When the file was replaced (compacted) while waiting for the lock, the
    new file is opened and locked instead. POSIX locks belong to the process
    and go when it closes *any* descriptor of the file: while locked, the
    file is read through this descriptor only.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, file_mode())
        try:
            if fcntl is not None:
                fcntl.lockf(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                yield fd
                return
        finally:
            os.close(fd)  # releases the lock


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _records(data: bytes) -> List[Dict[str, Any]]:
    """The records of a manifest's bytes; the piece after the last newline is a line still being written."""
    return _parse(data.decode(errors="replace").split("\n")[:-1])


def _record(line: str) -> Optional[Dict[str, Any]]:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("folder"), str) else None


def _split(line: str) -> Tuple[str, Optional[Dict[str, Any]]]:
    """``(what is not a record, the record)`` of one line: a record, a torn fragment, or a fragment
    with a whole record appended to it (the earliest start that parses to the line's end)."""
    if not line.strip():
        return "", None
    record = _record(line)
    if record is not None:
        return "", record
    start = line.find("{", 1)
    while start > 0:
        record = _record(line[start:])
        if record is not None:
            return line[:start], record
        start = line.find("{", start + 1)
    return line, None


def _latest(records: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    latest: Dict[str, Dict[str, Any]] = {}
    for record in records:
        latest[record["folder"]] = record
    return latest


def _parse(lines: Sequence[str]) -> List[Dict[str, Any]]:
    return [record for record in (_split(line)[1] for line in lines) if record is not None]


def _unusable(path: Path, err: OSError) -> OSError:
    """One line for a manifest that cannot be used at all (a folder, unreadable)."""
    if isinstance(err, IsADirectoryError) or path.is_dir():
        return OSError(f"{path}: is a folder, not a manifest; move it away or choose another --outdir")
    return OSError(f"{path}: cannot use the manifest ({err.strerror or type(err).__name__})")


class Manifest:
    """The manifest file of an output folder (``OUTDIR/manifest.jsonl``)."""

    def __init__(self, path: PathLike, report: Optional[Callable[[str], None]] = None):
        """``report`` is called with one line each time lines are set aside (default: ``warnings.warn``)."""
        self.path = Path(path)
        self.torn = self.path.with_name(TORN_NAME)
        self.report = report

    @classmethod
    def of(cls, outdir: PathLike, report: Optional[Callable[[str], None]] = None) -> "Manifest":
        return cls(Path(outdir) / MANIFEST_NAME, report)

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record as one line, durably (fsync), safe against concurrent writers.

        The record starts on a fresh line: a last line cut short by a crash is set aside first.

        Raises:
            OSError: the manifest cannot be written (one line).
        """
        data = (json.dumps(record, sort_keys=False, allow_nan=True) + "\n").encode()
        try:
            with _locked(self.path) as fd:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = self._set_aside_tail(fd, size) + data
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
        except OSError as err:
            raise _unusable(self.path, err) from None

    def mend(self) -> None:
        """Set aside a last line cut short by a crash now (appends do it too), so that it is reported at
        the start of a run. Nothing happens without a manifest.

        Raises:
            OSError: the manifest is a folder or cannot be used (one line).
        """
        if not self.path.exists() and not self.path.is_symlink():
            return
        try:
            with _locked(self.path) as fd:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n" and fcntl is not None:
                    kept = memoryview(self._set_aside_tail(fd, size))
                    while kept:
                        kept = kept[os.write(fd, kept):]
                    os.fsync(fd)
        except OSError as err:
            raise _unusable(self.path, err) from None

    def _set_aside_tail(self, fd: int, size: int) -> bytes:
        """Move the last line, cut short by a crash, to :data:`TORN_NAME` (under the lock); what to write
        before the next record (a newline where the fragment cannot be removed)."""
        start = size
        while start > 0:  # the fragment is short: read back from the end
            chunk = os.pread(fd, min(start, 1 << 16), max(0, start - (1 << 16)))
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = start - len(chunk) + cut + 1
                break
            start -= len(chunk)
        fragment = os.pread(fd, size - start, start)
        if fcntl is None:  # not locked: the tail may be another writer's line in progress
            return b"\n"
        rest, record = _split(fragment.decode(errors="replace"))
        if rest.strip():
            self._keep_aside([rest.encode()], "a last line cut short by a crash")
        os.ftruncate(fd, start)
        # a whole record that only lacks its newline is kept
        return b"" if record is None else (json.dumps(record, allow_nan=True) + "\n").encode()

    def _keep_aside(self, lines: Sequence[bytes], what: str) -> None:
        with open(self.torn, "ab") as f:
            for line in lines:
                f.write(line.rstrip(b"\n") + b"\n")
            f.flush()
            os.fsync(f.fileno())
        size = sum(len(line) for line in lines)
        note = (f"{self.path}: {what} ({len(lines)} line{'s' if len(lines) > 1 else ''}, {size} bytes) "
                f"set aside in {self.torn}; no record was lost")
        if self.report is not None:
            self.report(note)
        else:
            warnings.warn(note, stacklevel=3)

    def records(self) -> List[Dict[str, Any]]:
        """Every complete record, in file order (none when there is no manifest).

        Raises:
            OSError: the manifest is a folder or cannot be read (one line).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise _unusable(self.path, err) from None
        return _records(data)

    def latest(self) -> Dict[str, Dict[str, Any]]:
        """The last record of each output folder, in the order the folders first appear."""
        return _latest(self.records())

    def compact(self, order: Sequence[str] = ()) -> None:
        """Keep only the latest record per folder: the folders of ``order`` first, in that order, then the others.

        Safe while other processes append: done under the writers' lock, by an atomic rename.
        """
        if not self.path.exists() and not self.path.is_symlink():
            return
        try:
            with _locked(self.path) as fd:
                lines = _read_all(fd).decode(errors="replace").split("\n")
                if not lines[-1]:
                    lines.pop()  # the file ends with a newline; otherwise its last line was cut short
                pieces = [_split(line) for line in lines]
                latest = _latest([record for _, record in pieces if record is not None])
                aside = [rest.encode() for rest, _ in pieces if rest.strip()]
                if aside:  # not records: kept beside the manifest, not silently deleted
                    self._keep_aside(aside, "lines that are not records (cut short by a crash, or not json)")
                rank = {folder: i for i, folder in enumerate(order)}
                folders = sorted(latest, key=lambda f: (0, rank[f]) if f in rank else (1, 0))  # stable: first seen
                with atomic_path(self.path) as tmp:
                    with open(tmp, "w") as f:
                        for folder in folders:
                            f.write(json.dumps(latest[folder], allow_nan=True) + "\n")
        except OSError as err:
            raise _unusable(self.path, err) from None

    def follow(self) -> "ManifestReader":
        """A reader that returns the records added since its last call."""
        return ManifestReader(self.path)


class ManifestReader:
    """Reads the records appended to a manifest since the last call (for progress displays).

    A manifest that was replaced (compacted) is read again from its start, so
    records may come twice: callers keep them by folder.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self._inode: Optional[tuple] = None
        self._offset = 0

    def new_records(self) -> List[Dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if (st.st_ino, st.st_dev) != self._inode or st.st_size < self._offset:
                    self._inode, self._offset = (st.st_ino, st.st_dev), 0
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # whole lines only
        self._offset += end
        return _parse(data[:end].decode(errors="replace").split("\n"))
