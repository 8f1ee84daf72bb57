"""Small helpers shared by the package: atomic file writes, safe loading, STFT bins."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Tuple, Type, TypeVar, Union

import numpy as np
import torch
from torch import nn

PathLike = Union[str, os.PathLike]


class ModelError(Exception):
    """A model folder or model file that cannot be used; the message says why."""


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    A process killed at any moment leaves either the old file or the new one,
    never a partial file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name), suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, file_mode())
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# temporary names: ".<name>.tmp-<host>-<pid>-<random><suffix>"; <host> is a hash of the host name, so a
# folder shared by several machines (job arrays on a network file system) is cleaned only of this host's leftovers
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-")


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary file or folder standing in for ``name`` while it is written.

    It names this host and process, so that :func:`remove_stale_temporaries` can tell the
    leftovers of a killed run from the files of a run still in progress.
    """
    return f".{name}.tmp-{_host_tag()}-{os.getpid()}-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(folder: PathLike) -> List[Path]:
    """Remove the temporary files and folders that killed runs of this host left in ``folder``.

    Only names made with :func:`temporary_prefix` are considered, and only those whose
    process no longer runs; other hosts' and live processes' temporaries are left alone.

    Returns:
        what was removed.
    """
    folder = Path(folder)
    removed: List[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    host = _host_tag()
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if not m or m.group("host") != host or _process_alive(int(m.group("pid"))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            pass  # gone already, or not ours to remove
    return removed


def setting_number(where: PathLike, data: Mapping[str, Any], key: str, kind: type, low: float, high: float,
                   default: Any = None) -> Any:
    """A number from a settings mapping, checked: present, numeric (int when ``kind`` is int), finite, in range.

    Raises:
        ModelError: ``where`` (a file, or a file and a model) and what is wrong with ``key``.
    """
    value = data.get(key, default)
    if value is None:
        raise ModelError(f"{where}: missing setting '{key}'")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{where}: setting '{key}' must be a number, got {value!r}")
    if kind is int and float(value) != int(value):
        raise ModelError(f"{where}: setting '{key}' must be an integer, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ModelError(f"{where}: setting '{key}'={value!r} is out of range [{low}, {high}]")
    return kind(value)


def make_output_folder(path: PathLike) -> Path:
    """Create ``path`` (with parents) and check it is writable.

    Raises:
        OSError: with a one-line message naming the folder.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"{path}: cannot create output folder ({err.strerror})") from None
    if not os.access(path, os.W_OK):
        raise OSError(f"{path}: output folder is not writable")
    return path


def current_umask() -> int:
    """The process's umask, read without changing it.

    ``os.umask`` can only be read by setting it, and a file another thread
    creates in between gets the wrong permissions: Linux's
    ``/proc/self/status`` is read instead; elsewhere the mode of a new probe
    file in the temporary folder tells it.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    fd, probe = tempfile.mkstemp(prefix=".umask-probe-")
    os.close(fd)
    try:
        os.unlink(probe)
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o777)
        os.close(fd)
        return 0o777 & ~os.stat(probe).st_mode
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


@contextlib.contextmanager
def known_warnings_hidden(*rules: Tuple[Type[Warning], str]) -> Iterator[None]:
    """For the block only, hide the warnings that match ``(category, message regex)`` and are raised in
    torch's modules or this package's (torch's deprecation notes name their caller); every other warning
    (the caller's, a model's own code) goes to the caller's filters as before.

    The filters are the caller's again afterwards (``warnings.catch_warnings``;
    as with any change of Python's filters, other threads see these few extra
    filters while the block runs).
    """
    with warnings.catch_warnings():
        for category, message in rules:
            warnings.filterwarnings("ignore", message=message, category=category, module=r"(torch|openunmix)(\.|$)")
        yield


def file_mode() -> int:
    """Permissions of a new regular file under the current umask (temporary files start at 0600)."""
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    """Permissions of a new folder under the current umask (temporary folders start at 0700)."""
    return 0o777 & ~current_umask()


def save_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented json, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, default=_json_default)
            f.write("\n")


def save_torch(path: PathLike, obj: Any) -> None:
    """``torch.save`` ``obj`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Any:
    """Load a ``.pth``/``.chkpnt`` file without running code from it.

    Uses ``torch.load(weights_only=True)``: tensors, numbers, strings and
    containers of them load; a pickle that would import or call anything is
    refused with :class:`ModelError`.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise ModelError(
                f"{path}: refused, the file holds Python objects other than tensors "
                "and could run code when loaded"
            ) from None
        raise ModelError(f"{path}: not a readable torch file ({first})") from None


def bandwidth_to_max_bin(rate: float, n_fft: int, bandwidth: float) -> int:
    """Number of STFT bins at or below ``bandwidth`` Hz (at least 1, at most all bins)."""
    freqs = np.linspace(0, float(rate) / 2, n_fft // 2 + 1, endpoint=True)
    return int(max(1, min(len(freqs), np.max(np.where(freqs <= bandwidth)[0]) + 1)))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (Path,)):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    raise TypeError(f"not json serialisable: {type(obj).__name__}")


M = TypeVar("M", bound=nn.Module)


def frozen(module: M) -> M:
    """``module`` for inference only: no gradients, eval mode (returned for chaining)."""
    for p in module.parameters():
        p.requires_grad = False
    return module.eval()
