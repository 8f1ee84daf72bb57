"""openunmix.architectures.folder: what every model folder shares (json, state dicts, separator.json, ModelConfig)."""

import json

import pytest
import torch

from openunmix.architectures.folder import (ModelConfig, flatten, load_state, peek_json, read_json, read_separator_json,
                                     save_model_files, state_dict_from_file, stft_settings)
from openunmix.utils import ModelError


def test_model_config_keeps_what_every_model_shares_and_the_architectures_options():
    stft = ModelConfig(target="vocals", sample_rate=44100.0, nb_channels=2, options={"nfft": 2048, "nhop": 512})
    assert (stft.architecture, stft.n_fft, stft.n_hop) == ("umx", 2048, 512)
    assert stft.shared() == (44100.0, 2, 2048, 512)
    waves = ModelConfig(target="vocals", sample_rate=44100.0, nb_channels=2, architecture="wav", options={})
    assert (waves.n_fft, waves.n_hop) == (None, None)
    assert stft.shared() != waves.shared()


def test_read_json_refuses_what_is_not_a_settings_object_in_one_line(tmp_path):
    with pytest.raises(ModelError, match="missing model settings file"):
        read_json(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelError, match="malformed json"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="expected a json object"):
        read_json(tmp_path / "list.json")
    assert peek_json(tmp_path / "bad.json") == {} and peek_json(tmp_path / "none.json") == {}


def test_flatten_prefers_the_top_level_over_args(tmp_path):
    assert flatten(tmp_path / "x.json", {"args": {"nfft": 1, "nhop": 2}, "nfft": 3}) == {"nfft": 3, "nhop": 2,
                                                                                         "args": {"nfft": 1, "nhop": 2}}
    with pytest.raises(ModelError, match="'args' is not an object"):
        flatten(tmp_path / "x.json", {"args": [1]})


def test_stft_settings_are_checked_and_rate_may_name_the_sample_rate(tmp_path):
    js = tmp_path / "m.json"
    assert stft_settings(js, {"rate": 16000, "nfft": 1024, "nhop": 512, "nb_channels": 1}) == (16000.0, 1024, 512, 1)
    with pytest.raises(ModelError, match="'nhop'=2048 is out of range"):
        stft_settings(js, {"nfft": 1024, "nhop": 2048, "nb_channels": 1})
    with pytest.raises(ModelError, match="missing setting 'nb_channels'"):
        stft_settings(js, {"nfft": 1024, "nhop": 256})


def test_state_dicts_are_read_safely(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "wrapped.pth")
    assert torch.equal(state_dict_from_file(tmp_path / "wrapped.pth")["w"], torch.ones(2))
    torch.save({"w": "not a tensor"}, tmp_path / "odd.pth")
    with pytest.raises(ModelError, match="not a model state dict"):
        state_dict_from_file(tmp_path / "odd.pth")

    import datetime

    torch.save({"w": datetime.timedelta(days=1)}, tmp_path / "code.pth")  # any other object is never unpickled
    with pytest.raises(ModelError):
        state_dict_from_file(tmp_path / "code.pth")


def test_load_state_names_the_first_mismatch(tmp_path):
    model = torch.nn.Linear(3, 2)
    with pytest.raises(ModelError, match=r"model.pth: does not fit its json \(.*weight"):
        load_state(model, {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}, "model.pth", "its json")


def test_save_model_files_writes_the_pair_and_adds_to_separator_json(tmp_path):
    settings = {"nfft": 512, "nhop": 128, "nb_channels": 2}
    save_model_files(tmp_path, "vocals", {"w": torch.ones(1)}, settings, 44100.0, ["vocals"],
                     identity={"target": "vocals"}, extra={"args": {"lr": 0.1}, "epochs_trained": 3})
    save_model_files(tmp_path, "drums_x", {"w": torch.zeros(1)}, settings, 44100.0, ["drums"],
                     identity={"architecture": "x", "target": "drums"})
    info = json.loads((tmp_path / "vocals.json").read_text())
    assert info["args"] == {"lr": 0.1, **settings} and info["nfft"] == 512 and info["epochs_trained"] == 3
    assert info["sample_rate"] == 44100.0 and info["target"] == "vocals"
    assert read_separator_json(tmp_path)["targets"] == ["vocals", "drums"]
    assert torch.equal(state_dict_from_file(tmp_path / "drums_x.pth")["w"], torch.zeros(1))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def _earlier_json(target, hidden, max_bin, extra=None):
    """A model json as train.py wrote it before the architectures owned their settings (0.1.0, 2026-11):
    every TrainConfig field under args, the model settings at the top level too."""
    settings = {"nfft": 512, "nhop": 128, "nb_channels": 2, "hidden_size": hidden, "nb_layers": 3,
                "unidirectional": False, "max_bin": max_bin}
    args = {"root": "data", "output": "model", "dataset": "musdb", "target": target, "epochs": 2, "patience": 20,
            "batch_size": 8, "seq_dur": 5.0, "lr": 0.001, "seed": 1, "bandwidth": 16000.0, "sample_rate": 16000.0,
            "architecture": "umx", "is_wav": True, **settings}
    return {"args": args, **settings, "sample_rate": 16000.0, "epochs_trained": 2, "best_epoch": 2,
            "train_loss_history": [1.0, 0.5], "valid_loss_history": [1.1, 0.6], **(extra or {})}


def test_folders_written_by_earlier_versions_load(tmp_path):
    """Folders of Open-Unmix and X-UMX models written before the seam: the files are read as they are."""
    from openunmix import load_separator
    from openunmix.architectures.umx import OpenUnmix
    from openunmix.architectures.xumx import CrossNetOpenUnmix

    umx = tmp_path / "umx"
    umx.mkdir()
    torch.save(OpenUnmix(nb_bins=257, hidden_size=16, max_bin=129).state_dict(), umx / "vocals.pth")
    (umx / "vocals.json").write_text(json.dumps(_earlier_json("vocals", 16, 129)))
    (umx / "separator.json").write_text(json.dumps({"targets": ["vocals"], "sample_rate": 16000.0, "nfft": 512,
                                                    "nhop": 128, "nb_channels": 2}))
    sep = load_separator(umx)
    assert sep.source_names == ["vocals", "accompaniment"] and (sep.n_fft, sep.n_hop) == (512, 128)
    with torch.no_grad():
        assert sep(torch.rand(1, 2, 4000) - 0.5).shape == (1, 2, 2, 4000)

    xumx = tmp_path / "xumx"
    xumx.mkdir()
    targets = ["vocals", "drums", "bass", "other"]
    torch.save(CrossNetOpenUnmix(targets, nb_bins=257, hidden_size=16, max_bin=129).state_dict(), xumx / "xumx.pth")
    (xumx / "xumx.json").write_text(json.dumps(_earlier_json("vocals", 16, 129, {"architecture": "xumx",
                                                                                 "targets": targets})))
    sep = load_separator(xumx, filter=None)
    assert sep.targets == targets and sep.sample_rate == 16000.0
