"""Shared fixtures: tiny model folders and generated audio files on disk."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openunmix.model import OpenUnmix  # noqa: E402
from openunmix.modelfolder import save_target_model  # noqa: E402


def make_model_folder(path: Path, targets=("vocals", "drums"), hidden_size=16, nb_channels=2,
                      n_fft=512, n_hop=128, rate=16000.0, bandwidth_bins=200, seed=0) -> Path:
    """A folder of random (untrained) tiny target models, in the layout train.py writes."""
    torch.manual_seed(seed)
    for t in targets:
        m = OpenUnmix(nb_bins=n_fft // 2 + 1, nb_channels=nb_channels, hidden_size=hidden_size,
                      max_bin=bandwidth_bins)
        # non-trivial normalisation and batch-norm statistics
        with torch.no_grad():
            m.input_mean.uniform_(-0.5, 0.0)
            m.input_scale.uniform_(0.5, 2.0)
            m.output_scale.uniform_(0.5, 1.5)
            for bn in (m.bn1, m.bn2, m.bn3):
                bn.running_mean.uniform_(-0.1, 0.1)
                bn.running_var.uniform_(0.5, 1.5)
        save_target_model(path, t, m, rate, n_fft, n_hop, extra={"args": {"target": t}})
    return path


def write_tone(path: Path, seconds=2.0, rate=16000, channels=2, seed=0) -> Path:
    """A harmonic tone plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
    x = np.stack([x * (0.8 + 0.2 * c) for c in range(channels)], axis=1)
    x += 0.02 * rng.standard_normal(x.shape)
    sf.write(str(path), x.astype(np.float32), rate)
    return path


@pytest.fixture
def model_dir(tmp_path):
    return make_model_folder(tmp_path / "model")


def run_script(script: str, *args, cwd=None, timeout=300):
    """Run one of the top-level scripts with this interpreter; returns CompletedProcess."""
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
