"""BS-RoFormer (Lu et al. 2023, arXiv 2309.02612): a band-split RoFormer of contiguous bands.

The model and its folder format are :mod:`.roformer` and :mod:`.roformer_arch`;
this module gives the bands. Option ``freqs_per_bands`` (``--freqs-per-bands``):
the bins of each band, ``"24x2,12x4,8x12,8x24,8x48,128,129"`` style
(``COUNTxWIDTH`` or a width), adding up to ``nfft // 2 + 1``; empty (the
default): the published bands at a 2048-point STFT, their edges scaled to
other STFT sizes (:func:`~.roformer.default_widths`). Model folders hold
them as a list under ``freqs_per_bands``, as MSST's configurations do.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

from .base import ArchitectureError, TrainingOption
from .registry import register
from .roformer import RoFormerSettings, contiguous_bands, parse_widths
from .roformer_arch import COMMON_OPTIONS, RoFormerArchitecture
from ..utils import ModelError, PathLike

NAME = "bs_roformer"


class BSRoFormer(RoFormerArchitecture):
    name = NAME
    title = "BS-RoFormer"
    description = "band-split RoFormer (Lu et al. 2023), one joint model of its targets"
    file_stem = NAME
    layout = "bs"
    options_title = "BS-RoFormer options"
    options = COMMON_OPTIONS + (
        TrainingOption("freqs_per_bands", str, "",
                       help="bins per band, e.g. 24x2,12x4,...,128,129 (default: the published bands)"),
    )

    def bands(self, options: Mapping[str, Any], sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        try:
            return contiguous_bands(parse_widths(options["freqs_per_bands"], options["nfft"]))
        except ValueError as err:
            raise ArchitectureError(f"argument --freqs-per-bands: {err}") from None

    def read_bands(self, where: PathLike, data: Mapping[str, Any], n_fft: int,
                   sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        widths = data.get("freqs_per_bands")
        if not isinstance(widths, (list, tuple)) or len(widths) < 2 or not all(
                isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ModelError(f"{where}: setting 'freqs_per_bands' must be a list of two or more positive integers")
        if sum(widths) != n_fft // 2 + 1:
            raise ModelError(f"{where}: 'freqs_per_bands' holds {sum(widths)} bins, but its {n_fft}-point STFT has "
                             f"{n_fft // 2 + 1}")
        return contiguous_bands(widths)

    def bands_json(self, settings: RoFormerSettings) -> Dict[str, Any]:
        return {"freqs_per_bands": [len(b) for b in settings.bands]}


register(BSRoFormer())
