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
