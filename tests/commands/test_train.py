"""openunmix.commands.train in-process: the parser of train.py; recipes set defaults that flags override, and
a registered dataset layout gets flags for its options."""

import pytest

from helpers.datasets import scratch_registry  # noqa: F401  (a fixture)
from openunmix import data
from openunmix.commands.train import parse_args
from openunmix.training import TrainConfig
from openunmix.training.recipes import RECIPE_FIELDS, RECIPES


def test_config_defaults_are_the_default_recipe():
    defaults = TrainConfig(root="r", output="o")
    for name in RECIPE_FIELDS:
        if name != "random_track_mix":  # a dataset option, not a TrainConfig field
            assert getattr(defaults, name) == RECIPES["default"][name], name
    cfg = parse_args(["--root", "r"])
    assert cfg.recipe == "default"
    assert cfg.dataset_options.get("random_track_mix") == RECIPES["default"]["random_track_mix"]


def test_recipe_sets_defaults_and_flags_win():
    cfg = parse_args(["--root", "r", "--recipe", "upstream"])
    assert (cfg.seq_dur, cfg.patience, cfg.batch_size, cfg.recipe) == (6.0, 140, 16, "upstream")
    cfg = parse_args(["--root", "r", "--recipe", "upstream", "--seq-dur", "2", "--random-track-mix"])
    assert cfg.seq_dur == 2.0 and cfg.patience == 140 and cfg.dataset_options["random_track_mix"] is True
    cfg = parse_args(["--root", "r", "--recipe", "v1", "--no-random-track-mix"])
    assert cfg.dataset_options["random_track_mix"] is False and cfg.batch_size == 16


def test_a_recipe_names_an_architecture_and_its_options_and_flags_win():
    cfg = parse_args(["--root", "r", "--recipe", "roformer-small"])
    assert cfg.architecture == "bs_roformer" and (cfg.batch_size, cfg.seq_dur, cfg.lr) == (4, 3.0, 5e-4)
    options = cfg.architecture_options
    assert (options["dim"], options["depth"], options["heads"], options["dim_head"]) == (64, 2, 4, 16)
    cfg = parse_args(["--root", "r", "--recipe", "roformer-small", "--dim", "96", "--batch-size", "2"])
    assert cfg.architecture_options["dim"] == 96 and cfg.architecture_options["depth"] == 2 and cfg.batch_size == 2


def test_a_registered_layout_gets_train_flags_for_its_options(scratch_registry, tmp_path):
    from openunmix.commands.train import build_parser, parse_args

    seen = {}

    def build(root, target, settings, **options):
        seen.update(options)
        return [], []

    gain = data.DatasetOption("gain_db", "gain of every excerpt in dB", flag="--gain-db", kind=float, metavar="DB")
    loud = data.DatasetOption("loud", "louder excerpts", flag="--loud", kind=bool, switch=True)
    data.register_layout("test_layout", build, (gain, loud, "short_tracks"))
    text = " ".join(build_parser().format_help().split())
    assert "--gain-db DB test_layout: gain of every excerpt in dB" in text
    assert "--loud test_layout: louder excerpts" in text
    assert "--short-tracks {pad,skip} every layout: tracks shorter" in text  # it takes short_tracks too
    assert "--ext EXT unaligned, trackfolder_var: audio file extension" in text
    cfg = parse_args(["--root", str(tmp_path), "--dataset", "test_layout", "--gain-db", "-3.5", "--loud",
                      "--short-tracks", "skip"])
    assert cfg.dataset == "test_layout"
    assert {k: cfg.dataset_options[k] for k in ("gain_db", "loud", "short_tracks")} == {
        "gain_db": -3.5, "loud": True, "short_tracks": "skip"}
    data.load_datasets(cfg.dataset, cfg.root, **cfg.dataset_options)
    assert seen == {"gain_db": -3.5, "loud": True, "short_tracks": "skip"}  # only its own options
    with pytest.raises(SystemExit):
        parse_args(["--root", str(tmp_path), "--gain-db", "loud"])
    assert parse_args(["--root", str(tmp_path), "--dataset", "test_layout"]).dataset_options.get("gain_db") is None


def test_augmentation_flags_are_checked_and_the_remix_probability_recorded(capsys):
    assert parse_args(["--root", "r"]).dataset_options["remix_prob"] == 0.0
    assert parse_args(["--root", "r", "--random-track-mix"]).dataset_options["remix_prob"] == 1.0
    given = parse_args(["--root", "r", "--remix-prob", "0.5", "--source-gain", "0.1", "1.5", "--repitch-prob", "0.3",
                        "--max-semitones", "3"]).dataset_options
    assert (given["remix_prob"], given["source_gain"], given["repitch_prob"], given["max_semitones"]) == (
        0.5, [0.1, 1.5], 0.3, 3.0)
    assert "remix_prob" not in parse_args(["--root", "r", "--dataset", "aligned"]).dataset_options
    cases = [
        (["--source-gain", "0", "1"], "argument --source-gain: expected factors 0 < LOW <= HIGH, got 0 1"),
        (["--source-gain", "2", "1"], "argument --source-gain: expected factors 0 < LOW <= HIGH, got 2 1"),
        (["--repitch-prob", "nan"], "argument --repitch-prob: expected a probability in [0, 1], got nan"),
        (["--max-semitones", "13"], "argument --max-semitones: expected semitones in [0, 12], got 13"),
        (["--random-track-mix", "--remix-prob", "0.5"],
         "argument --remix-prob: --random-track-mix means --remix-prob 1, not 0.5; give one of them"),
        (["--dataset", "unaligned", "--remix-prob", "0.5"],
         "argument --remix-prob: not an option of --dataset unaligned (the layouts that take it: musdb, trackfolder_fix)"),
    ]
    for flags, message in cases:
        with pytest.raises(SystemExit) as exit_:
            parse_args(["--root", "r", *flags])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith(f"error: {message} (see") and err.count("\n") == 1, err
