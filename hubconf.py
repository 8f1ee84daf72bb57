"""torch.hub entry points: ``torch.hub.load("REPO_OR_DIR", "umxhq")`` returns a ready Separator.

Each entry takes the keyword arguments of :func:`openunmix.models.hub.pretrained`
(``targets``, ``niter``, ``device``, ``residual``, ``models_file``,
``cache_dir``, ...) and ``pretrained=False`` for the same architecture with
untrained weights.
"""

dependencies = ["torch", "numpy", "soundfile", "soxr", "tqdm"]


def _entry(name: str, pretrained: bool = True, **kwargs):
    from openunmix.models.hub import pretrained as load, untrained

    return load(name, **kwargs) if pretrained else untrained(name, **kwargs)


def umx(pretrained: bool = True, **kwargs):
    """Open-Unmix trained on MUSDB18: vocals, drums, bass, other (44.1 kHz stereo)."""
    return _entry("umx", pretrained, **kwargs)


def umxhq(pretrained: bool = True, **kwargs):
    """Open-Unmix trained on MUSDB18-HQ: vocals, drums, bass, other (44.1 kHz stereo)."""
    return _entry("umxhq", pretrained, **kwargs)


def umxl(pretrained: bool = True, **kwargs):
    """Open-Unmix large (hidden 1024); weights licensed CC BY-NC-SA 4.0 (non-commercial use only)."""
    return _entry("umxl", pretrained, **kwargs)


def umxse(pretrained: bool = True, **kwargs):
    """Open-Unmix speech enhancement: speech, noise (16 kHz mono)."""
    return _entry("umxse", pretrained, **kwargs)
