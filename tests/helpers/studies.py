"""Small generated inputs for the compare tests (tests/compare/, tests/commands/, tests/programs/): museval score folders, a MUSDB-layout root, estimates."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import soundfile as sf

METRICS = ("SDR", "SIR", "ISR", "SAR")
ROOT = Path(__file__).resolve().parents[2]
SISEC = ROOT.parent / "shared" / "sisec18"  # CI: a copy of shared/ beside the clone
if not SISEC.is_dir():
    SISEC = Path("/work/shared/sisec18")  # the shared folder of this workplace


def museval_json(targets: Dict[str, Dict[str, Sequence[float]]]) -> str:
    """museval's per-track json for ``{target: {metric: per-frame values}}`` (1 s frames); NaN as bare ``NaN``."""
    out = {"targets": []}
    for name, metrics in targets.items():
        frames = len(next(iter(metrics.values())))
        out["targets"].append({"name": name, "frames": [
            {"time": float(i), "duration": 1.0, "metrics": {m: float(metrics[m][i]) for m in METRICS}}
            for i in range(frames)
        ]})
    return json.dumps(out, indent=1)  # json writes NaN as the bare token NaN, as museval does


def write_method(folder: Path, tracks: Iterable[str], level: float, seed: int, frames: int = 6,
                 targets: Sequence[str] = ("vocals", "accompaniment"), subset: str = "test",
                 nan_frames: int = 1, global_sdr: bool = False) -> Path:
    """A score folder: per track and target, ``frames`` frames around ``level`` dB (the first ``nan_frames`` NaN)."""
    rng = np.random.default_rng(seed)
    (folder / subset).mkdir(parents=True, exist_ok=True)
    for k, track in enumerate(tracks):
        scores = {}
        for j, target in enumerate(targets):
            scores[target] = {}
            for m, metric in enumerate(METRICS):
                x = level + 0.5 * k + j + 2 * m + rng.normal(0, 1, frames)
                x[:nan_frames] = math.nan
                scores[target][metric] = x
        (folder / subset / f"{track}.json").write_text(museval_json(scores))
        if global_sdr:
            g = folder / "global_sdr" / subset
            g.mkdir(parents=True, exist_ok=True)
            (g / f"{track}.json").write_text(json.dumps(
                {"track": track, "global_sdr": {t: level + 0.25 * k + j for j, t in enumerate(targets)}}))
    return folder


def write_root(root: Path, tracks: Sequence[str], seconds: float = 3.0, rate: int = 16000,
               subset: str = "test") -> Path:
    """A MUSDB18 wav root: ``root/<subset>/<track>/{mixture,vocals,drums,bass,other}.wav`` of noise bands."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    for track in tracks:
        folder = root / subset / track
        folder.mkdir(parents=True, exist_ok=True)
        stems = {s: (0.1 * rng.standard_normal((n, 2))).astype(np.float32) for s in ("vocals", "drums", "bass", "other")}
        for name, x in stems.items():
            sf.write(str(folder / f"{name}.wav"), x, rate, subtype="FLOAT")
        sf.write(str(folder / "mixture.wav"), sum(stems.values()), rate, subtype="FLOAT")
    return root


def write_estimates(folder: Path, root: Path, tracks: Sequence[str], noise: float, subset: str = "test",
                    targets: Sequence[str] = ("vocals", "accompaniment")) -> Path:
    """Estimates in eval.py's layout: each reference plus white noise of standard deviation ``noise``."""
    rng = np.random.default_rng(int(noise * 1000))
    for track in tracks:
        src = root / subset / track
        stems = {s: sf.read(str(src / f"{s}.wav"), dtype="float32") for s in ("vocals", "drums", "bass", "other")}
        rate = stems["vocals"][1]
        refs = {"vocals": stems["vocals"][0], "accompaniment": sum(stems[s][0] for s in ("drums", "bass", "other"))}
        out = folder / subset / track
        out.mkdir(parents=True, exist_ok=True)
        for target in targets:
            x = refs[target] + noise * rng.standard_normal(refs[target].shape).astype(np.float32)
            sf.write(str(out / f"{target}.wav"), x, rate, subtype="FLOAT")
    return folder


def small_study(base: Path, with_audio: bool = True, tracks: Optional[Sequence[str]] = None) -> Dict[str, Path]:
    """Three methods on three tracks (one of them missing for method C), a root and estimates of A and B."""
    tracks = list(tracks or ("Alpha - One", "Beta & Co - Two 'live'", "Gamma - Three"))
    paths = {
        "A": write_method(base / "scores" / "A", tracks, 6.0, 1, global_sdr=True),
        "B": write_method(base / "scores" / "B", tracks, 4.0, 2, global_sdr=True),
        "C": write_method(base / "scores" / "C", tracks[:-1], 2.0, 3),
    }
    if with_audio:
        paths["root"] = write_root(base / "musdb", tracks)
        paths["est_A"] = write_estimates(base / "est" / "A", paths["root"], tracks, 0.01)
        paths["est_B"] = write_estimates(base / "est" / "B", paths["root"], tracks, 0.05)
    return paths
