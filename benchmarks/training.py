#!/usr/bin/env python
"""Training speed as users get it (train.py over whole epochs) beside its parts timed alone.

    python benchmarks/training.py [--root DEMO_ROOT] [--batch-size 16] [--seq-dur 5] [--nb-workers 0 2]

Uses a synthetic MUSDB-layout dataset (generated in a temporary folder when
--root is not given) and the default-size model (hidden 512, n_fft 4096,
stereo). Prints

* the parts alone, in this process: preparing one batch (random excerpts
  read with seeks from 4 sources of random tracks, gain and channel swap,
  mixing) and one training step (STFT, forward, backward, Adam);
* ``train.py`` as a fresh process for each ``--nb-workers`` value, over
  ``--epochs`` whole epochs: seconds per batch (epochs after the first, which
  warms up), samples per second, the share of the epoch spent waiting for
  data and the share spent validating (from the ``data_wait_history`` and
  ``valid_time_history`` of the json train.py writes), and its per-batch
  time against the isolated step: they agree when training runs at the
  speed of its step;
* the dataset statistics pass in seconds per hour of audio.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # before torch: puts the repository on sys.path and tunes the allocator as train.py does

import torch
from openunmix import data
from openunmix.training import dataset_statistics


def isolated(a, train):
    """(seconds to prepare one batch, seconds per training step), best of a few."""
    times = []
    for rep in range(5):
        t = time.perf_counter()
        batch = [train[(rep * a.batch_size + i) % len(train)] for i in range(a.batch_size)]
        x = torch.stack([b[0] for b in batch])
        y = torch.stack([b[1] for b in batch])
        times.append(time.perf_counter() - t)
    return min(times), common.umx_step_time(x, y, 3, a.hidden_size)  # as train.py's; after one untimed step


def whole_run(a, root: Path, out: Path, workers: int, items: int):
    """Run train.py; returns (wall seconds, per-epoch dicts after the first epoch)."""
    cmd = [sys.executable, str(common.ROOT / "train.py"), "--dataset", "musdb", "--root", str(root), "--is-wav",
           "--random-track-mix",
           "--output", str(out), "--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
           "--seq-dur", str(a.seq_dur), "--samples-per-track", str(a.samples_per_track),
           "--hidden-size", str(a.hidden_size), "--nb-workers", str(workers), "--quiet", "--no-cuda"]
    env = dict(os.environ)
    if a.threads:
        env["OMP_NUM_THREADS"] = str(a.threads)  # torch's default thread count in the train.py process
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"train.py failed ({r.returncode}): {r.stderr.strip()}")
    info = json.loads((out / "vocals.json").read_text())
    batches = items // a.batch_size
    epochs = []
    for total, wait, valid in zip(info["train_time_history"], info["data_wait_history"], info["valid_time_history"]):
        train_time = total - valid
        epochs.append({"batch": train_time / batches, "samples_s": batches * a.batch_size / train_time,
                       "wait": wait / total, "valid": valid / total})
    return wall, epochs[1:] or epochs


def main(a) -> None:
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"machine: {common.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.root) if a.root else None
        if root is None:
            from openunmix.demo import generate_dataset

            root = generate_dataset(Path(tmp) / "demo", seed=0, nb_train=8, nb_valid=1, nb_test=0, duration=30)
        train, _ = data.load_datasets("musdb", root, "vocals", seq_duration=a.seq_dur,
                                      samples_per_track=a.samples_per_track, is_wav=True, random_track_mix=True)
        t_data, t_step = isolated(a, train)
        print(f"batch: {a.batch_size} x {a.seq_dur:g} s stereo, 4 sources from random tracks, gain + channel swap; "
              f"model hidden {a.hidden_size}, n_fft 4096")
        print(f"alone, in one process: prepare one batch {t_data * 1000:.0f} ms, "
              f"training step {t_step * 1000:.0f} ms (data {100 * t_data / t_step:.1f}% of a step)")
        print(f"train.py, {a.epochs} epochs of {len(train) // a.batch_size} batches (first epoch left out):")
        print(f"{'workers':>7} {'s/batch':>8} {'samples/s':>9} {'data wait':>9} {'validation':>10} "
              f"{'vs step':>8} {'wall':>7}")
        for workers in a.nb_workers:
            wall, epochs = whole_run(a, root, Path(tmp) / f"run{workers}", workers, len(train))
            best = min(epochs, key=lambda e: e["batch"])
            print(f"{workers:>7} {best['batch']:>8.3f} {best['samples_s']:>9.1f} {100 * best['wait']:>8.1f}% "
                  f"{100 * best['valid']:>9.1f}% {best['batch'] / t_step:>7.2f}x {wall:>6.1f}s", flush=True)

        t = time.perf_counter()
        dataset_statistics(train, 44100, 4096, 1024, nb_workers=a.stats_workers)
        t_stats = time.perf_counter() - t
        hours = sum(common.sf.info(str(group[0])).duration for group in train.stats_sources()) / 3600
    print(f"statistics pass: {t_stats:.2f} s for {hours * 60:.1f} min of audio "
          f"({t_stats / hours:.1f} s per hour, {a.stats_workers} workers)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="MUSDB-layout wav dataset (default: a generated one)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-dur", type=float, default=5.0)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--samples-per-track", type=int, default=8, help="with 8 tracks: 4 batches of 16 per epoch")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--nb-workers", type=int, nargs="+", default=[0, 2], help="train.py --nb-workers values")
    p.add_argument("--stats-workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for the isolated step and train.py (default: torch's choice)")
    a = p.parse_args()
    if a.threads is not None and a.threads < 1:
        p.error("--threads must be > 0")
    for name in ("batch_size", "seq_dur", "hidden_size", "samples_per_track", "epochs"):
        if not getattr(a, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    if a.epochs < 2:
        p.error("--epochs must be at least 2 (the first epoch warms up and is left out)")
    main(a)
