"""python -m openunmix.export end to end: an unloadable folder is one line and nothing is written. The exported
folder's contents against PyTorch: tests/export/test_folder.py (its first export also runs the command)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import make_model_folder

# as every export test, skipped without ONNX Runtime
ort = pytest.importorskip("onnxruntime")

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: threads only add contention


def _one_error_line(err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err



def test_unloadable_folder_one_line_nothing_written(tmp_path):
    folder = make_model_folder(tmp_path / "m", targets=("vocals",))
    cfg = json.loads((folder / "vocals.json").read_text())
    cfg["hidden_size"] = cfg["args"]["hidden_size"] = 32
    (folder / "vocals.json").write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, "-m", "openunmix.export", str(folder), "--output", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120, env=ONE_THREAD)
    assert r.returncode != 0
    _one_error_line(r.stderr, "shapes do not match")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
