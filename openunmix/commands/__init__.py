"""The command layer: every program of the toolkit, one module each.

Each module parses its arguments, calls the library, and turns the
library's errors into one ``error:`` line and an exit status. Nothing in
the library imports this package.

    separate -- ``test.py`` and the installed ``umx``: separate audio files
    train    -- ``train.py``: train a model
    evaluate -- ``eval.py``: separate and score MUSDB18 with museval
    export   -- ``python -m openunmix.export``: ONNX graphs and a TorchScript separator
    stream   -- ``python -m openunmix.stream``: separate a raw PCM pipe block by block
    demo     -- ``python -m openunmix.demo``: the synthetic dataset of ``make demo``
    common   -- the arguments and error handling the programs share
    argtypes -- checked argument types and a parser whose errors are one line
    runtime  -- process settings applied before torch is imported

This ``__init__`` imports nothing, so that :mod:`.runtime` can run before torch loads.
"""
