"""Open-Unmix: music source separation in PyTorch.

Modules:
    audio      -- reading, resampling and writing audio files
    transforms -- STFT, ISTFT and magnitude front end
    model      -- the OpenUnmix target model and the Separator
    filtering  -- ratio masks, residual model and the multichannel EM Wiener filter
    utils      -- model folders (loading, saving), atomic file writes
    data       -- torch Dataset classes for training
"""

__version__ = "0.1.0"
