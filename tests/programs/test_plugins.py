"""The plug-in architectures end to end, with real files on disk: each is defined only in the tests
(tests/plugins/), registered through OPENUNMIX_ARCHITECTURES, trained with train.py, loaded from its folder,
separated with test.py and scored with eval.py.

tinygain (tests/plugins/tiny_arch.py): a per-bin gain; without the plug-in every script says so in one line.
cmask (tests/plugins/complex_mask.py): the seam for models that are not Wiener-filtered, a model returning
complex spectrograms on its own STFT: also exported to ONNX with parity, and refused by the stream (it reads
later frames) and by the filter's flags, each in one line. The registry itself:
tests/architectures/test_registry.py."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import MASK_PLUGIN_MODULE, PLUGIN_MODULE, plugin_env, run_script, write_tone
from openunmix import architectures
from openunmix.architectures import list_targets, load_target_models
from openunmix.models.hub import load_separator

GAIN_TRAIN = ["--architecture", "tinygain", "--target", "vocals", "--nfft", "512", "--nhop", "256", "--batch-size",
              "4", "--seq-dur", "1.0", "--samples-per-track", "4", "--quiet", "--no-cuda"]
MASK_TRAIN = ["--architecture", "cmask", "--target", "vocals", "--nfft", "512", "--nhop", "128", "--batch-size", "4",
              "--seq-dur", "1.0", "--samples-per-track", "4", "--quiet", "--no-cuda"]


def _one_line_error(r, status=None):
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error:") and r.stderr.strip().count("\n") == 0, r.stderr
    assert r.returncode != 0 if status is None else r.returncode == status


# ---------------------------------------------------------------- tinygain


@pytest.fixture(scope="module")
def gain_model(tmp_path_factory, tiny_musdb):
    """A tinygain model trained by train.py with the plug-in registered through the environment."""
    mp = pytest.MonkeyPatch()
    plugin_env(mp)
    try:
        out = tmp_path_factory.mktemp("gain") / "model"
        r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", out, "--epochs", "2",
                       "--gain-init", "0.5", *GAIN_TRAIN)
    finally:
        mp.undo()
    assert r.returncode == 0, r.stderr
    return out


def test_plugin_trains_with_train_py(gain_model):
    for name in ("vocals_gain.pth", "vocals_gain.json", "vocals_gain.chkpnt", "vocals_gain_loss.png",
                 "separator.json"):
        assert (gain_model / name).is_file(), name
    info = json.loads((gain_model / "vocals_gain.json").read_text())
    assert info["architecture"] == "tinygain" and info["target"] == "vocals"
    # its option came from its declaration, through the flag, into the run's arguments
    assert info["args"]["architecture"] == "tinygain" and info["args"]["gain_init"] == 0.5
    assert "mcoef" not in info["args"]
    assert len(info["train_loss_history"]) == 2 and all(math.isfinite(v) for v in info["valid_loss_history"])
    gain = torch.load(gain_model / "vocals_gain.pth", weights_only=True)["gain"]
    assert gain.shape == (2, 257) and not torch.allclose(gain, torch.full_like(gain, 0.5))  # it trained


def test_plugin_loads_from_its_folder(gain_model):
    __import__(PLUGIN_MODULE)  # registers it in this process, as OPENUNMIX_ARCHITECTURES does in scripts
    assert "tinygain" in architectures.names()
    assert list_targets(gain_model) == ["vocals"]
    models, config = load_target_models(gain_model)
    assert list(models) == ["vocals"] and type(models["vocals"]).__name__ == "BinGain"
    assert (config.n_fft, config.n_hop, config.nb_channels, config.sample_rate) == (512, 256, 2, 44100.0)
    assert architectures.of_model(models["vocals"]).name == "tinygain"
    separator = load_separator(gain_model)
    assert separator.source_names == ["vocals", "accompaniment"]
    with torch.no_grad():
        estimates = separator(torch.rand(1, 2, 8000) - 0.5)
    assert estimates.shape == (1, 2, 2, 8000) and torch.isfinite(estimates).all()


def test_plugin_separates_with_test_py_and_scores_with_eval_py(tmp_path, monkeypatch, gain_model, tiny_musdb):
    plugin_env(monkeypatch)
    mix = write_tone(tmp_path / "mix.wav", seconds=1.0, rate=44100)
    r = run_script("test.py", gain_model, "--input", mix, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "sep" / "mix").iterdir()) == ["accompaniment.wav", "vocals.wav"]

    r = run_script("eval.py", gain_model, "--root", tiny_musdb, "--is-wav", "--subset", "test", "--niter", "1",
                   "--outdir", tmp_path / "est", "--evaldir", tmp_path / "eval", "--cores", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "eval" / "results.csv").read_text()
    assert "vocals" in table and "accompaniment" in table


def test_without_the_plugin_every_script_says_so_in_one_line(tmp_path, monkeypatch, gain_model, tiny_musdb):
    monkeypatch.delenv("OPENUNMIX_ARCHITECTURES", raising=False)
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", "--epochs", "1", *GAIN_TRAIN)
    _one_line_error(r, 2)
    assert "--architecture" in r.stderr and "'umx', 'xumx'" in r.stderr
    assert not (tmp_path / "o").exists()
    # its folder names the architecture it needs
    r = run_script("test.py", gain_model, "--input", write_tone(tmp_path / "m.wav", seconds=0.5, rate=44100),
                   "--outdir", tmp_path / "s", "--quiet")
    _one_line_error(r)
    assert "tinygain" in r.stderr and "not registered" in r.stderr and "OPENUNMIX_ARCHITECTURES" in r.stderr
    # a plug-in that cannot be imported
    monkeypatch.setenv("OPENUNMIX_ARCHITECTURES", "plugins.no_such_module")
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", *GAIN_TRAIN[2:])
    _one_line_error(r, 2)
    assert "plugins.no_such_module" in r.stderr and "OPENUNMIX_ARCHITECTURES" in r.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- cmask


def _run_module(module, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], input=stdin, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def mask_model(tmp_path_factory, tiny_musdb):
    mp = pytest.MonkeyPatch()
    plugin_env(mp, MASK_PLUGIN_MODULE)
    try:
        out = tmp_path_factory.mktemp("cmask") / "model"
        r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", out, "--epochs", "2", *MASK_TRAIN)
    finally:
        mp.undo()
    assert r.returncode == 0, r.stderr
    return out


def test_trains_with_its_own_options(mask_model):
    for name in ("vocals_cmask.pth", "vocals_cmask.json", "vocals_cmask.chkpnt", "vocals_cmask_loss.png"):
        assert (mask_model / name).is_file(), name
    info = json.loads((mask_model / "vocals_cmask.json").read_text())
    assert info["architecture"] == "cmask" and (info["nfft"], info["nhop"], info["context"]) == (512, 128, 1)
    # the run's arguments hold this architecture's options, none of Open-Unmix's
    assert info["args"]["nfft"] == 512 and info["args"]["context"] == 1
    assert "hidden_size" not in info["args"] and "bandwidth" not in info["args"]
    assert all(math.isfinite(v) for v in info["valid_loss_history"])


def test_a_flag_of_another_architecture_is_refused(tmp_path, monkeypatch, tiny_musdb):
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", "--hidden-size", "8",
                   *MASK_TRAIN)
    assert r.returncode == 2 and "--hidden-size" in r.stderr and "--architecture cmask" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_separates_through_the_inverse_stft(tmp_path, monkeypatch, mask_model):
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    mix = write_tone(tmp_path / "mix.wav", seconds=1.0, rate=44100)
    r = run_script("test.py", mask_model, "--input", mix, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "sep" / "mix"
    vocals, _ = sf.read(folder / "vocals.wav", always_2d=True)
    rest, _ = sf.read(folder / "accompaniment.wav", always_2d=True)
    mixture, _ = sf.read(mix, always_2d=True)
    # the residual is the mixture's STFT minus the target's: the two sources add up to the mixture, up to
    # the inverse STFT's rounding (~1e-7) and the 16-bit quantisation of each written source (2**-16 each)
    assert np.abs(vocals + rest - mixture).max() <= 2.0**-14
    assert np.abs(vocals).max() > 1e-3  # not silence: the mask passed something


def test_filter_settings_are_refused_in_one_line(tmp_path, monkeypatch, mask_model):
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    mix = write_tone(tmp_path / "mix.wav", seconds=0.5, rate=44100)
    r = run_script("test.py", mask_model, "--input", mix, "--outdir", tmp_path / "sep", "--niter", "3", "--quiet")
    _one_line_error(r)
    assert "niter" in r.stderr and "not Wiener-filtered" in r.stderr
    assert not (tmp_path / "sep").exists()


def test_scores_with_eval_py(tmp_path, monkeypatch, mask_model, tiny_musdb):
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    r = run_script("eval.py", mask_model, "--root", tiny_musdb, "--is-wav", "--subset", "test",
                   "--outdir", tmp_path / "est", "--evaldir", tmp_path / "eval", "--cores", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "eval" / "results.csv").read_text()
    assert "vocals" in table and "accompaniment" in table


def test_exports_to_onnx_with_parity(tmp_path, monkeypatch, mask_model):
    ort = pytest.importorskip("onnxruntime")
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    r = _run_module("openunmix.export", mask_model, "--output", tmp_path / "export")
    assert r.returncode == 0, r.stderr.decode()
    info = json.loads((tmp_path / "export" / "export.json").read_text())
    assert info["output"] == "spectrogram" and info["filter"] == {"residual": True}
    graph = info["onnx"]["inputs"][0]
    assert graph["name"] == "mix_spectrogram" and graph["shape"] == ["batch", 2, 257, "frames", 2]

    from plugins.complex_mask import load_mask_model

    model, _ = load_mask_model(mask_model, "vocals")
    x = torch.randn(3, 2, 257, 41, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    session = ort.InferenceSession(str(tmp_path / "export" / "vocals.onnx"))
    got = session.run(None, {"mix_spectrogram": x.numpy()})[0]
    # the same float32 arithmetic (log1p, sqrt, a 3-tap convolution, 4 products) in another runtime: a few ulps
    # of the largest value
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_the_stream_refuses_it_in_one_line(tmp_path, monkeypatch, mask_model):
    plugin_env(monkeypatch, MASK_PLUGIN_MODULE)
    r = _run_module("openunmix.stream", mask_model, "--rate", "44100", "--channels", "2", stdin=b"")
    err = r.stderr.decode()
    assert r.returncode != 0 and "Traceback" not in err and err.strip().count("\n") == 0, err
    assert "causal" in err and "reads 1 later frame" in err
