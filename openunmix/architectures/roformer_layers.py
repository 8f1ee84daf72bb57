"""The layers of the band-split RoFormers (:mod:`.roformer`): norms, attention with rotary positions, the
band split and the per-band mask estimators.

The parameter names follow the checkpoints that the community trains with
Music-Source-Separation-Training ("MSST") and the authors' reference package,
so that their state dicts load by name (:mod:`openunmix.convert` maps the few
that differ). Written from the papers (Lu et al. 2023, arXiv 2309.02612;
Wang et al. 2023, arXiv 2310.01809) and the published parameter layout.

Shapes: token sequences ``(batch, tokens, dim)``; the model's grid of
features ``(batch, frames, bands, dim)``.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ROPE_THETA = 10000.0  # the base of the rotary frequencies (RoFormer, Su et al. 2021)


class RMSNorm(nn.Module):
    """``x / ||x|| * sqrt(dim) * gamma`` over the last dimension (``(..., dim)`` -> same)."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


def rotary_frequencies(dim_head: int, theta: float = ROPE_THETA) -> torch.Tensor:
    """The rotation speeds of the ``dim_head // 2`` pairs of a head's features ``(dim_head // 2,)``."""
    return 1.0 / theta ** (torch.arange(0, dim_head, 2, dtype=torch.float32) / dim_head)


def rotate(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of queries or keys ``(batch, heads, tokens, dim_head)``, same shape.

    Position ``p``'s features are taken in adjacent pairs ``(x[2i], x[2i+1])``
    and rotated by the angle ``p * theta^(-2i / dim_head)``.
    """
    batch, heads, tokens, dim_head = x.shape
    speeds = rotary_frequencies(dim_head).to(x.device)
    angles = torch.arange(tokens, device=x.device, dtype=torch.float32)[:, None] * speeds  # (tokens, dim_head/2)
    angles = torch.stack((angles, angles), dim=2).reshape(tokens, dim_head).to(x.dtype)  # each speed twice
    # explicit shapes (ONNX's exporter misplaces unflatten/flatten of the last axis)
    pairs = x.reshape(batch, heads, tokens, dim_head // 2, 2)
    turned = torch.stack((-pairs[:, :, :, :, 1], pairs[:, :, :, :, 0]), dim=4).reshape(batch, heads, tokens, dim_head)
    return x * angles.cos() + turned * angles.sin()


class FeedForward(nn.Module):
    """Pre-norm MLP with GELU: ``(..., dim)`` -> ``(..., dim)``."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(RMSNorm(dim), nn.Linear(dim, inner), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention with rotary positions and a sigmoid gate per head and token.

    ``(batch, tokens, dim)`` -> ``(batch, tokens, dim)``. The attention is
    ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel where
    the device has one).

    Args:
        gated: a learned sigmoid gate per head scales each token's output
            (``to_gates``; the checkpoints of MSST have it, early ones not).
    """

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0, gated: bool = True):
        super().__init__()
        self.heads, self.dim_head, self.dropout = heads, dim_head, dropout
        inner = heads * dim_head
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_gates = nn.Linear(dim, heads) if gated else None
        self.to_out = nn.Sequential(nn.Linear(inner, dim, bias=False), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        batch, tokens, _ = x.shape
        qkv = self.to_qkv(x).view(batch, tokens, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        out = F.scaled_dot_product_attention(rotate(q), rotate(k), v,
                                             dropout_p=self.dropout if self.training else 0.0)
        if self.to_gates is not None:  # (batch, tokens, heads) -> (batch, heads, tokens, 1)
            out = out * self.to_gates(x).transpose(1, 2).unsqueeze(-1).sigmoid()
        return self.to_out(out.transpose(1, 2).reshape(batch, tokens, self.heads * self.dim_head))


class Transformer(nn.Module):
    """``depth`` residual blocks of attention and feed-forward, an optional final norm.

    ``(batch, tokens, dim)`` -> ``(batch, tokens, dim)``.
    """

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, attn_dropout: float, ff_dropout: float,
                 norm_output: bool, gated: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, heads, dim_head, attn_dropout, gated), FeedForward(dim, 4, ff_dropout)])
            for _ in range(depth))
        self.norm = RMSNorm(dim) if norm_output else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:  # [attention, feed-forward] (indexed: TorchScript unpacks no module pairs)
            x = layer[0](x) + x
            x = layer[1](x) + x
        return self.norm(x)


class BandSplit(nn.Module):
    """Each band's features (RMS-normed) projected to ``dim``: ``(batch, frames, sum(widths))`` ->
    ``(batch, frames, bands, dim)``.

    Args:
        widths: the number of input features of each band, in order.
    """

    def __init__(self, dim: int, widths: Sequence[int]):
        super().__init__()
        self.widths = [int(w) for w in widths]
        self.to_features = nn.ModuleList(nn.Sequential(RMSNorm(w), nn.Linear(w, dim)) for w in self.widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = x.split(self.widths, dim=-1)
        return torch.stack([net(parts[i]) for i, net in enumerate(self.to_features)], dim=-2)


def _mlp(dim_in: int, dim_out: int, hidden: int, depth: int) -> nn.Sequential:
    """``depth`` linear layers with tanh between them."""
    sizes = [dim_in] + [hidden] * (depth - 1) + [dim_out]
    layers: List[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < depth - 1:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MaskEstimator(nn.Module):
    """One target's mask: per band an MLP and a GLU from ``dim`` back to the band's features.

    ``(batch, frames, bands, dim)`` -> ``(batch, frames, sum(widths))`` (4-D input only).
    """

    def __init__(self, dim: int, widths: Sequence[int], depth: int, expansion: int = 4):
        super().__init__()
        self.widths = [int(w) for w in widths]
        self.to_freqs = nn.ModuleList(
            nn.Sequential(_mlp(dim, 2 * w, dim * expansion, depth), nn.GLU(dim=-1)) for w in self.widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # bands by index and a positive axis: ONNX's shape inference misreads unbind + cat(dim=-1)
        return torch.cat([net(x[:, :, i]) for i, net in enumerate(self.to_freqs)], dim=2)


__all__ = ["RMSNorm", "rotate", "rotary_frequencies", "FeedForward", "Attention", "Transformer", "BandSplit",
           "MaskEstimator", "ROPE_THETA"]
