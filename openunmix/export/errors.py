"""The export's one error type, and the one line kept of a long exception."""

from __future__ import annotations


class ExportError(Exception):
    """A model that cannot be exported, or an output folder that cannot be written; one-line message."""


def first_line(err: BaseException) -> str:
    """The first non-empty line of ``err``'s message (its type's name if it has none)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
