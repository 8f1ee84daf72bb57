"""openunmix.data.sources: the source names, importable without the audio libraries."""

from pathlib import Path

from openunmix import data


def test_import_is_light_and_sources_are_plain_names():
    import ast
    import subprocess
    import sys

    code = ("import sys, openunmix.data; "
            "print(sorted(m for m in ('musdb', 'museval', 'matplotlib', 'scipy') if m in sys.modules))")
    from conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    from openunmix.data import sources

    tree = ast.parse(Path(sources.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"typing"}
    assert sources.MUSDB_SOURCES == ("vocals", "drums", "bass", "other")
    assert sources.MUSDB_TARGETS == sources.MUSDB_SOURCES + ("accompaniment",)
    assert data.MUSDB_TARGETS is sources.MUSDB_TARGETS
