"""Evaluation on MUSDB18: separate a subset, score it with museval, aggregate as in SiSEC 2018.

The steps can run apart (separation on a GPU machine, scoring on CPUs):

* :func:`separate_tracks` writes ``ESTIMATES_DIR/<subset>/<track>/<source>.wav``
  (32-bit float) with one :class:`~openunmix.model.Separator`;
* :func:`score_tracks` scores the estimates on disk with BSSEval v4 (museval,
  1 s windows and hops) in parallel processes and writes per track
  ``EVAL_DIR/<subset>/<track>.json`` (museval's own format) and
  ``EVAL_DIR/global_sdr/<subset>/<track>.json`` (whole-track "MDX" SDR);
* :func:`summarize` aggregates per-track values: per track the median over
  frames (NaN frames ignored), then the median over tracks, per target and
  metric, and the mean over tracks of the whole-track SDR.

Audio arrays here are ``(channels, samples)``; the estimates of a track are
``{source: (channels, samples)}``. musdb and museval use ``(samples,
channels)``; the arrays are transposed only where they are called.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from . import audio as audio_io
from .audio import AudioError
from .separate import SeparationSettings, separate, separate_file
from .utils import PathLike, atomic_path, save_json

Frames = Dict[str, Dict[str, np.ndarray]]  # target -> metric -> value per frame
Summary = Dict[str, Dict[str, float]]  # target -> column -> value

METRICS: Tuple[str, ...] = ("SDR", "SIR", "ISR", "SAR")
COLUMNS: Tuple[str, ...] = METRICS + ("global_SDR", "tracks")
# the targets musdb defines (its mus.yaml), in the order they are reported
MUSDB_TARGETS: Tuple[str, ...] = ("vocals", "drums", "bass", "other", "accompaniment", "linear_mixture")
WINDOW = 1.0  # seconds: BSSEval v4 window and hop of SiSEC 2018
EPS = 1e-7  # added to both energies of the whole-track SDR
SUBTYPE = "FLOAT"  # estimates are written as 32-bit float wav: no quantisation noise in the scores
GLOBAL_DIR = "global_sdr"


class EvaluationError(Exception):
    """A dataset, estimate folder or result file that cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class TrackScores:
    """Scores of one track.

    Attributes:
        track: the track name.
        frames: ``{target: {metric: values}}``, one value per 1 s frame (NaN
            where museval gives none, e.g. a silent reference).
        global_sdr: ``{target: dB}``, the SDR over the whole track.
    """

    track: str
    frames: Frames
    global_sdr: Dict[str, float]


@dataclass(frozen=True)
class ScoreJob:
    """What one scoring process needs: a musdb track (picklable) and where things are.

    ``estimates_dir`` None scores the unprocessed mixture as the estimate of
    every source in ``sources``; otherwise the estimates are read from
    ``estimates_dir/<subset>/<track>/<source>.wav`` (every musdb target found
    there when ``sources`` is None).
    """

    track: Any
    evaldir: Path
    estimates_dir: Optional[Path]
    sources: Optional[Tuple[str, ...]]


# ---------------------------------------------------------------------------
# paths


def estimates_folder(estimates_dir: PathLike, subset: str, track: str) -> Path:
    """``estimates_dir/<subset>/<track>``: one ``<source>.wav`` per source."""
    return Path(estimates_dir) / subset / track


def scores_path(evaldir: PathLike, subset: str, track: str) -> Path:
    """``evaldir/<subset>/<track>.json``: museval's per-frame scores."""
    return Path(evaldir) / subset / f"{track}.json"


def global_sdr_path(evaldir: PathLike, subset: str, track: str) -> Path:
    """``evaldir/global_sdr/<subset>/<track>.json``: whole-track SDR per target.

    Kept out of ``evaldir/<subset>`` so that museval's ``EvalStore.add_eval_dir``
    reads only its own files.
    """
    return Path(evaldir) / GLOBAL_DIR / subset / f"{track}.json"


def scorable(sources: Sequence[str]) -> List[str]:
    """The sources museval scores: those that are musdb targets (not ``residual``)."""
    return [s for s in sources if s in MUSDB_TARGETS]


