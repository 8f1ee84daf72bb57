"""Upstream open-unmix in its own environment, for `separation.py --compare-upstream`.

The environment is created once (default /tmp/upstream-venv, without this
project's packages): torch==2.13.0 first (the same CPU build as ours, so
nothing pulls CUDA), then ``openunmix==1.3.0`` from the package registry
without its dependencies, and only numpy, tqdm and soundfile. Upstream's
torchaudio dependency does not import on these machines: a small
soundfile-backed stand-in for the calls its ``umx`` command makes
(``load``, ``info``, ``save``, the backend getters and setters) is written
next to the environment and put on ``PYTHONPATH`` of the upstream process
only. Nothing of upstream's code is part of this repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

UPSTREAM = "openunmix==1.3.0"
TORCH = "torch==2.13.0"

# what upstream's cli.py and data.py call; float32 wav out, as torchaudio writes float tensors
_STAND_IN = '''"""soundfile-backed stand-in for the torchaudio calls of open-unmix 1.3.0's umx command."""
from types import SimpleNamespace

import soundfile as sf
import torch

__version__ = "0.0-stand-in"
_backend = "soundfile"


def get_audio_backend():
    return _backend


def set_audio_backend(name):
    global _backend
    _backend = name


def info(path):
    i = sf.info(str(path))
    return SimpleNamespace(sample_rate=i.samplerate, num_frames=i.frames, num_channels=i.channels)


def load(path, num_frames=-1, frame_offset=0, **kwargs):
    x, rate = sf.read(str(path), start=frame_offset, frames=num_frames, dtype="float32", always_2d=True)
    return torch.from_numpy(x.T.copy()), rate


def save(path, src, sample_rate, **kwargs):
    x = src.detach().cpu().numpy()
    sf.write(str(path), x.T if x.ndim == 2 else x, int(sample_rate), subtype="FLOAT")


class _Resample:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("the stand-in does not resample: give upstream audio at the model rate")


transforms = SimpleNamespace(Resample=_Resample)
'''


def ensure_env(venv: Path) -> Path:
    """The upstream environment's python, created on first use."""
    python = venv / "bin" / "python"
    stamp = venv / ".upstream-installed"
    if not stamp.exists():
        print(f"creating the upstream environment in {venv} (once)", flush=True)
        subprocess.run([_system_python() or sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + [TORCH], check=True)
        subprocess.run(pip + ["--no-deps", UPSTREAM], check=True)
        subprocess.run(pip + ["numpy", "tqdm", "soundfile"], check=True)
        stamp.touch()
    shim = venv / "torchaudio-stand-in" / "torchaudio"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text(_STAND_IN)
    return python


def _system_python() -> str:
    """A python outside this project's venv (its site-packages must not leak into the new one)."""
    base = getattr(sys, "_base_executable", "") or ""
    return base if base and Path(base).exists() else ""


def environment(venv: Path) -> Dict[str, str]:
    """The upstream process's environment: the stand-in on PYTHONPATH, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MALLOC_MMAP_THRESHOLD_")}
    env["PYTHONPATH"] = str(venv / "torchaudio-stand-in")
    return env


def prepare_model_folder(folder: Path) -> None:
    """Add what upstream's loader reads and ours does not need: ``separator.json`` with the STFT settings."""
    sep = folder / "separator.json"
    if sep.exists():
        return
    first = json.loads(next(folder.glob("*.json")).read_text())
    args = first.get("args", {})
    sep.write_text(json.dumps({
        "sample_rate": first.get("sample_rate", 44100.0), "nfft": args["nfft"], "nhop": args["nhop"],
        "nb_channels": args["nb_channels"],
    }))


def command(python: Path, model: Path, song: Path, outdir: Path, targets: Sequence[str], niter: int) -> List[str]:
    """Upstream's ``umx`` command line on a local model folder, on the CPU."""
    # -P: the working directory is not put on sys.path (ours, in the repository root, is also named openunmix)
    return [str(python), "-P", "-c", "from openunmix.cli import separate; separate()", str(song), "--model", str(model),
            "--targets", *targets, "--niter", str(niter), "--outdir", str(outdir), "--no-cuda"]
