"""``export_model``: a model folder or named model to an export folder that appears complete or not at all.

Everything is written to a temporary folder beside the output (named by
:func:`~openunmix.utils.temporary_prefix`, so that the next export into the
same place removes what a killed one left) and renamed onto it at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from ..filtering import FilterSettings
from ..models.hub import load_separator
from .. import architectures
from ..utils import PathLike, remove_stale_temporaries, save_json, temporary_prefix
from .errors import ExportError
from .info import INFO_FILE, SEPARATOR_FILE, export_info
from .onnx_graph import export_onnx
from .scripted import export_separator


def export_model(
    model: str,
    output: PathLike,
    targets: Optional[Sequence[str]] = None,
    filter: FilterSettings = FilterSettings(),  # noqa: A002 (the settings' name across the package)
    fp16: bool = False,
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> List[str]:
    """Export a model folder or named model to ``output`` (see :mod:`openunmix.export`).

    ``output`` must be new, empty or a previous export (whose files are
    replaced as a whole); it appears complete or not at all.

    Args:
        targets: targets to export (default: all of the model's).
        filter: the settings of the TorchScript separator's Wiener filter.
        fp16: store the ONNX weights in half precision.

    Returns:
        the names of the files written.

    Raises:
        ModelError: the model cannot be loaded.
        ExportError: the model cannot be exported or ``output`` cannot be written.
    """
    output = Path(output)
    check_output(output)
    remove_stale_temporaries(output.parent)
    separator = load_separator(model, targets, filter, device="cpu", models_file=models_file, cache_dir=cache_dir,
                               progress=progress)
    settings = {"sample_rate": f"{separator.sample_rate:g}", "n_fft": str(separator.n_fft),
                "n_hop": str(separator.n_hop), "nb_channels": str(separator.nb_channels),
                "output": separator.output}
    bins = separator.n_fft // 2 + 1 if separator.n_fft else None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=temporary_prefix(output.name) + "export-"))
    except OSError as err:
        raise ExportError(f"{output}: cannot create the output folder ({err.strerror})") from None
    try:
        onnx_files = {}
        for target, target_model in separator.target_models.items():
            caps = architectures.capabilities(target_model)
            if not caps.exportable:
                why = "joint models of several targets cannot be exported yet" if caps.joint else "not exportable"
                raise ExportError(f"{model}: '{target}' is a {architectures.describe(target_model)} ({why})")
            onnx_files[target] = f"{target}.onnx"
            joint = list(getattr(target_model, "targets", [])) if caps.joint else []
            meta = {"target": target, **settings, **({"targets": ",".join(joint)} if joint else {})}
            export_onnx(target_model, tmp / onnx_files[target], separator.nb_channels, bins,
                        fp16=fp16, metadata=meta, output=caps.output, targets=len(joint))
        export_separator(separator, tmp / SEPARATOR_FILE)
        save_json(tmp / INFO_FILE, export_info(separator, str(model), fp16, onnx_files))
        os.chmod(tmp, 0o777 & ~_umask())
        written = sorted(p.name for p in tmp.iterdir())
        _publish(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def check_output(output: Path) -> None:
    """``output`` must be new, an empty folder or a previous export.

    Raises:
        ExportError: it is a file, or a folder that holds other files.
    """
    if output.exists() and not output.is_dir():
        raise ExportError(f"{output}: exists and is not a folder")
    if output.is_dir():
        foreign = [p.name for p in output.iterdir() if not _is_export_file(p)]
        if foreign:
            raise ExportError(f"{output}: folder holds other files than an export ({foreign[0]}, ...); "
                              "choose a new or empty folder")


def _is_export_file(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".onnx" or path.name in (SEPARATOR_FILE, INFO_FILE))


def _publish(tmp: Path, output: Path) -> None:
    """Rename the finished folder ``tmp`` onto ``output`` (a previous export is replaced)."""
    try:
        if output.is_dir() and any(output.iterdir()):
            check_output(output)  # still nothing but a previous export
            old = Path(tempfile.mkdtemp(dir=output.parent, prefix=temporary_prefix(output.name) + "old-"))
            os.replace(output, old)
            os.replace(tmp, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, output)  # also replaces an empty folder
    except OSError as err:
        raise ExportError(f"{output}: cannot write the output folder ({err.strerror})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
