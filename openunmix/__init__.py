"""Open-Unmix: music source separation in PyTorch.

    import openunmix
    separator = openunmix.pretrained("umxhq")   # downloaded on first use, then cached

Modules:
    audio       -- reading, resampling and writing audio files
    transforms  -- STFT, ISTFT, overlap-add and the magnitude front end
    model       -- the OpenUnmix target model and the Separator
    filtering   -- ratio masks, residual model and the multichannel EM Wiener filter
    modelfolder -- loading and saving model folders (<target>.pth + <target>.json)
    catalog     -- the model table: published models by name (models.json) and users' tables
    download    -- verified, cached downloads of model files
    hub         -- models by name or folder: pretrained(), load_separator()
    separate    -- separation of files and tensors of any length in bounded memory
    stream      -- StreamingSeparator: block-by-block separation with causal models, fixed latency
    stream_pipe -- `python -m openunmix.stream`: raw PCM from stdin to stdout or growing wav files
    online_filter -- causal residual gain and Wiener filter with recursive statistics (for streams)
    export      -- `python -m openunmix.export`: ONNX target models, TorchScript separator
    scripted    -- the separator in the form TorchScript compiles (for export)
    data        -- torch Dataset classes for training
    training    -- statistics pass, epochs, early stopping, checkpoints
    architectures -- the model types the training loop takes as parts (umx, xumx)
    xumx        -- CrossNetOpenUnmix (X-UMX): four Open-Unmix branches joined by averaging bridges
    losses      -- magnitude MSE, weighted SDR, X-UMX multi-domain and combination losses
    distributed -- torchrun process groups, global batch norm, mixed precision
    evaluate    -- museval scoring and SiSEC-style aggregation
    demo        -- the synthetic MUSDB-layout dataset of `make demo`
    cli         -- what the command-line scripts share
    runtime     -- process settings the scripts apply before importing torch
    utils       -- atomic writes, safe torch loading, bandwidth to bins
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # lazy, so that `import openunmix.runtime` (run before torch is imported) stays light
    if name == "pretrained":
        from .hub import pretrained

        return pretrained
    raise AttributeError(f"module 'openunmix' has no attribute {name!r}")
