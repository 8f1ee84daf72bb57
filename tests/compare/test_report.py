"""openunmix.compare.report: the listening page's folder appears complete or not at all. The page in a real
browser: tests/compare/test_page.py."""

import pytest

from openunmix.compare import (BootstrapSettings, CompareError, CompareSettings, ReportSettings, compare_folders,
                               is_report, write_report)
from openunmix.compare.media import AudioSources


FAST = CompareSettings(bootstrap=BootstrapSettings(resamples=999))



def _folders(study, names=("A", "B", "C")):
    return [(n, study[n]) for n in names]



def test_report_folder_appears_complete_or_not_at_all(study, tmp_path, monkeypatch):
    from openunmix.compare import media

    comparison = compare_folders(_folders(study), FAST)
    sources = AudioSources(study["root"], True, "test", {"A": study["est_A"], "B": study["est_B"]})
    dest = tmp_path / "page"
    index = write_report(comparison, dest, sources, ReportSettings(wav=True, tracks=("Alpha - One",)))
    assert index == dest / "index.html" and is_report(dest)
    pages = list((dest / "tracks").glob("*.html"))
    assert len(pages) == 1
    media_files = {p.name for p in (dest / "media").rglob("*") if p.is_file()}
    assert {"mixture.ogg", "mixture.png", "mixture.wav", "reference.vocals.ogg", "0-A.vocals.ogg", "1-B.vocals.ogg"} \
        <= media_files
    assert not any(n.startswith("2-C") for n in media_files)  # C has no estimates: curves, no players

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(media, "encode", fail)
    monkeypatch.setattr("openunmix.compare.report.encode", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(comparison, tmp_path / "never", sources)
    assert not (tmp_path / "never").exists()
    with pytest.raises(OSError):
        write_report(comparison, dest, sources)  # an earlier report stays as it was
    assert is_report(dest) and len(list((dest / "tracks").glob("*.html"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]  # no temporary folders left behind
    monkeypatch.undo()
    write_report(comparison, dest, None, ReportSettings(spectrograms=False))  # replaced, now without audio
    assert len(list((dest / "tracks").glob("*.html"))) == 3 and not (dest / "media").exists()
    page = next((dest / "tracks").glob("000-*.html")).read_text()
    assert "<audio" not in page and page.count("class=\"cursor\"") == 6  # 3 methods x 2 targets, curves only
    with pytest.raises(CompareError, match="not a report"):
        write_report(comparison, study["A"], None)


def test_writing_a_report_keeps_the_callers_process_state(study, tmp_path):
    from helpers.process_state import kept

    comparison = compare_folders(_folders(study, ("A", "B")), FAST)
    with kept():  # the folder gets the umask's permissions without setting it
        write_report(comparison, tmp_path / "page", None, ReportSettings(spectrograms=False))
    assert is_report(tmp_path / "page")


def _gappy_estimates(study, tmp_path):
    """A's estimates with one target of one track removed and a whole track's folder removed."""
    import shutil

    est = tmp_path / "est"
    shutil.copytree(study["est_A"], est)
    (est / "test" / "Alpha - One" / "vocals.wav").unlink()
    shutil.rmtree(est / "test" / "Gamma - Three")
    return est


def test_pieces_missing_are_said_once_per_track_and_noted_on_its_page(study, tmp_path):
    comparison = compare_folders(_folders(study, ("A", "B")), FAST)
    sources = AudioSources(study["root"], True, "test", {"A": _gappy_estimates(study, tmp_path)})
    lines = []
    write_report(comparison, tmp_path / "page", sources, ReportSettings(spectrograms=False), on_warning=lines.append)
    assert len(lines) == 2, lines
    alpha, gamma = lines
    assert alpha.startswith("track 'Alpha - One': no estimate of vocals from 'A'") and "accompaniment" not in alpha
    assert gamma.startswith("track 'Gamma - Three': no estimates from 'A'")
    pages = {p.name: p.read_text() for p in (tmp_path / "page" / "tracks").glob("*.html")}
    assert "missing: no estimate of vocals from &#x27;A&#x27;" in pages["000-Alpha_-_One.html"]
    assert "missing: no estimates from &#x27;A&#x27;" in pages["002-Gamma_-_Three.html"]
    assert "missing" not in next(text for name, text in pages.items() if name.startswith("001-"))
    with pytest.warns(UserWarning, match="Gamma - Three"):  # no on_warning: Python's warnings
        write_report(comparison, tmp_path / "page", sources,
                     ReportSettings(spectrograms=False, tracks=("Gamma - Three",)))


def test_strict_refuses_a_page_with_pieces_missing_and_writes_nothing(study, tmp_path):
    comparison = compare_folders(_folders(study, ("A", "B")), FAST)
    sources = AudioSources(study["root"], True, "test", {"A": _gappy_estimates(study, tmp_path)})
    with pytest.raises(CompareError) as caught:
        write_report(comparison, tmp_path / "page", sources, ReportSettings(strict=True))
    assert str(caught.value) == (f"track 'Alpha - One': no estimate of vocals from 'A' (in {tmp_path / 'est'}) "
                                 "(and 1 more track); --strict refuses a page with pieces missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["est"]
    whole = AudioSources(study["root"], True, "test", {"A": study["est_A"]})  # nothing missing: strict writes it
    write_report(comparison, tmp_path / "page", whole,
                 ReportSettings(spectrograms=False, strict=True, tracks=("Alpha - One",)))
    assert is_report(tmp_path / "page")


def test_eval_pages_say_which_estimates_are_missing_and_strict_refuses_them(study, tmp_path):
    from openunmix.compare.report import evaluation_report

    est = _gappy_estimates(study, tmp_path)
    lines = []
    evaluation_report(study["A"], est, tmp_path / "page", study["root"], "test", True, "A",
                      tracks=["Gamma - Three"], settings=ReportSettings(spectrograms=False), on_warning=lines.append)
    assert lines == [f"track 'Gamma - Three': no estimates from 'A' (nothing for this track in {est}); "
                     "its page says so"]
    with pytest.raises(CompareError, match="--strict refuses"):
        evaluation_report(study["A"], est, tmp_path / "strict", study["root"], "test", True, "A",
                          settings=ReportSettings(strict=True))
    assert not (tmp_path / "strict").exists()
