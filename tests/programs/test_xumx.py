"""X-UMX end to end: joint training with train.py (its folder, its loss, resume, torchrun), separation with test.py,
the API and eval.py, bad settings in one line. The model and its losses: tests/architectures/test_xumx.py."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT, fft_round_trip_atol, run_script, split_batch_rtol, sum_rtol, write_tone
from openunmix.architectures import list_targets
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models

TARGETS = ["vocals", "drums", "bass", "other"]
TINY = ["--architecture", "xumx", "--hidden-size", "8", "--nb-layers", "1", "--nfft", "512", "--nhop", "256",
        "--batch-size", "4", "--seq-dur", "1.0", "--samples-per-track", "4", "--quiet", "--no-cuda"]


# the session's tiny dataset (conftest.tiny_musdb: seed 5, 2 training, 1 validation, 1 test track of 2 s, the
# dataset this file generated for itself before)
@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_musdb):
    out = tmp_path_factory.mktemp("xumx") / "model"
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", out, "--epochs", "2", *TINY)
    assert r.returncode == 0, r.stderr
    return out


def _history(out):
    return json.loads((out / "xumx.json").read_text())


def test_joint_training_writes_a_model_folder_and_lowers_the_loss(trained):
    for name in ("xumx.pth", "xumx.json", "xumx.chkpnt", "xumx_loss.png", "separator.json"):
        assert (trained / name).is_file(), name
    info = _history(trained)
    assert info["architecture"] == "xumx" and info["targets"] == TARGETS
    assert info["args"]["mcoef"] == 10.0 and info["args"]["combination"] is True
    train_loss = info["train_loss_history"]
    assert len(train_loss) == 2 and all(math.isfinite(v) for v in train_loss)
    assert train_loss[-1] < train_loss[0]
    state = torch.load(trained / "xumx.pth", weights_only=True)
    assert "branches.bass.fc1.weight" in state
    # statistics initialisation: every branch starts from the mixture statistics
    assert not torch.allclose(state["branches.vocals.input_scale"], torch.ones(1))
    assert list_targets(trained) == TARGETS
    assert json.loads((trained / "separator.json").read_text())["targets"] == TARGETS


def test_resume_repeats_the_uninterrupted_run(tmp_path, tiny_musdb, trained):
    out = tmp_path / "resumed"
    args = ["--root", tiny_musdb, "--is-wav", "--output", out, *TINY]
    assert run_script("train.py", *args, "--epochs", "1").returncode == 0
    r = run_script("train.py", *args, "--epochs", "2", "--checkpoint", out)
    assert r.returncode == 0, r.stderr
    assert "resuming at epoch 2" in r.stdout
    a, b = _history(trained), _history(out)
    # the same path: runs on this machine with the same kernels, thread count, data and per-epoch seeds,
    # the resumed one from an exact copy of the weights and optimizer state, so the histories are equal
    # bitwise (measured); the tolerance is kept
    np.testing.assert_allclose(b["train_loss_history"], a["train_loss_history"], rtol=1e-5)
    np.testing.assert_allclose(b["valid_loss_history"], a["valid_loss_history"], rtol=1e-5)
    # an Open-Unmix run cannot resume from it: no vocals.chkpnt there
    r = run_script("train.py", *args[:-len(TINY)], *TINY[2:], "--epochs", "3", "--checkpoint", out)
    assert r.returncode != 0 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_folder_separates_with_the_existing_scripts_and_api(tmp_path, tiny_musdb, trained):
    models, config = load_target_models(trained)
    assert list(models) == ["xumx"] and models["xumx"].targets == TARGETS and config.n_fft == 512
    sep = load_separator(trained, filter=FilterSettings(niter=1))
    assert sep.source_names == TARGETS
    audio = torch.rand(2, 44100) - 0.5
    with torch.no_grad():
        est = sep(audio[None])
    assert est.shape == (1, 4, 2, 44100) and torch.isfinite(est).all()
    # the ratio mask splits the mixture: the four estimates sum back to it
    with torch.no_grad():
        est0 = load_separator(trained, filter=FilterSettings(niter=0))(audio[None])
    # the 4 masks sum to 1 within 4 eps32; each source is an STFT -> mask -> inverse STFT round trip
    # (conftest.fft_round_trip_atol): 4 * 1.2e-6 + 2.4e-7 for |audio| <= 0.5
    peak = float(audio.abs().max())
    torch.testing.assert_close(est0.sum(1)[0], audio, atol=4 * fft_round_trip_atol(512, 256, peak) + sum_rtol(4) * peak,
                               rtol=0)
    # a subset of targets: the joint model still runs whole, the residual is the rest
    sub = load_separator(trained, targets=["drums"], filter=FilterSettings(niter=0))
    assert sub.source_names == ["drums", "residual"]
    with torch.no_grad():  # the same joint model on the same input: equal bitwise; the default is kept
        torch.testing.assert_close(sub.estimate_magnitudes(sub.complexnorm(sub.stft(audio[None]))),
                                   sep.estimate_magnitudes(sep.complexnorm(sep.stft(audio[None])))[..., [1]])

    mix = write_tone(tmp_path / "mix.wav", seconds=1.0, rate=44100)
    r = run_script("test.py", trained, "--input", mix, "--outdir", tmp_path / "sep", "--niter", "1")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "sep" / "mix").iterdir()) == sorted(f"{t}.wav" for t in TARGETS)

    r = run_script("eval.py", trained, "--root", tiny_musdb, "--is-wav", "--subset", "test", "--niter", "1",
                   "--outdir", tmp_path / "est", "--evaldir", tmp_path / "eval", "--cores", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "eval" / "results.csv").read_text()
    assert all(t in table for t in TARGETS)


def test_bad_xumx_settings_are_one_line_errors(tmp_path, tiny_musdb, trained):
    base = ["--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", "--epochs", "1", *TINY]
    r = run_script("train.py", *base, "--mcoef", "nan")
    assert r.returncode == 2 and "--mcoef" in r.stderr and "Traceback" not in r.stderr
    r = run_script("train.py", *base, "--dataset", "aligned")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "musdb" in r.stderr
    # a damaged xumx.json
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("xumx.pth", "separator.json"):
        (broken / name).write_bytes((trained / name).read_bytes())
    info = _history(trained)
    info["targets"] = ["vocals"]
    (broken / "xumx.json").write_text(json.dumps(info))
    r = run_script("test.py", broken, "--input", write_tone(tmp_path / "m.wav", seconds=0.5, rate=44100),
                   "--outdir", tmp_path / "s")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "targets" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.numerics
def test_torchrun_two_processes_follow_one(tmp_path, tiny_musdb, trained):
    """DDP (gloo): the joint model's batch norms span the global batch, as for Open-Unmix."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "train.py"), "--root", str(tiny_musdb), "--is-wav", "--output", str(out), "--epochs", "2", *TINY]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = _history(trained), _history(out)
    assert b["world_size"] == 2
    # the tolerance of each value from the computation (conftest.split_batch_rtol): a batch of 4 excerpts
    # of 1 s at hop 256 reduces 4 * 173 frames; 2 tracks * 4 excerpts per epoch make 2 steps of 4, so
    # epoch e's training loss is measured after at most 2e - 1 updates, its validation loss after 2e.
    # The loss's one longer reduction, the Gram matrix of the magnitude errors over all 4 * 2 * 257 * 173
    # values, is summed in float64 (xumx._Gram): as a float32 product it was off by 4e-4 on MKL's SSE4.2
    # path (make test-numerics), the Zen 3 failure of issue 17
    rows, steps = 4 * (1 + 44100 // 256), 2 * 4 // 4
    for e, (got, want) in enumerate(zip(b["train_loss_history"], a["train_loss_history"]), start=1):
        assert got == pytest.approx(want, rel=split_batch_rtol(rows, e * steps - 1)), ("train", e)
    for e, (got, want) in enumerate(zip(b["valid_loss_history"], a["valid_loss_history"]), start=1):
        assert got == pytest.approx(want, rel=split_batch_rtol(rows, e * steps)), ("valid", e)
    assert len(b["train_loss_history"]) == len(a["train_loss_history"]) == 2
    assert len(b["valid_loss_history"]) == len(a["valid_loss_history"]) == 2
