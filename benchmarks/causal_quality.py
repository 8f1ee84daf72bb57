#!/usr/bin/env python
"""What causality costs: SDR of a unidirectional (streamable) model against a
bidirectional one trained with the same budget, and the online Wiener filter
against the ratio mask, on the demo dataset's test tracks.

    # one command: generate the demo data, train both models with `make demo`'s flags, score
    python benchmarks/causal_quality.py --root demo-causal/data --train demo-causal
    # or with models trained before (train.py ... --unidirectional for the causal one)
    python benchmarks/causal_quality.py --root DATA --causal UNI_MODEL --noncausal BI_MODEL

Settings scored (vocals and accompaniment, museval BSSEval v4 with 1 s
windows: SDR median over frames, then median over tracks; global SDR: mean
over tracks of the whole-track SDR):

- ``noncausal offline``: the bidirectional model, whole track at once, ratio mask;
- ``noncausal offline EM1``: the same with one EM Wiener iteration (``--niter 1``);
- ``causal offline``: the unidirectional model run offline (the residual
  gain still uses 300-frame windows of the future);
- ``causal stream``: :class:`~openunmix.stream.StreamingSeparator`, ratio mask
  (residual gain over past frames);
- ``causal stream wiener M s``: the stream with the online Wiener filter, one
  step per frame, statistics over the past with time constant M seconds.

Training takes a few minutes per model on a 2-core CPU; run it alone.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from common import ROOT
from openunmix.evaluation import list_tracks, nanmedian, score_track
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.stream import StreamingSeparator

# the Makefile's DEMO_TRAIN
DEMO_TRAIN = ["--epochs", "15", "--hidden-size", "128", "--nfft", "2048", "--nhop", "512", "--seq-dur", "4",
              "--samples-per-track", "32", "--batch-size", "16"]


def prepare(root: Path, train_dir: Path):
    """Generate the demo data and train both models where they do not exist yet."""
    if not root.is_dir():
        subprocess.run([sys.executable, "-m", "openunmix.demo", "--root", str(root)], cwd=ROOT, check=True)
    models = {}
    for name, extra in (("causal", ["--unidirectional"]), ("noncausal", [])):
        out = train_dir / name
        if not (out / "vocals.pth").is_file():
            subprocess.run([sys.executable, str(ROOT / "train.py"), "--dataset", "musdb", "--root", str(root),
                            "--is-wav", "--target", "vocals", "--output", str(out), *DEMO_TRAIN, *extra, "--quiet"],
                           check=True)
        models[name] = out
    return models["causal"], models["noncausal"]


def offline(separator):
    def run(mixture: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return separator(mixture[None])[0]
    return run


def streamed(separator, memory: float, block: int):
    streamer = StreamingSeparator(separator, memory=memory)

    def run(mixture: torch.Tensor) -> torch.Tensor:
        out = [streamer.process(b) for b in torch.split(mixture, block, dim=-1)] + [streamer.flush()]
        # aligned with the input: drop the stream's delay
        return torch.cat(out, dim=-1)[..., streamer.latency : streamer.latency + mixture.shape[-1]]
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="demo dataset root (generated here with --train when missing)")
    p.add_argument("--causal", help="unidirectional vocals model folder")
    p.add_argument("--noncausal", help="bidirectional vocals model folder trained with the same flags")
    p.add_argument("--train", metavar="DIR", help="train both into DIR/causal and DIR/noncausal (skipped if there)")
    p.add_argument("--memory", type=float, nargs="+", default=[2.0, 5.0],
                   help="time constants (s) of the online Wiener filter statistics (default: %(default)s)")
    p.add_argument("--block", type=int, default=1024 * 64,
                   help="samples per stream block; the result does not depend on it (default: %(default)s)")
    args = p.parse_args()
    if args.train:
        causal, noncausal = prepare(Path(args.root), Path(args.train))
    elif args.causal and args.noncausal:
        causal, noncausal = Path(args.causal), Path(args.noncausal)
    else:
        p.error("give --causal and --noncausal model folders, or --train DIR")

    settings = {
        "noncausal offline": offline(load_separator(noncausal, filter=FilterSettings(niter=0))),
        "noncausal offline EM1": offline(load_separator(noncausal, filter=FilterSettings(niter=1))),
        "causal offline": offline(load_separator(causal, filter=FilterSettings(niter=0))),
        "causal stream": streamed(load_separator(causal, filter=FilterSettings(niter=0)), 5.0, args.block),
    }
    for memory in args.memory:
        settings[f"causal stream wiener {memory:g} s"] = streamed(
            load_separator(causal, filter=FilterSettings(niter=1)), memory, args.block)

    tracks = list_tracks(args.root, "test", is_wav=True)
    print(f"{len(tracks)} test tracks of {args.root}; causal model {causal}, non-causal model {noncausal}")
    print(f"{'setting':<28} {'vocals SDR':>10} {'accomp SDR':>10} {'vocals gSDR':>11} {'accomp gSDR':>11}")
    for name, run in settings.items():
        frames = {"vocals": [], "accompaniment": []}
        glob = {"vocals": [], "accompaniment": []}
        for track in tracks:
            mixture = torch.from_numpy(np.ascontiguousarray(track.audio.T, dtype=np.float32))
            out = run(mixture).numpy()
            scores = score_track(track, {"vocals": out[0], "accompaniment": out[1]})
            for target in frames:
                frames[target].append(nanmedian(scores.frames[target]["SDR"]))
                glob[target].append(scores.global_sdr[target])
        print(f"{name:<28} {nanmedian(frames['vocals']):>10.2f} {nanmedian(frames['accompaniment']):>10.2f} "
              f"{np.mean(glob['vocals']):>11.2f} {np.mean(glob['accompaniment']):>11.2f}", flush=True)


if __name__ == "__main__":
    main()
