"""Block-by-block separation with causal (unidirectional) models and a fixed delay.

:class:`StreamingSeparator` wraps a :class:`~openunmix.separation.separator.Separator` whose
target models are unidirectional. Each :meth:`~StreamingSeparator.process`
call takes any number of new samples and returns exactly as many separated
samples; :meth:`~StreamingSeparator.flush` returns the last
:attr:`~StreamingSeparator.latency` samples at the end of the stream.

Alignment. The offline separator's STFT is centred: frame ``t`` covers
input samples ``[t*hop - P, t*hop - P + n_fft)`` with ``P = n_fft // 2``
(the signal reflect-padded by ``P`` at both ends), and its output sample
``n`` is the overlap-add of every frame covering ``n``. The last frame
covering ``n`` starts at ``n`` at the latest, so output sample ``n`` is
complete once input sample ``n + n_fft - 1`` has arrived:

    stream output sample ``k`` == offline output sample ``k - latency``,
    ``latency = n_fft - 1`` (zeros for ``k < latency``),

for every grouping of the input into blocks. With the ratio mask (``niter
0``, no residual source) the concatenated stream output therefore equals
``Separator`` on the whole signal, delayed by ``latency``, to float
rounding; the start (reflect padding uses ``x[1..P]``, available before
sample 0 is due) and the end (:meth:`flush` knows the length) are exact too.
A residual source's gain and the EM Wiener filter use statistics over past
frames instead of offline windows (:mod:`.online_filter`).

State carried from block to block: the unconsumed input (less than one
window), each model's LSTM ``(h, c)``, the overlap-add tail (one window)
and the filter statistics, so time and memory per block do not grow with
the stream.

Shapes: blocks are ``(channels, samples)``, outputs ``(sources, channels,
samples)``, sources as in ``Separator.source_names``.

The program for pipes, ``python -m openunmix.stream``, is
:mod:`openunmix.commands.stream` (its library part: :mod:`.pipe`).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .. import architectures
from ..separation.separator import Separator
from ..transforms import STFT
from .lstm import run_lstm
from .online_filter import OnlineFilter, forgetting_factor

DEFAULT_MEMORY = 5.0  # seconds: time constant of the online filter statistics


class StreamingSeparator:
    """Causal block-by-block separation with a fixed delay of :attr:`latency` samples.

    Args:
        separator: a :class:`Separator` over unidirectional target models; its
            filter settings (:attr:`Separator.filter`: ``niter``, ``softmask``,
            ``alpha``, ``logit``, ``residual``) are used, ``niter > 0`` as the
            online Wiener filter (``wiener_win_len`` and ``bin_chunk`` do not apply).
        memory: time constant in seconds of the statistics over past frames
            (residual gain, online Wiener filter); unused by the plain ratio mask.

    Raises:
        ValueError: a bidirectional target model (it needs the future).
    """

    def __init__(self, separator: Separator, memory: float = DEFAULT_MEMORY):
        for name, model in separator.target_models.items():
            caps = architectures.capabilities(model)
            if not caps.causal:
                note = caps.causal_note or f"a {architectures.describe(model)} that reads later frames"
                raise ValueError(f"streaming needs causal models, but '{name}' is {note}")
            if not caps.streamable:
                raise ValueError(f"streaming takes models that run block by block; '{name}' is a "
                                 f"{architectures.describe(model)}")
        self.separator = separator
        self.n_fft = separator.n_fft
        self.n_hop = separator.n_hop
        self.channels = separator.nb_channels
        self.sources = len(separator.source_names)
        self.memory = memory
        window = separator.stft.window
        self._stft = STFT(self.n_fft, self.n_hop, center=False).to(window.device)
        self._window = window
        self._pad = self.n_fft // 2
        # a full-scale sinusoid peaks at sum(window) / 2 in the STFT; the offline filter maps its peak to 10
        self._filter = OnlineFilter(
            separator.filter, forget=forgetting_factor(memory, self.n_hop, separator.sample_rate),
            scale=max(1.0, float(window.sum()) / 20.0),
        )
        self.reset()

    @property
    def latency(self) -> int:
        """Delay in samples between an input sample and its separated output (``n_fft - 1``)."""
        return self.n_fft - 1

    @property
    def source_names(self) -> List[str]:
        """Names of the output sources, in output order."""
        return self.separator.source_names

    @property
    def sample_rate(self) -> float:
        return self.separator.sample_rate

    @property
    def held_samples(self) -> int:
        """Samples carried to the next block (input not yet framed plus the overlap-add tail).

        Bounded by about two windows plus one block, however long the stream runs.
        """
        return int(self._input.shape[-1] + self._ola.shape[-1])

    def reset(self) -> None:
        """Start a new stream: drop all carried state."""
        device, dtype = self._window.device, self._window.dtype
        self._received = 0  # input samples so far
        self._emitted = 0  # output samples so far
        self._padded = False  # reflect padding of the start applied
        # input in padded coordinates (padded index = input index + P) from _in_start on
        self._input = torch.zeros((self.channels, 0), dtype=dtype, device=device)
        self._in_start = 0
        self._next_frame = 0
        self._lstm: Dict[str, Optional[Tuple[torch.Tensor, torch.Tensor]]] = {
            name: None for name in self.separator.target_models
        }
        # overlap-add of signal and squared window, in input coordinates from _ola_start on
        self._ola = torch.zeros((self.sources, self.channels, 0), dtype=dtype, device=device)
        self._env = torch.zeros((0,), dtype=dtype, device=device)
        self._ola_start = -self._pad
        self._filter.reset()

    @torch.no_grad()
    def process(self, block: torch.Tensor) -> torch.Tensor:
        """Separate the next samples.

        Args:
            block: ``(channels, n)``, any ``n >= 0``, at :attr:`sample_rate`.

        Returns:
            ``(sources, channels, n)``: output samples ``k`` of this call are
            the offline separation's samples ``k - latency`` (zeros before the
            signal starts).
        """
        block = self._check(block)
        self._input = torch.cat([self._input, block], dim=-1)
        self._received += block.shape[-1]
        if not self._padded and self._received > self._pad:
            # torch.stft(center=True) reflects x[1..P] before the start
            head = self._input[:, 1 : self._pad + 1].flip(-1)
            self._input = torch.cat([head, self._input], dim=-1)
            self._padded = True
        if self._padded:
            # frame t ends at padded index t*hop + n_fft, i.e. input index t*hop + n_fft - P
            self._run_frames((self._received + self._pad - self.n_fft) // self.n_hop + 1)
            self._trim_input()
        return self._emit(self._received)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """End the stream: the last ``latency`` output samples ``(sources, channels, latency)``.

        Afterwards the separator is reset and can take a new stream.
        """
        if self._received == 0:
            return torch.zeros((self.sources, self.channels, 0), dtype=self._window.dtype, device=self._window.device)
        if self._padded:
            # reflect the end as torch.stft does: x[c-2], x[c-3], ..., x[c-1-P]
            end = self._received + self._pad - self._in_start  # buffer index just past x[c-1]
            tail = self._input[:, end - 1 - self._pad : end - 1].flip(-1)
        else:
            # a signal of at most P samples: torch.stft pads with zeros instead
            self._input = torch.nn.functional.pad(self._input, (self._pad, 0))
            tail = torch.zeros((self.channels, self._pad), dtype=self._input.dtype, device=self._input.device)
        self._input = torch.cat([self._input, tail], dim=-1)
        self._run_frames(self._received // self.n_hop + 1)
        out = self._emit(self._received + self.latency)
        self.reset()
        return out

    def _check(self, block: torch.Tensor) -> torch.Tensor:
        if not isinstance(block, torch.Tensor) or block.dim() != 2 or block.shape[0] != self.channels:
            shape = tuple(block.shape) if isinstance(block, torch.Tensor) else type(block).__name__
            raise ValueError(f"a block must be (channels={self.channels}, samples), got {shape}")
        return block.to(device=self._window.device, dtype=self._window.dtype)

    def _run_frames(self, stop: int) -> None:
        """Compute frames ``_next_frame .. stop - 1`` and overlap-add them."""
        start = self._next_frame
        if stop <= start:
            return
        first = start * self.n_hop - self._in_start
        last = (stop - 1) * self.n_hop + self.n_fft - self._in_start
        X = self._stft(self._input[None, :, first:last])  # (1, channels, bins, frames)
        V = self._magnitudes(X)  # (1, channels, bins, frames, targets)
        y = self._filter(V[0].permute(2, 1, 0, 3), X[0].permute(2, 1, 0))  # (frames, bins, channels, sources)
        frames = torch.fft.irfft(y.permute(3, 2, 1, 0), n=self.n_fft, dim=-2)  # (sources, channels, n_fft, frames)
        frames = frames * self._window[:, None]
        self._overlap_add(frames, start)
        self._next_frame = stop

    def _magnitudes(self, X: torch.Tensor) -> torch.Tensor:
        """Every target model on new frames, LSTM state carried.

        Args:
            X: complex ``(1, channels, bins, frames)``.

        Returns:
            ``(1, channels, bins, frames, targets)``.
        """
        mag = self.separator.complexnorm(X)
        out = []
        for name, model in self.separator.target_models.items():
            h = model.encode(mag)  # (frames, 1, hidden)
            lstm_out, self._lstm[name] = run_lstm(model.lstm, h, self._lstm[name])
            out.append(model.decode(torch.cat([h, lstm_out], dim=-1), mag))
        return torch.stack(out, dim=-1)

    def _overlap_add(self, frames: torch.Tensor, first_frame: int) -> None:
        """Add windowed frames ``(sources, channels, n_fft, n)`` from frame ``first_frame`` on."""
        n = frames.shape[-1]
        end = (first_frame + n - 1) * self.n_hop - self._pad + self.n_fft - self._ola_start
        grow = end - self._ola.shape[-1]
        if grow > 0:
            self._ola = torch.nn.functional.pad(self._ola, (0, grow))
            self._env = torch.nn.functional.pad(self._env, (0, grow))
        square = self._window**2
        for i in range(n):
            at = (first_frame + i) * self.n_hop - self._pad - self._ola_start
            self._ola[..., at : at + self.n_fft] += frames[..., i]
            self._env[at : at + self.n_fft] += square

    def _emit(self, upto: int) -> torch.Tensor:
        """Output samples ``_emitted .. upto - 1``, i.e. offline samples shifted by the latency."""
        count = upto - self._emitted
        lo = self._emitted - self.latency  # first offline sample index wanted
        zeros = min(count, max(0, -lo))
        a = max(lo, 0) - self._ola_start
        b = upto - self.latency - self._ola_start
        env = self._env[a:b]
        real = self._ola[..., a:b] / torch.where(env > 1e-11, env, torch.ones_like(env))
        # past the end of a short signal (flush): the buffer may end early
        real = torch.nn.functional.pad(real, (0, count - zeros - real.shape[-1]))
        out = torch.nn.functional.pad(real, (zeros, 0))
        self._emitted = upto
        if b > 0:  # emitted samples are final: drop them
            keep = min(b, self._ola.shape[-1])
            self._ola = self._ola[..., keep:]
            self._env = self._env[keep:]
            self._ola_start += keep
        return out

    def _trim_input(self) -> None:
        """Keep the input from the next frame's start (and the last P + 1 samples, for the end's reflection)."""
        keep_from = min(self._next_frame * self.n_hop, self._received + self._pad - (self._pad + 1))
        drop = keep_from - self._in_start
        if drop > 0:
            self._input = self._input[:, drop:]
            self._in_start = keep_from


def separate_stream(streamer: StreamingSeparator, blocks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stream ``blocks`` (each ``(channels, n)``) and flush: ``(sources, channels, total + latency)``."""
    out = [streamer.process(b) for b in blocks]
    out.append(streamer.flush())
    return torch.cat(out, dim=-1)
