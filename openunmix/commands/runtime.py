"""Process-level settings applied by the command-line scripts before torch is imported.

glibc returns every freed block above its mmap threshold (at most 32 MB,
adjusted dynamically) to the system and maps it again on the next
allocation. Audio models allocate and free buffers of tens to hundreds of
megabytes on every step, so a training or separation run then spends
much of its time in page faults: on a 2-core machine a training step of the
demo model took 0.65 s with the default and 0.34 s with the threshold
raised (see benchmarks/training.py). Raising the threshold keeps those
blocks in the heap for reuse. glibc reads it only from the environment at
start-up, so the script re-executes itself once with it set.

Separation runs threads that allocate (the target models side by side,
reading ahead, writing behind): glibc gives each thread a heap (arena) of
its own, and with the raised threshold every heap keeps what it freed. The
separation commands therefore also ask for one arena: on 600 s with four
default-size models the peak RSS was 1189-1295 MB with glibc's default
number of arenas and 961-1005 MB with one, in the same time (see
docs/performance.md).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

_ENV = "MALLOC_MMAP_THRESHOLD_"
_ARENAS = "MALLOC_ARENA_MAX"
_VALUE = str(1 << 40)


def tune_allocator(arenas: Optional[int] = None) -> None:
    """Re-execute the running script with a large glibc mmap threshold (Linux only).

    Does nothing when the variable is already set (also by the user, who can
    set it to any value to opt out), off Linux, or under ``OPENUNMIX_NO_REEXEC``.

    Args:
        arenas: also limit glibc to this many heaps (``MALLOC_ARENA_MAX``),
            unless the user set that variable.
    """
    if not sys.platform.startswith("linux") or _ENV in os.environ or os.environ.get("OPENUNMIX_NO_REEXEC"):
        return
    if not sys.argv or not sys.argv[0] or not os.path.exists(sys.argv[0]):
        return
    os.environ[_ENV] = _VALUE
    if arenas is not None:
        os.environ.setdefault(_ARENAS, str(arenas))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)
    except OSError:
        return  # carry on with the default allocator


@contextmanager
def starting(what: str = "the separation") -> Iterator[None]:
    """Ctrl-C while a program starts (imports torch, ...): one ``error:`` line and exit status 130.

    Before the program's own handling of Ctrl-C is in place, Python would
    print a ``KeyboardInterrupt`` traceback; nothing has been written yet.
    """
    try:
        yield
    except KeyboardInterrupt:
        print(f"error: interrupted before {what} started; nothing was written", file=sys.stderr, flush=True)
        sys.exit(130)
