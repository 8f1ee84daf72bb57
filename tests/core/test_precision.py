"""openunmix.precision: reduced-precision separation (bfloat16, int8) close to float32, int8 on the CPU only.
The --precision flag end to end: tests/programs/test_separate.py."""

import pytest
import soundfile as sf
import torch

from conftest import make_model_folder, write_tone
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.precision import PrecisionError, check_precision, cpu_has_native_bfloat16
from openunmix.separation.separate import SeparationSettings, separate


@pytest.mark.numerics
@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_reduced_precision_close_to_float32(tmp_path, precision, one_thread):
    folder = make_model_folder(tmp_path / "model")
    audio = torch.from_numpy(sf.read(str(write_tone(tmp_path / "mix.wav", seconds=2.0)), dtype="float32")[0].T.copy())
    ref_sep = load_separator(folder, filter=FilterSettings(niter=1))
    if precision == "bfloat16" and cpu_has_native_bfloat16() is False:
        with pytest.warns(UserWarning, match="emulated"):  # slower than float32 on such CPUs: said so
            sep = load_separator(folder, filter=FilterSettings(niter=1), precision=precision)
    else:
        sep = load_separator(folder, filter=FilterSettings(niter=1), precision=precision)
    assert sep.source_names == ref_sep.source_names
    ref = separate(ref_sep, audio)
    got = separate(sep, audio)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert torch.isfinite(got).all()
    rel = float((got - ref).norm() / ref.norm())
    # changed (the option does something), but only a little. A bound on the quantization, not on float32
    # rounding (1e-6 here, on any kernel): bfloat16 keeps 8 bits (u = 2**-8 per rounding, measured 1.8e-3
    # with native and with emulated bfloat16 kernels); int8 rounds weights and activations to 255 and 127
    # steps, products accumulate exactly in int32 (7-bit activations: AVX2's 16-bit pair sums cannot
    # saturate), so its error, 1.55e-2 here, is the same on every x86 CPU
    assert 0 < rel < 0.02
    # the float32 separator's models are untouched
    assert next(ref_sep.target_models["vocals"].parameters()).dtype == torch.float32


def test_int8_refused_off_the_cpu(tmp_path):
    with pytest.raises(PrecisionError, match="CPU only"):
        check_precision("int8", torch.device("cuda"))
    # refused before any model is loaded or moved
    with pytest.raises(PrecisionError, match="CPU only"):
        load_separator(make_model_folder(tmp_path / "model"), device="cuda", precision="int8")
    with pytest.raises(ValueError, match="^precision must be one of"):
        SeparationSettings(precision="half")


def test_int8_hides_torchs_notes_only_and_keeps_the_callers_state(tmp_path, one_thread):
    import copy
    import warnings

    from helpers.process_state import kept
    from openunmix.precision import reduce_precision

    class Noisy(torch.nn.Module):  # a model whose own code warns while it is copied for quantisation
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.linear(x)

        def __deepcopy__(self, memo):
            warnings.warn("the model's own warning", UserWarning)
            twin = Noisy.__new__(Noisy)  # a copy that draws no random numbers
            memo[id(self)] = twin
            twin.__dict__.update(copy.deepcopy(self.__dict__, memo))
            return twin

    model = Noisy().eval()
    with kept():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            quantized = reduce_precision(model, "int8")
    messages = [str(w.message) for w in seen]
    assert set(messages) == {"the model's own warning"}  # torch's deprecation notes hidden, the model's shown
    assert quantized(torch.ones(1, 4)).shape == (1, 4)
