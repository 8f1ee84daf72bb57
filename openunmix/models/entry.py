"""The entries of a model table: a named model's settings and where its files are published.

Plain data, read by :mod:`.table`; the hub hands an entry's settings to its
architecture (:meth:`openunmix.architectures.Architecture.load_published`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

from ..architectures.registry import DEFAULT as DEFAULT_ARCHITECTURE  # of entries that name none


@dataclass(frozen=True)
class TargetFile:
    """Where one target's weights are published and the digest they must have."""

    url: str
    sha256: str  # lower-case hex, full digest or a prefix of at least 8 digits

    @property
    def filename(self) -> str:
        """The file name in the cache: the last part of the URL (torch.hub's convention)."""
        return Path(urlparse(self.url).path).name


@dataclass(frozen=True)
class ModelEntry:
    """One named model of a table: what every model has, its architecture's settings, one file per target."""

    name: str
    description: str
    license: str
    sample_rate: float
    nb_channels: int
    targets: Mapping[str, TargetFile]
    source: str  # the table file it comes from
    architecture: str = DEFAULT_ARCHITECTURE
    options: Mapping[str, Any] = field(default_factory=dict)  # the architecture's settings

    @property
    def n_fft(self) -> Optional[int]:
        """The FFT size of the models' STFT (``None`` for models of waveforms)."""
        return self.options.get("nfft")

    @property
    def n_hop(self) -> Optional[int]:
        """The hop of the models' STFT (``None`` for models of waveforms)."""
        return self.options.get("nhop")

    @property
    def restricted(self) -> bool:
        """True when the licence limits use (e.g. non-commercial): users must be told."""
        return "NC" in self.license.upper().replace("-", " ").split() or "non-commercial" in self.license.lower()
