"""Scoring with museval (BSSEval v4, 1 s windows and hops) and the whole-track metrics, one track or many.

Per track up to two files are written (see :mod:`.tracks` for the paths):
museval's own json with per-frame SDR/SIR/ISR/SAR (metric ``bsseval``), and
the whole-track metrics per target (``usdr``: the challenges' SDR,
``sisdr``: SI-SDR; :mod:`.metrics`). Which are computed is the caller's
choice (``metrics``); without ``bsseval`` museval is not run at all. Many
tracks are scored in parallel processes.

Audio arrays are ``(channels, samples)``; musdb and museval use ``(samples,
channels)``; the arrays are transposed only where they are called.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..audio import AudioError
from ..utils import PathLike, atomic_path, save_json
from .estimates import fit_length, load_estimates
from .metrics import BSSEVAL, DEFAULT_METRICS, EPS, SISDR, USDR, usdr, whole_track_scores
from .tracks import (
    EvaluationError, check_scorable, estimates_folder, first_line, global_sdr_path, is_scored, remove_stale_results,
    scorable, scores_path,
)

Frames = Dict[str, Dict[str, np.ndarray]]  # target -> metric -> value per frame

METRICS: Tuple[str, ...] = ("SDR", "SIR", "ISR", "SAR")
WINDOW = 1.0  # seconds: BSSEval v4 window and hop of SiSEC 2018


@dataclass(frozen=True)
class TrackScores:
    """Scores of one track.

    Attributes:
        track: the track name.
        frames: ``{target: {metric: values}}``, one value per 1 s frame (NaN
            where museval gives none, e.g. a silent reference); empty when
            BSSEval was not computed.
        global_sdr: ``{target: dB}``, the uSDR (the challenges' SDR over the
            whole track); empty when not computed.
        sisdr: ``{target: dB}``, the SI-SDR over the whole track; empty when not computed.
    """

    track: str
    frames: Frames
    global_sdr: Dict[str, float]
    sisdr: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreJob:
    """What one scoring process needs: a musdb track (picklable) and where things are.

    ``estimates_dir`` None scores the unprocessed mixture as the estimate of
    every source in ``sources``; otherwise the estimates are read from
    ``estimates_dir/<subset>/<track>/<source>.wav`` (every musdb target found
    there when ``sources`` is None). ``metrics``: what to compute (:mod:`.metrics`).
    """

    track: Any
    evaldir: Path
    estimates_dir: Optional[Path]
    sources: Optional[Tuple[str, ...]]
    metrics: Tuple[str, ...] = DEFAULT_METRICS


# ---------------------------------------------------------------------------
# one track


def global_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = EPS) -> float:
    """Whole-track SDR in dB, as in the Music Demixing challenge: :func:`.metrics.usdr` of ``(channels,
    samples)`` arrays of the same shape."""
    return usdr(reference, estimate, eps)


def fit_estimate(estimate: np.ndarray, channels: int, samples: int, name: str = "estimate") -> np.ndarray:
    """Fit a ``(channels', samples')`` estimate to the reference's ``(channels, samples)``, as float64.

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
    return fit_length(est, samples)


@contextmanager
def cached_sources(track: Any) -> Iterator[None]:
    """Decode each source of a musdb track once (musdb decodes on every access otherwise).

    Sources in 16-bit or float wav files are read directly (:func:`wav_as_musdb_reads_it`) instead of
    through musdb's ffmpeg process per file, which costs more than the whole-track metrics themselves.
    """
    try:
        for source in track.sources.values():
            audio = wav_as_musdb_reads_it(source.path, getattr(track, "rate", None))
            source.audio = source.audio if audio is None else audio
        yield
    finally:
        for source in track.sources.values():
            source.audio = None


def wav_as_musdb_reads_it(path: Any, rate: Optional[float]) -> Optional[np.ndarray]:
    """``(samples, channels)`` float64 of a 16-bit or float wav file, the very values musdb gets from ffmpeg
    (16-bit samples: ``round(x * 32768)`` clipped, over 32768); None for other files (musdb decodes them).
    """
    import soundfile as sf

    try:
        if str(path).lower()[-4:] != ".wav":
            return None
        info = sf.info(str(path))
        if info.subtype not in ("PCM_16", "FLOAT") or (rate is not None and info.samplerate != rate):
            return None
        audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError):
        return None  # musdb says what is wrong with the file
    quantized = np.clip(np.rint(audio * np.float32(32768)), -32768, 32767)
    return quantized.astype(np.float64) / 32768.0


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


