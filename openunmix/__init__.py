"""Open-Unmix: music source separation in PyTorch.

Modules:
    audio       -- reading, resampling and writing audio files
    transforms  -- STFT, ISTFT, overlap-add and the magnitude front end
    model       -- the OpenUnmix target model and the Separator
    filtering   -- ratio masks, residual model and the multichannel EM Wiener filter
    modelfolder -- loading and saving model folders (<target>.pth + <target>.json)
    separate    -- separation of files and tensors of any length in bounded memory
    data        -- torch Dataset classes for training
    training    -- statistics pass, epochs, early stopping, checkpoints
    distributed -- torchrun process groups, global batch norm, mixed precision
    evaluate    -- museval scoring and SiSEC-style aggregation
    demo        -- the synthetic MUSDB-layout dataset of `make demo`
    cli         -- what the command-line scripts share
    runtime     -- process settings the scripts apply before importing torch
    utils       -- atomic writes, safe torch loading, bandwidth to bins
"""

__version__ = "0.1.0"
