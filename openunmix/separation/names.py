"""Output folder names of a list of inputs: a file's stem, or what tells colliding inputs apart.

Every process of a catalogue computes the names from the whole list, so
they depend on the list alone (the paths as written, nothing on disk).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..utils import PathLike

# suffixes an output folder's name never ends with: file managers, globs and tools take such folders for audio
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".mp2", ".m4a", ".mp4", ".aac", ".aif", ".aiff",
    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".wv", ".wma", ".mka", ".webm", ".raw", ".pcm",
})


def output_names(inputs: Sequence[PathLike]) -> List[str]:
    """Output folder name per input file: its stem, or, where stems collide, what tells those inputs apart.

    * Unique stems: ``a/x.wav``, ``b/y.wav`` give ``x`` and ``y``.
    * Same stem in different folders: the folder names, as many levels up as
      needed (joined with ``_``). MUSDB's layout, where every track is
      ``<track>/mixture.wav``, gives the track folders' names.
    * Same stem and folder, different extensions: the stem and the extension
      without its dot (``song_wav``, ``song_flac``); failing both, the folders,
      stem and extension together.
    * A remaining tie (an input listed twice) gets a counter (``_1``, ``_2``).

    A name never ends in an audio extension (``track.flac.wav`` gives
    ``track_flac``), so no folder is taken for an audio file. Names depend on
    the list only (the paths as written), so every process names every input alike.
    """
    paths = [Path(os.path.normpath(str(p))) for p in inputs]
    names = [p.stem for p in paths]
    groups: Dict[str, List[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    for stem, members in groups.items():
        if len(members) > 1:
            for i, name in zip(members, _apart(stem, [paths[i] for i in members])):
                names[i] = name
    names = [_no_audio_suffix(n) for n in names]
    counts = {n: names.count(n) for n in set(names)}
    seen: Dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if counts[n] == 1 else f"{n}_{seen[n]}")
    return unique


def _apart(stem: str, paths: Sequence[Path]) -> List[str]:
    """Names for inputs sharing ``stem`` from what differs between them (see :func:`output_names`)."""
    folders = [tuple(part for part in p.parent.parts if part not in ("..", ".", p.anchor)) for p in paths]
    kinds = [p.suffix[1:] for p in paths]
    depth = max(len(f) for f in folders)

    def distinct(keys: Sequence[Any]) -> bool:
        return len(set(keys)) == len(keys)

    for k in range(1, depth + 1):
        tails = [f[-k:] for f in folders]
        if all(tails) and distinct(tails):
            return ["_".join(t) for t in tails]
    if all(kinds) and distinct(kinds):
        return [f"{stem}_{kind}" for kind in kinds]
    for k in range(1, depth + 1):
        keys = [f[-k:] + (f"{stem}_{kind}" if kind else stem,) for f, kind in zip(folders, kinds)]
        if distinct(keys):
            return ["_".join(key) for key in keys]
    return [stem] * len(paths)


def _no_audio_suffix(name: str) -> str:
    """``name`` with a final audio extension's dot made an underscore (``a.wav`` -> ``a_wav``)."""
    base, dot, suffix = name.rpartition(".")
    if dot and base and f".{suffix.lower()}" in AUDIO_SUFFIXES:
        return f"{base}_{suffix}"
    return name


__all__ = ["AUDIO_SUFFIXES", "output_names"]
