"""``python -m openunmix.runs DIR...``: one table of the training runs found under the folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from .argtypes import ArgumentParser
from .common import error

PROG = "python -m openunmix.runs"


def build_parser(prog: str = PROG) -> ArgumentParser:
    """The parser of ``python -m openunmix.runs``."""
    p = ArgumentParser(prog=prog, description="One table of the training runs (train.py's <stem>.json) found "
                                              "under the folders: architecture, recipe, steps, time, best epoch, "
                                              "best validation loss and SDR")
    p.add_argument("folders", nargs="+", metavar="DIR", help="folders searched, with their subfolders")
    p.add_argument("--csv", metavar="FILE", default=None, help="also write the table as csv to FILE")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the table (and write the csv); returns the exit status.

    0: every run listed; 1: a run's json could not be read (listed with its error), or no run found;
    2: bad flags or a folder that does not exist (nothing written).
    """
    from ..runs import RunsError, find_runs, format_runs, runs_csv
    from ..utils import atomic_path

    a = build_parser().parse_args(argv)
    try:
        rows = find_runs(a.folders)
        if a.csv is not None:
            with atomic_path(Path(a.csv)) as tmp:
                Path(tmp).write_text(runs_csv(rows), encoding="utf-8")
    except (RunsError, OSError) as err:
        error(str(err))
        return 2
    if not rows:
        error(f"no training runs under {', '.join(a.folders)}")
        return 1
    print(format_runs(rows), flush=True)
    damaged = [r for r in rows if r.error]
    for row in damaged:
        error(f"{row.path}: {row.error}")
    return 1 if damaged else 0


if __name__ == "__main__":
    sys.exit(main())