def check_scorable(sources: Sequence[str]) -> List[str]:
    """:func:`scorable`, raising :class:`EvaluationError` when museval cannot score them.

    BSSEval v4 needs the estimates of at least two targets of a track.
    """
    names = scorable(sources)
    if len(names) < 2:
        raise EvaluationError(
            "museval needs estimates of at least two musdb targets "
            f"({', '.join(MUSDB_TARGETS[:5])}); got: {', '.join(sources) or 'none'}"
        )
    return names


def check_writable(folder: PathLike, what: str) -> None:
    """Raise :class:`EvaluationError` unless ``folder`` is, or can be created as, a writable folder.

    Nothing is created: a run that fails later leaves no empty folders behind.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise EvaluationError(f"{folder}: cannot create the {what} folder ({probe} is not a folder)")
    if not os.access(probe, os.W_OK | os.X_OK):
        if probe == folder:
            raise EvaluationError(f"{folder}: the {what} folder is not writable")
        raise EvaluationError(f"{folder}: cannot create the {what} folder ({probe} is not writable)")


# ---------------------------------------------------------------------------
# tracks


def list_tracks(
    root: PathLike,
    subset: str = "test",
    is_wav: bool = False,
    names: Optional[Sequence[str]] = None,
) -> List[Any]:
    """The musdb tracks of a subset, sorted by name.

    Args:
        root: MUSDB18 root, holding ``<subset>/<track>.stem.mp4`` or, with
            ``is_wav``, ``<subset>/<track>/{mixture,vocals,...}.wav``.
        names: keep only these tracks (all of them must exist).

    Raises:
        EvaluationError: missing root, no tracks, unknown names, unreadable tracks.
    """
    import musdb

    root = Path(root)
    if not root.is_dir():
        raise EvaluationError(f"{root}: MUSDB root folder does not exist")
    try:
        db = musdb.DB(root=str(root), is_wav=is_wav, subsets=subset)
    except Exception as err:  # musdb and stempeg raise assorted types (ffprobe missing, bad files)
        raise EvaluationError(f"{root}: cannot list the MUSDB tracks ({_first_line(err)})") from None
    tracks = list(db.tracks)
    if not tracks:
        raise EvaluationError(_no_tracks_message(root, subset, is_wav))
    for track in tracks:
        if track.rate is None:
            raise EvaluationError(f"{track.path}: missing mixture file")
    if names:
        by_name = {t.name: t for t in tracks}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise EvaluationError(
                f"no track named {', '.join(repr(n) for n in unknown)} in {root / subset} "
                f"(tracks: {', '.join(repr(n) for n in list(by_name)[:5])}{', ...' if len(by_name) > 5 else ''})"
            )
        tracks = [by_name[n] for n in dict.fromkeys(names)]
    return tracks


def _no_tracks_message(root: Path, subset: str, is_wav: bool) -> str:
    folder = root / subset
    if not folder.is_dir():
        return f"{root}: no '{subset}' folder, not a MUSDB root"
    if is_wav:
        hint = " (found .stem.mp4 files: drop --is-wav)" if any(folder.glob("*.stem.mp4")) else ""
        return f"{folder}: no tracks (expected <track>/mixture.wav folders){hint}"
    hint = " (found track folders: add --is-wav)" if any(p.is_dir() for p in folder.iterdir()) else ""
    return f"{folder}: no tracks (expected <track>.stem.mp4 files){hint}"


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


# ---------------------------------------------------------------------------
# separation


def has_estimates(folder: PathLike, sources: Sequence[str]) -> bool:
    """Whether ``folder`` holds ``<source>.wav`` for every source."""
    return all((Path(folder) / f"{s}.wav").is_file() for s in sources)


def separate_array(separator: Any, mixture: np.ndarray, rate: float, segment: float, overlap: float) -> np.ndarray:
    """Separate in-memory audio at any rate.

    Args:
        mixture: ``(channels, samples)`` at ``rate``.

    Returns:
        ``(sources, channels, samples)`` at ``rate``, as long as ``mixture``,
        with the separator's channel count.
    """
    x = audio_io.fit_channels(np.ascontiguousarray(mixture, dtype=np.float32), separator.nb_channels)
    x = audio_io.resample(x, rate, separator.sample_rate)
    est = separate(separator, torch.from_numpy(np.ascontiguousarray(x)), segment=segment, overlap=overlap).numpy()
    est = np.stack([audio_io.resample(e, separator.sample_rate, rate) for e in est])
    return _fit_length(est, mixture.shape[-1])


def separate_track(separator: Any, track: Any, outdir: PathLike, segment: float, overlap: float) -> Dict[str, Path]:
    """Separate one musdb track into ``outdir/<source>.wav`` (32-bit float, the track's rate).

    Decoded-wav tracks are streamed from ``mixture.wav`` in bounded memory;
    ``.stem.mp4`` tracks are decoded by musdb and separated in memory.

    Returns:
        ``{source: path}``.

    Raises:
        AudioError: unusable mixture; OSError: ``outdir`` not writable.
    """
    outdir = Path(outdir)
    if track.is_wav:
        return separate_file(separator, track.path, outdir, segment=segment, overlap=overlap,
                             ext=".wav", subtype=SUBTYPE)
    try:
        mixture = np.ascontiguousarray(track.audio.T, dtype=np.float32)
    except Exception as err:  # stempeg/ffmpeg failures come in several types
        raise AudioError(f"{track.path}: cannot decode the mixture ({_first_line(err)})") from None
    est = separate_array(separator, mixture, float(track.rate), segment, overlap)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, x in zip(separator.source_names, est):
        paths[name] = outdir / f"{name}.wav"
        audio_io.save(paths[name], x, float(track.rate), subtype=SUBTYPE)
    return paths


def separate_tracks(
    separator: Any,
    tracks: Sequence[Any],
    estimates_dir: PathLike,
    segment: float,
    overlap: float,
    force: bool = False,
    progress: bool = True,
) -> Tuple[List[str], Dict[str, str]]:
    """Separate every track whose estimates are not all on disk yet (all with ``force``).

    Returns:
        ``(names of the tracks separated now, {track name: error message})``.
    """
    from tqdm import tqdm

    done: List[str] = []
    failed: Dict[str, str] = {}
    for track in tqdm(tracks, desc="separating", unit="track", disable=not progress):
        folder = estimates_folder(estimates_dir, track.subset, track.name)
        if not force and has_estimates(folder, separator.source_names):
            continue
        try:
            separate_track(separator, track, folder, segment, overlap)
        except (AudioError, OSError) as err:
            failed[track.name] = str(err)
            continue
        done.append(track.name)
    return done, failed


# ---------------------------------------------------------------------------
# scoring one track


def global_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = EPS) -> float:
    """Whole-track SDR in dB, as in the Music Demixing challenge.

    ``10 log10((sum ref^2 + eps) / (sum (ref - est)^2 + eps))`` over all
    channels and samples of ``(channels, samples)`` arrays of the same shape.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference {ref.shape} and estimate {est.shape} differ in shape")
    num = np.sum(ref ** 2) + eps
    den = np.sum((ref - est) ** 2) + eps
    return float(10.0 * np.log10(num / den))


def fit_estimate(estimate: np.ndarray, channels: int, samples: int, name: str = "estimate") -> np.ndarray:
    """Fit a ``(channels, samples)`` estimate to the reference's shape, as float64.

    Mono is duplicated for stereo references; the end is cut or zero-padded to
    ``samples`` (as museval does).
    """
    est = np.asarray(estimate, dtype=np.float64)
    if est.ndim != 2:
        raise EvaluationError(f"{name}: expected (channels, samples), got shape {est.shape}")
    if est.shape[0] != channels:
        if est.shape[0] != 1:
            raise EvaluationError(f"{name}: has {est.shape[0]} channels, the reference has {channels}")
        est = np.repeat(est, channels, axis=0)
    return _fit_length(est, samples)


def _fit_length(x: np.ndarray, samples: int) -> np.ndarray:
    """Cut or zero-pad the last axis to ``samples``."""
    if x.shape[-1] >= samples:
        return x[..., :samples]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, samples - x.shape[-1])]
    return np.pad(x, pad)


