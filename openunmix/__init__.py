"""Open-Unmix: music source separation in PyTorch.

    import openunmix
    separator = openunmix.pretrained("umxhq")   # downloaded on first use, then cached

The public API, importable from here: ``pretrained``, ``load_separator``,
``Separator``, ``FilterSettings``, ``separate`` (and upstream's paths
``openunmix.model.OpenUnmix`` / ``openunmix.model.Separator``).

Subpackages, by job:
    architectures -- the registry of model types and one module per architecture (umx, xumx; plug-ins via
                     OPENUNMIX_ARCHITECTURES): the model, its settings, folder format, training part, capabilities
    models        -- models by name or folder: the hub (pretrained, load_separator), the model table
                     (models.json and users' tables), downloads, model folders
    separation    -- the Separator; files and tensors of any length; catalogues on many processes (shares,
                     resume, the manifest); reading ahead and writing behind; work side by side
    training      -- the training loop of any architecture, its callbacks, recipes and schedules
    data          -- training datasets, one module per layout, and their registry
    evaluation    -- MUSDB18 evaluation: separation, museval scoring, SiSEC aggregation, reports
    compare       -- methods compared from their scores, statistics, the listening page
    export        -- ONNX target models, the TorchScript separator, export.json
    stream        -- block-by-block separation with causal models at a fixed latency
    demo          -- the synthetic MUSDB-layout datasets of `make demo` and the benchmarks
    commands      -- the programs (train.py, test.py / umx, eval.py, python -m openunmix.X)

Core modules (imported by everything above, importing nothing of it):
    transforms  -- STFT, ISTFT, overlap-add and the magnitude front end
    filtering   -- FilterSettings; ratio masks, residual model and the multichannel EM Wiener filter
    losses      -- loss pieces any architecture may use
    audio       -- reading, resampling and writing audio files
    utils       -- atomic writes, safe torch loading, small helpers
    distributed -- torchrun process groups, barriers, global batch norm, mixed precision
    precision   -- bfloat16 / int8 target models for separation
"""

__version__ = "0.1.0"

_LAZY = {
    "pretrained": ("openunmix.models.hub", "pretrained"),
    "load_separator": ("openunmix.models.hub", "load_separator"),
    "Separator": ("openunmix.separation.separator", "Separator"),
    "FilterSettings": ("openunmix.filtering", "FilterSettings"),
    "separate": ("openunmix.separation.separate", "separate"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    # lazy, so that `import openunmix.commands.runtime` (run before torch is imported) stays light
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'openunmix' has no attribute {name!r}")
