"""The architectures: a registry of the model types the package loads, separates with and trains.

Each architecture lives in its own module and registers an
:class:`~openunmix.architectures.base.Architecture` (see there for what it
provides):

* ``umx`` (:mod:`.umx`): one Open-Unmix model per target, files
  ``<target>.pth`` + ``<target>.json`` (also upstream's folders and the
  published weights);
* ``xumx`` (:mod:`.xumx`): CrossNet-Open-Unmix, one joint model of vocals,
  drums, bass and other, files ``xumx.pth`` + ``xumx.json``.

Nothing outside an architecture's module names it: the model folders, the
hub, the training loop, the separation, the export and the stream ask the
registry (:mod:`.registry`, whose names this package hands on (:func:`get`, :func:`names`, :func:`folder_models`,
:func:`capabilities`)).

Plug-ins. Another package (or a test) adds an architecture without editing
this one, in either of two ways; both are read when the registry is first
used, in every process (``train.py`` under ``torchrun`` included):

* the environment variable ``OPENUNMIX_ARCHITECTURES=module.path[,module.path...]``:
  each module is imported and calls :func:`register` at import;
* the entry-point group ``openunmix.architectures`` of an installed package:
  each entry point names a module (which registers itself at import), an
  :class:`Architecture` subclass or an instance.

A plug-in that cannot be imported, or an unknown name, is one line
(:class:`ArchitectureError`) that lists the registered architectures.
"""

from .base import (
    MAGNITUDE,
    OUTPUTS,
    SPECTROGRAM,
    WAVEFORM,
    Architecture,
    ArchitectureError,
    Capabilities,
    MagnitudeTargetPart,
    Spectrogram,
    TrainingOption,
    TrainingPart,
    check_stft_options,
)
from .registry import (
    DEFAULT,
    ENTRY_POINT_GROUP,
    ENV_PLUGINS,
    FolderModel,
    all_architectures,
    capabilities,
    default,
    describe,
    folder_models,
    get,
    list_targets,
    load_target_models,
    names,
    of_model,
    register,
    remaining_files_owner,
)

__all__ = ["Architecture", "ArchitectureError", "Capabilities", "MagnitudeTargetPart", "Spectrogram", "TrainingOption",
           "TrainingPart", "check_stft_options", "FolderModel", "register", "get", "names", "all_architectures", "default",
           "folder_models", "remaining_files_owner", "list_targets", "load_target_models", "of_model",
           "capabilities", "describe", "ENV_PLUGINS", "ENTRY_POINT_GROUP",
           "DEFAULT", "MAGNITUDE", "SPECTROGRAM", "WAVEFORM", "OUTPUTS"]
