"""Shared by the evaluation tests: reading a results.csv, and frame scores of known values with their
whole-track SDRs."""

import math
from pathlib import Path

import pytest


def read_csv(path):
    """The header and ``{target: {column: value}}`` of a results.csv."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split(",")
    return header, {cells[0]: dict(zip(header[1:], map(float, cells[1:])))
                    for cells in (line.split(",") for line in lines[1:])}


NAN = math.nan
FRAMES = {  # {track: {target: {metric: values per frame}}}
    "a": {
        "vocals": {"SDR": [1, NAN, 3, 10], "SIR": [NAN] * 4, "ISR": [1, 2, NAN, 2], "SAR": [5, 5, 6, 4]},
        "drums": {"SDR": [0, 2, NAN, NAN], "SIR": [1] * 4, "ISR": [2] * 4, "SAR": [3] * 4},
    },
    "b": {
        "vocals": {"SDR": [NAN] * 4, "SIR": [4, NAN, NAN, NAN], "ISR": [3, 5, 4, NAN], "SAR": [7] * 4},
        "bass": {m: [NAN] * 4 for m in ("SDR", "SIR", "ISR", "SAR")},
    },
    "c": {
        "vocals": {"SDR": [2, 6, NAN, 4], "SIR": [8, 9, NAN, NAN], "ISR": [NAN] * 4, "SAR": [6, 8, 10, 12]},
    },
}
GLOBAL = {"a": {"vocals": 1.0, "drums": 4.0}, "b": {"vocals": 2.0}, "c": {"vocals": 6.0}}


def same(a, b):
    # medians and means of a few small integers and halves: exact in float64 in any order (abs 1e-9 leaves
    # room for an ulp where pandas averages the two middle values otherwise)
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9)
