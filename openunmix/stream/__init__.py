"""Block-by-block separation with causal (unidirectional) models and a fixed delay.

``python -m openunmix.stream`` is the program :mod:`openunmix.commands.stream`.

Modules, one job each:
    separator     -- StreamingSeparator: blocks in, as many separated samples out, fixed latency
    online_filter -- residual gain and Wiener filter with statistics over past frames
    lstm          -- a unidirectional LSTM stepped a few frames at a time, state carried
    pipe          -- raw PCM from a pipe to stdout or growing wav files (run_pipe)
"""

from .lstm import CELL_FRAMES, run_lstm
from .online_filter import OnlineFilter, forgetting_factor
from .pipe import PipeError, read_block, run_pipe
from .separator import DEFAULT_MEMORY, StreamingSeparator, separate_stream

__all__ = [
    "StreamingSeparator", "separate_stream", "DEFAULT_MEMORY", "OnlineFilter", "forgetting_factor", "run_lstm",
    "CELL_FRAMES", "PipeError", "read_block", "run_pipe",
]
