"""openunmix.data.registry: the layouts by name, their declared options, load_datasets for every layout and
its errors naming what exists (float comparisons: see helpers/datasets.py)."""

import warnings

import numpy as np
import pytest
import torch

from helpers.datasets import SR, assert_item, make_musdb, make_trackfolders, make_unaligned, noise, one_line, read, write
from helpers.datasets import scratch_registry  # noqa: F401  (a fixture)
from openunmix import data
from openunmix.data import DatasetError, load_datasets


def test_load_datasets_all_layouts(tmp_path):
    common = dict(seq_duration=0.5, samples_per_track=2, sample_rate=SR, nb_channels=2, seed=1)

    musdb_root = make_musdb(tmp_path / "musdb", seconds=1.0)
    (musdb_root / "valid_tracks.txt").write_text("C - three\n")
    train, valid = load_datasets("musdb", musdb_root, target="accompaniment", is_wav=True,
                                 subset="train", **common)
    assert (len(train), len(valid)) == (4, 1)
    assert_item(train[0], 2, SR // 2)
    assert_item(valid[0], 2, SR)

    for split in ("train", "valid"):
        for k in range(2):
            write(tmp_path / "aligned" / split / f"t{k}" / "mixture.wav", noise(k, 1.0))
            write(tmp_path / "aligned" / split / f"t{k}" / "drums.wav", noise(k + 5, 1.0))
        make_unaligned(tmp_path / "unaligned", split, seconds=1.0)
        make_trackfolders(tmp_path / "fix", split, n=2, seconds=1.0)
        make_trackfolders(tmp_path / "var", split, n=2, files=("vocals.wav", "x.wav"), seconds=1.0)

    train, valid = load_datasets("aligned", tmp_path / "aligned", target="drums", **common)
    assert (len(train), len(valid)) == (4, 2) and valid[0][0].shape[-1] == SR
    train, valid = load_datasets("unaligned", tmp_path / "unaligned", interferences=["noise"],
                                 is_wav=None, **common)
    assert (len(train), len(valid)) == (4, 2)
    assert_item(valid[1], 2, SR // 2)
    assert torch.equal(valid[1][0], valid[1][0])
    train, valid = load_datasets("trackfolder_fix", tmp_path / "fix",
                                 interferer_files=["bass.wav"], **common)
    assert (len(train), len(valid)) == (4, 2)
    train, valid = load_datasets("trackfolder_var", tmp_path / "var", **common)
    assert (len(train), len(valid)) == (4, 2)
    folder = tmp_path / "var" / "valid" / "track0"
    expected = read(folder / "vocals.wav") + read(folder / "x.wav")
    np.testing.assert_allclose(valid[0][0].numpy(), expected, atol=1e-6)

    with pytest.raises(DatasetError, match="unknown dataset"):
        load_datasets("nope", tmp_path)
    with pytest.raises(TypeError):
        load_datasets("aligned", tmp_path / "aligned", bogus=1)


def test_dataset_names_registry_order():
    assert data.dataset_names() == ["musdb", "aligned", "unaligned", "trackfolder_fix", "trackfolder_var"]
    assert "joint_targets" in data.layout_options("musdb")
    with pytest.raises(DatasetError) as err:
        data.layout_options("kazoo")
    assert one_line(err) == (
        "unknown dataset 'kazoo'; choose one of musdb, aligned, unaligned, trackfolder_fix, trackfolder_var"
    )


def test_register_layout_rejects_a_second_builder():
    with pytest.raises(ValueError, match="already registered"):
        data.register_layout("musdb", lambda *a, **k: None, ())


def test_layouts_declare_their_options_as_data():
    options = {opt.name: (opt, layouts) for opt, layouts in data.dataset_options()}
    assert len(options) == len(data.dataset_options())  # each name once
    ext, users = options["ext"]
    assert ext.flag == "--ext" and users == ("unaligned", "trackfolder_var")
    assert options["silence_missing_targets"][0].flag == "--silence-missing"
    assert options["short_tracks"][0].choices == ("pad", "skip") and len(options["short_tracks"][1]) == 5
    assert options["joint_targets"][0].flag is None  # for load_datasets callers only
    # a shared option is one declaration, named by each layout that takes it
    assert data.layout_declarations("unaligned")[1] is data.layout_declarations("trackfolder_var")[1] is ext
    with pytest.raises(ValueError, match="kind must be"):
        data.DatasetOption("level", kind=list)
    with pytest.raises(ValueError, match="must start with --"):
        data.DatasetOption("level", flag="-l")


def test_an_option_declared_otherwise_is_refused(scratch_registry):
    other = data.DatasetOption("ext", "extension", flag="--extension")
    with pytest.raises(ValueError, match="dataset layout 'mine': option 'ext' is declared otherwise by layout"):
        data.register_layout("mine", lambda *a, **k: None, (other,))


def test_missing_target_file_names_file_and_track(tmp_path):
    for split in ("train", "valid"):
        for k in range(2):
            write(tmp_path / "aligned" / split / f"t{k}" / "mixture.wav", noise(k, 1.0))
            write(tmp_path / "aligned" / split / f"t{k}" / "drums.wav", noise(k + 5, 1.0))
        make_trackfolders(tmp_path / "fix", split, n=2, seconds=1.0)
        make_trackfolders(tmp_path / "var", split, n=2, seconds=1.0)
        make_unaligned(tmp_path / "unaligned", split, seconds=1.0)
    common = dict(target="kazoo", seq_duration=0.5, sample_rate=SR)

    with pytest.raises(DatasetError) as err:
        load_datasets("aligned", tmp_path / "aligned", **common)
    assert one_line(err) == (
        f"{tmp_path / 'aligned' / 'train' / 't0' / 'kazoo.wav'}: missing output file; "
        "t0 holds drums.wav, mixture.wav"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("trackfolder_fix", tmp_path / "fix", **common)
    assert one_line(err) == (
        f"{tmp_path / 'fix' / 'train' / 'track0' / 'kazoo.wav'}: missing source file; "
        "track0 holds bass.wav, drums.wav, vocals.wav"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone, no warning about each track first
        with pytest.raises(DatasetError) as err:
            load_datasets("trackfolder_var", tmp_path / "var", **common)
    assert one_line(err) == (
        f"{tmp_path / 'var' / 'train'}: no track folder holds kazoo.wav "
        "(track0 holds bass.wav, drums.wav, vocals.wav)"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("unaligned", tmp_path / "unaligned", **common)
    where = tmp_path / "unaligned" / "train"
    assert one_line(err) == (
        f"{where / 'kazoo'}: no such folder for the target; {where} holds music, noise, vocals"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("unaligned", tmp_path / "unaligned", interferences=["noise", "drums"],
                      seq_duration=0.5, sample_rate=SR)
    assert one_line(err).startswith(f"{where / 'drums'}: no such folder for the interference;")
