"""MSST-style RoFormer checkpoints and configurations made by the tests from the reference package.

The reference is the authors' ``bs-roformer`` package, version 0.4.1 (the test
extra): the tests build its models with random weights, save the state dict as
MSST does, and write a YAML configuration in MSST's layout (``!!python/tuple``
for tuples, as MSST's files have them).

Its Mel-RoFormer keeps an empty slot for a linear transformer in each block,
so its transformers are ``layers.N.1`` and ``layers.N.2`` where MSST's are
``layers.N.0`` and ``layers.N.1``; the converter reads both layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

import torch

N_FFT, HOP = 512, 128  # small STFTs keep the tests fast
SMALL = dict(dim=32, depth=2, heads=2, dim_head=16, time_transformer_depth=1, freq_transformer_depth=1)


def reference_model(kind: str, stems: int = 1, seed: int = 0, **settings: Any) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """A reference model of ``kind`` (``bs_roformer`` or ``mel_band_roformer``) with random weights, in eval
    mode, and its MSST ``model`` section.

    Weights are drawn N(0, 0.2) (the reference's initialisation leaves the masks near zero, which would hide
    differences); the rotary frequencies are left as they are (they are not trained).
    """
    from bs_roformer.bs_roformer import BSRoformer
    from bs_roformer.mel_band_roformer import MelBandRoformer

    from openunmix.architectures.roformer import default_widths

    model_section: Dict[str, Any] = dict(SMALL, stereo=True, num_stems=stems, stft_n_fft=N_FFT,
                                         stft_hop_length=HOP, stft_win_length=N_FFT, stft_normalized=False,
                                         mask_estimator_depth=2 if kind == "bs_roformer" else 1,
                                         attn_dropout=0.0, ff_dropout=0.0, flash_attn=False)
    model_section.update(settings)
    kwargs = {k: v for k, v in model_section.items()}
    torch.manual_seed(seed)
    if kind == "bs_roformer":
        model_section.setdefault("freqs_per_bands", list(default_widths(model_section["stft_n_fft"])))
        kwargs["freqs_per_bands"] = tuple(model_section["freqs_per_bands"])
        ref = BSRoformer(**kwargs)
    else:
        model_section.setdefault("num_bands", 16)
        model_section.setdefault("sample_rate", 44100)
        kwargs.update(num_bands=model_section["num_bands"], sample_rate=model_section["sample_rate"],
                      linear_transformer_depth=0)
        ref = MelBandRoformer(**kwargs)
    with torch.no_grad():
        for p in ref.parameters():
            if p.requires_grad:
                p.normal_(0.0, 0.2)
    return ref.eval(), model_section


def _yaml_value(value: Any, indent: str) -> str:
    if isinstance(value, (list, tuple)):
        return " !!python/tuple\n" + "".join(f"{indent}  - {v}\n" for v in value)
    if isinstance(value, bool):
        return f" {str(value).lower()}\n"
    return f" {value}\n"


def write_msst(folder: Path, kind: str, model: torch.nn.Module, model_section: Dict[str, Any],
               instruments: Sequence[str] = ("vocals", "other"), target: str = "vocals", chunk_size: int = 44100,
               num_overlap: int = 2, extra: str = "") -> Tuple[Path, Path]:
    """``(config.yaml, model.ckpt)`` in ``folder``, as MSST writes them (``target=""``: no target instrument)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["audio:\n", f"  chunk_size: {chunk_size}\n", "  num_channels: 2\n", "  sample_rate: 44100\n",
             "model:\n"]
    lines += [f"  {k}:" + _yaml_value(v, "  ") for k, v in model_section.items()]
    lines += ["training:\n", "  instruments:\n"] + [f"  - {t}\n" for t in instruments]
    lines += [f"  target_instrument: {target or 'null'}\n", "  batch_size: 2\n",
              "inference:\n", "  batch_size: 1\n", f"  num_overlap: {num_overlap}\n", extra]
    config = folder / f"config_{kind}.yaml"
    config.write_text("".join(lines))
    ckpt = folder / f"model_{kind}.ckpt"
    torch.save(model.state_dict(), ckpt)
    return config, ckpt
