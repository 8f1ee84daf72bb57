"""Synthetic demo dataset in the MUSDB18 decoded-wav layout.

The generator writes short, musically structured tracks that can stand in for
MUSDB18 when the real data set is not at hand (smoke tests, tutorials, CI)::

    python -m openunmix.demo --root data/demo

Layout, as read by ``musdb.DB(root, is_wav=True)``::

    ROOT/train/demo-train-000 - Synth/{mixture,vocals,drums,bass,other}.wav
    ROOT/train/demo-valid-000 - Synth/...      validation tracks live in train/
    ROOT/test/demo-test-000 - Synth/...
    ROOT/valid_tracks.txt                      validation track names, one a line
    ROOT/dataset.json                          seed, counts, duration, rate, variety

Every track has a tempo, a key and a four-chord progression; the stems are

* drums  -- kick, snare and hi-hat on a groove with small variations,
* bass   -- low harmonic notes on the chord roots, one rhythm per track,
* vocals -- a formant-shaped harmonic voice singing phrases separated by
  silence, with vibrato and slow pitch drift, centred in stereo,
* other  -- detuned chord pads or rhythmic keys, spread in stereo.

``variety='wide'`` (``--variety wide``) draws a harder, more varied set: six
voice types, five chord instruments, more drum kits and bass timbres, 70-170
bpm, wider levels, and test tracks in keys and at vocal levels that train and
valid tracks do not have (the exact ranges: :mod:`.variety`).  ``variety='kinds'``
splits those sounds in two: its test tracks are another kind of music (other
voices, instruments and tempi, and vocals in a hall) than its train and valid
tracks, for measuring how training generalizes.  The default,
``'demo'``, gives the same tracks as before the setting existed.
``ROOT/dataset.json`` records seed, counts, duration, rate and variety.

Audio is 32-bit float wav, stereo; arrays are ``(channels, samples)``.  The
mixture is the exact sum of the four stems as written.  Everything is drawn
from ``numpy`` generators seeded by ``(seed, split, track index)``, so a given
track is bit-identical across runs whatever the number of tracks generated.

Modules: :mod:`.song` (tempo, key, chords), :mod:`.dsp` (signal helpers),
:mod:`.instruments` (drums, bass, other), :mod:`.voice` (vocals),
:mod:`.variety` (ranges per variety and split), :mod:`.tracks` (stems balanced and mixed, per-track generators and names),
:mod:`.dataset` (wav files on disk). ``python -m openunmix.demo`` is
the command line (it lives in the command layer, not here).
"""

from .dataset import dataset_size, generate_dataset, write_wav
from .instruments import render_bass, render_drums, render_other
from .song import Song, plan_song
from .tracks import SOURCES, SPLITS, synthesize_track, track_folder, track_name, track_rng
from .variety import VARIETIES, Palette, Ranges, track_ranges
from .voice import render_vocals

__all__ = [
    "SOURCES", "SPLITS", "VARIETIES", "Palette", "Ranges", "Song", "dataset_size", "generate_dataset", "plan_song", "render_bass", "render_drums",
    "render_other", "render_vocals", "synthesize_track", "track_folder", "track_name", "track_ranges", "track_rng",
    "write_wav",
]
