"""Verified, cached downloads of model files.

A file is downloaded under a temporary name in the cache folder, hashed
while it arrives, and renamed to its final name only when its sha256 matches
the expected digest: an interrupted, truncated or corrupted download never
leaves a file that looks complete. Processes that download into the same
cache take turns (a lock on the cache folder), so the second one finds the
first one's file. A cached file is checked against its digest every time it is used and
refused (never loaded) when it does not match.

The default cache is torch's (``$TORCH_HOME/hub/checkpoints``, by default
``~/.cache/torch/hub/checkpoints``), where upstream open-unmix's own downloads
land, so files fetched by upstream are used without a download.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from ..utils import ModelError, PathLike, file_mode, make_output_folder

DEFAULT_TIMEOUT = 30.0  # seconds without progress before a download is given up
ENV_TIMEOUT = "OPENUNMIX_DOWNLOAD_TIMEOUT"
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """torch's checkpoint cache: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def download_timeout() -> float:
    """Seconds a connection may stall: ``$OPENUNMIX_DOWNLOAD_TIMEOUT`` or 30."""
    value = os.environ.get(ENV_TIMEOUT)
    if not value:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except ValueError:
        timeout = float("nan")
    if not (0 < timeout < float("inf")):
        raise ModelError(f"{ENV_TIMEOUT}={value!r}: must be a positive number of seconds")
    return timeout


def sha256_file(path: PathLike) -> str:
    """Hex sha256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def matches(digest: str, expected: str) -> bool:
    """Whether a full hex ``digest`` matches ``expected`` (a full digest or a prefix of it)."""
    return digest.lower().startswith(expected.lower())


def verify(path: PathLike, expected: str) -> None:
    """Raise :class:`ModelError` unless the file's sha256 matches ``expected``."""
    digest = sha256_file(path)
    if not matches(digest, expected):
        raise ModelError(
            f"{path}: cached file does not match its sha256 (expected {expected}..., got {digest[:16]}...); "
            "it was not loaded: delete it to download it again"
        )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the cache folder itself (no lock file is left behind), where the OS has one."""
    try:
        import fcntl
    except ImportError:  # Windows: unique temporary names and an atomic rename still keep files whole
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _copy(response: BinaryIO, out: BinaryIO, total: Optional[int], name: str, progress: bool) -> str:
    """Copy the response to ``out`` with a progress bar; return the sha256 of what arrived."""
    from tqdm import tqdm

    h = hashlib.sha256()
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, disable=not progress,
              file=sys.stderr, leave=False) as bar:
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            h.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise ConnectionError(f"connection closed after {received} of {total} bytes")
    return h.hexdigest()


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):  # the cause is inside
        if not isinstance(err.reason, BaseException):
            return str(err.reason)
        err = err.reason
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timed out"
    text = getattr(err, "strerror", None) or str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def fetch(url: str, sha256: str, cache_dir: Optional[PathLike] = None, progress: bool = True,
          timeout: Optional[float] = None) -> Path:
    """The verified local copy of ``url``: from the cache, else downloaded into it.

    Args:
        url: ``http(s)://`` or ``file://`` URL; the cached file takes its last path component as name.
        sha256: expected hex digest (full, or a prefix of at least 8 digits).
        cache_dir: folder of cached files (default :func:`default_cache_dir`).
        progress: show a progress bar on stderr while downloading.
        timeout: seconds a connection may stall (default :func:`download_timeout`).

    Returns:
        the path of the verified file.

    Raises:
        ModelError: one line naming the URL or file and what went wrong
            (network, HTTP status, digest mismatch, unwritable cache).
    """
    from urllib.parse import urlparse

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    name = Path(urlparse(url).path).name
    target = cache / name
    if target.is_file():  # cached: no network at all
        verify(target, sha256)
        return target
    try:
        make_output_folder(cache)
    except OSError as err:  # the message names the folder
        raise ModelError(f"{err}: it is the model cache, choose another with --cache-dir") from None
    timeout = download_timeout() if timeout is None else timeout
    with _locked(cache):
        if target.is_file():  # another process finished it while we waited
            verify(target, sha256)
            return target
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    request = urllib.request.Request(url, headers={"User-Agent": "openunmix"})
                    with urllib.request.urlopen(request, timeout=timeout) as response:
                        length = response.headers.get("Content-Length")
                        total = int(length) if length and length.isdigit() else None
                        digest = _copy(response, out, total, name, progress)
                except Exception as err:  # URLError, HTTPError, timeouts, resets, http.client's IncompleteRead, disk full
                    raise ModelError(
                        f"cannot download {url} ({_reason(err)}); without network, put the file at {target} by hand"
                    ) from None
                out.flush()
                os.fsync(out.fileno())
            if not matches(digest, sha256):
                raise ModelError(
                    f"downloaded {url} does not match its sha256 (expected {sha256}..., got {digest[:16]}...); "
                    "nothing was kept"
                )
            os.chmod(tmp, file_mode())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target