def score_track(track: Any, estimates: Mapping[str, np.ndarray], evaldir: Optional[PathLike] = None,
                metrics: Sequence[str] = DEFAULT_METRICS) -> TrackScores:
    """Score estimates of one musdb track with the chosen metrics (BSSEval v4 by museval, uSDR, SI-SDR).

    Args:
        track: a musdb track (from :func:`~.tracks.list_tracks` or ``musdb.DB``).
        estimates: ``{source: (channels, samples)}`` at the track's rate. Only
            the musdb targets among them are scored (at least two for
            BSSEval, which needs them; one otherwise); others, like
            ``residual``, are ignored. Mono estimates are duplicated and
            lengths are fitted to the reference.
        evaldir: when given, write ``evaldir/<subset>/<track>.json`` (museval's
            format, with ``bsseval``) and the whole-track metrics' file (see
            :func:`~.tracks.global_sdr_path`), each atomically.
        metrics: names of :data:`.metrics.METRIC_NAMES`; without ``bsseval``
            museval is not run.

    Returns:
        the scores of the musdb targets estimated.
    """
    bss = BSSEVAL in metrics
    least = 2 if bss else 1
    check_scorable(list(estimates), least)
    names = [t for t in track.targets if t in estimates]  # museval's order
    if len(names) < least:
        missing = [t for t in scorable(list(estimates)) if t not in names]
        raise EvaluationError(f"{track.path}: no reference for {', '.join(missing)} (missing source files)")
    with cached_sources(track):
        try:
            refs = {t: np.ascontiguousarray(track.targets[t].audio.T, dtype=np.float64) for t in names}
        except Exception as err:  # stempeg/ffmpeg failures come in several types
            raise EvaluationError(f"{track.path}: cannot decode the references ({first_line(err)})") from None
        ests = {t: fit_estimate(estimates[t], refs[t].shape[0], refs[t].shape[1], f"{track.name}/{t}") for t in names}
        store = None
        if bss:
            import museval

            store = museval.eval_mus_track(
                track, {t: e.T for t, e in ests.items()}, output_dir=None, mode="v4", win=WINDOW, hop=WINDOW
            )
    frames: Frames = {}
    if store is not None:
        store.validate()
        frames = frames_from_museval(store.scores)
    whole = {t: whole_track_scores(refs[t], ests[t], metrics) for t in names}
    scores = TrackScores(track.name, frames, {t: w[USDR] for t, w in whole.items() if USDR in w},
                         {t: w[SISDR] for t, w in whole.items() if SISDR in w})
    if evaldir is not None:
        write_track_scores(evaldir, track.subset, scores, None if store is None else store.json)
    return scores


def write_track_scores(evaldir: PathLike, subset: str, scores: TrackScores, museval_json: Optional[str]) -> None:
    """Write museval's json (when BSSEval was computed), then the whole-track metrics' file.

    The whole-track file (``{"track", "eps", "usdr": {target: dB}, "sisdr": {target: dB}, "global_sdr":
    the uSDR again, as files before SI-SDR had it}``, each metric only when computed) is written last.
    """
    glob_path = global_sdr_path(evaldir, subset, scores.track)
    json_path = scores_path(evaldir, subset, scores.track)
    glob_path.parent.mkdir(parents=True, exist_ok=True)
    if museval_json is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(json_path) as tmp:
            with open(tmp, "w") as f:
                f.write(museval_json)
    whole: Dict[str, Any] = {"track": scores.track, "eps": EPS}
    if scores.global_sdr:
        whole.update(usdr=scores.global_sdr, global_sdr=scores.global_sdr)
    if scores.sisdr:
        whole["sisdr"] = scores.sisdr
    save_json(glob_path, whole)


# ---------------------------------------------------------------------------
# many tracks


def run_job(job: ScoreJob) -> str:
    """Score one track as described by ``job`` and write its result files; return its name."""
    track = job.track
    if job.estimates_dir is None:
        try:
            mixture = np.ascontiguousarray(track.audio.T)
        except Exception as err:  # stempeg/ffmpeg failures come in several types
            raise EvaluationError(f"{track.path}: cannot decode the mixture ({first_line(err)})") from None
        estimates = {s: mixture for s in job.sources or ()}
    else:
        folder = estimates_folder(job.estimates_dir, track.subset, track.name)
        estimates = load_estimates(folder, job.sources, rate=float(track.rate))
    score_track(track, estimates, job.evaldir, job.metrics)
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
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> Dict[str, str]:
    """Score tracks in ``cores`` processes; tracks already scored are skipped.

    What killed runs left in the result folders (temporary files) is removed first.

    Args:
        estimates_dir: where the estimates are (see :func:`~.tracks.estimates_folder`);
            None scores the mixture as the estimate of each of ``sources``.
        sources: the sources to score (None: every musdb target on disk).
        force: score every track again.
        redo: names of tracks to score again anyway (e.g. separated just now).
        metrics: what to compute (:mod:`.metrics`); a track counts as scored when its files hold all of them.

    Returns:
        ``{track name: error message}`` of the tracks that failed.
    """
    from tqdm import tqdm

    if estimates_dir is None and not sources:
        raise ValueError("scoring the mixture needs the sources to score")
    evaldir = Path(evaldir)
    for subset in sorted({t.subset for t in tracks}):
        remove_stale_results(evaldir, subset)
    est_dir = None if estimates_dir is None else Path(estimates_dir)
    srcs = None if sources is None else tuple(sources)
    chosen = tuple(metrics)
    jobs = [
        ScoreJob(t, evaldir, est_dir, srcs, chosen)
        for t in tracks
        if force or t.name in redo or not is_scored(evaldir, t.subset, t.name, chosen)
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


def _collect(job: ScoreJob, result: Callable[[], Any], failed: Dict[str, str]) -> None:
    """Call ``result()``; record its error message under the track's name."""
    try:
        result()
    except (EvaluationError, AudioError) as err:
        failed[job.track.name] = str(err)
    except Exception as err:  # a worker that died, or museval failing on odd input: report, go on
        if _interrupted(err):
            raise KeyboardInterrupt from None
        failed[job.track.name] = f"{job.track.name}: scoring failed ({type(err).__name__}: {first_line(err)})"


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
