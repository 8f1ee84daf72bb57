"""openunmix.architectures.umx: OpenUnmix's shapes, upstream parameter names and semantics, its model folders
(upstream's extras, errors in one line)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import make_model_folder, sum_rtol
from openunmix.architectures import load_target_models
from openunmix.architectures.umx import OpenUnmix, read_config
from openunmix.utils import ModelError, bandwidth_to_max_bin

UPSTREAM_KEYS = {
    "fc1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
    "fc2.weight", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var", "bn2.num_batches_tracked",
    "fc3.weight", "bn3.weight", "bn3.bias", "bn3.running_mean", "bn3.running_var", "bn3.num_batches_tracked",
    "input_mean", "input_scale", "output_mean", "output_scale",
} | {f"lstm.{w}_{k}_l{i}{r}" for w in ("weight", "bias") for k in ("ih", "hh") for i in range(3) for r in ("", "_reverse")}


def _upstream_forward(state, x, hidden, layers=3, bidirectional=True):
    """The upstream open-unmix computation, written from its published description,
    straight from a state dict (eval mode). x: (batch, channels, bins, frames)."""
    def bn(z, name):
        return F.batch_norm(z, state[f"{name}.running_mean"], state[f"{name}.running_var"],
                            state[f"{name}.weight"], state[f"{name}.bias"], False, 0.0, 1e-5)
    max_bin = state["input_mean"].shape[0]
    nb_bins = state["output_mean"].shape[0]
    frames_first = x.permute(3, 0, 1, 2)
    T, B, C, _ = frames_first.shape
    z = (frames_first[..., :max_bin] + state["input_mean"]) * state["input_scale"]
    z = torch.tanh(bn(z.reshape(T * B, C * max_bin) @ state["fc1.weight"].T, "bn1")).reshape(T, B, hidden)
    lstm = torch.nn.LSTM(hidden, hidden // 2 if bidirectional else hidden, layers, bidirectional=bidirectional)
    lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
    lstm.eval()
    out, _ = lstm(z)
    z = torch.cat([z, out], -1).reshape(T * B, -1)
    z = F.relu(bn(z @ state["fc2.weight"].T, "bn2"))
    z = bn(z @ state["fc3.weight"].T, "bn3").reshape(T, B, C, nb_bins)
    z = F.relu(z * state["output_scale"] + state["output_mean"])
    return z.permute(1, 2, 3, 0) * x


def test_upstream_state_dict_names_and_shapes():
    m = OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512, max_bin=1487)
    sd = m.state_dict()
    assert set(sd) == UPSTREAM_KEYS
    assert sd["fc1.weight"].shape == (512, 1487 * 2)
    assert sd["lstm.weight_ih_l0"].shape == (4 * 256, 512)
    assert sd["fc2.weight"].shape == (512, 1024)
    assert sd["fc3.weight"].shape == (2049 * 2, 512)
    assert sd["input_mean"].shape == (1487,) and sd["output_mean"].shape == (2049,)
    assert bandwidth_to_max_bin(44100, 4096, 16000) == 1487


@pytest.mark.numerics
def test_forward_shapes_and_upstream_semantics():
    torch.manual_seed(0)
    m = OpenUnmix(nb_bins=257, nb_channels=2, hidden_size=32, max_bin=100,
                  input_mean=np.linspace(0, 1, 257), input_scale=np.linspace(1, 2, 257))
    # linspace(0, 1, 257) steps by 2**-8: every value is exact in float32 and float64, however computed
    assert torch.allclose(m.input_mean, -torch.linspace(0, 1, 257)[:100])
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    m.eval()
    x = torch.rand(3, 2, 257, 11)
    y = m(x)
    assert y.shape == x.shape and (y >= 0).all()
    # a fresh model loading the state dict strictly gives the same output as the reference computation
    m2 = OpenUnmix(nb_bins=257, nb_channels=2, hidden_size=32, max_bin=100)
    m2.load_state_dict(m.state_dict(), strict=True)
    m2.eval()
    ref = _upstream_forward(m.state_dict(), x, hidden=32)
    # the same float32 operations called otherwise (matrix products of the state dict instead of the
    # modules; the LSTM is the same module): a kernel may order the sums of fc1 (2 channels x 100 bins),
    # fc2 (64) and fc3 (32 terms) differently (conftest.sum_rtol): 3.5e-5 of |y| <= 1.7; measured equal
    assert torch.allclose(m2(x), ref, rtol=0, atol=sum_rtol(200, 64, 32) * float(ref.detach().abs().max()))


def test_unidirectional_and_mono():
    m = OpenUnmix(nb_bins=129, nb_channels=1, hidden_size=8, nb_layers=2, unidirectional=True).eval()
    assert m(torch.rand(1, 1, 129, 5)).shape == (1, 1, 129, 5)
    assert not any("reverse" in k for k in m.state_dict())


def test_upstream_v1_state_dict_extras_are_ignored(tmp_path):
    """Early upstream state dicts also hold the sample rate and STFT windows."""
    make_model_folder(tmp_path, targets=("vocals",))
    state = torch.load(tmp_path / "vocals.pth", weights_only=True)
    state.update({"sample_rate": torch.tensor(16000.0), "stft.window": torch.hann_window(512),
                  "transform.0.window": torch.hann_window(512)})
    torch.save(state, tmp_path / "vocals.pth")
    models, _ = load_target_models(tmp_path)
    assert set(models["vocals"].state_dict()) == UPSTREAM_KEYS


def test_model_folder_errors(tmp_path, model_dir):
    with pytest.raises(ModelError, match="does not exist"):
        load_target_models(tmp_path / "nope")
    with pytest.raises(ModelError, match="no model for target 'bass'"):
        load_target_models(model_dir, ["bass"])
    (model_dir / "drums.json").write_text("{not json")
    with pytest.raises(ModelError, match="malformed json"):
        read_config(model_dir, "drums")
    cfg = json.loads((model_dir / "vocals.json").read_text())
    cfg["hidden_size"] = 32
    cfg["args"]["hidden_size"] = 32
    (model_dir / "vocals.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="shapes do not match"):
        read_config(model_dir, "vocals")
    cfg["hidden_size"] = "big"
    (model_dir / "vocals.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="must be a number"):
        read_config(model_dir, "vocals")
