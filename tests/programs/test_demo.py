"""python -m openunmix.demo end to end. The generator: tests/demo/; its command in this process:
tests/commands/test_demo.py."""

from conftest import ROOT as REPO
from helpers.launcher import run_module


def test_cli(tmp_path):
    root = tmp_path / "cli"
    args = ["--root", root, "--nb-train", "1", "--nb-valid", "0", "--nb-test", "0", "--duration", "2"]
    done = run_module("openunmix.demo", args, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(root) and len(lines) == 2
    assert (root / "train" / "demo-train-000 - Synth" / "mixture.wav").exists()

    done = run_module("openunmix.demo", ["--root", root, "--duration", "-3"], cwd=REPO, timeout=60)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "--duration" in errors[0]
