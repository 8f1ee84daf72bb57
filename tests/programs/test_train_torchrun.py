"""train.py under torchrun: 2 CPU processes (gloo) against one process with the same global batch."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_script, split_batch_rtol
from openunmix.demo import generate_dataset

# one LSTM layer: no dropout, whose masks are drawn per process and would make the
# two runs differ by more than rounding
ARGS = ["--hidden-size", "16", "--nfft", "512", "--nhop", "128", "--batch-size", "8", "--seq-dur", "1.0",
        "--samples-per-track", "8", "--nb-layers", "1", "--epochs", "2", "--quiet", "--no-cuda"]


@pytest.mark.numerics
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
    # TensorBoard: one event file, rank 0's
    assert len(list((multi / "tensorboard" / "vocals").glob("events.out.tfevents.*"))) == 1
    a = json.loads((single / "vocals.json").read_text())
    b = json.loads((multi / "vocals.json").read_text())
    assert b["world_size"] == 2 and a["world_size"] == 1
    # the tolerance of each value from the computation (conftest.split_batch_rtol): a batch of 8 excerpts
    # of 1 s at hop 128 reduces 8 * 345 frames; 2 tracks * 8 excerpts per epoch make 2 steps of 8, so
    # epoch 1's training loss is measured after at most 1 update, its validation loss after 2, and
    # epoch 2's training loss after at most 3
    rows = 8 * (1 + 44100 // 128)
    assert b["train_loss_history"][0] == pytest.approx(a["train_loss_history"][0], rel=split_batch_rtol(rows, 1))
    assert b["valid_loss_history"][0] == pytest.approx(a["valid_loss_history"][0], rel=split_batch_rtol(rows, 2))
    assert b["train_loss_history"][1] == pytest.approx(a["train_loss_history"][1], rel=split_batch_rtol(rows, 3))
    # the validation SDR: each process separates one of the 2 validation tracks and the sums are combined; the
    # weights after 2 updates differ by the rounding above (1e-5 relative at most), which moves a whole-track
    # SDR near 0 dB by far less than 1e-3 dB
    assert b["valid_sdr_history"][0]["vocals"] == pytest.approx(a["valid_sdr_history"][0]["vocals"], abs=1e-3)
