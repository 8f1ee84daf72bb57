"""The listening page: a self-contained folder whose entry point is ``index.html``.

Layout::

    DIR/index.html                      the table, the paired tests with verdicts, the plots, the tracks
    DIR/report.css, DIR/report.js       the page's style and its small script (no CDN)
    DIR/report.json                     what the page shows (and the mark of a report folder)
    DIR/plots/*.png                     boxplots.png, pairwise.png, tracks.png
    DIR/tracks/<NNN-track>.html         one page per track
    DIR/media/<NNN-track>/*.ogg|*.png   compressed audio and spectrograms (and *.wav when asked)

The folder is built under a temporary name beside ``DIR`` (see
:func:`openunmix.utils.temporary_prefix`) and renamed into place when
complete: it appears complete or not at all. A ``DIR`` that holds an
earlier report is replaced; any other non-empty ``DIR`` is refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..evaluation.aggregate import nanmedian
from ..evaluation.settings import EvaluationSettings, baseline_folder
from ..utils import PathLike, folder_mode, remove_stale_temporaries, temporary_prefix
from .media import FORMATS, AudioSources, TrackAudio, encode, read_estimate, read_track, spectrogram, write_spectrogram
from .page import Curve, Player, TargetSection, index_html, track_html
from .results import notes as comparison_notes
from .results import render_plots, write_bytes
from .run import Comparison, CompareSettings, compare_folders
from .scores import CompareError
from .table import table_targets

MARKER = "report.json"
GENERATOR = "openunmix.compare"
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class ReportSettings:
    """What the listening page holds.

    Attributes:
        audio_format: the compressed audio the players load, ``ogg`` (Vorbis) or ``mp3``.
        wav: also write full-length 16-bit wav files (large), linked beside each player.
        spectrograms: draw a spectrogram under each player.
        tracks: pages for these tracks only (None: every track).
        title: the index page's title (default: the methods compared).
        strict: a track with pieces missing (:func:`missing_pieces`) is an error, not a warning
            and a note on its page.
    """

    audio_format: str = "ogg"
    wav: bool = False
    spectrograms: bool = True
    tracks: Optional[Tuple[str, ...]] = None
    title: str = ""
    strict: bool = False

    def __post_init__(self) -> None:
        if self.audio_format not in FORMATS:
            raise ValueError(f"audio_format must be one of {', '.join(FORMATS)}, got {self.audio_format!r}")


# ---------------------------------------------------------------------------
# the folder


def check_report_folder(path: PathLike) -> Path:
    """Check that a report can be written at ``path``, before any work; nothing is created.

    Raises:
        CompareError: ``path`` is a file, a non-empty folder that is not a
            report, or its parent cannot be created or written.
    """
    path = Path(path)
    if path.is_symlink() or path.is_file():
        raise CompareError(f"{path}: exists and is not a folder; choose another report folder")
    if path.is_dir() and any(path.iterdir()) and not is_report(path):
        raise CompareError(f"{path}: a folder that is not a report; choose another report folder or empty it")
    probe = path.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise CompareError(f"{path}: cannot write the report folder here ({probe} is not a writable folder)")
    return path


def is_report(path: PathLike) -> bool:
    """Whether ``path`` is a report folder this module wrote."""
    try:
        return json.loads((Path(path) / MARKER).read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _publish(built: Path, dest: Path) -> None:
    """Rename the finished folder onto ``dest``; an earlier report there is moved aside, then removed."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=temporary_prefix(dest.name)))
        os.rmdir(old)
        os.rename(dest, old)
    os.rename(built, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_report(comparison: Comparison, dest: PathLike, sources: Optional[AudioSources] = None,
                 settings: ReportSettings = ReportSettings(), plots: Optional[Dict[str, bytes]] = None,
                 notes: Sequence[str] = (), progress: bool = False,
                 musdb_tracks: Optional[Dict[str, object]] = None,
                 on_warning: Optional[Callable[[str], None]] = None) -> Path:
    """Write the listening page of a comparison into the folder ``dest``, atomically.

    A track with pieces missing (:func:`missing_pieces`: a method's estimates,
    the track in the MUSDB root) gets one warning line (``on_warning``,
    default ``warnings.warn``) and a note at the top of its page; with
    ``settings.strict`` it is an error and nothing is written.

    Args:
        sources: where the audio is (None: no players, only scores and curves).
        plots: ``{file name: PNG bytes}`` already rendered (see :func:`.results.render_plots`).
        notes: one-line remarks for the index page (default: :func:`.results.notes`).
        musdb_tracks: ``sources.musdb_tracks()`` when the caller listed them already.
        on_warning: called with one line per track with pieces missing.

    Returns:
        the path of ``index.html``.

    Raises:
        CompareError: an unusable folder, root, estimates folder, track name
            or audio file, or (``settings.strict``) a track with pieces missing;
            OSError: the folder cannot be written.
    """
    dest = check_report_folder(dest)
    sources = sources or AudioSources()
    sources.check({m.name for m in comparison.methods})
    tracks = report_tracks(comparison, settings.tracks)
    if musdb_tracks is None:
        musdb_tracks = sources.musdb_tracks()
    gaps = missing_pieces(comparison, sources, tracks, musdb_tracks)
    _tell(gaps, settings.strict, on_warning)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest.parent)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=temporary_prefix(dest.name)))
    try:
        os.chmod(work, folder_mode())
        for name in ("report.css", "report.js"):
            shutil.copyfile(STATIC / name, work / name)
        rendered = plots if plots is not None else render_plots(comparison)
        write_bytes({f"plots/{name}": data for name, data in rendered.items()}, work)
        links = []
        from tqdm import tqdm

        for i, track in enumerate(tqdm(tracks, desc="listening page", unit="track", disable=not progress)):
            slug = f"{i:03d}-{_safe(track)}"
            writer = _TrackWriter(comparison, sources, settings, work, slug)
            page = writer.write(track, musdb_tracks.get(track), gaps.get(track, ()))
            links.append((track, f"tracks/{page.name}"))
        index = index_html(comparison, links, [f"plots/{name}" for name in rendered],
                           list(notes) if notes else comparison_notes(comparison), settings.title)
        (work / "index.html").write_text(index, encoding="utf-8")
        (work / MARKER).write_text(json.dumps(_summary(comparison, sources, settings, links), indent=2) + "\n")
        _publish(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest / "index.html"


def missing_pieces(comparison: Comparison, sources: AudioSources, tracks: Sequence[str],
                   musdb_tracks: Mapping[str, object]) -> Dict[str, List[str]]:
    """What each track's page lacks, as phrases: ``{track: [...]}`` for the tracks with something missing.

    A piece is missing where a method has an estimates folder and scores of a
    target on the track but no estimate file of it (no track folder at all, or
    some targets only), and where a MUSDB root is given that does not hold the
    track (no mixture or reference players). Methods without an estimates
    folder and the mixture baseline have no players by design: nothing is missing.
    """
    gaps: Dict[str, List[str]] = {}
    for track in tracks:
        pieces = []
        if sources.root is not None and track not in musdb_tracks:
            pieces.append(f"not in {Path(sources.root) / sources.subset} (no mixture or reference players)")
        for method in comparison.methods:
            if method.name not in sources.estimates or method.name in sources.mixture_methods:
                continue
            scores = method.tracks.get(track)
            targets = [t for t in table_targets(comparison.table) if scores is not None and t in scores.frames]
            absent = [t for t in targets if sources.estimate_path(method.name, track, t) is None]
            if absent and len(absent) == len(targets):
                pieces.append(f"no estimates from {method.name!r} (nothing for this track in "
                              f"{sources.estimates[method.name]})")
            elif absent:
                pieces.append(f"no estimate of {', '.join(absent)} from {method.name!r} (in "
                              f"{sources.estimates[method.name]})")
        if pieces:
            gaps[track] = pieces
    return gaps


def _tell(gaps: Mapping[str, Sequence[str]], strict: bool, on_warning: Optional[Callable[[str], None]]) -> None:
    """One line per track with pieces missing; with ``strict`` an error naming the first of them."""
    if gaps and strict:
        track, pieces = next(iter(gaps.items()))
        more = f" (and {len(gaps) - 1} more track{'s' if len(gaps) > 2 else ''})" if len(gaps) > 1 else ""
        raise CompareError(f"track {track!r}: {'; '.join(pieces)}{more}; --strict refuses a page with pieces missing")
    for track, pieces in gaps.items():
        line = f"track {track!r}: {'; '.join(pieces)}; its page says so"
        if on_warning is not None:
            on_warning(line)
        else:
            warnings.warn(line, stacklevel=3)


def _safe(name: str, length: int = 48) -> str:
    """A file-name-safe version of ``name`` (letters, digits, ``.``, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:length] or "x"


def report_tracks(comparison: Comparison, names: Optional[Sequence[str]] = None) -> List[str]:
    """The tracks that get a page: ``names`` (checked) or every track of the comparison, sorted.

    Raises:
        CompareError: a name without scores (the message lists some that have).
    """
    every = sorted(set(comparison.common) | set(comparison.partial))
    if names is None:
        return every
    unknown = [n for n in names if n not in every]
    if unknown:
        shown = ", ".join(repr(t) for t in every[:10]) + (", …" if len(every) > 10 else "")
        raise CompareError(f"no scores for track {', '.join(repr(n) for n in unknown)} (tracks: {shown})")
    return list(dict.fromkeys(names))


def _summary(comparison: Comparison, sources: AudioSources, settings: ReportSettings,
             links: Sequence[Tuple[str, str]]) -> Dict[str, object]:
    return {
        "generator": GENERATOR,
        "methods": [m.name for m in comparison.methods],
        "order": comparison.order,
        "subset": comparison.settings.subset,
        "tracks": [{"name": t, "page": link} for t, link in links],
        "audio": {"root": str(sources.root) if sources.root else None, "format": settings.audio_format,
                  "wav": settings.wav, "estimates": {k: str(v) for k, v in sources.estimates.items()}},
    }


# ---------------------------------------------------------------------------
# one track page


class _TrackWriter:
    """Writes the media and the page of one track into the report being built."""

    def __init__(self, comparison: Comparison, sources: AudioSources, settings: ReportSettings, work: Path,
                 slug: str) -> None:
        self.comparison, self.sources, self.settings = comparison, sources, settings
        self.slug = slug
        self.media = work / "media" / slug
        self.page = work / "tracks" / f"{slug}.html"
        self.top_db: Optional[float] = None
        self.lengths: List[float] = []  # seconds of every stem encoded

    def write(self, track: str, musdb_track: Optional[object], gaps: Sequence[str] = ()) -> Path:
        comparison = self.comparison
        targets = [t for t in table_targets(comparison.table)
                   if any(t in m.tracks[track].frames or t in m.global_sdr.get(track, {}) or t in m.sisdr.get(track, {})
                          for m in comparison.methods if track in m.tracks)]
        audio = read_track(musdb_track, tuple(targets)) if musdb_track is not None else None
        self.page.parent.mkdir(parents=True, exist_ok=True)
        notes = [f"missing: {piece}" for piece in gaps]  # (missing_pieces)
        missing = [m.name for m in comparison.methods if track not in m.tracks]
        if missing:
            notes.append(f"no scores from {', '.join(missing)} for this track")
        mixture = self._player("p-mixture", "mixture", "mixture", audio.mixture, audio.rate) if audio else None
        sections = [self._section(track, j, target, audio, mixture) for j, target in enumerate(targets)]
        duration = self._duration(track, audio)
        html = track_html(track, duration, mixture, sections, notes,
                          mixture_methods=sorted(self.sources.mixture_methods) if mixture else ())
        self.page.write_text(html, encoding="utf-8")
        return self.page

    def _section(self, track: str, j: int, target: str, audio: Optional[TrackAudio],
                 mixture: Optional[Player]) -> TargetSection:
        reference = None
        if audio is not None and target in audio.references:
            reference = self._player(f"p-ref-{j}", "reference", f"reference.{_safe(target)}",
                                     audio.references[target], audio.rate)
        section = TargetSection(target, reference)
        for k, name in enumerate(self.comparison.order):
            method = self.comparison.method(name)
            scores = method.tracks.get(track)
            whole = {label: by_track[track][target] for label, by_track in (("uSDR", method.global_sdr),
                                                                            ("SI-SDR", method.sisdr))
                     if target in by_track.get(track, {})}
            if scores is None or (target not in scores.frames and not whole):
                continue
            section.whole[name] = whole
            curve = None
            if target in scores.frames:
                curve = Curve(scores.times[target], scores.durations[target], scores.frames[target]["SDR"])
            player = None
            path = None if name in self.sources.mixture_methods else self.sources.estimate_path(name, track, target)
            if path is not None:
                x, rate = read_estimate(path)
                player = self._player(f"p-{k}-{j}", name, f"{k}-{_safe(name, 24)}.{_safe(target)}", x, rate)
            section.estimates.append((name, player, curve, nanmedian(curve.sdr) if curve is not None else math.nan))
        return section

    def _player(self, player_id: str, label: str, stem: str, audio: np.ndarray, rate: float) -> Player:
        """Encode one stem (and its spectrogram) into the track's media folder."""
        fmt = self.settings.audio_format
        self.media.mkdir(parents=True, exist_ok=True)
        encode(self.media / f"{stem}.{fmt}", audio, rate, fmt)
        prefix = f"../media/{self.slug}/{stem}"
        wav = None
        if self.settings.wav:
            encode(self.media / f"{stem}.wav", audio, rate, "wav")
            wav = f"{prefix}.wav"
        image = None
        if self.settings.spectrograms:
            spec = spectrogram(audio, rate)
            if self.top_db is None:  # the first stem is the mixture when there is one: every image on its scale
                self.top_db = float(np.max(spec)) if spec.size else 0.0
            write_spectrogram(self.media / f"{stem}.png", spec, self.top_db)
            image = f"{prefix}.png"
        self.lengths.append(audio.shape[-1] / rate)
        return Player(player_id, label, f"{prefix}.{fmt}", wav, image)

    def _duration(self, track: str, audio: Optional[TrackAudio]) -> float:
        if audio is not None:
            return audio.duration
        if self.lengths:
            return max(self.lengths)
        ends = [m.tracks[track].end() for m in self.comparison.methods if track in m.tracks]
        return max(ends) if ends else 0.0


# ---------------------------------------------------------------------------
# the page of one evaluation (eval.py --report)


def evaluation_report(evaldir: PathLike, estimates_dir: PathLike, dest: PathLike, root: Optional[PathLike] = None,
                      subset: str = "test", is_wav: bool = False, name: str = "model",
                      baseline_dir: Optional[PathLike] = None, tracks: Optional[Sequence[str]] = None,
                      settings: ReportSettings = ReportSettings(), progress: bool = False,
                      on_warning: Optional[Callable[[str], None]] = None) -> Path:
    """The listening page of one ``eval.py`` run: the model, and the mixture baseline when it was scored.

    Tracks whose estimates are missing or incomplete are reported as :func:`write_report` says.

    Args:
        evaldir: the model's scores (``EVALDIR``).
        estimates_dir: the model's estimates (``ESTIMATES/<subset>/<track>/<target>.wav``).
        root: the MUSDB18 root with the mixtures and references.
        name: the model's name on the page.
        baseline_dir: the mixture baseline's scores (``EVALDIR/mixture-baseline``), or None.
        tracks: only these tracks (None: every track scored).

    Returns:
        the path of ``index.html``.
    """
    check_report_folder(dest)
    baseline = "mixture"
    if name == baseline:
        name = "model"
    folders = [(name, evaldir)] + ([(baseline, baseline_dir)] if baseline_dir is not None else [])
    comparison = compare_folders(folders, CompareSettings(subset=subset), minimum=1)
    if tracks is not None:
        keep = set(tracks)
        comparison = _restricted(comparison, keep)
    sources = AudioSources(Path(root) if root is not None else None, is_wav, subset, {name: Path(estimates_dir)},
                           frozenset({baseline}) if baseline_dir is not None else frozenset())
    title = settings.title or (f"{name} against the mixture baseline" if baseline_dir is not None else name)
    return write_report(comparison, dest, sources, replace(settings, title=title), progress=progress,
                        on_warning=on_warning)


def _restricted(comparison: Comparison, keep: set) -> Comparison:
    """The comparison of the same methods on the tracks in ``keep`` only."""
    from .run import compare
    from .scores import MethodScores

    methods = [MethodScores(m.name, m.folder, {t: f for t, f in m.tracks.items() if t in keep},
                            {t: g for t, g in m.global_sdr.items() if t in keep},
                            {t: g for t, g in m.sisdr.items() if t in keep}) for m in comparison.methods]
    if not any(m.tracks for m in methods):
        raise CompareError("none of the tracks evaluated has scores")
    return compare(methods, comparison.settings)


def write_listening_page(settings: EvaluationSettings, tracks: Sequence[str],
                         on_warning: Optional[Callable[[str], None]] = None) -> Path:
    """Write the listening page of an evaluation run into ``settings.report``
    (:func:`evaluation_report`): the model, named after its folder (or
    the estimates folder with ``score_only``), and the mixture baseline with ``settings.baseline``.

    Args:
        settings: the run's :class:`~openunmix.evaluation.EvaluationSettings` (``report`` set).
        tracks: the tracks scored.
        on_warning: called with one line per track with estimates missing (``settings.strict``: an error).

    Returns:
        the page's ``index.html``.

    Raises:
        CompareError, EvaluationError, OSError: the page cannot be written; one line.
    """
    s = settings
    if s.report is None:
        raise CompareError("no report folder to write the listening page into")
    name = Path(str(s.model).rstrip("/\\")).name if s.model else Path(s.outdir).name
    return evaluation_report(
        s.evaldir, s.outdir, s.report, s.root, s.subset, s.is_wav, name or "model",
        baseline_folder(s.evaldir) if s.baseline else None, tracks,
        ReportSettings(wav=s.report_wav, strict=s.strict), s.progress, on_warning,
    )
