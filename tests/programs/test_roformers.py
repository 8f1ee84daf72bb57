"""BS-RoFormer and Mel-RoFormer end to end: an MSST checkpoint converted by ``python -m openunmix.convert``, then
separated by test.py, scored by eval.py and exported; training with train.py (joint and single target, two
dataset layouts, resume). The model against the reference: tests/architectures/test_roformer.py; the
converter's errors: tests/convert/test_msst.py."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, run_script, write_tone
from helpers.launcher import run_module
from helpers.datasets import make_trackfolders
from helpers.roformers import reference_model, write_msst
from openunmix.models.hub import load_separator, load_with
from openunmix.separation.separate import SeparationSettings

TINY = ["--dim", "16", "--depth", "1", "--heads", "2", "--dim-head", "8", "--nfft", "256", "--nhop", "64",
        "--batch-size", "2", "--seq-dur", "0.5", "--samples-per-track", "2", "--chunk-size", "22050",
        "--quiet", "--no-cuda"]
FAST = ["--no-tensorboard", "--no-valid-sdr"]  # where the run's validation SDR and event files are not looked at


def _module(name, *args):
    return run_module(name, args, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """An MSST Mel-RoFormer (vocals of vocals/other) converted by the program, and its reference model."""
    folder = tmp_path_factory.mktemp("msst")
    ref, section = reference_model("mel_band_roformer", depth=1, num_bands=12)
    config, ckpt = write_msst(folder, "mel_band_roformer", ref, section, chunk_size=22050, num_overlap=2)
    r = _module("openunmix.convert", config, ckpt, "--outdir", folder / "model")
    assert r.returncode == 0, r.stderr
    assert "converted" in r.stderr
    return folder / "model", ref


def test_a_converted_checkpoint_separates_with_test_py(tmp_path, converted):
    folder, _ = converted
    mix = write_tone(tmp_path / "mix.wav", seconds=1.5, rate=44100)
    r = run_script("test.py", folder, "--input", mix, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    vocals, rate = sf.read(tmp_path / "sep" / "mix" / "vocals.wav", always_2d=True)
    rest, _ = sf.read(tmp_path / "sep" / "mix" / "accompaniment.wav", always_2d=True)
    mixture, _ = sf.read(mix, always_2d=True)
    assert rate == 44100 and vocals.shape == mixture.shape
    # chunks are overlap-added in the waveform; the residual is the mixture minus vocals: they add up to the
    # mixture up to the 16-bit quantisation of each written source (2**-16 each)
    assert np.abs(vocals + rest - mixture).max() <= 2.0**-14
    assert np.abs(vocals).max() > 1e-3


def test_chunk_settings_override_the_folder(tmp_path, converted):
    folder, _ = converted
    x = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 2, 44100)).astype(np.float32))
    outs = {}
    for name, settings in (("folder", {}), ("whole", {"chunk_size": 0}), ("four", {"num_overlap": 4})):
        separator = load_with(SeparationSettings(use_cuda=False, **settings), folder)
        with torch.no_grad():
            outs[name] = separator(x)
    assert load_with(SeparationSettings(use_cuda=False), folder).chunk_size == 22050
    assert not torch.equal(outs["folder"], outs["whole"]) and not torch.equal(outs["folder"], outs["four"])
    mix = write_tone(tmp_path / "mix.wav", seconds=0.5, rate=44100)
    r = run_script("test.py", folder, "--input", mix, "--outdir", tmp_path / "bad", "--num-overlap", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--num-overlap" in r.stderr


def test_a_converted_checkpoint_scores_with_eval_py(tmp_path, converted, tiny_musdb):
    folder, _ = converted
    r = run_script("eval.py", folder, "--root", tiny_musdb, "--is-wav", "--subset", "test", "--outdir",
                   tmp_path / "est", "--evaldir", tmp_path / "eval", "--cores", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "eval" / "results.csv").read_text()
    assert "vocals" in table and "accompaniment" in table


def test_a_converted_checkpoint_exports_with_parity(tmp_path, converted):
    ort = pytest.importorskip("onnxruntime")
    folder, _ = converted
    r = _module("openunmix.export", folder, "--output", tmp_path / "export")
    assert r.returncode == 0, r.stderr  # the export checks the TorchScript separator against Separator itself
    info = json.loads((tmp_path / "export" / "export.json").read_text())
    assert info["onnx"]["outputs"][0]["shape"] == ["batch", 1, 2, 257, "frames", 2]
    assert info["chunks"]["chunk_size"] == 22050 and info["stft"]["win_length"] == 512
    model = next(iter(load_separator(folder).target_models.values()))
    x = torch.randn(2, 2, 257, 37, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).numpy()
    got = ort.InferenceSession(str(tmp_path / "export" / "mel_roformer.onnx")).run(None, {"mix_spectrogram": x.numpy()})[0]
    # the same float32 arithmetic in another runtime, in another order of its sums: a chain of about a
    # thousand terms (see tests/architectures/test_roformer.py) at float32's 1.2e-7
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 2e-4 * np.abs(expected).max()


def test_convert_errors_are_one_line_and_write_nothing(tmp_path, converted):
    r = _module("openunmix.convert", tmp_path / "missing.yaml", tmp_path / "missing.ckpt", "--outdir", converted[0])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "exists and holds other files" in r.stderr  # the folder is checked first: nothing is read


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_musdb):
    """A joint BS-RoFormer of vocals and drums, one epoch on the tiny MUSDB set."""
    out = tmp_path_factory.mktemp("bsr") / "model"
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", out, "--epochs", "1",
                   "--architecture", "bs_roformer", "--freqs-per-bands", "8x16,1", "--targets", "vocals,drums",
                   *TINY)
    assert r.returncode == 0, r.stderr
    return out


def test_joint_training_writes_a_folder_that_separates(tmp_path, trained):
    for name in ("bs_roformer.pth", "bs_roformer.json", "bs_roformer.chkpnt", "separator.json"):
        assert (trained / name).is_file(), name
    info = json.loads((trained / "bs_roformer.json").read_text())
    assert info["targets"] == ["vocals", "drums"] and info["freqs_per_bands"] == [16] * 8 + [1]
    assert info["args"]["dim"] == 16 and np.isfinite(info["valid_loss_history"][0])
    # each validation also separated the validation track, in chunks, through the Separator (one uSDR a target)
    assert set(info["valid_sdr_history"][0]) == {"vocals", "drums"}
    assert all(np.isfinite(v) for v in info["valid_sdr_history"][0].values())
    separator = load_separator(trained)
    assert separator.source_names == ["vocals", "drums"] and separator.chunk_size == 22050
    with torch.no_grad():
        out = separator(torch.randn(1, 2, 30000))
    assert out.shape == (1, 2, 2, 30000) and torch.isfinite(out).all()


def test_training_resumes(tmp_path, tiny_musdb, trained):
    out = tmp_path / "resumed"
    args = ["--root", tiny_musdb, "--is-wav", "--output", out, "--architecture", "mel_roformer", "--num-bands",
            "8", *TINY, *FAST]
    assert run_script("train.py", *args, "--epochs", "1").returncode == 0
    r = run_script("train.py", *args, "--epochs", "2", "--checkpoint", out)
    assert r.returncode == 0, r.stderr
    assert "resuming at epoch 2" in r.stdout
    info = json.loads((out / "mel_roformer.json").read_text())
    assert len(info["train_loss_history"]) == 2 and info["targets"] == ["vocals"]


def test_one_target_trains_on_track_folders(tmp_path):
    root = make_trackfolders(tmp_path / "data", "train", n=2, seconds=1.0)
    make_trackfolders(root, "valid", n=1, seconds=1.0)
    r = run_script("train.py", "--dataset", "trackfolder_fix", "--root", root, "--target-file", "vocals.wav",
                   "--interferer-files", "bass.wav", "drums.wav", "--output", tmp_path / "m", "--epochs", "1",
                   "--architecture", "bs_roformer", "--freqs-per-bands", "8x16,1", *TINY, *FAST)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "m" / "bs_roformer.json").read_text())["targets"] == ["vocals"]


def test_several_targets_outside_musdb_are_one_line(tmp_path):
    root = make_trackfolders(tmp_path / "data", "train", n=1, seconds=1.0)
    r = run_script("train.py", "--dataset", "trackfolder_fix", "--root", root, "--target-file", "vocals.wav",
                   "--output", tmp_path / "m", "--architecture", "bs_roformer", "--targets", "vocals,bass", *TINY)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr  # as X-UMX's (tests/programs/test_xumx.py)
    assert "trains on --dataset musdb, not trackfolder_fix" in r.stderr and not (tmp_path / "m").exists()
