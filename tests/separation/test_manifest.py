"""openunmix.separation.manifest: appends from two processes survive compaction."""

import json
import multiprocessing

import pytest

from openunmix.separation.manifest import Manifest


def test_manifest_appends_from_two_processes_survive_compaction(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl")
    context = multiprocessing.get_context("fork")  # the child appends only: no torch in it
    child = context.Process(target=_append_many, args=(manifest.path, "child", 300))
    child.start()
    for i in range(300):
        manifest.append({"folder": f"parent{i}", "status": "done"})
        if i % 30 == 0:
            manifest.compact()
    child.join()
    assert child.exitcode == 0
    manifest.append({"folder": "parent0", "status": "failed"})  # a later record of the same folder wins
    manifest.compact(order=["parent5"])
    latest = manifest.latest()
    assert len(latest) == 600 and list(latest)[0] == "parent5" and latest["parent0"]["status"] == "failed"
    assert len(manifest.path.read_text().splitlines()) == 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.jsonl"]  # no temporary files left



def _append_many(path, prefix, n):
    manifest = Manifest(path)
    for i in range(n):
        manifest.append({"folder": f"{prefix}{i}", "status": "done"})


def _torn(tmp_path, tail):
    """A manifest of two records whose last line a crash cut short (``tail`` is what was written of it)."""
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"folder": "one", "status": "done"}) + "\n"
                    + json.dumps({"folder": "two", "status": "done"}) + "\n" + tail)
    return path


def test_an_append_after_a_crash_starts_on_a_fresh_line_and_sets_the_fragment_aside(tmp_path):
    path = _torn(tmp_path, '{"folder": "three", "sta')
    notes = []
    manifest = Manifest(path, report=notes.append)
    manifest.append({"folder": "four", "status": "done"})
    manifest.append({"folder": "five", "status": "done"})
    assert list(manifest.latest()) == ["one", "two", "four", "five"]  # no good record lost
    assert (tmp_path / "manifest.torn").read_text() == '{"folder": "three", "sta\n'  # kept, not deleted
    assert len(notes) == 1 and "cut short by a crash" in notes[0] and "manifest.torn" in notes[0]  # once
    manifest.compact()
    assert list(Manifest(path).latest()) == ["one", "two", "four", "five"]
    assert len(notes) == 1


def test_a_whole_record_that_lost_only_its_newline_is_kept(tmp_path):
    path = _torn(tmp_path, json.dumps({"folder": "three", "status": "done"}))
    notes = []
    manifest = Manifest(path, report=notes.append)
    manifest.mend()
    manifest.append({"folder": "four", "status": "done"})
    assert list(manifest.latest()) == ["one", "two", "three", "four"] and notes == []
    assert not (tmp_path / "manifest.torn").exists()


def test_a_record_appended_onto_a_fragment_by_an_older_version_is_read_and_kept(tmp_path):
    # what the previous version wrote: the next record glued to the fragment on one line
    path = _torn(tmp_path, '{"folder": "three", "sta' + json.dumps({"folder": "four", "status": "done"}) + "\n"
                 + "not json at all\n")
    notes = []
    manifest = Manifest(path, report=notes.append)
    assert list(manifest.latest()) == ["one", "two", "four"]
    manifest.compact()
    assert list(Manifest(path).latest()) == ["one", "two", "four"]
    assert (tmp_path / "manifest.torn").read_text() == '{"folder": "three", "sta\nnot json at all\n'
    assert len(notes) == 1 and "2 lines" in notes[0]


def test_a_torn_manifest_is_reported_by_the_next_run_which_redoes_nothing(tmp_path):
    """The catalogue's view: a crash left a fragment; the next run reports it once and loses no input."""
    from openunmix.separation.catalogue import CatalogueItem, is_complete

    path = _torn(tmp_path, '{"folder": "x", "status": "do')
    with pytest.warns(UserWarning, match="cut short by a crash"):  # no report given: a warning
        Manifest(path).mend()
    assert path.read_bytes().endswith(b"\n") and len(path.read_text().splitlines()) == 2
    assert not is_complete(CatalogueItem(0, "x.wav", "x", None), Manifest(path).latest().get("x"), tmp_path, "k")


@pytest.mark.parametrize("make", ["folder", "unreadable"])
def test_a_manifest_that_is_a_folder_or_unreadable_gives_one_line(tmp_path, make):
    path = tmp_path / "manifest.jsonl"
    if make == "folder":
        path.mkdir()
        expected = "is a folder, not a manifest"
    else:  # a link to itself: unreadable whoever runs the test (root reads files without permissions)
        path.symlink_to(path.name)
        expected = "cannot use the manifest (Too many levels of symbolic links)"
    manifest = Manifest(path)
    for call in (manifest.records, manifest.compact, manifest.mend, lambda: manifest.append({"folder": "a"})):
        with pytest.raises(OSError) as caught:
            call()
        assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value)
        assert "Errno" not in str(caught.value) and "\n" not in str(caught.value)
