"""Checked argument types and a one-line-error parser for the command-line scripts.

Every flag is checked while the command line is parsed, before any work
starts: a bad value gives one line ``error: argument --flag: ...`` on stderr
and exit status 2. This module does not import torch, so scripts can parse
their arguments before paying for it.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn, Optional


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one ``error:`` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _number(text: str, kind: type) -> Optional[float]:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        return None
    return value


def number(kind: type = float, low: Optional[float] = None, high: Optional[float] = None,
           low_open: bool = False, high_open: bool = False, what: str = "") -> Callable[[str], float]:
    """An argparse ``type``: a finite number of ``kind`` within bounds.

    Args:
        low, high: bounds (``None``: unbounded).
        low_open, high_open: exclude the bound itself.
        what: how the value is described in the error (default from the bounds).
    """
    if not what:
        noun = "an integer" if kind is int else "a finite number"
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        what = noun + (" " + " and ".join(parts) if parts else "")

    def parse(text: str) -> float:
        value = _number(text, kind)
        ok = value is not None and math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


positive_float = number(float, 0, low_open=True)
nonnegative_float = number(float, 0)
positive_int = number(int, 1)
nonnegative_int = number(int, 0)
fraction = number(float, 0, 1, low_open=True, high_open=True)  # strictly between 0 and 1


def writable_extension(text: str) -> str:
    """An argparse ``type``: an audio file extension that soundfile can write (``.wav``, ``flac``, ...)."""
    import soundfile as sf

    ext = text if text.startswith(".") else f".{text}"
    formats = sf.available_formats()
    fmt = ext[1:].upper()
    if fmt == "AIF":
        fmt = "AIFF"
    if fmt not in formats or fmt in ("RAW",):
        names = ", ".join(f".{f.lower()}" for f in sorted(formats) if f != "RAW")
        raise argparse.ArgumentTypeError(f"soundfile cannot write {text!r} files; it writes {names}")
    return ext


def die(message: str, status: int = 2) -> NoReturn:
    """Print one ``error:`` line and exit."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(status)
