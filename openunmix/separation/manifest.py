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

A record (see :mod:`openunmix.separation.catalogue` for the fields) is identified by its
``folder``, the output folder under ``OUTDIR``: an input's latest record is
the last line with its folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from ..utils import PathLike, atomic_path, file_mode

MANIFEST_NAME = "manifest.jsonl"

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


def _latest(records: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    latest: Dict[str, Dict[str, Any]] = {}
    for record in records:
        latest[record["folder"]] = record
    return latest


def _parse(lines: Sequence[str]) -> List[Dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("folder"), str):
            records.append(record)
    return records


class Manifest:
    """The manifest file of an output folder (``OUTDIR/manifest.jsonl``)."""

    def __init__(self, path: PathLike):
        self.path = Path(path)

    @classmethod
    def of(cls, outdir: PathLike) -> "Manifest":
        return cls(Path(outdir) / MANIFEST_NAME)

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record as one line, durably (fsync), safe against concurrent writers."""
        data = (json.dumps(record, sort_keys=False, allow_nan=True) + "\n").encode()
        with _locked(self.path) as fd:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)

    def records(self) -> List[Dict[str, Any]]:
        """Every complete record, in file order (none when there is no manifest)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return _records(data)

    def latest(self) -> Dict[str, Dict[str, Any]]:
        """The last record of each output folder, in the order the folders first appear."""
        return _latest(self.records())

    def compact(self, order: Sequence[str] = ()) -> None:
        """Keep only the latest record per folder: the folders of ``order`` first, in that order, then the others.

        Safe while other processes append: done under the writers' lock, by an atomic rename.
        """
        if not self.path.exists():
            return
        with _locked(self.path) as fd:
            latest = _latest(_records(_read_all(fd)))
            rank = {folder: i for i, folder in enumerate(order)}
            folders = sorted(latest, key=lambda f: (0, rank[f]) if f in rank else (1, 0))  # stable: first seen
            with atomic_path(self.path) as tmp:
                with open(tmp, "w") as f:
                    for folder in folders:
                        f.write(json.dumps(latest[folder], allow_nan=True) + "\n")

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
