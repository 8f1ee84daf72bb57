#!/usr/bin/env python
"""What ``train.py --ema`` and ``--clip-grad`` add to a training step of the default Open-Unmix model.

    python benchmarks/averaging.py [--batch-size 8] [--seq-dur 6] [--threads 1] [--repeats 3]

Times, in this process, one training step (STFT, forward, MSE, backward, Adam;
random stereo batches: the data does not change the cost) of the default-size
model (hidden 512, n_fft 4096, 16 kHz bandwidth) as the trainer takes it
(:func:`openunmix.training.setup.backward_step`), plain, with gradient
clipping, with the weight average's update after it, and with both; and the
two additions alone (the clipping of the step's gradients, one update of the
average), which are what the step times differ by, without their noise.
Prints milliseconds and each addition's share of the plain step (the steps
timed in turn, best of ``--repeats``).
"""

import argparse
import time

import common  # before torch: puts the repository on sys.path and tunes the allocator as train.py does

import torch
from openunmix.training.averaging import WeightAverage, clip_gradients
from openunmix.training.setup import backward_step

RATE = 44100


def main(a: argparse.Namespace) -> None:
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"machine: {common.machine()}")
    spec, model, _ = common.umx_training(a.hidden_size, RATE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)  # as train.py's
    average = WeightAverage(model, 0.999)
    samples = int(a.seq_dur * RATE)
    x, y = torch.randn(a.batch_size, 2, samples) * 0.1, torch.randn(a.batch_size, 2, samples) * 0.05
    with torch.no_grad():
        X, Y = spec(x), spec(y)
    model.train()

    def step(clip, ema):
        def run():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(X), Y)
            backward_step(loss, optimizer, None, clip)
            if ema:
                average.update(model)
        return run

    params = list(model.parameters())
    n = sum(p.numel() for p in params)
    print(f"batch {a.batch_size} x {a.seq_dur:g} s stereo, model hidden {a.hidden_size} ({n / 1e6:.2f} M weights), "
          f"{a.threads} thread(s), best of {a.repeats}")
    variants = [("step", step(None, False)), ("step --clip-grad 1", step(1.0, False)),
                ("step --ema 0.999", step(None, True)), ("step, both", step(1.0, True))]
    best = {name: float("inf") for name, _ in variants}
    for fn in [fn for _, fn in variants]:  # one untimed step of each first
        fn()
    for _ in range(a.repeats):  # round robin: a drift of the machine's speed touches every variant alike
        for name, fn in variants:
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    plain = best["step"]
    rows = list(best.items())
    # the additions alone, on the last step's gradients and weights (clipping to a huge norm scales by 1)
    rows.append(("clipping alone", common.best_time(lambda: clip_gradients(params, 1e9), 20)))
    rows.append(("average update alone", common.best_time(lambda: average.update(model), 20)))
    for name, seconds in rows:
        print(f"{name:>22} {seconds * 1000:9.2f} ms {100 * seconds / plain:7.2f}% of a plain step")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-dur", type=float, default=6.0)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    for name in ("batch_size", "seq_dur", "hidden_size", "threads", "repeats"):
        if not getattr(a, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    main(a)
