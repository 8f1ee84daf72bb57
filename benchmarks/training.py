#!/usr/bin/env python
"""Training input pipeline against the training step, and the statistics pass.

    python benchmarks/training.py [--root DEMO_ROOT] [--batch-size 16] [--seq-dur 5]

Uses a synthetic MUSDB-layout dataset (generated in a temporary folder when
--root is not given). Prints the time to prepare one batch (random excerpts
read with seeks from 4 sources of random tracks, gain and channel-swap
augmentation, mixing) in the main process, the time of one training step
(STFT, forward, backward, Adam) of the default-size model, their ratio,
and the dataset statistics pass in seconds per hour of audio.
"""

import argparse
import tempfile
import time
from pathlib import Path

import common  # before torch: puts the repository on sys.path and tunes the allocator as train.py does

import torch
from openunmix import data
from openunmix.model import OpenUnmix
from openunmix.training import Spectrogram, dataset_statistics
from openunmix.utils import bandwidth_to_max_bin


def main(a) -> None:
    print(f"machine: {common.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.root) if a.root else None
        if root is None:
            from openunmix.demo import generate_dataset

            root = generate_dataset(Path(tmp) / "demo", seed=0, nb_train=8, nb_valid=1, nb_test=0, duration=30)
        train, _ = data.load_datasets("musdb", root, "vocals", seq_duration=a.seq_dur, samples_per_track=64,
                                      is_wav=True, random_track_mix=True)
        # data: a whole batch of items, read the way the DataLoader does
        times = []
        for rep in range(5):
            t = time.perf_counter()
            batch = [train[rep * a.batch_size + i] for i in range(a.batch_size)]
            x = torch.stack([b[0] for b in batch])
            y = torch.stack([b[1] for b in batch])
            times.append(time.perf_counter() - t)
        t_data = min(times)

        spec = Spectrogram(4096, 1024, mono=False)
        model = OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=a.hidden_size,
                          max_bin=bandwidth_to_max_bin(44100, 4096, 16000))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        steps = []
        for rep in range(3):
            t = time.perf_counter()
            with torch.no_grad():
                X, Y = spec(x), spec(y)
            loss = torch.nn.functional.mse_loss(model(X), Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps.append(time.perf_counter() - t)
        t_step = min(steps[1:])

        t = time.perf_counter()
        dataset_statistics(train, 44100, 4096, 1024, nb_workers=a.workers)
        t_stats = time.perf_counter() - t
        hours = sum(common.sf.info(str(group[0])).duration for group in train.stats_sources()) / 3600

    print(f"batch: {a.batch_size} x {a.seq_dur:.0f} s stereo, 4 sources from random tracks, gain + channel swap")
    print(f"prepare one batch (1 process):   {t_data * 1000:8.1f} ms")
    print(f"training step (hidden {a.hidden_size}):     {t_step * 1000:8.1f} ms")
    print(f"data / step:                     {100 * t_data / t_step:8.2f} %")
    print(f"statistics pass: {t_stats:.2f} s for {hours * 60:.1f} min of audio "
          f"({t_stats / hours:.1f} s per hour, {a.workers} workers)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-dur", type=float, default=5.0)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--workers", type=int, default=2)
    main(p.parse_args())
