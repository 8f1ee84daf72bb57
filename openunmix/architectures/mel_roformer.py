"""Mel-RoFormer (Wang et al. 2023, arXiv 2310.01809): a band-split RoFormer of overlapping mel bands.

The model and its folder format are :mod:`.roformer` and :mod:`.roformer_arch`;
this module gives the bands: ``num_bands`` (``--num-bands``, default 60)
triangles of a mel filter bank from 0 Hz to the Nyquist frequency at the
model's sample rate (:func:`~.roformer.mel_bands`); a bin that two bands hold
gets the average of their masks.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

from .base import ArchitectureError, TrainingOption
from .registry import register
from .roformer import RoFormerSettings, mel_bands
from .roformer_arch import COMMON_OPTIONS, RoFormerArchitecture
from ..utils import ModelError, PathLike, setting_number

NAME = "mel_roformer"


class MelRoFormer(RoFormerArchitecture):
    name = NAME
    title = "Mel-RoFormer"
    description = "mel-band RoFormer (Wang et al. 2023), one joint model of its targets"
    file_stem = NAME
    layout = "mel"
    options_title = "Mel-RoFormer options"
    options = COMMON_OPTIONS + (
        TrainingOption("num_bands", int, 60, low=2, high=1024, help="mel bands (default: 60)"),
    )

    def bands(self, options: Mapping[str, Any], sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        try:
            return mel_bands(options["num_bands"], options["nfft"], sample_rate)
        except ValueError as err:
            raise ArchitectureError(f"argument --num-bands: {err}") from None

    def read_bands(self, where: PathLike, data: Mapping[str, Any], n_fft: int,
                   sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        num_bands = setting_number(where, data, "num_bands", int, 2, 1024)
        try:
            return mel_bands(num_bands, n_fft, sample_rate)
        except ValueError as err:
            raise ModelError(f"{where}: num_bands: {err}") from None

    def bands_json(self, settings: RoFormerSettings) -> Dict[str, Any]:
        return {"num_bands": len(settings.bands)}


register(MelRoFormer())
