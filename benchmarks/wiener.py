#!/usr/bin/env python
"""The torch Wiener filter against norbert on the same input, and how close it runs to memory speed.

    python benchmarks/wiener.py [--frames 300] [--sources 4] [--niter 0 1 2]
    python benchmarks/wiener.py --bandwidth [--frames 300] [--sources 4]

Input: one filter window of a default model (frames x 2049 bins x 2
channels x sources), random magnitudes and mixture. Prints the time of
each implementation and their largest relative difference (float64).

--bandwidth (no norbert needed) counts the bytes one EM iteration of the
float32 filter moves: every aten operation's inputs and output (views
excluded), counted by a dispatch mode while the filter runs, taken as if
nothing stayed in a cache (the difference between niter 1 and niter 0 on
the same window, in chunks of 256 bins as the separator runs it). It
times the same iteration and prints the bytes per second it reaches
beside the copy bandwidth of this machine, measured with numpy (one
thread) and torch (its threads) on arrays of the filter's working-set size
(a 256-bin chunk's estimates, which stay in the caches) and of 512 MB
(main memory); a copy moves twice its size (read and write).
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


def count_bytes(fn) -> int:
    """Bytes read and written by the aten operations ``fn()`` runs (inputs + output, views excluded)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
            outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            ptrs = {t.untyped_storage().data_ptr() for t in ins}
            if outs and all(o.untyped_storage().data_ptr() in ptrs for o in outs) and not func._schema.is_mutable:
                return out  # a view: nothing moves
            Count.total += sum(t.numel() * t.element_size() for t in ins + outs)
            return out

    with Count():
        fn()
    return Count.total


def copy_bandwidth(nbytes: int, repeat: int = 5) -> tuple:
    """Bytes per second of a copy of ``nbytes`` (read + write), numpy (1 thread) and torch (its threads)."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    tn, _ = best_of(lambda: np.copyto(b, a), repeat)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tt, _ = best_of(lambda: tb.copy_(ta), repeat)
    return 2 * nbytes / tn, 2 * nbytes / tt


def bandwidth(a) -> None:
    from openunmix.filtering import _em_stereo

    print(f"machine: {common.machine()}")
    rng = np.random.default_rng(0)
    v = torch.from_numpy((rng.random((a.frames, a.bins, 2, a.sources)) ** 2).astype(np.float32))
    x = torch.from_numpy((rng.standard_normal((a.frames, a.bins, 2)) + 1j * rng.standard_normal((a.frames, a.bins, 2)))
                         .astype(np.complex64))
    chunk = 256
    b1 = count_bytes(lambda: wiener(v, x, 1, bin_chunk=chunk))
    b0 = count_bytes(lambda: wiener(v, x, 0, bin_chunk=chunk))
    t1, _ = best_of(lambda: wiener(v, x, 1, bin_chunk=chunk), 5)
    t0, _ = best_of(lambda: wiener(v, x, 0, bin_chunk=chunk), 5)
    # the EM iteration alone on one chunk, as _wiener_bins calls it (y: the ratio mask)
    y = (x[:, :chunk, :, None] * (v[:, :chunk] / v[:, :chunk].sum(-1, keepdim=True))).contiguous()
    xc = x[:, :chunk].contiguous()
    be = count_bytes(lambda: _em_stereo(y, xc, 1, 1.2e-7))
    te, _ = best_of(lambda: _em_stereo(y, xc, 1, 1.2e-7), 20)
    y_bytes = y.numel() * y.element_size()
    print(f"window: {a.frames} frames x {a.bins} bins x 2 channels x {a.sources} sources, float32, chunks of {chunk} bins")
    print(f"the estimates y of one chunk: {y_bytes / 1e6:.1f} MB; of the window: {y_bytes * a.bins / chunk / 1e6:.1f} MB")
    print(f"{'':>34} {'bytes':>9} {'time':>9} {'GB/s':>6} {'bytes / |y|':>11}")
    print(f"{'filter, niter 0 (ratio mask)':>34} {b0 / 1e6:>7.1f}MB {t0 * 1e3:>7.1f}ms {b0 / t0 / 1e9:>6.1f}")
    print(f"{'filter, niter 1':>34} {b1 / 1e6:>7.1f}MB {t1 * 1e3:>7.1f}ms {b1 / t1 / 1e9:>6.1f}")
    print(f"{'one EM iteration (difference)':>34} {(b1 - b0) / 1e6:>7.1f}MB {(t1 - t0) * 1e3:>7.1f}ms "
          f"{(b1 - b0) / (t1 - t0) / 1e9:>6.1f} {(b1 - b0) / (y_bytes * a.bins / chunk):>11.1f}")
    print(f"{'one EM iteration, one chunk':>34} {be / 1e6:>7.1f}MB {te * 1e3:>7.1f}ms {be / te / 1e9:>6.1f} "
          f"{be / y_bytes:>11.1f}")
    for label, n in ((f"copy of {y_bytes / 1e6:.1f} MB (cache)", y_bytes), ("copy of 512 MB (memory)", 512 << 20)):
        bn, bt = copy_bandwidth(n)
        print(f"{label:>34}: numpy (1 thread) {bn / 1e9:.1f} GB/s, torch ({torch.get_num_threads()} threads) "
              f"{bt / 1e9:.1f} GB/s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--bins", type=int, default=2049)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--niter", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--bandwidth", action="store_true", help="bytes an EM iteration moves against copy bandwidth")
    a = p.parse_args()
    if a.bandwidth:
        bandwidth(a)
        raise SystemExit
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
