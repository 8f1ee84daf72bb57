"""The model table: published models by name, and users' own tables in the same format.

A table is a json file::

    {"models": {"NAME": {"description": "...", "license": "...",
                         "architecture": "umx",                   # the default
                         "sample_rate": 44100, "nb_channels": 2,
                         "nfft": 4096, "nhop": 1024,              # the architecture's own settings
                         "hidden_size": 512, "nb_layers": 3, "unidirectional": false,
                         "bandwidth": 16000,                      # or "max_bin": 1487
                         "targets": {"vocals": {"url": "https://...", "sha256": "b62c91ce"}}}}}

What every entry has (description, licence, architecture, sample rate,
channels, targets) is read here; the other keys are the architecture's
settings, which it reads and checks itself
(:meth:`~openunmix.architectures.Architecture.table_options`) into
``ModelEntry.options``.

``sha256`` is the file's full hex digest or a prefix of at least 8 digits;
``url`` is ``http(s)://`` or ``file://``. The built-in table
(``openunmix/models/models.json``) lists the published upstream models. A user's
table (``--models FILE`` or the environment variable ``OPENUNMIX_MODELS``)
is read over it: its names take precedence.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlparse

from .. import architectures
from ..utils import ModelError, PathLike, setting_number
from .entry import ModelEntry, TargetFile

BUILTIN_TABLE = Path(__file__).with_name("models.json")
ENV_TABLE = "OPENUNMIX_MODELS"
_HEX = re.compile(r"^[0-9a-f]{8,64}$")


def _target_file(where: str, spec: Any) -> TargetFile:
    if not isinstance(spec, dict):
        raise ModelError(f"{where}: expected an object with 'url' and 'sha256'")
    url, digest = spec.get("url"), spec.get("sha256")
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https", "file"):
        raise ModelError(f"{where}: 'url' must be an http(s):// or file:// URL, got {url!r}")
    if not Path(urlparse(url).path).name:
        raise ModelError(f"{where}: 'url' does not end in a file name: {url}")
    if not isinstance(digest, str) or not _HEX.match(digest.lower()):
        raise ModelError(f"{where}: 'sha256' must be the hex digest or a prefix of at least 8 hex digits, got {digest!r}")
    return TargetFile(url=url, sha256=digest.lower())


def parse_entry(name: str, entry: Any, source: str) -> ModelEntry:
    """Validate one model of a table.

    Raises:
        ModelError: naming the table file, the model and the bad setting.
    """
    where = f"{source}: model '{name}'"
    if not isinstance(entry, dict):
        raise ModelError(f"{where}: expected a json object")
    rate = setting_number(where, entry, "sample_rate", float, 1000, 768000)
    name_of_arch = entry.get("architecture", architectures.DEFAULT)
    if not isinstance(name_of_arch, str):
        raise ModelError(f"{where}: 'architecture' must be a string, got {name_of_arch!r}")
    try:
        arch = architectures.get(name_of_arch)
    except architectures.ArchitectureError as err:
        raise ModelError(f"{where}: {err}") from None
    options = arch.table_options(where, entry)
    targets = entry.get("targets")
    if not isinstance(targets, dict) or not targets:
        raise ModelError(f"{where}: 'targets' must be a non-empty object of target name -> {{url, sha256}}")
    for text_key in ("description", "license"):
        if not isinstance(entry.get(text_key, ""), str):
            raise ModelError(f"{where}: '{text_key}' must be a string")
    return ModelEntry(
        name=name,
        description=entry.get("description", ""),
        license=entry.get("license", "unknown"),
        sample_rate=rate,
        nb_channels=setting_number(where, entry, "nb_channels", int, 1, 16),
        targets={t: _target_file(f"{where}, target '{t}'", spec) for t, spec in targets.items()},
        source=source,
        architecture=arch.name,
        options=options,
    )


def read_table(path: PathLike) -> Dict[str, ModelEntry]:
    """Read and validate a model table file.

    Raises:
        ModelError: missing, malformed or invalid table (the message names the file).
    """
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ModelError(f"{path}: model table does not exist") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a model table (json file)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: malformed model table ({err})") from None
    except OSError as err:
        raise ModelError(f"{path}: cannot read model table ({err.strerror})") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise ModelError(f"{path}: malformed model table (expected {{\"models\": {{NAME: {{...}}}}}})")
    return {name: parse_entry(name, entry, str(path)) for name, entry in models.items()}


def load_tables(models_file: Optional[PathLike] = None) -> Dict[str, ModelEntry]:
    """The built-in table with the user's table over it.

    Args:
        models_file: the user's table; ``None`` reads ``$OPENUNMIX_MODELS``
            when it is set (an empty value counts as unset).
    """
    table = read_table(BUILTIN_TABLE)
    user = models_file if models_file is not None else (os.environ.get(ENV_TABLE) or None)
    if user is not None:
        table.update(read_table(user))
    return table


def find_model(name: str, models_file: Optional[PathLike] = None) -> Optional[ModelEntry]:
    """The table entry called ``name``, or ``None``."""
    return load_tables(models_file).get(name)


def names(models_file: Optional[PathLike] = None) -> Tuple[str, ...]:
    """Every model name the tables know, sorted."""
    return tuple(sorted(load_tables(models_file)))
