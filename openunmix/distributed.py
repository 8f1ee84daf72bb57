"""Multi-process data parallelism helpers (``torchrun``), no-ops in a single process.

A process learns its place from the environment ``torchrun`` sets
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``). GPUs use
NCCL and ``torch.nn.SyncBatchNorm``; CPUs use gloo and
:class:`GlobalBatchNorm1d`, since torch's SyncBatchNorm is GPU-only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, Iterator, List, Optional

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def setup(use_cuda: bool = True, backend: Optional[str] = None, timeout: Optional[timedelta] = None) -> Context:
    """Join the process group when started by ``torchrun`` with several processes.

    Nothing process-wide is set but the process group: the GPU is named in
    the context (and bound to the NCCL group), not made the current device,
    and cuDNN's autotuning is left as it is; code that wants them for a
    while uses :func:`device_scope`. Programs may set them for good.

    Args:
        use_cuda: one GPU per process (``LOCAL_RANK``) when there are GPUs.
        backend: of the process group; default NCCL on GPUs and gloo on CPUs.
            Separation and evaluation, which only wait for each other and
            exchange a few Python objects, use gloo everywhere.
        timeout: how long a collective (e.g. a barrier) waits for the other
            processes (default: torch's, 30 minutes).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = use_cuda and torch.cuda.is_available()
    if cuda:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if cuda else "gloo")
        more: Dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if backend == "nccl":
            more["device_id"] = device  # the group's collectives run on this GPU, whichever is current
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **more)
    return Context(rank=rank, world_size=world, local_rank=local_rank, device=device)


@contextlib.contextmanager
def device_scope(device: torch.device, benchmark: bool = True) -> Iterator[None]:
    """For the block only: ``device`` is the current CUDA device and cuDNN autotunes (``benchmark``);
    both are set back afterwards. Nothing is changed on other devices."""
    if torch.device(device).type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    with torch.cuda.device(device):
        torch.backends.cudnn.benchmark = benchmark
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before


def cleanup() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Context) -> None:
    """Wait until every process gets here (nothing to wait for when alone)."""
    if ctx.world_size > 1:
        dist.barrier()


def broadcast_object(obj: Any, ctx: Context) -> Any:
    """Rank 0's ``obj`` (picklable) in every process."""
    if ctx.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, ctx: Context) -> Optional[List[Any]]:
    """Every process's ``obj`` (picklable), in rank order, on rank 0; None on the others."""
    if ctx.world_size == 1:
        return [obj]
    out: Optional[List[Any]] = [None] * ctx.world_size if ctx.rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over processes: the gradient of a sum is the sum of the gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics span the batches of all processes.

    Works with any backend (gloo on CPU included): per-feature sums are
    all-reduced with a differentiable all-reduce, so forward and backward are
    those of one batch-norm over the global batch. Parameter and buffer
    names are those of ``nn.BatchNorm1d``. Input ``(N, features)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        features = x.shape[1]
        local = torch.cat([x.sum(0), (x * x).sum(0), x.new_tensor([x.shape[0]])])
        total = _AllReduceSum.apply(local)
        n = total[-1]
        mean = total[:features] / n
        var = total[features : 2 * features] / n - mean * mean
        with torch.no_grad():
            m = self.momentum if self.momentum is not None else 0.1
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp(min=1))
            self.num_batches_tracked.add_(1)
        y = (x - mean) * torch.rsqrt(var + self.eps)
        return y * self.weight + self.bias


def wrap_model(model: nn.Module, ctx: Context) -> nn.Module:
    """DistributedDataParallel with global batch norm; the model itself when alone.

    Batch-norm modules are converted in place, so ``model.state_dict()`` keeps
    its names.
    """
    if ctx.world_size == 1:
        return model
    if ctx.device.type == "cuda":
        # recursive and in place (the model is not itself a batch norm): nested models such as
        # a joint model's branches get synchronised batch norms too
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[ctx.device])
    for module in model.modules():
        if type(module) is nn.BatchNorm1d:
            module.__class__ = GlobalBatchNorm1d
    return nn.parallel.DistributedDataParallel(model)


def broadcast_module(model: nn.Module, ctx: Context) -> None:
    """Give every process rank 0's parameters and buffers (the model may still be on the CPU)."""
    if ctx.world_size == 1:
        return
    for t in list(model.parameters()) + list(model.buffers()):
        broadcast_tensor(t.data, ctx)


def broadcast_tensor(t: torch.Tensor, ctx: Context) -> None:
    """In-place broadcast from rank 0; CPU tensors travel through the GPU under NCCL."""
    if ctx.world_size == 1:
        return
    if ctx.device.type == "cuda" and t.device.type != "cuda":
        on_device = t.to(ctx.device)
        dist.broadcast(on_device, src=0)
        t.copy_(on_device.cpu())
    else:
        dist.broadcast(t, src=0)


def sum_over_processes(t: torch.Tensor, ctx: Context) -> None:
    """In-place sum of a CPU tensor over all processes."""
    if ctx.world_size > 1:
        if ctx.device.type == "cuda":
            dev = t.to(ctx.device)
            dist.all_reduce(dev)
            t.copy_(dev.cpu())
        else:
            dist.all_reduce(t)


def mean_over_processes(value: torch.Tensor, ctx: Context) -> float:
    """Mean of a scalar over all processes, as a float."""
    if ctx.world_size == 1:
        return float(value)
    v = value.detach().float().reshape(1).clone()
    dist.all_reduce(v)
    return float(v) / ctx.world_size


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX), as oneDNN reports it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype(enabled: bool, device: torch.device) -> Optional[torch.dtype]:
    """Autocast dtype for ``--amp``: bf16 where the GPU or CPU supports it, fp16 on other GPUs, else None."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16() else None


def make_grad_scaler(enabled: bool, device: torch.device):
    """A gradient scaler for fp16 autocast, None otherwise."""
    if amp_dtype(enabled, device) is torch.float16:
        return torch.amp.GradScaler("cuda")
    return None
