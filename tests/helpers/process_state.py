"""What a library call must leave as it found it: the settings a program owns for its whole process.

``kept()`` wraps a call of the package's public API and fails when, afterwards,
any of these differs from before: torch's, numpy's and Python's global random
generators, torch's thread counts, default dtype, grad mode, matmul precision
and determinism, cuDNN's flags, the current CUDA device, Python's warning
filters, the umask, the environment, the working folder and the SIGINT
handler. It also fails when the umask was set at all during the call, even
if set back: a file that another thread creates in that moment gets the
wrong permissions.
"""

import contextlib
import os
import random
import signal
import warnings

import numpy as np
import torch

_CUDA = torch.cuda.is_available()  # taken now: tests may pretend to have GPUs later

def umask_now() -> int:
    """The umask, read without setting it (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))


def snapshot() -> dict:
    state = {
        "torch generator": torch.get_rng_state(),
        "numpy generator": np.random.get_state()[1].copy(),
        "python generator": random.getstate(),
        "threads": torch.get_num_threads(),
        "interop threads": torch.get_num_interop_threads(),
        "default dtype": torch.get_default_dtype(),
        "grad enabled": torch.is_grad_enabled(),
        "matmul precision": torch.get_float32_matmul_precision(),
        "deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn": (torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
        "warning filters": list(warnings.filters),
        "showwarning": warnings.showwarning,
        "umask": umask_now(),
        "environment": dict(os.environ),
        "working folder": os.getcwd(),
        "SIGINT handler": signal.getsignal(signal.SIGINT),
    }
    if _CUDA:
        state["CUDA device"] = torch.cuda.current_device()
        state["CUDA generators"] = [g.get_state() for g in torch.cuda.default_generators]
    return state


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, list) and a and isinstance(a[0], torch.Tensor):
        return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
    return a == b


@contextlib.contextmanager
def kept():
    """Fail when the block changes a process-wide setting (see the module), or sets the umask at all."""
    calls = []
    real = os.umask

    def watched(mask):
        calls.append(oct(mask))
        return real(mask)

    before = snapshot()
    os.umask = watched
    try:
        yield
    finally:
        os.umask = real
    after = snapshot()
    changed = [name for name in before if not _same(before[name], after.get(name))]
    assert not changed, f"the call changed process-wide state: {', '.join(changed)}"
    assert not calls, f"the call set the umask (os.umask({', '.join(calls)})), even if only for a moment"
