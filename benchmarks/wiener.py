#!/usr/bin/env python
"""The torch Wiener filter against norbert on the same input.

    python benchmarks/wiener.py [--frames 300] [--sources 4] [--niter 0 1 2]

Input: one filter window of a default model (frames x 2049 bins x 2
channels x sources), random magnitudes and mixture. Prints the time of
each implementation and their largest relative difference (float64).
"""

import argparse
import time

import common  # noqa: F401  (before torch: repository on sys.path, allocator tuned as the scripts do)

import numpy as np
import torch
from openunmix.filtering import wiener


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--bins", type=int, default=2049)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--niter", type=int, nargs="+", default=[0, 1, 2])
    a = p.parse_args()
    import norbert

    print(f"machine: {common.machine()}")
    rng = np.random.default_rng(0)
    v = rng.random((a.frames, a.bins, 2, a.sources)) ** 2
    x = rng.standard_normal((a.frames, a.bins, 2)) + 1j * rng.standard_normal((a.frames, a.bins, 2))
    print(f"input: {a.frames} frames x {a.bins} bins x 2 channels x {a.sources} sources")
    print(f"{'niter':>5} {'norbert f64':>12} {'torch f64':>10} {'torch f32':>10} {'speed-up f32':>12} {'max rel diff f64':>17}")
    for niter in a.niter:
        tn, ref = best_of(lambda: norbert.wiener(v.copy(), x.copy(), niter), repeat=1)
        vt, xt = torch.from_numpy(v), torch.from_numpy(x)
        t64, out = best_of(lambda: wiener(vt, xt, niter))
        vf, xf = vt.float(), xt.to(torch.complex64)
        t32, _ = best_of(lambda: wiener(vf, xf, niter, bin_chunk=256))
        err = np.abs(out.numpy() - ref).max() / np.abs(ref).max()
        print(f"{niter:>5} {tn:>11.3f}s {t64:>9.3f}s {t32:>9.3f}s {tn / t32:>11.1f}x {err:>17.2e}", flush=True)
