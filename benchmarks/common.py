"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openunmix.commands.runtime import tune_allocator  # noqa: E402

tune_allocator()  # as the scripts do, before torch is imported

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402,F401  (used by the scripts as common.sf)
import torch  # noqa: E402

from openunmix.architectures.umx import OpenUnmix  # noqa: E402
from openunmix.architectures.umx import save_target_model  # noqa: E402
from openunmix.utils import bandwidth_to_max_bin  # noqa: E402

_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter(); rc = subprocess.call(sys.argv[1:]); wall = time.perf_counter() - t\n"
    "print(rc, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def best_time(fn, repeats: int, warmup: bool = True) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn`` (after one untimed warm-up call unless ``warmup`` is
    False)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def umx_training(hidden_size: int = 512, rate: float = 44100.0):
    """``(spec, model, optimizer)`` of train.py's default Open-Unmix step: the STFT magnitude (n_fft 4096,
    hop 1024; ``(batch, 2, samples)`` -> ``(frames, batch, 2, 2049)``), the model (16 kHz bandwidth) and Adam."""
    from openunmix.transforms import STFT, ComplexNorm

    spec = torch.nn.Sequential(STFT(4096, 1024), ComplexNorm(mono=False))
    model = OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=hidden_size,
                      max_bin=bandwidth_to_max_bin(rate, 4096, 16000))
    return spec, model, torch.optim.Adam(model.parameters(), lr=1e-3)


def umx_step_time(x: torch.Tensor, y: torch.Tensor, repeats: int, hidden_size: int = 512) -> float:
    """Shortest seconds of one train.py-like Open-Unmix step (:func:`umx_training`: STFT of both, forward,
    MSE, backward, Adam) on the batch ``x``, ``y`` ``(batch, 2, samples)``, after one untimed step."""
    spec, model, opt = umx_training(hidden_size)

    def one() -> None:
        with torch.no_grad():
            X, Y = spec(x), spec(y)
        loss = torch.nn.functional.mse_loss(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return best_time(one, repeats)


def measure(cmd: List[str], env: Optional[Dict[str, str]] = None) -> Tuple[int, float, float]:
    """Run ``cmd`` in a fresh process (environment ``env``, default this one's); return
    (exit code, wall seconds, peak RSS in MB) of that process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True, env=env)
    rc, wall, rss = out.stdout.split()
    return int(rc), float(wall), int(rss) / 1024


def default_model_folder(path: Path, targets=("vocals", "drums", "bass", "other"), seed: int = 0) -> Path:
    """Untrained models of the default (umxhq) size: hidden 512, stereo, n_fft 4096, 16 kHz bandwidth."""
    torch.manual_seed(seed)
    for t in targets:
        m = OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512,
                      max_bin=bandwidth_to_max_bin(44100, 4096, 16000))
        save_target_model(path, t, m, 44100, 4096, 1024)
    return path


def synth_song(path: Path, seconds: float, seed: int = 0) -> Path:
    """A synthetic stereo song (the demo generator's music) written as 16-bit wav, in 60 s pieces."""
    from openunmix.demo import synthesize_track

    with sf.SoundFile(str(path), "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
        done = 0.0
        i = 0
        while done < seconds:
            piece = min(60.0, seconds - done)
            stems = synthesize_track(np.random.default_rng([seed, i]), piece, 44100)
            f.write(stems["mixture"].T)
            done += piece
            i += 1
    return path


def dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2))


__all__ = ["ROOT", "machine", "measure", "default_model_folder", "synth_song", "dump", "time"]
