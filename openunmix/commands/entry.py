"""The ``umx`` command that ``pip install`` creates (``[project.scripts]`` in pyproject.toml)."""

from __future__ import annotations

from .runtime import starting, tune_allocator


def umx() -> int:
    """The same as ``python test.py``; torch is imported only once :func:`~.runtime.starting` handles Ctrl-C
    (one line, exit status 130, no traceback)."""
    tune_allocator(arenas=1)
    with starting():
        from .separate import separate_command
    return separate_command(prog="umx")
