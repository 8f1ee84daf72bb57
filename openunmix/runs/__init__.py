"""The training runs under folders, as one table: ``python -m openunmix.runs DIR...``.

:func:`find_runs` finds the runs (each ``<stem>.json`` that ``train.py``
wrote, beside its ``<stem>.pth`` or ``<stem>.chkpnt``) and reads what each
says (:class:`RunRow`); :func:`format_runs` and :func:`runs_csv` render the
table. A run whose json cannot be read is a row with its error, never left
out. The command lives in :mod:`openunmix.commands.runs`.
"""

from .index import COLUMNS, RunRow, RunsError, find_runs, format_runs, read_run, runs_csv

__all__ = ["COLUMNS", "RunRow", "RunsError", "find_runs", "format_runs", "read_run", "runs_csv"]
