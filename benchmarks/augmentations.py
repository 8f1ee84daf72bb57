#!/usr/bin/env python
"""The cost of the augmentations per step (docs/training.md#augmentations-per-step).

    python -m openunmix.demo --root /tmp/aug-data --nb-train 8 --nb-valid 2 --nb-test 1 --duration 16 --variety wide
    python benchmarks/augmentations.py --root /tmp/aug-data [--batch-size 8] [--seq-dur 6]

For each setting (none: gain and channel swap only, as the default recipe;
remix probability 0.5; random track mix; a wider gain; repitch with
probability 0.3) on the MUSDB-layout demo dataset at ``--root`` (generated in a
temporary folder when it is not given), prints the time to produce one training
item and one batch of ``--batch-size`` items of ``--seq-dur`` s at 44.1 kHz in
this process (best of ``--repeats``, after a warm-up), and the data wait as a
share of a training step: the time of one default Open-Unmix training step
(hidden 512, n_fft 4096, STFT + forward + backward + Adam on the same batch)
measured here on ``--threads`` threads (default 1). With ``--nb-workers 0`` (the
default) a step waits for its whole batch, so this share is what the trainer's
``data_wait_history`` records; with loader workers the wait shrinks to what the
workers cannot hide.

Timings are meaningless while other processes load the machine: run it alone.
"""

import argparse
import tempfile
from pathlib import Path

import common  # before torch: puts the repository on sys.path and tunes the allocator as train.py does

import torch
from openunmix import data

SETTINGS = [
    ("none (gain 0.25-1.25, channel swap)", {}),
    ("--remix-prob 0.5", {"remix_prob": 0.5}),
    ("--random-track-mix", {"random_track_mix": True}),
    ("--source-gain 0.1 1.5", {"source_gain": (0.1, 1.5)}),
    ("--repitch-prob 0.3", {"repitch_prob": 0.3}),
    ("--repitch-prob 1", {"repitch_prob": 1.0}),
]


def batch(train, first: int, size: int):
    items = [train[(first + i) % len(train)] for i in range(size)]
    return torch.stack([b[0] for b in items]), torch.stack([b[1] for b in items])


def step_time(x: torch.Tensor, y: torch.Tensor, repeats: int) -> float:
    """Seconds of one default Open-Unmix training step on the batch ``x``, ``y`` (batch, 2, samples)."""
    return common.umx_step_time(x, y, repeats)


def main(a) -> None:
    torch.set_num_threads(a.threads)
    print(f"machine: {common.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.root) if a.root else None
        if root is None:
            from openunmix.demo import generate_dataset

            root = generate_dataset(Path(tmp) / "demo", seed=0, nb_train=8, nb_valid=2, nb_test=1, duration=16,
                                    variety="wide")
        for path in sorted(root.rglob("*.wav")):  # into the page cache: every setting reads warm files
            path.read_bytes()
        rows = []
        for name, options in SETTINGS:
            train, _ = data.load_datasets("musdb", root, "vocals", seq_duration=a.seq_dur, samples_per_track=64,
                                          is_wav=True, **options)
            counter = iter(range(10 ** 9))  # a new item each call: no reading the same excerpt twice
            t_item = common.best_time(lambda: train[next(counter) % len(train)], a.repeats * a.batch_size)
            t_batch = common.best_time(lambda: batch(train, next(counter) * a.batch_size, a.batch_size), a.repeats)
            rows.append((name, t_item, t_batch))
        x, y = batch(train, 0, a.batch_size)
        t_step = step_time(x, y, a.repeats)
    print(f"batch: {a.batch_size} x {a.seq_dur:g} s stereo at 44.1 kHz, 4 sources; loader workers: none "
          f"(in this process); best of {a.repeats}")
    print(f"training step (Open-Unmix default: hidden 512, n_fft 4096; STFT, forward, backward, Adam) on "
          f"{a.threads} thread(s): {t_step * 1000:.0f} ms")
    print(f"{'setting':<38} {'item ms':>8} {'batch ms':>9} {'wait/step':>9}")
    for name, t_item, t_batch in rows:
        print(f"{name:<38} {t_item * 1000:>8.1f} {t_batch * 1000:>9.1f} {100 * t_batch / t_step:>8.1f}%")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", help="MUSDB-layout demo dataset (default: one generated in a temporary folder)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-dur", type=float, default=6.0)
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training step")
    p.add_argument("--repeats", type=int, default=3)
    main(p.parse_args())
