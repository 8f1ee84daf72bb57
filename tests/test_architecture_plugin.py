"""Architectures as plug-ins: the registry, and a third architecture defined only in the tests
(tests/plugins/tiny_arch.py) registered through OPENUNMIX_ARCHITECTURES, then trained with train.py,
loaded from its folder, separated with test.py and scored with eval.py, all with real files on disk."""

import json
import math

import pytest
import torch

from conftest import PLUGIN_MODULE, plugin_env, run_script, write_tone
from openunmix import architectures
from openunmix.models.hub import load_separator
from openunmix.architectures import list_targets, load_target_models

TRAIN = ["--architecture", "tinygain", "--target", "vocals", "--nfft", "512", "--nhop", "256", "--batch-size", "4",
         "--seq-dur", "1.0", "--samples-per-track", "4", "--quiet", "--no-cuda"]


def _one_line_error(r, status=None):
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error:") and r.stderr.strip().count("\n") == 0, r.stderr
    assert r.returncode != 0 if status is None else r.returncode == status


# ---------------------------------------------------------------- the registry


def test_registry_lists_and_refuses_in_one_line():
    assert architectures.names()[:2] == ["umx", "xumx"]
    assert architectures.default().name == "umx"
    with pytest.raises(architectures.ArchitectureError, match="unknown architecture 'kazoo'; registered: umx, xumx"):
        architectures.get("kazoo")
    # training options are data, checked against their declaration
    joint = architectures.get("xumx")
    # the branches' settings are Open-Unmix's, declared once; then the loss's own
    model_flags = [("nfft", "--nfft"), ("nhop", "--nhop"), ("bandwidth", "--bandwidth"),
                   ("hidden_size", "--hidden-size"), ("nb_layers", "--nb-layers"), ("unidirectional", "--unidirectional")]
    assert [(o.name, o.flag_name) for o in architectures.default().options] == model_flags
    assert [(o.name, o.flag_name) for o in joint.options] == model_flags + [("mcoef", "--mcoef"),
                                                                            ("combination", "--no-combination")]
    assert joint.check_options({}) == {"nfft": 4096, "nhop": 1024, "bandwidth": 16000.0, "hidden_size": 512,
                                       "nb_layers": 3, "unidirectional": False, "mcoef": 10.0, "combination": True}
    with pytest.raises(architectures.ArchitectureError, match="no option 'depth'.*mcoef, combination"):
        joint.check_options({"depth": 3})
    with pytest.raises(architectures.ArchitectureError, match="mcoef"):
        joint.check_options({"mcoef": -1.0})
    # what depends on two options is the architecture's to check, in the flags' words
    with pytest.raises(architectures.ArchitectureError, match="argument --nhop: 2048 is larger than --nfft 1024"):
        architectures.default().check_options({"nfft": 1024, "nhop": 2048})
    with pytest.raises(architectures.ArchitectureError, match="bidirectional model needs an even size, got 7"):
        architectures.default().check_options({"hidden_size": 7})
    assert architectures.default().check_options({"hidden_size": 7, "unidirectional": True})["hidden_size"] == 7
    # callers ask capabilities, not classes
    from openunmix.architectures.xumx import CrossNetOpenUnmix
    from openunmix.architectures.umx import OpenUnmix

    single = architectures.capabilities(OpenUnmix(nb_bins=129, hidden_size=8, unidirectional=True))
    assert (single.output, single.joint, single.streamable, single.causal, single.exportable) == \
        ("magnitude", False, True, True, True)
    both = architectures.capabilities(CrossNetOpenUnmix(["vocals", "drums"], nb_bins=129, hidden_size=8))
    assert (both.joint, both.streamable, both.causal, both.exportable) == (True, False, False, False)
    assert architectures.capabilities(torch.nn.Identity()) == architectures.Capabilities()


# ---------------------------------------------------------------- the plug-in, end to end


@pytest.fixture(scope="module")
def gain_model(tmp_path_factory, tiny_musdb):
    """A tinygain model trained by train.py with the plug-in registered through the environment."""
    mp = pytest.MonkeyPatch()
    plugin_env(mp)
    try:
        out = tmp_path_factory.mktemp("gain") / "model"
        r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", out, "--epochs", "2",
                       "--gain-init", "0.5", *TRAIN)
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
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", "--epochs", "1", *TRAIN)
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
    r = run_script("train.py", "--root", tiny_musdb, "--is-wav", "--output", tmp_path / "o", *TRAIN[2:])
    _one_line_error(r, 2)
    assert "plugins.no_such_module" in r.stderr and "OPENUNMIX_ARCHITECTURES" in r.stderr
    assert not (tmp_path / "o").exists()