@contextmanager
def _cached_sources(track: Any) -> Iterator[None]:
    """Decode each source of a musdb track once (musdb decodes on every access otherwise)."""
    try:
        for source in track.sources.values():
            source.audio = source.audio
        yield
    finally:
        for source in track.sources.values():
            source.audio = None


def frames_from_museval(scores: Mapping[str, Any]) -> Frames:
    """``{target: {metric: values}}`` from museval's track scores (its json, parsed).

    Missing or null values are NaN.
    """
    try:
        frames: Frames = {}
        for target in scores["targets"]:
            frames[str(target["name"])] = {
                m: np.array([_number(f["metrics"].get(m)) for f in target["frames"]], dtype=np.float64)
                for m in METRICS
            }
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise EvaluationError(f"not museval track scores ({type(err).__name__}: {err})") from None
    return frames


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def score_track(track: Any, estimates: Mapping[str, np.ndarray], evaldir: Optional[PathLike] = None) -> TrackScores:
    """Score estimates of one musdb track with BSSEval v4 (museval) and the whole-track SDR.

    Args:
        track: a musdb track (from :func:`list_tracks` or ``musdb.DB``).
        estimates: ``{source: (channels, samples)}`` at the track's rate. Only
            the musdb targets among them are scored (at least two); others,
            like ``residual``, are ignored. Mono estimates are duplicated and
            lengths are fitted to the reference.
        evaldir: when given, write ``evaldir/<subset>/<track>.json`` (museval's
            format) and the whole-track SDR file (see :func:`global_sdr_path`),
            each atomically.

    Returns:
        the scores of the musdb targets estimated.
    """
    import museval

    check_scorable(list(estimates))
    names = [t for t in track.targets if t in estimates]  # museval's order
    if len(names) < 2:
        missing = [t for t in scorable(list(estimates)) if t not in names]
        raise EvaluationError(f"{track.path}: no reference for {', '.join(missing)} (missing source files)")
    with _cached_sources(track):
        try:
            refs = {t: np.ascontiguousarray(track.targets[t].audio.T, dtype=np.float64) for t in names}
        except Exception as err:  # stempeg/ffmpeg failures come in several types
            raise EvaluationError(f"{track.path}: cannot decode the references ({_first_line(err)})") from None
        ests = {t: fit_estimate(estimates[t], refs[t].shape[0], refs[t].shape[1], f"{track.name}/{t}") for t in names}
        store = museval.eval_mus_track(
            track, {t: e.T for t, e in ests.items()}, output_dir=None, mode="v4", win=WINDOW, hop=WINDOW
        )
    store.validate()
    frames = frames_from_museval(store.scores)
    scores = TrackScores(track.name, frames, {t: global_sdr(refs[t], ests[t]) for t in names})
    if evaldir is not None:
        write_track_scores(evaldir, track.subset, scores, store.json)
    return scores


