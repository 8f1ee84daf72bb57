"""Upstream's import paths, kept: ``from openunmix.model import OpenUnmix, Separator``.

The classes live where their jobs are: :class:`OpenUnmix` in
:mod:`openunmix.architectures.umx` (the Open-Unmix architecture's module)
and :class:`Separator` in :mod:`openunmix.separation.separator`. Nothing in
the package imports this module.
"""

from .architectures.umx import OpenUnmix
from .separation.separator import Separator, residual_name
from .utils import frozen

__all__ = ["OpenUnmix", "Separator", "frozen", "residual_name"]
