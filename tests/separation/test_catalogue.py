"""openunmix.separation.catalogue: input lists (comments, blank lines), the plan of a catalogue and what the
settings key holds (the manifest's skips follow it). Catalogues end to end: tests/programs/test_separate.py and
tests/programs/test_shards.py."""

import pytest

from openunmix.separation.catalogue import plan, read_input_list, settings_key
from openunmix.separation.separate import SeparationSettings


def test_input_lists_skip_blank_lines_and_comments(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# my songs\n\na/one.wav\n   \n  # indented comment\nb/two.wav\r\n./#hash.wav\n\n")
    assert read_input_list(listing) == ["a/one.wav", "b/two.wav", "./#hash.wav"]


def test_a_list_of_comments_only_holds_no_path(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing yet\n\n#a.wav\n")
    with pytest.raises(ValueError, match="holds no path"):
        read_input_list(listing)


def test_the_plan_names_musdb_tracks_after_their_folders(tmp_path):
    items = plan([f"{tmp_path}/test/{track}/mixture.wav" for track in ("Song A", "Song B")])
    assert [it.folder for it in items] == ["Song A", "Song B"]
    assert [it.duration for it in items] == [None, None]  # missing files: unknown length, still planned


def test_a_catalogue_keeps_the_callers_process_state(tmp_path, one_thread):
    from conftest import make_model_folder, write_tone
    from helpers.process_state import kept
    from openunmix.models.hub import load_separator
    from openunmix.separation.catalogue import separate_catalogue

    separator = load_separator(str(make_model_folder(tmp_path / "model", targets=("vocals",))), device="cpu")
    songs = [write_tone(tmp_path / f"song{i}.wav", seconds=0.3, seed=i) for i in range(2)]
    with kept():  # outputs, manifest and compaction: files made with the umask's permissions, never by setting it
        result = separate_catalogue(separator, songs, tmp_path / "out", "key", progress=False)
    assert len(result.done) == 2 and (tmp_path / "out" / "song0" / "vocals.wav").is_file()


def test_settings_key_names_an_explicit_batch_and_keeps_the_keys_of_runs_without_one(tmp_path):
    model = str(tmp_path)
    default = settings_key(model, None, SeparationSettings(), ".wav")
    # --batch left out: the key of the runs before the setting existed, so that they are not redone
    assert default == settings_key(model, None, SeparationSettings(batch=None), ".wav")
    one = settings_key(model, None, SeparationSettings(batch=1), ".wav")
    two = settings_key(model, None, SeparationSettings(batch=2), ".wav")
    assert len({default, one, two}) == 3
