"""CrossNet-Open-Unmix (X-UMX, Sawata et al., ICASSP 2021): four Open-Unmix branches joined by two bridges.

Every branch is an :class:`~openunmix.model.OpenUnmix` (its own input and
output scaling, fc1/BN/tanh encoder, LSTM, fc2/fc3 decoder and mask). The
bridges add no weights:

* bridge 1: the branches' encoder outputs are averaged, and the average is
  the input of every branch's LSTM;
* bridge 2: the branches' ``[encoder output ‖ LSTM output]`` concatenations
  are averaged, and the average is the input of every branch's decoder.

Parameter names show the branch: ``branches.<target>.<OpenUnmix name>``
(e.g. ``branches.vocals.fc1.weight``), so ``branches.vocals`` holds exactly
the parameters of an upstream-style vocals model.

Shapes follow :mod:`openunmix.model`: magnitude ``(batch, channels, bins, frames)``;
the joint output is ``(batch, channels, bins, frames, targets)``.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .model import OpenUnmix

XUMX_TARGETS = ("vocals", "drums", "bass", "other")


class CrossNetOpenUnmix(nn.Module):
    """Joint model of several targets with averaged encoder and skip features.

    Args:
        branch_names: the targets, one branch each, in output order
            (default: vocals, drums, bass, other).
        nb_bins, nb_channels, hidden_size, nb_layers, unidirectional,
        input_mean, input_scale, max_bin: as :class:`~openunmix.model.OpenUnmix`,
            the same for every branch.

    Attributes:
        targets: the targets :meth:`forward` returns, in order; all branches
            unless narrowed by :meth:`select_targets` (every branch still runs:
            the bridges need them all).
    """

    def __init__(
        self,
        branch_names: Sequence[str] = XUMX_TARGETS,
        nb_bins: int = 4096 // 2 + 1,
        nb_channels: int = 2,
        hidden_size: int = 512,
        nb_layers: int = 3,
        unidirectional: bool = False,
        input_mean: Optional[np.ndarray] = None,
        input_scale: Optional[np.ndarray] = None,
        max_bin: Optional[int] = None,
    ):
        super().__init__()
        names = list(branch_names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"X-UMX needs at least two distinct branches, got {names}")
        self.branches = nn.ModuleDict({
            name: OpenUnmix(nb_bins=nb_bins, nb_channels=nb_channels, hidden_size=hidden_size,
                            nb_layers=nb_layers, unidirectional=unidirectional, input_mean=input_mean,
                            input_scale=input_scale, max_bin=max_bin)
            for name in names
        })
        first = self.branches[names[0]]
        self.nb_output_bins = first.nb_output_bins
        self.nb_bins = first.nb_bins
        self.nb_channels = nb_channels
        self.hidden_size = hidden_size
        self.nb_layers = nb_layers
        self.unidirectional = unidirectional
        self.targets: List[str] = list(names)
        self.all_outputs = True
        # not in the state dict: which branch outputs forward returns
        self.register_buffer("output_index", torch.arange(len(names)), persistent=False)

    @property
    def branch_names(self) -> List[str]:
        """Every branch, in construction order."""
        return list(self.branches.keys())

    def select_targets(self, targets: Sequence[str]) -> "CrossNetOpenUnmix":
        """Return only ``targets`` (a subset of the branches, in this order) from :meth:`forward`."""
        names = self.branch_names
        unknown = [t for t in targets if t not in names]
        if unknown or not targets:
            raise ValueError(f"unknown X-UMX target(s) {unknown or list(targets)}; the branches are {names}")
        self.targets = list(targets)
        self.all_outputs = self.targets == names
        index = torch.tensor([names.index(t) for t in targets], device=self.output_index.device)
        self.output_index = index
        return self

    def freeze(self) -> "CrossNetOpenUnmix":
        """Inference only: no gradients, eval mode."""
        for p in self.parameters():
            p.requires_grad = False
        return self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Estimate every target magnitude at once.

        Args:
            x: mixture magnitude ``(batch, channels, bins, frames)``.

        Returns:
            target magnitudes ``(batch, channels, bins, frames, targets)``,
            targets as in :attr:`targets`.
        """
        # loops over the ModuleDict (not a Python list of branches) keep the model scriptable
        encoded: List[torch.Tensor] = []
        for branch in self.branches.values():
            encoded.append(branch.encode(x))  # (frames, batch, hidden)
        shared = torch.stack(encoded).mean(0)  # bridge 1
        skips: List[torch.Tensor] = []
        i = 0
        for branch in self.branches.values():
            skips.append(torch.cat([encoded[i], branch.lstm(shared)[0]], dim=-1))
            i += 1
        skip = torch.stack(skips).mean(0)  # bridge 2: (frames, batch, 2 * hidden)
        masks: List[torch.Tensor] = []
        for branch in self.branches.values():
            masks.append(branch.decode(skip, x))
        out = torch.stack(masks, dim=-1)
        if self.all_outputs:
            return out
        return out.index_select(-1, self.output_index)
