#!/usr/bin/env python
"""PyTorch eager against the exported models, on a default-size model (random weights).

    python benchmarks/export.py                    # 60 s of audio, niter 1, 3 repeats
    python benchmarks/export.py --seconds 30 --niter 0 --threads 1

Prints, for four untrained umxhq-size target models (hidden 512, stereo,
n_fft 4096) exported with ``openunmix.export``:

1. target models: eager ``OpenUnmix`` against ONNX Runtime (CPU) on the
   magnitude spectrogram of the audio (best of ``--repeats``, per target and
   for all four);
2. the whole separator (STFT, models, Wiener filter, ISTFT): eager
   ``Separator`` against the TorchScript ``separator.pt``, in this process
   (best of ``--repeats``);
3. what users run: a fresh process that reads the song and separates it,
   with the model folder and ``Separator``, or with ``separator.pt`` alone
   (wall time and peak RSS; writing the stems is left out of both).

Run it with nothing else busy on the machine.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from common import ROOT, best_time, default_model_folder, machine, measure, synth_song, time

import numpy as np
import soundfile as sf
import torch

from openunmix.export import export_model
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models

_READ = (
    "import sys, soundfile as sf, torch\n"
    "audio = torch.from_numpy(sf.read(sys.argv[1], dtype='float32', always_2d=True)[0].T.copy())[None]\n"
)
_EAGER = _READ + (
    "from openunmix.filtering import FilterSettings\n"
    "from openunmix.models.hub import load_separator\n"
    "sep = load_separator(sys.argv[2], filter=FilterSettings(niter=int(sys.argv[3])))\n"
    "with torch.no_grad(): out = sep(audio)\n"
)
_SCRIPTED = _READ + (
    "sep = torch.jit.load(sys.argv[2])\n"
    "with torch.no_grad(): out = sep(audio)\n"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--seconds", type=float, default=60.0, help="audio duration (default: %(default)s)")
    p.add_argument("--niter", type=int, default=FilterSettings().niter,
                   help="EM iterations of the separator (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="threads for torch and ONNX Runtime (default: their own)")
    args = p.parse_args()
    import onnxruntime as ort

    if args.threads:
        torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = default_model_folder(tmp / "model")
        t = time.perf_counter()
        export_model(str(folder), tmp / "export", filter=FilterSettings(niter=args.niter), progress=False)
        export_seconds = time.perf_counter() - t
        song = synth_song(tmp / "song.wav", args.seconds)
        audio = torch.from_numpy(sf.read(str(song), dtype="float32", always_2d=True)[0].T.copy())[None]
        separator = load_separator(str(folder), filter=FilterSettings(niter=args.niter))
        models, _ = load_target_models(str(folder))
        with torch.no_grad():
            mag = separator.complexnorm(separator.stft(audio))
        print(f"machine: {machine()}, onnxruntime {ort.__version__} "
              f"({options.intra_op_num_threads or 'default'} intra-op threads)")
        print(f"model: untrained, default size (hidden 512, stereo, n_fft 4096, 4 targets); "
              f"{args.seconds:g} s of audio = {mag.shape[-1]} frames; niter {args.niter}; best of {args.repeats}")
        sizes = ", ".join(f"{f.name} {f.stat().st_size / 1e6:.1f} MB" for f in sorted((tmp / "export").iterdir()))
        print(f"export (4 ONNX files + separator.pt + check): {export_seconds:.1f} s; {sizes}")

        print("\n1. target models, magnitude in -> magnitude out")
        print(f"{'target':<8} {'eager':>8} {'ONNX RT':>8} {'speed-up':>8} {'max rel. diff':>13}")
        total_eager = total_ort = 0.0
        x = mag.numpy()
        for target, model in models.items():
            session = ort.InferenceSession(str(tmp / "export" / f"{target}.onnx"), options,
                                           providers=["CPUExecutionProvider"])
            with torch.no_grad():
                eager = best_time(lambda: model(mag), args.repeats)
                expected = model(mag).numpy()
            onnx = best_time(lambda: session.run(None, {"mix_magnitude": x}), args.repeats)
            got = session.run(None, {"mix_magnitude": x})[0]
            diff = float(np.abs(got - expected).max() / np.abs(expected).max())
            total_eager += eager
            total_ort += onnx
            print(f"{target:<8} {eager:>7.3f}s {onnx:>7.3f}s {eager / onnx:>7.2f}x {diff:>13.1e}", flush=True)
        print(f"{'all 4':<8} {total_eager:>7.3f}s {total_ort:>7.3f}s {total_eager / total_ort:>7.2f}x")

        print("\n2. whole separator in this process, waveform in -> 4 waveforms out")
        scripted = torch.jit.load(str(tmp / "export" / "separator.pt"))
        with torch.no_grad():
            eager = best_time(lambda: separator(audio), args.repeats)
            script = best_time(lambda: scripted(audio), args.repeats)
            diff = float((scripted(audio) - separator(audio)).abs().max() / separator(audio).abs().max())
        print(f"eager Separator {eager:.2f} s, TorchScript {script:.2f} s ({eager / script:.2f}x), "
              f"max rel. diff {diff:.1e}")

        print("\n3. whole process: read the song, load, separate (fresh process each)")
        print(f"{'how':<36} {'wall':>8} {'peak RSS':>9}")
        runs = [("model folder + Separator (eager)", [_EAGER, str(song), str(folder), str(args.niter)]),
                ("separator.pt (torch.jit.load)", [_SCRIPTED, str(song), str(tmp / "export" / "separator.pt")])]
        for name, (code, *rest) in runs:
            cmd = [sys.executable, "-c", code, *rest]
            if args.threads:
                cmd = [sys.executable, "-c", f"import torch; torch.set_num_threads({args.threads})\n" + code, *rest]
            rc, wall, rss = measure(cmd)
            if rc:
                sys.exit(f"{name}: failed ({rc})")
            print(f"{name:<36} {wall:>7.2f}s {rss:>6.0f} MB", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
