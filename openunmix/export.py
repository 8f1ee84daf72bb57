"""Export for deployment: ONNX target models and a self-contained TorchScript separator.

``python -m openunmix.export MODEL --output DIR`` writes

- ``DIR/<target>.onnx``: one graph per target model, mixture magnitude
  ``(batch, channels, bins, frames)`` in, target magnitude of the same shape
  out, dynamic batch and frames (float32; ``--fp16`` stores the weights in
  half precision and casts them back to float32 inside the graph);
- ``DIR/separator.pt``: the whole separator (STFT, target models, Wiener
  filter with the chosen settings, inverse STFT) compiled by TorchScript
  (:mod:`openunmix.scripted`), waveform ``(batch, channels, samples)`` in,
  ``(batch, sources, channels, samples)`` out; ``torch.jit.load`` runs it
  without this package;
- ``DIR/export.json``: what a user of the graphs needs to feed them (sample
  rate, STFT, targets, filter settings, input/output names and shapes,
  versions).

The folder appears complete or not at all: everything is written to a
hidden folder beside ``DIR`` and renamed onto it at the end.

ONNX export uses torch's TorchScript-based exporter: the ``torch.export``
one fixes the number of frames of an LSTM to that of the example input,
while the TorchScript one maps ``nn.LSTM`` onto the ONNX ``LSTM`` operator
with a dynamic sequence length.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from .model import OpenUnmix, Separator
from .scripted import script_separator
from .utils import ModelError, PathLike, save_json

OPSET = 17
ONNX_INPUT = "mix_magnitude"
ONNX_OUTPUT = "target_magnitude"
SEPARATOR_FILE = "separator.pt"
INFO_FILE = "export.json"
PARITY_TOLERANCE = 1e-4  # relative error of the saved TorchScript separator against Separator


class ExportError(Exception):
    """A model that cannot be exported, or an output folder that cannot be written; one-line message."""


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package (pip install onnx)") from None
    return onnx


def export_onnx(model: OpenUnmix, path: PathLike, fp16: bool = False,
                metadata: Optional[Dict[str, str]] = None) -> None:
    """Write one target model as an ONNX graph.

    The graph maps ``mix_magnitude`` ``(batch, channels, bins, frames)`` to
    ``target_magnitude`` of the same shape (float32, dynamic batch and frames).

    Args:
        model: the target model (evaluation mode, on any device; exported on CPU).
        fp16: store the weights as float16 (inputs, outputs and arithmetic stay float32).
        metadata: strings stored as the graph's metadata properties.

    Raises:
        ExportError: the exporter failed (its first line says why).
    """
    onnx = _require_onnx()
    model = model.cpu().eval()
    example = torch.rand(2, model.nb_channels, model.nb_output_bins, 9)
    axes = {0: "batch", 3: "frames"}
    try:
        with warnings.catch_warnings():  # the legacy exporter's deprecation and LSTM batch notes
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                dynamic_axes={ONNX_INPUT: axes, ONNX_OUTPUT: axes}, opset_version=OPSET, dynamo=False,
                do_constant_folding=True,
            )
    except Exception as err:  # the exporter raises many kinds; the caller gets one line
        raise ExportError(f"ONNX export failed ({_first_line(err)})") from None
    graph = onnx.load(str(path))
    if fp16:
        weights_to_fp16(graph)
    for key, value in (metadata or {}).items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def weights_to_fp16(graph: Any) -> None:
    """Store an ONNX graph's float32 weights as float16, cast back to float32 by ``Cast`` nodes.

    Halves the file size; inputs, outputs and arithmetic stay float32.

    Raises:
        ExportError: a weight is too large for float16.
    """
    onnx = _require_onnx()
    from onnx import helper, numpy_helper

    casts = []
    for init in graph.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        if values.size and np.abs(values).max() > np.finfo(np.float16).max:
            raise ExportError(f"weight '{init.name}' exceeds the float16 range; export without --fp16")
        name = init.name
        init.CopyFrom(numpy_helper.from_array(values.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=onnx.TensorProto.FLOAT,
                                      name=f"{name}__cast"))
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)


def export_separator(separator: Separator, path: PathLike) -> None:
    """Write ``separator`` as TorchScript and check that the saved file reproduces it.

    Raises:
        ExportError: the separator does not compile, or the reloaded file
            differs from it by more than :data:`PARITY_TOLERANCE` (relative).
    """
    separator = separator.cpu().eval()
    try:
        scripted = script_separator(separator)
    except ValueError as err:
        raise ExportError(str(err)) from None
    except Exception as err:  # TorchScript compiler errors are long; keep their gist
        raise ExportError(f"TorchScript compilation failed ({_first_line(err)})") from None
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    # a few frames that are not a whole number of hops
    noise = torch.randn(1, separator.nb_channels, 3 * separator.n_fft + 17,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = separator(noise), loaded(noise)
    error = float((expected - got).abs().max() / expected.abs().max().clamp(min=1e-12))
    if error > PARITY_TOLERANCE:
        raise ExportError(f"the TorchScript separator differs from Separator (relative error {error:.2e})")


def export_info(separator: Separator, model: str, fp16: bool, onnx_files: Dict[str, str]) -> Dict[str, Any]:
    """The contents of ``export.json``: how to feed the exported graphs."""
    channels = separator.nb_channels
    bins = separator.n_fft // 2 + 1
    first = next(iter(separator.target_models.values()))
    versions = {"openunmix": _package_version(), "torch": torch.__version__,
                "python": platform.python_version(), "onnx_opset": OPSET}
    try:
        versions["onnx"] = _require_onnx().__version__
    except ExportError:
        pass
    return {
        "model": model,
        "sample_rate": separator.sample_rate,
        "nb_channels": channels,
        "stft": {
            "n_fft": separator.n_fft, "n_hop": separator.n_hop, "bins": bins,
            "window": "hann, periodic (torch.hann_window(n_fft))", "center": True,
            "pad_mode": "reflect (constant when the signal has at most n_fft // 2 samples)",
            "onesided": True, "normalized": False,
            "frames": "samples // n_hop + 1",
        },
        "magnitude": "abs of the complex STFT" + (", averaged over channels" if channels == 1 else ""),
        "max_bin": int(first.nb_bins),
        "targets": separator.targets,
        "sources": separator.source_names,
        "filter": {
            "niter": separator.niter, "softmask": separator.softmask, "alpha": separator.alpha,
            "logit": separator.logit, "residual": separator.residual,
            "wiener_win_len": separator.wiener_win_len,
        },
        "onnx": {
            "files": onnx_files,
            "weights": "float16, cast to float32 in the graph" if fp16 else "float32",
            "inputs": [{"name": ONNX_INPUT, "dtype": "float32", "shape": ["batch", channels, bins, "frames"],
                        "meaning": "mixture magnitude spectrogram"}],
            "outputs": [{"name": ONNX_OUTPUT, "dtype": "float32", "shape": ["batch", channels, bins, "frames"],
                         "meaning": "target magnitude spectrogram"}],
        },
        "torchscript": {
            "file": SEPARATOR_FILE,
            "inputs": [{"name": "audio", "dtype": "float32", "shape": ["batch", channels, "samples"],
                        "meaning": f"waveform at {separator.sample_rate:g} Hz"}],
            "outputs": [{"name": "estimates", "dtype": "float32",
                         "shape": ["batch", len(separator.source_names), channels, "samples"],
                         "meaning": "one waveform per source, in the order of 'sources'"}],
        },
        "versions": versions,
    }


def export_model(
    model: str,
    output: PathLike,
    targets: Optional[Sequence[str]] = None,
    niter: int = 0,
    softmask: bool = True,
    alpha: float = 1.0,
    logit: Optional[float] = None,
    residual: bool = False,
    wiener_win_len: Optional[int] = 300,
    fp16: bool = False,
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> List[str]:
    """Export a model folder or named model to ``output`` (see the module docstring).

    ``output`` must be new, empty or a previous export (whose files are
    replaced as a whole); it appears complete or not at all.

    Returns:
        the names of the files written.

    Raises:
        ModelError: the model cannot be loaded.
        ExportError: the model cannot be exported or ``output`` cannot be written.
    """
    from .hub import load_separator

    output = Path(output)
    _check_output(output)
    separator = load_separator(model, targets, niter=niter, softmask=softmask, alpha=alpha, logit=logit,
                               residual=residual, wiener_win_len=wiener_win_len, device="cpu",
                               models_file=models_file, cache_dir=cache_dir, progress=progress)
    settings = {"sample_rate": f"{separator.sample_rate:g}", "n_fft": str(separator.n_fft),
                "n_hop": str(separator.n_hop), "nb_channels": str(separator.nb_channels)}
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.export-"))
    except OSError as err:
        raise ExportError(f"{output}: cannot create the output folder ({err.strerror})") from None
    try:
        onnx_files = {}
        for target, target_model in separator.target_models.items():
            if not isinstance(target_model, OpenUnmix):
                raise ExportError(f"{model}: '{target}' is not an Open-Unmix target model "
                                  "(joint models such as X-UMX cannot be exported yet)")
            onnx_files[target] = f"{target}.onnx"
            export_onnx(target_model, tmp / onnx_files[target], fp16=fp16,
                        metadata={"target": target, **settings})
        export_separator(separator, tmp / SEPARATOR_FILE)
        save_json(tmp / INFO_FILE, export_info(separator, str(model), fp16, onnx_files))
        os.chmod(tmp, 0o777 & ~_umask())
        written = sorted(p.name for p in tmp.iterdir())
        _publish(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def _check_output(output: Path) -> None:
    """``output`` must be new, an empty folder or a previous export."""
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
            _check_output(output)  # still nothing but a previous export
            old = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.old-"))
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


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("openunmix")
    except Exception:  # not installed (run from a checkout)
        return "unknown"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m openunmix.export``; returns the exit status."""
    from .commands.argtypes import ArgumentParser, nonnegative_int, number, positive_float
    from .commands.common import add_model_arguments, error

    p = ArgumentParser(prog="python -m openunmix.export",
                       description="Export target models to ONNX and the separator to TorchScript.")
    add_model_arguments(p, optional=False)
    p.add_argument("--output", required=True, metavar="DIR",
                   help="folder to write (new, empty, or a previous export, which is replaced)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to export (default: all of the model's)")
    p.add_argument("--niter", type=nonnegative_int, default=0,
                   help="EM iterations of the separator's Wiener filter; 0 is the ratio mask (default: %(default)s)")
    p.add_argument("--alpha", type=positive_float, default=1.0,
                   help="exponent of the magnitudes in the ratio mask (default: %(default)s)")
    p.add_argument("--logit", type=number(float, 0, 1, True, True), default=None,
                   help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true",
                   help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    p.add_argument("--wiener-win-len", type=nonnegative_int, default=300,
                   help="frames Wiener-filtered at once; 0 filters the whole input at once (default: %(default)s)")
    p.add_argument("--fp16", action="store_true", help="store the ONNX weights in half precision (half the size)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    a = p.parse_args(argv)
    try:
        written = export_model(
            a.model, a.output, a.targets, niter=a.niter, softmask=not a.no_softmask, alpha=a.alpha,
            logit=a.logit, residual=a.residual, wiener_win_len=a.wiener_win_len or None, fp16=a.fp16,
            models_file=a.models, cache_dir=a.cache_dir, progress=not a.quiet,
        )
    except ModelError as err:
        error(str(err))
        return 2
    except (ExportError, OSError) as err:
        error(str(err))
        return 1
    if not a.quiet:
        print(f"{a.output}/: {', '.join(written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
