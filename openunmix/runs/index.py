"""Finding the training runs under folders and reading each run's json into one row of a table.

A run is a ``<stem>.json`` that has a ``<stem>.pth`` or ``<stem>.chkpnt``
beside it, or that holds a ``train_loss_history`` (what ``train.py``
writes); the ``tensorboard/`` folders of runs are not searched.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..utils import PathLike

COLUMNS = ("run", "architecture", "recipe", "steps", "epochs", "time_s", "best_epoch", "best_valid_loss",
           "best_valid_sdr", "select_by", "error")
SKIPPED_FOLDERS = {"tensorboard", "__pycache__"}


class RunsError(Exception):
    """A folder that cannot be searched; the message (one line) says why."""


@dataclass(frozen=True)
class RunRow:
    """One training run, as its json says.

    Attributes:
        path: the run's ``<stem>.json``.
        run: how the table names it: the path relative to the folder searched, without ``.json``.
        architecture, recipe: as the run's json has them (``"-"`` when it does not say).
        steps, epochs: optimizer steps and epochs trained.
        seconds: the epochs' time, validation included.
        best_epoch: the epoch of the best model (0: none yet).
        best_loss: the validation loss at the best epoch (None: none).
        best_sdr: the mean over targets of the validation SDR (uSDR) at the best epoch (None: not recorded).
        select_by: what the best model followed (``loss``, ``sdr``).
        error: why the json could not be read (the other fields are then empty), or None.
    """

    path: Path
    run: str
    architecture: str = "-"
    recipe: str = "-"
    steps: Optional[int] = None
    epochs: Optional[int] = None
    seconds: Optional[float] = None
    best_epoch: Optional[int] = None
    best_loss: Optional[float] = None
    best_sdr: Optional[float] = None
    select_by: str = "-"
    error: Optional[str] = None


def _candidates(folder: Path) -> List[Path]:
    """The json files under ``folder`` that may be runs, sorted by path."""
    found: List[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = Path(here) / name
            stem = path.with_suffix("")
            if stem.with_suffix(".pth").is_file() or stem.with_suffix(".chkpnt").is_file() or _has_history(path):
                found.append(path)
    return found


def _has_history(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return '"train_loss_history"' in f.read(1_000_000)
    except (OSError, UnicodeDecodeError):
        return False


def _number(value: Any, kind: type) -> Any:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return kind(value) if math.isfinite(value) else None


def read_run(path: PathLike, name: str) -> RunRow:
    """The row of the run whose json is ``path`` (a row with ``error`` when it cannot be read)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        return RunRow(path, name, error=f"not readable json ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
    if not isinstance(data, dict) or not isinstance(data.get("train_loss_history"), list):
        return RunRow(path, name, error="not a training run's json (no train_loss_history)")
    args = data.get("args") if isinstance(data.get("args"), dict) else {}
    times = [t for t in data.get("train_time_history") or [] if isinstance(t, (int, float))]
    best_epoch = _number(data.get("best_epoch"), int)
    sdr = data.get("best_sdr")
    best_sdr = None
    if isinstance(sdr, dict) and sdr and all(isinstance(v, (int, float)) for v in sdr.values()):
        best_sdr = _number(sum(sdr.values()) / len(sdr), float)
    return RunRow(
        path, name,
        architecture=str(data.get("architecture") or args.get("architecture") or "umx"),
        recipe=str(args.get("recipe") or "-"),
        steps=_number(data.get("steps"), int),
        epochs=_number(data.get("epochs_trained", len(data["train_loss_history"])), int),
        seconds=float(sum(times)) if times else None,
        best_epoch=best_epoch,
        best_loss=_number(data.get("best_loss"), float),
        best_sdr=best_sdr,
        select_by=str(data.get("select_by") or args.get("select_by") or "loss"),
    )


def find_runs(folders: Sequence[PathLike]) -> List[RunRow]:
    """The runs under each folder, in the order of the folders, then by path.

    Raises:
        RunsError: a folder that does not exist or is not a folder.
    """
    rows: List[RunRow] = []
    for folder in map(Path, folders):
        if not folder.exists():
            raise RunsError(f"{folder}: no such folder")
        if not folder.is_dir():
            raise RunsError(f"{folder}: not a folder")
        for path in _candidates(folder):
            name = str(Path(folder.name or str(folder)) / path.relative_to(folder).with_suffix(""))
            rows.append(read_run(path, name))
    return rows


def _cells(row: RunRow) -> Dict[str, str]:
    def num(value: Optional[float], spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return {
        "run": row.run, "architecture": row.architecture, "recipe": row.recipe,
        "steps": num(row.steps, "d"), "epochs": num(row.epochs, "d"), "time_s": num(row.seconds, ".1f"),
        "best_epoch": num(row.best_epoch, "d"), "best_valid_loss": num(row.best_loss, ".6g"),
        "best_valid_sdr": num(row.best_sdr, ".3f"), "select_by": row.select_by, "error": row.error or "",
    }


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_runs(rows: Sequence[RunRow]) -> str:
    """The runs as an aligned text table (time as h:mm:ss; a damaged run shows its error after its name)."""
    head = ["run", "architecture", "recipe", "steps", "epochs", "time", "best epoch", "best valid loss",
            "best SDR (dB)", "select by"]
    lines = []
    for row in rows:
        c = _cells(row)
        if row.error:
            lines.append([row.run, f"error: {row.error}"])
            continue
        lines.append([c["run"], c["architecture"], c["recipe"], c["steps"], c["epochs"], _duration(row.seconds),
                      c["best_epoch"], c["best_valid_loss"], c["best_valid_sdr"], c["select_by"]])
    widths = [max([len(head[i])] + [len(line[i]) for line in lines if len(line) == len(head)])
              for i in range(len(head))]
    out = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for line in lines:
        if len(line) != len(head):
            out.append(f"{line[0].ljust(widths[0])}  {line[1]}")
            continue
        out.append("  ".join(v.ljust(w) if i < 3 or i == 9 else v.rjust(w)
                             for i, (v, w) in enumerate(zip(line, widths))))
    return "\n".join(out)


def runs_csv(rows: Sequence[RunRow]) -> str:
    """The runs as csv: :data:`COLUMNS` (``time_s`` in seconds; empty cells for what a run does not say)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        cells = _cells(row)
        writer.writerow(["" if cells[c] == "-" else cells[c] for c in COLUMNS])
    return out.getvalue()
