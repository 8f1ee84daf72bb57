"""openunmix.convert: MSST configurations and checkpoints made by the tests from the reference package, and the
one-line errors for what it refuses (nothing written). End to end through the program:
tests/programs/test_roformers.py; the separation against the reference: tests/architectures/test_roformer.py."""

import json
import hashlib

import pytest
import torch

from helpers.roformers import reference_model, write_msst
from openunmix.convert import convert_msst
from openunmix.utils import ModelError


@pytest.fixture(scope="module")
def bs(tmp_path_factory):
    """A reference BS-RoFormer of one target, its config and checkpoint."""
    folder = tmp_path_factory.mktemp("msst")
    ref, section = reference_model("bs_roformer", depth=1)
    config, ckpt = write_msst(folder, "bs_roformer", ref, section)
    return ref, section, config, ckpt


def test_folder_holds_settings_weights_and_sums(tmp_path, bs):
    ref, section, config, ckpt = bs
    out = convert_msst(config, ckpt, tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["SHA256SUMS", "bs_roformer.json", "bs_roformer.pth",
                                                     "separator.json"]
    info = json.loads((out / "bs_roformer.json").read_text())
    assert info["architecture"] == "bs_roformer" and info["targets"] == ["vocals"]
    assert info["dim"] == 32 and info["nfft"] == 512 and info["nhop"] == 128 and info["zero_dc"] is True
    assert info["freqs_per_bands"] == section["freqs_per_bands"]
    assert info["chunk_size"] == 44100 and info["num_overlap"] == 2 and info["gated"] is True
    assert info["converted_from"]["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    state = torch.load(out / "bs_roformer.pth", weights_only=True)
    assert not any("rotary_embed" in k for k in state)  # the fixed rotary frequencies are not weights
    assert torch.equal(state["final_norm.gamma"], ref.state_dict()["final_norm.gamma"])


def test_an_empty_existing_folder_is_used(tmp_path, bs):
    (tmp_path / "model").mkdir()
    assert (convert_msst(bs[2], bs[3], tmp_path / "model") / "bs_roformer.pth").is_file()


def test_several_stems_become_the_instruments(tmp_path):
    ref, section = reference_model("mel_band_roformer", stems=3, depth=1, num_bands=8)
    config, ckpt = write_msst(tmp_path, "mel", ref, section, instruments=["vocals", "drums", "bass"], target="")
    out = convert_msst(config, ckpt, tmp_path / "model")
    info = json.loads((out / "mel_roformer.json").read_text())
    assert info["targets"] == ["vocals", "drums", "bass"] and info["num_bands"] == 8


def _edit_config(tmp_path, config, old, new):
    path = tmp_path / "edited.yaml"
    text = config.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def _refused(tmp_path, config, ckpt, message, kind=None):
    with pytest.raises(ModelError, match=message) as err:
        convert_msst(config, ckpt, tmp_path / "out", kind)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # nothing written
    return str(err.value)


def test_a_checkpoint_key_the_config_does_not_explain(tmp_path, bs):
    state = torch.load(bs[3], weights_only=True)
    state["layers.0.0.layers.0.0.extra.weight"] = torch.zeros(3, 4)
    ckpt = tmp_path / "more.ckpt"
    torch.save(state, ckpt)
    _refused(tmp_path, bs[2], ckpt, r"key layers\.0\.0\.layers\.0\.0\.extra\.weight \(3x4\) is not explained by")


def test_a_shape_the_config_does_not_give(tmp_path, bs):
    config = _edit_config(tmp_path, bs[2], "  dim: 32\n", "  dim: 48\n")
    _refused(tmp_path, config, bs[3], r"key band_split\.to_features\.0\.0\.gamma is 4 in the checkpoint but 4 from|"
                                      r"is 32x8 in the checkpoint but 48x8 from|is 32 in the checkpoint but 48 from")


def test_a_key_the_checkpoint_lacks(tmp_path, bs):
    state = torch.load(bs[3], weights_only=True)
    del state["final_norm.gamma"]
    ckpt = tmp_path / "less.ckpt"
    torch.save(state, ckpt)
    _refused(tmp_path, bs[2], ckpt, r"lacks key final_norm\.gamma \(32\)")


@pytest.mark.parametrize("old,new,message", [
    ("  chunk_size: 44100\n", "", "missing key audio.chunk_size"),
    ("  dim: 32\n", "", "missing key model.dim"),
    ("  instruments:\n  - vocals\n  - other\n", "", "missing key training.instruments"),
    ("  num_stems: 1\n", "  num_stems: 2\n", "model.num_stems is 2, but the config names 1 target"),
    ("  dim: 32\n", "  dim: 32\n  skip_connection: true\n", "model.skip_connection: True is not supported"),
    ("  dim: 32\n", "  dim: 32\n  value_residual: true\n", "model.value_residual is not a setting this converter knows"),
    ("  target_instrument: vocals\n", "  target_instrument: piano\n", "'piano' is not one of training.instruments"),
])
def test_config_errors_are_one_line(tmp_path, bs, old, new, message):
    _refused(tmp_path, _edit_config(tmp_path, bs[2], old, new), bs[3], message)


def test_python_tags_other_than_tuple_are_refused(tmp_path, bs):
    config = _edit_config(tmp_path, bs[2], "  dim: 32\n", "  dim: !!python/object/apply:os.getcwd []\n")
    _refused(tmp_path, config, bs[3], r"line \d+\): the tag tag:yaml.org,2002:python/object/apply:os.getcwd is "
                                      r"refused \(only !!python/tuple is read\)")


def test_unsupported_model_types_list_the_supported(tmp_path, bs):
    _refused(tmp_path, bs[2], bs[3], "model type 'htdemucs' is not supported "
                                     r"\(supported: bs_roformer, mel_band_roformer\)", kind="htdemucs")
    config = _edit_config(tmp_path, bs[2], "  freqs_per_bands:", "  other_bands:")
    _refused(tmp_path, config, bs[3], "none of the supported types")


def test_pickled_code_in_a_checkpoint_is_refused(tmp_path, bs):
    ckpt = tmp_path / "code.ckpt"
    torch.save({"state_dict": torch.load(bs[3], weights_only=True), "hook": hashlib.sha256}, ckpt)
    _refused(tmp_path, bs[2], ckpt, "not a checkpoint that loads with weights_only=True")


def test_a_folder_with_other_files_is_refused(tmp_path, bs):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="out: exists and holds other files"):
        convert_msst(bs[2], bs[3], tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_learned_rotary_frequencies_are_refused(tmp_path, bs):
    state = torch.load(bs[3], weights_only=True)
    key = next(k for k in state if k.endswith("rotary_embed.freqs"))
    state[key] = state[key] * 1.5
    ckpt = tmp_path / "learned.ckpt"
    torch.save(state, ckpt)
    _refused(tmp_path, bs[2], ckpt, "holds learned rotary frequencies")
