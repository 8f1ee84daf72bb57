"""python -m openunmix.demo end to end. The generator: tests/demo/; its command in this process:
tests/commands/test_demo.py."""

import subprocess
import sys

from conftest import ROOT as REPO


def test_cli(tmp_path):
    root = tmp_path / "cli"
    cmd = [sys.executable, "-m", "openunmix.demo", "--root", str(root), "--nb-train", "1"]
    cmd += ["--nb-valid", "0", "--nb-test", "0", "--duration", "2"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(root) and len(lines) == 2
    assert (root / "train" / "demo-train-000 - Synth" / "mixture.wav").exists()

    bad = [sys.executable, "-m", "openunmix.demo", "--root", str(root), "--duration", "-3"]
    done = subprocess.run(bad, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "--duration" in errors[0]
