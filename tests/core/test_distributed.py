"""openunmix.distributed: setup() sets nothing process-wide (no current CUDA device, no cuDNN autotuning)."""

import pytest
import torch

from helpers.process_state import kept
from openunmix import distributed


def test_setup_names_the_gpu_and_sets_nothing_process_wide(monkeypatch):
    # two GPUs as far as setup can tell; any call that would set the current device is recorded
    set_device = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: set_device.append(device))
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    benchmark = torch.backends.cudnn.benchmark
    with kept():
        ctx = distributed.setup(use_cuda=True)
    assert ctx.device == torch.device("cuda", 1) and (ctx.rank, ctx.world_size) == (0, 1)
    assert set_device == [] and torch.backends.cudnn.benchmark == benchmark


def test_device_scope_changes_nothing_on_the_cpu():
    with kept():
        with distributed.device_scope(torch.device("cpu")):
            torch.ones(2).sum()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_device_scope_sets_the_gpu_and_autotuning_for_the_block_only():
    with kept():
        with distributed.device_scope(torch.device("cuda", torch.cuda.device_count() - 1)):
            assert torch.cuda.current_device() == torch.cuda.device_count() - 1
            assert torch.backends.cudnn.benchmark
