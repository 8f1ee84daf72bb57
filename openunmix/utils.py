"""Small helpers shared by the package: atomic file writes, safe loading, STFT bins."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Union

import numpy as np
import torch

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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def file_mode() -> int:
    """Permissions of a new regular file under the current umask (temporary files start at 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
