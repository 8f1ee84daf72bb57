#!/usr/bin/env python
"""The torch Wiener filter against norbert on the same input, and how close it runs to memory speed.

    python benchmarks/wiener.py [--frames 300] [--sources 4] [--niter 0 1 2]
    python benchmarks/wiener.py --bandwidth [--frames 300] [--sources 4]

Input: one filter window of a default model (frames x 2049 bins x 2
channels x sources), random magnitudes and mixture. Prints the time of
each implementation and their largest relative difference (float64).

--bandwidth (no norbert needed) counts the bytes one EM iteration of the
float32 filter moves, before (the stereo EM of issue 20) and after the
fused EM (issue 29), on a window in the separator's layout, in blocks of
--bin-chunk bins: every aten operation's inputs and output (views
excluded), counted by a dispatch mode while the filter runs, taken as if
nothing stayed in a cache (the difference between niter 1 and niter 0).
It times the same calls (interleaved, best of --repeat) and prints the
bytes per second they reach beside the copy bandwidth of this machine,
measured with numpy (one thread) and torch (its threads) on arrays of a
block's size (which stay in the caches) and of 512 MB (main memory); a
copy moves twice its size (read and write). The CPU's cache sizes are
printed, to compare with a block's estimates.

    python benchmarks/wiener.py --bandwidth --bin-chunk 256 128 64 32 --repeat 10
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
            if func._schema.name.startswith("aten::empty"):
                return out  # allocates, moves nothing
            given = {k: w for k, w in (kwargs or {}).items() if k != "out"}  # out=: written, not read
            ins = [t for t in tree_flatten((args, given))[0] if isinstance(t, torch.Tensor)]
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


def cache_sizes() -> str:
    """The CPU's caches as Linux reports them for cpu0 (L1d, L2, L3), one line."""
    from pathlib import Path

    found = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            if kind != "Instruction":
                found.append(f"L{(index / 'level').read_text().strip()} {(index / 'size').read_text().strip()}")
        except OSError:
            pass
    return ", ".join(found) or "unknown"


def bandwidth(a) -> None:
    """Bytes and time of the filter before (the stereo EM of issue 20) and after the fused EM, per bin chunk."""
    from openunmix.filtering import FilterSettings, _wiener

    print(f"machine: {common.machine()}; caches (cpu0): {cache_sizes()}")
    rng = np.random.default_rng(0)
    # the separator's layout: channels, bins, frames (, targets) in memory, seen frames first
    v = torch.from_numpy((rng.random((2, a.bins, a.frames, a.sources)) ** 2).astype(np.float32)).permute(2, 1, 0, 3)
    x = torch.from_numpy((rng.standard_normal((2, a.bins, a.frames)) + 1j * rng.standard_normal((2, a.bins, a.frames)))
                         .astype(np.complex64)).permute(2, 1, 0)
    y_bytes = a.frames * a.bins * 2 * a.sources * 8
    print(f"window: {a.frames} frames x {a.bins} bins x 2 channels x {a.sources} sources, float32; "
          f"the estimates y: {y_bytes / 1e6:.1f} MB; best of {a.repeat}, the variants interleaved")
    print(f"{'EM':>7} {'bin chunk':>9} {'y per chunk':>11} {'niter 1 bytes':>13} {'EM bytes':>9} {'EM bytes / |y|':>14} "
          f"{'niter 1 time':>12} {'EM time':>8} {'EM GB/s':>7}")
    for chunk in a.bin_chunk:
        rows = {}
        for fused in (False, True):
            def run(n, fused=fused):
                return _wiener(v, x, FilterSettings(niter=n, bin_chunk=chunk).args(), None, fused)
            b1, b0 = count_bytes(lambda: run(1)), count_bytes(lambda: run(0))
            rows[fused] = [b1, b0, [], []]
        for _ in range(a.repeat):  # interleaved, so that both see the same machine
            for fused in (False, True):
                for k, n in ((2, 1), (3, 0)):
                    t = time.perf_counter()
                    _wiener(v, x, FilterSettings(niter=n, bin_chunk=chunk).args(), None, fused)
                    rows[fused][k].append(time.perf_counter() - t)
        for fused in (False, True):
            b1, b0, t1, t0 = rows[fused][0], rows[fused][1], min(rows[fused][2]), min(rows[fused][3])
            em_b, em_t = b1 - b0, max(t1 - t0, 1e-9)
            print(f"{'fused' if fused else 'before':>7} {chunk:>9} {y_bytes * chunk / a.bins / 1e6:>9.2f}MB "
                  f"{b1 / 1e6:>11.1f}MB {em_b / 1e6:>7.1f}MB {em_b / y_bytes:>14.1f} {t1 * 1e3:>10.1f}ms "
                  f"{em_t * 1e3:>6.1f}ms {em_b / em_t / 1e9:>7.1f}", flush=True)
    chunk_bytes = y_bytes * a.bin_chunk[0] // a.bins
    for label, n in ((f"copy of {chunk_bytes / 1e6:.1f} MB (cache)", chunk_bytes), ("copy of 512 MB (memory)", 512 << 20)):
        bn, bt = copy_bandwidth(n)
        print(f"{label:>34}: numpy (1 thread) {bn / 1e9:.1f} GB/s, torch ({torch.get_num_threads()} threads) "
              f"{bt / 1e9:.1f} GB/s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--bins", type=int, default=2049)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--niter", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--bandwidth", action="store_true",
                   help="bytes and time of an EM iteration before and after the fused EM, against copy bandwidth")
    p.add_argument("--bin-chunk", type=int, nargs="+", default=[256, 64],
                   help="--bandwidth: bins per block (the separator's default is 256)")
    p.add_argument("--repeat", type=int, default=5, help="--bandwidth: runs per variant; the best is kept")
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
