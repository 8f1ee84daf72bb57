"""Open-Unmix: music source separation in PyTorch.

    import openunmix
    separator = openunmix.pretrained("umxhq")   # downloaded on first use, then cached

Modules:
    audio       -- reading, resampling and writing audio files
    transforms  -- STFT, ISTFT, overlap-add and the magnitude front end
    model       -- the OpenUnmix target model and the Separator
    filtering   -- FilterSettings; ratio masks, residual model and the multichannel EM Wiener filter
    modelfolder -- model folders: json and state-dict reading, separator.json, which architecture loads which files
    catalog     -- the model table: published models by name (models.json) and users' tables
    download    -- verified, cached downloads of model files
    hub         -- models by name or folder: pretrained(), load_separator()
    separate    -- separation of files and tensors of any length in bounded memory
    catalogue   -- lists of files on many processes: shares, resume, the manifest's records
    sharding    -- Shard (K/N, SLURM arrays, torchrun ranks) and the length-balanced split
    manifest    -- OUTDIR/manifest.jsonl, appended to by many processes
    stream      -- (package) StreamingSeparator: block-by-block separation with causal models, fixed
                   latency; its online filter; the pipe behind `python -m openunmix.stream`
    export      -- (package) ONNX target models, TorchScript separator, export.json (`python -m openunmix.export`)
    data        -- torch Dataset classes for training
    training    -- (package) the training loop of any architecture: statistics pass, epochs, early
                   stopping, checkpoints, resume, torchrun
    architectures -- (package) the registry of model types and one module per architecture (umx, ...;
                   plug-ins via OPENUNMIX_ARCHITECTURES): building, folder format, training part, capabilities
    losses      -- loss pieces any architecture may use: magnitude MSE, weighted SDR
    distributed -- torchrun process groups, barriers, global batch norm, mixed precision
    evaluation  -- MUSDB18 evaluation: museval scoring, SiSEC-style aggregation, reports
    demo        -- the synthetic MUSDB-layout dataset of `make demo` (package)
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
