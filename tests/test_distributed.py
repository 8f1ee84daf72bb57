"""train.py under torchrun: 2 CPU processes (gloo) against one process with the same global batch."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_script
from openunmix.demo import generate_dataset

# one LSTM layer: no dropout, whose masks are drawn per process and would make the
# two runs differ by more than rounding
ARGS = ["--hidden-size", "16", "--nfft", "512", "--nhop", "128", "--batch-size", "8", "--seq-dur", "1.0",
        "--samples-per-track", "8", "--nb-layers", "1", "--epochs", "2", "--quiet", "--no-cuda"]


def test_torchrun_two_processes_match_one(tmp_path):
    root = generate_dataset(tmp_path / "data", seed=11, nb_train=2, nb_valid=2, nb_test=0, duration=3.0)
    single = tmp_path / "single"
    r = run_script("train.py", "--root", root, "--is-wav", "--output", single, *ARGS)
    assert r.returncode == 0, r.stderr
    multi = tmp_path / "multi"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "train.py"), "--root", str(root), "--is-wav", "--output", str(multi), *ARGS]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    # one set of output files, written by rank 0 only, and one log line per epoch
    assert sorted(p.name for p in multi.iterdir()) == sorted(p.name for p in single.iterdir())
    assert r.stdout.count("epoch    1  train") == 1
    a = json.loads((single / "vocals.json").read_text())
    b = json.loads((multi / "vocals.json").read_text())
    assert b["world_size"] == 2 and a["world_size"] == 1
    assert b["train_loss_history"][0] == pytest.approx(a["train_loss_history"][0], rel=1e-5)
    assert b["valid_loss_history"][0] == pytest.approx(a["valid_loss_history"][0], rel=1e-5)
    assert b["train_loss_history"][1] == pytest.approx(a["train_loss_history"][1], rel=1e-4)
