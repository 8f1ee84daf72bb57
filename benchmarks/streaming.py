#!/usr/bin/env python
"""Latency and compute time per block of streaming separation (openunmix.stream).

    python benchmarks/streaming.py                  # 4096/1024 and 2048/512, 1 and 4 targets, 1 and 2 threads
    python benchmarks/streaming.py --stft 4096/1024 --targets 1 --threads 1 --seconds 60 --niter 0 1
    python benchmarks/streaming.py --pipe 60        # also the whole `python -m openunmix.stream` process

Models are untrained unidirectional models of the default size (hidden 512,
3 layers, stereo, 16 kHz bandwidth); compute time does not depend on the
weights. Synthetic stereo music is streamed in blocks of --block samples at
44.1 kHz and every StreamingSeparator.process call is timed after a warm-up:

- latency: the stream's algorithmic delay (``n_fft - 1`` samples); a
  block-based host adds one block of buffering on top;
- mean / p99 / max: compute time per block;
- RTF: block duration / mean compute time (above 1: faster than real time);
- load: mean compute time / block duration (the share of one core's time the
  stream needs, with one thread).

--pipe N also runs the command users run: N seconds of raw float32 PCM
through ``python -m openunmix.stream MODEL --threads 1`` in a fresh process
(import, model load, stream, write), wall time and peak RSS. Run it with
nothing else busy on the machine.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from common import ROOT, machine, measure
from openunmix.demo import synthesize_track
from openunmix.filtering import FilterSettings
from openunmix.architectures.umx import OpenUnmix
from openunmix.separation.separator import Separator
from openunmix.architectures.umx import save_target_model
from openunmix.stream import StreamingSeparator
from openunmix.utils import bandwidth_to_max_bin

RATE = 44100
TARGETS = ["vocals", "drums", "bass", "other"]


def causal_models(n_fft: int, count: int, seed: int = 0):
    """``count`` untrained unidirectional target models of the default size."""
    torch.manual_seed(seed)
    return {
        t: OpenUnmix(nb_bins=n_fft // 2 + 1, nb_channels=2, hidden_size=512, nb_layers=3, unidirectional=True,
                     max_bin=bandwidth_to_max_bin(RATE, n_fft, 16000)).freeze()
        for t in TARGETS[:count]
    }


def song(seconds: float) -> torch.Tensor:
    """Synthetic stereo music ``(2, samples)`` at 44.1 kHz."""
    stems = synthesize_track(np.random.default_rng(0), seconds, RATE)
    return torch.from_numpy(np.ascontiguousarray(stems["mixture"], dtype=np.float32))


def time_blocks(streamer: StreamingSeparator, audio: torch.Tensor, block: int, warmup: int = 20):
    """Seconds per ``process`` call over ``audio`` (after ``warmup`` untimed blocks)."""
    blocks = list(torch.split(audio, block, dim=-1))
    if blocks[-1].shape[-1] < block:
        blocks.pop()
    for b in blocks[:warmup]:
        streamer.process(b)
    times = []
    for b in blocks[warmup:]:
        t = time.perf_counter()
        streamer.process(b)
        times.append(time.perf_counter() - t)
    streamer.flush()
    return times


def in_process(args) -> None:
    audio = song(args.seconds)
    print(f"{'stft':>9} {'targets':>7} {'niter':>5} {'threads':>7} {'latency':>9} {'block':>6} "
          f"{'mean':>8} {'p99':>8} {'max':>8} {'RTF':>6} {'load':>6}")
    for stft in args.stft:
        n_fft, n_hop = (int(v) for v in stft.split("/"))
        for count in args.targets:
            models = causal_models(n_fft, count)
            for niter in args.niter:
                separator = Separator(models, filter=FilterSettings(niter=niter), sample_rate=RATE, n_fft=n_fft,
                                      n_hop=n_hop).freeze()
                streamer = StreamingSeparator(separator)
                for threads in args.threads:
                    torch.set_num_threads(threads)
                    times = time_blocks(streamer, audio, args.block)
                    mean = statistics.fmean(times)
                    p99 = float(np.percentile(times, 99))
                    duration = args.block / RATE
                    print(f"{stft:>9} {count:>7} {niter:>5} {threads:>7} {streamer.latency / RATE * 1e3:>6.1f} ms "
                          f"{args.block:>6} {mean * 1e3:>5.2f} ms {p99 * 1e3:>5.2f} ms {max(times) * 1e3:>5.2f} ms "
                          f"{duration / mean:>5.1f}x {mean / duration:>6.1%}", flush=True)


def whole_process(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n_fft, n_hop = (int(v) for v in args.stft[0].split("/"))
        for target, model in causal_models(n_fft, 1).items():
            save_target_model(tmp / "model", target, model, RATE, n_fft, n_hop)
        raw = tmp / "in.raw"
        np.ascontiguousarray(song(args.pipe).numpy().T).astype("<f4").tofile(raw)
        cmd = (f"'{sys.executable}' -m openunmix.stream '{tmp / 'model'}' --rate {RATE} --channels 2 "
               f"--block {args.block} --threads 1 < '{raw}' > '{tmp / 'out.raw'}'")
        rc, wall, rss = measure(["sh", "-c", f"cd '{ROOT}' && {cmd}"])
        if rc:
            sys.exit(f"python -m openunmix.stream failed with status {rc}")
        written = (tmp / "out.raw").stat().st_size
        assert written == raw.stat().st_size, (written, raw.stat().st_size)
        print(f"\nwhole process, python -m openunmix.stream (vocals model, {args.stft[0]}, block {args.block}, "
              f"--threads 1): {args.pipe:g} s of audio in {wall:.1f} s wall ({args.pipe / wall:.1f}x real time, "
              f"including start-up), peak RSS {rss:.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--stft", nargs="+", default=["4096/1024", "2048/512"], help="n_fft/n_hop settings")
    p.add_argument("--targets", nargs="+", type=int, default=[1, 4], help="numbers of target models")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--niter", nargs="+", type=int, default=[0], help="0: ratio mask; >0: online Wiener filter")
    p.add_argument("--block", type=int, default=1024, help="samples per block (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=30.0, help="audio streamed per setting (default: %(default)s)")
    p.add_argument("--pipe", type=float, default=0.0, metavar="SECONDS",
                   help="also time the whole command on this much audio (default: off)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    in_process(args)
    if args.pipe:
        whole_process(args)


if __name__ == "__main__":
    main()
