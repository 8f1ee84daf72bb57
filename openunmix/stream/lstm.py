"""A unidirectional LSTM stepped a few frames at a time, its state carried (for streams)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

# below this many frames per call, the LSTM is stepped cell by cell
CELL_FRAMES = 8


def run_lstm(lstm: torch.nn.LSTM, x: torch.Tensor,
             state: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """A unidirectional ``nn.LSTM`` (inference) on a few more frames, state carried.

    On CPU, ``nn.LSTM`` sets up a oneDNN primitive on every call, which costs
    several times the arithmetic of one frame (about 50 ms against 9 ms for a
    512-unit 3-layer LSTM on one core); a stream calls it for one or two
    frames at a time. Short inputs therefore go through ``torch.lstm_cell``
    with the module's own weights, layer by layer (the same arithmetic, equal
    to float rounding); longer ones through the module.

    Args:
        x: ``(frames, batch, input)``.
        state: ``(h, c)``, each ``(layers, batch, hidden)``, or ``None`` (zeros).

    Returns:
        ``((frames, batch, hidden), (h, c))``.
    """
    if x.shape[0] >= CELL_FRAMES or x.device.type != "cpu":
        return lstm(x, state)
    if state is None:
        zeros = torch.zeros((lstm.num_layers, x.shape[1], lstm.hidden_size), dtype=x.dtype, device=x.device)
        state = (zeros, zeros)
    hs, cs = [], []
    for k in range(lstm.num_layers):
        weights = [getattr(lstm, f"{kind}_l{k}", None) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h, c = state[0][k], state[1][k]
        steps = []
        for t in range(x.shape[0]):
            h, c = torch.lstm_cell(x[t], (h, c), *weights)
            steps.append(h)
        x = torch.stack(steps)
        hs.append(h)
        cs.append(c)
    return x, (torch.stack(hs), torch.stack(cs))