def write_track_scores(evaldir: PathLike, subset: str, scores: TrackScores, museval_json: str) -> None:
    """Write the whole-track SDR file, then museval's json (whose presence marks the track done)."""
    glob_path = global_sdr_path(evaldir, subset, scores.track)
    json_path = scores_path(evaldir, subset, scores.track)
    for path in (glob_path, json_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    save_json(glob_path, {"track": scores.track, "eps": EPS, "global_sdr": scores.global_sdr})
    with atomic_path(json_path) as tmp:
        with open(tmp, "w") as f:
            f.write(museval_json)


def load_estimates(
    folder: PathLike, sources: Optional[Sequence[str]] = None, rate: Optional[float] = None
) -> Dict[str, np.ndarray]:
    """Read ``folder/<source>.wav`` files.

    Args:
        sources: the sources to read; None reads every musdb target found.
        rate: the sample rate the files must have.

    Returns:
        ``{source: (channels, samples)}`` float32.

    Raises:
        EvaluationError: missing folder or files, wrong rate; AudioError: unreadable audio.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: no estimates folder")
    if sources is None:
        sources = [t for t in MUSDB_TARGETS if (folder / f"{t}.wav").is_file()]
    estimates = {}
    for source in sources:
        path = folder / f"{source}.wav"
        if not path.is_file():
            raise EvaluationError(f"{path}: missing estimate")
        x, x_rate = audio_io.load(path)
        if rate is not None and x_rate != rate:
            raise EvaluationError(f"{path}: sample rate {x_rate:g} Hz, the reference has {rate:g} Hz")
        estimates[source] = x
    return estimates


# ---------------------------------------------------------------------------
# scoring many tracks


def is_scored(evaldir: PathLike, subset: str, track: str) -> bool:
    """Whether both result files of a track exist."""
    return scores_path(evaldir, subset, track).is_file() and global_sdr_path(evaldir, subset, track).is_file()


def run_job(job: ScoreJob) -> str:
    """Score one track as described by ``job`` and write its result files; return its name."""
    track = job.track
    if job.estimates_dir is None:
        try:
            mixture = np.ascontiguousarray(track.audio.T)
        except Exception as err:  # stempeg/ffmpeg failures come in several types
            raise EvaluationError(f"{track.path}: cannot decode the mixture ({_first_line(err)})") from None
        estimates = {s: mixture for s in job.sources or ()}
    else:
        folder = estimates_folder(job.estimates_dir, track.subset, track.name)
        estimates = load_estimates(folder, job.sources, rate=float(track.rate))
    score_track(track, estimates, job.evaldir)
    return track.name


def score_tracks(
    tracks: Sequence[Any],
    evaldir: PathLike,
    estimates_dir: Optional[PathLike] = None,
    sources: Optional[Sequence[str]] = None,
    cores: int = 1,
    force: bool = False,
    redo: Sequence[str] = (),
    progress: bool = True,
) -> Dict[str, str]:
    """Score tracks in ``cores`` processes; tracks already scored are skipped.

    Args:
        estimates_dir: where the estimates are (see :func:`estimates_folder`);
            None scores the mixture as the estimate of each of ``sources``.
        sources: the sources to score (None: every musdb target on disk).
        force: score every track again.
        redo: names of tracks to score again anyway (e.g. separated just now).

    Returns:
        ``{track name: error message}`` of the tracks that failed.
    """
    from tqdm import tqdm

    if estimates_dir is None and not sources:
        raise ValueError("scoring the mixture needs the sources to score")
    evaldir = Path(evaldir)
    est_dir = None if estimates_dir is None else Path(estimates_dir)
    srcs = None if sources is None else tuple(sources)
    jobs = [
        ScoreJob(t, evaldir, est_dir, srcs)
        for t in tracks
        if force or t.name in redo or not is_scored(evaldir, t.subset, t.name)
    ]
    failed: Dict[str, str] = {}
    bar = tqdm(total=len(jobs), desc="scoring", unit="track", disable=not progress)
    try:
        if cores <= 1 or len(jobs) <= 1:
            for job in jobs:
                _collect(job, lambda j=job: run_job(j), failed)
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")  # no fork of a process running torch threads
            workers = min(cores, len(jobs))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_worker) as pool:
                futures: Dict[Future, ScoreJob] = {pool.submit(run_job, job): job for job in jobs}
                try:
                    for future in as_completed(futures):
                        _collect(futures[future], future.result, failed)
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    return failed


def _quiet_worker() -> None:
    """Let Ctrl-C end a scoring process at once and without a traceback; the parent reports it.

    A SIGINT ignored by the parent (``nohup``, background jobs) stays ignored.
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def _collect(job: ScoreJob, result: Any, failed: Dict[str, str]) -> None:
    """Call ``result()``; record its error message under the track's name."""
    try:
        result()
    except (EvaluationError, AudioError) as err:
        failed[job.track.name] = str(err)
    except Exception as err:  # a worker that died, or museval failing on odd input: report, go on
        if _interrupted(err):
            raise KeyboardInterrupt from None
        failed[job.track.name] = f"{job.track.name}: scoring failed ({type(err).__name__}: {_first_line(err)})"


def _interrupted(err: BaseException) -> bool:
    """Whether ``err`` was raised while a Ctrl-C was propagating.

    museval's ``except np.linalg.linalg.LinAlgError`` (gone in numpy 2) turns a
    KeyboardInterrupt during its solve into an AttributeError.
    """
    seen = err.__context__
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


# ---------------------------------------------------------------------------
# reading results back


def read_track_scores(path: PathLike) -> Frames:
    """Per-frame scores of one track from a museval json file."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:
        raise EvaluationError(f"{path}: not readable json ({err})") from None
    try:
        return frames_from_museval(data)
    except EvaluationError as err:
        raise EvaluationError(f"{path}: {err}") from None


def read_global_sdr(path: PathLike) -> Dict[str, float]:
    """``{target: dB}`` from a whole-track SDR file."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
        return {str(k): float(v) for k, v in data["global_sdr"].items()}
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise EvaluationError(f"{path}: not a whole-track SDR file ({type(err).__name__}: {err})") from None


def load_results(
    evaldir: PathLike, subset: str, tracks: Sequence[str]
) -> Tuple[Dict[str, Frames], Dict[str, Dict[str, float]]]:
    """Per-frame scores and whole-track SDRs of the named tracks that have results.

    Returns:
        ``({track: frames}, {track: {target: dB}})``; tracks without result
        files are left out.
    """
    frames: Dict[str, Frames] = {}
    glob: Dict[str, Dict[str, float]] = {}
    for name in tracks:
        if not is_scored(evaldir, subset, name):
            continue
        frames[name] = read_track_scores(scores_path(evaldir, subset, name))
        glob[name] = read_global_sdr(global_sdr_path(evaldir, subset, name))
    return frames, glob


# ---------------------------------------------------------------------------
# aggregation (pure)


def nanmedian(values: Sequence[float]) -> float:
    """Median of the values that are not NaN; NaN when there are none."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    return float(np.median(x)) if x.size else math.nan


def track_medians(frames: Mapping[str, Mapping[str, Sequence[float]]]) -> Dict[str, Dict[str, float]]:
    """Per target and metric, the median over the frames of one track, NaN frames ignored."""
    return {target: {m: nanmedian(values[m]) for m in METRICS} for target, values in frames.items()}


def order_targets(targets: Sequence[str]) -> List[str]:
    """musdb targets in musdb's order, then any others alphabetically."""
    known = [t for t in MUSDB_TARGETS if t in targets]
    return known + sorted(set(targets) - set(known))


def summarize(
    frames_by_track: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    global_by_track: Mapping[str, Mapping[str, float]],
) -> Summary:
    """Aggregate as in SiSEC 2018, plus the mean whole-track ("MDX") SDR.

    Args:
        frames_by_track: ``{track: {target: {metric: values per frame}}}``.
        global_by_track: ``{track: {target: whole-track SDR}}``.

    Returns:
        ``{target: {"SDR", "SIR", "ISR", "SAR": median over tracks of the
        per-track median over frames (NaN ignored at both levels),
        "global_SDR": mean over tracks, "tracks": number of tracks}}``.
    """
    medians = {track: track_medians(frames) for track, frames in frames_by_track.items()}
    found = {t for m in medians.values() for t in m} | {t for g in global_by_track.values() for t in g}
    targets = order_targets(sorted(found))
    summary: Summary = {}
    for target in targets:
        row: Dict[str, float] = {
            m: nanmedian([per[target][m] for per in medians.values() if target in per]) for m in METRICS
        }
        sdrs = [g[target] for g in global_by_track.values() if target in g]
        row["global_SDR"] = float(np.mean(sdrs)) if sdrs else math.nan
        row["tracks"] = sum(1 for per in medians.values() if target in per)
        summary[target] = row
    return summary


def format_table(summary: Summary) -> str:
    """The summary as an aligned text table, one target per line."""
    header = f"{'target':<16}" + "".join(f"{c:>8}" for c in METRICS) + f"{'SDR(glob)':>11}{'tracks':>8}"
    lines = [header]
    for target, row in summary.items():
        lines.append(
            f"{target:<16}" + "".join(f"{row[m]:>8.2f}" for m in METRICS)
            + f"{row['global_SDR']:>11.2f}{int(row['tracks']):>8d}"
        )
    return "\n".join(lines)


def format_comparison(model: Summary, mixture: Summary) -> str:
    """Median SDR of the model against the unprocessed mixture, per target."""
    lines = [f"{'target':<16}{'model SDR':>11}{'mixture SDR':>13}{'gain':>8}"]
    for target, row in model.items():
        if target in mixture:
            floor = mixture[target]["SDR"]
            lines.append(f"{target:<16}{row['SDR']:>11.2f}{floor:>13.2f}{row['SDR'] - floor:>+8.2f}")
    return "\n".join(lines)


def write_csv(path: PathLike, summary: Summary) -> None:
    """Write the summary as csv (``target,SDR,SIR,ISR,SAR,global_SDR,tracks``), atomically."""
    lines = [",".join(("target",) + COLUMNS)]
    for target, row in summary.items():
        cells = [f"{row[c]:.6f}" for c in METRICS + ("global_SDR",)] + [str(int(row["tracks"]))]
        lines.append(",".join([_csv_cell(target)] + cells))
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def plot_sdr(
    path: PathLike, frames_by_track: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], title: str = ""
) -> None:
    """Box plot of the per-track SDR (median over frames) per target, written as png atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state or backend switch

    medians = {track: track_medians(frames) for track, frames in frames_by_track.items()}
    targets = order_targets(sorted({t for m in medians.values() for t in m}))
    data = [[v for v in (per[t]["SDR"] for per in medians.values() if t in per) if not math.isnan(v)] for t in targets]
    fig = Figure(figsize=(1.4 * max(len(targets), 3) + 1.5, 4.0))
    ax = fig.add_subplot()
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(targets) + 1), targets)
    ax.set_ylabel("SDR (dB), median over 1 s frames")
    ax.set_title(title or f"SDR per track ({len(medians)} tracks)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_report(evaldir: PathLike, subset: str, tracks: Sequence[str], title: str = "") -> Tuple[Summary, int]:
    """Aggregate the results of the named tracks found in ``evaldir``; write ``results.csv`` and ``sdr.png``.

    Returns:
        ``(summary, number of tracks aggregated)``.

    Raises:
        EvaluationError: no results at all, or unreadable result files.
    """
    frames, glob = load_results(evaldir, subset, tracks)
    if not frames:
        raise EvaluationError(f"{Path(evaldir) / subset}: no scores to aggregate")
    summary = summarize(frames, glob)
    write_csv(Path(evaldir) / "results.csv", summary)
    plot_sdr(Path(evaldir) / "sdr.png", frames, title)
    return summary, len(frames)


# ---------------------------------------------------------------------------
# entry points


def evaluate_mixture_baseline(
    root: PathLike,
    subset: str = "test",
    targets: Sequence[str] = ("vocals", "accompaniment"),
    is_wav: bool = False,
    evaldir: PathLike = "eval-mixture",
    cores: int = 1,
    force: bool = False,
    tracks: Optional[Sequence[str]] = None,
    progress: bool = False,
) -> Summary:
    """Score the unprocessed mixture as the estimate of each target: the floor a model must beat.

    Writes the per-track files, ``results.csv`` and ``sdr.png`` under
    ``evaldir`` (keep it apart from the model's) and returns the summary (see
    :func:`summarize`).

    Raises:
        EvaluationError: unusable dataset or targets, or a track that failed.
    """
    check_scorable(list(targets))
    selected = list_tracks(root, subset, is_wav, tracks)
    check_writable(evaldir, "evaluation")
    failed = score_tracks(selected, evaldir, None, list(targets), cores, force, progress=progress)
    if failed:
        raise EvaluationError(next(iter(failed.values())))
    summary, _ = write_report(evaldir, subset, [t.name for t in selected], "mixture as the estimate")
    return summary


def separate_dataset(
    model_dir: PathLike,
    tracks: Sequence[Any],
    estimates_dir: PathLike,
    targets: Optional[Sequence[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    force: bool = False,
    for_scoring: bool = True,
    progress: bool = True,
) -> Tuple[List[str], Dict[str, str], List[str]]:
    """Load the model folder once and separate the tracks (see :func:`separate_tracks`).

    With ``for_scoring``, a model whose sources museval cannot score is
    refused before anything is separated.

    Returns:
        ``(names of the tracks separated now, {track name: error message},
        the musdb targets among the separator's sources)``.

    Raises:
        ModelError: unusable model folder; EvaluationError: unscorable sources.
    """
    separator = settings.load(model_dir, targets)
    sources = check_scorable(separator.source_names) if for_scoring else scorable(separator.source_names)
    separated, failed = separate_tracks(
        separator, tracks, estimates_dir, settings.segment, settings.overlap, force, progress,
    )
    return separated, failed, sources


def evaluate_main(
    model_dir: Optional[str],
    root: str,
    subset: str = "test",
    is_wav: bool = False,
    targets: Optional[List[str]] = None,
    outdir: str = "estimates",
    evaldir: str = "eval",
    settings: SeparationSettings = SeparationSettings(),
    cores: int = 1,
    tracks: Optional[List[str]] = None,
    force: bool = False,
    estimates_only: bool = False,
    score_only: bool = False,
    progress: bool = True,
    baseline: bool = False,
) -> int:
    """What ``eval.py`` runs: separate, score, aggregate; errors become one line on stderr.

    ``score_only`` needs no model: it scores the estimates in ``outdir``
    (the sources in ``targets``, or every musdb target found there).
    ``estimates_only`` separates and scores nothing. With ``baseline``, the
    unprocessed mixture is scored too (in ``evaldir/mixture-baseline``) and
    the model's median SDR is compared with it. ``settings``: how to separate
    (default :class:`~openunmix.separate.SeparationSettings`). The table goes to stdout,
    progress and errors to stderr.

    Returns:
        the exit status: 0 all done, 1 some tracks failed, 2 nothing could be
        done (bad dataset, model or folders), 130 interrupted.
    """
    from .commands.common import error
    from .utils import ModelError

    try:
        selected = list_tracks(root, subset, is_wav, tracks)
        if score_only:
            if not Path(outdir).is_dir():
                raise EvaluationError(f"{outdir}: no estimates folder")
            sources = check_scorable(targets) if targets else None
        else:
            check_writable(outdir, "estimates")
        if not estimates_only:
            check_writable(evaldir, "evaluation")
        separated: List[str] = []
        failed: Dict[str, str] = {}
        if not score_only:
            if model_dir is None:
                raise EvaluationError("MODEL_DIR is needed unless --score-only is given")
            separated, failed, sources = separate_dataset(
                model_dir, selected, outdir, targets, settings, force, for_scoring=not estimates_only,
                progress=progress,
            )
        if estimates_only:
            return _finish(failed, len(selected), f"estimates in {Path(outdir) / subset}")
        todo = [t for t in selected if t.name not in failed]
        failed.update(score_tracks(todo, evaldir, outdir, sources, cores, force, redo=separated, progress=progress))
        try:
            summary, count = write_report(evaldir, subset, [t.name for t in selected])
        except EvaluationError:
            if failed:  # nothing scored: the per-track errors say why
                return _finish(failed, len(selected), "")
            raise
        print(format_table(summary), flush=True)
        if baseline:
            floor = evaluate_mixture_baseline(
                root, subset, list(summary), is_wav, Path(evaldir) / "mixture-baseline", cores, force,
                tracks, progress,
            )
            print(format_comparison(summary, floor), flush=True)
        return _finish(failed, len(selected), f"{count} tracks aggregated: {Path(evaldir) / 'results.csv'}, "
                       f"{Path(evaldir) / 'sdr.png'}")
    except (EvaluationError, ModelError, OSError) as err:
        error(str(err))
        return 2
    except KeyboardInterrupt:
        error("interrupted; run the same command again to resume")
        return 130


def _finish(failed: Mapping[str, str], total: int, done: str) -> int:
    """Report per-track failures (one line each, their count when several) and what was written.

    Returns:
        the exit status: 1 when a track failed, else 0.
    """
    from .commands.common import error

    for message in failed.values():
        error(message)
    if done:
        print(done, file=sys.stderr, flush=True)
    if len(failed) > 1:
        error(f"{len(failed)} of {total} tracks failed")
    return 1 if failed else 0
