"""python -m openunmix.compare end to end. The command in this process: tests/commands/test_compare.py."""

import os

from conftest import ROOT
from helpers.launcher import run_module


def test_module_shim_runs_with_the_worktree(study, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = run_module("openunmix.compare", [f"A={study['A']}", study["B"], "--outdir", tmp_path / "o",
                                            "--resamples", "99"], timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "  A " in proc.stdout and "  B " in proc.stdout  # DIR alone is named after its folder
    assert (tmp_path / "o" / "results.csv").is_file()
