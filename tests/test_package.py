"""The package's layout: every module imports, imports run one way (commands -> library -> core), programs
parse arguments and nothing else does, rooms stay small, the public API and upstream's import paths stay,
and the unit tests mirror the package (tests/<subpackage>/test_<module>.py names a module that exists)."""

import ast
import importlib
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "openunmix"
# the core: imported by everything above it, importing nothing of it
CORE = {"transforms", "filtering", "losses", "audio", "utils", "distributed", "precision", "metrics"}
ROOMS = {"architectures", "models", "separation", "training", "data", "evaluation", "compare", "export", "convert",
         "stream", "runs",
         "demo", "commands"}
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250


def _modules():
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":  # runs a program when imported
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules()


def _path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imports(module: str):
    """The openunmix modules ``module`` imports (absolute names), each with its line, at any depth of the file."""
    path = _path(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            found += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    importlib.import_module(module)


def test_core_imports_no_library_module():
    for module in MODULES:
        name = module.split(".")
        if len(name) != 2 or name[1] not in CORE:
            continue
        for target, line in _imports(module):
            if target.startswith("openunmix."):
                assert target.split(".")[1] in CORE, f"{module}:{line} (core) imports {target}"


def test_only_programs_parse_arguments_and_nothing_imports_them():
    for module in MODULES:
        in_commands = module.startswith("openunmix.commands")
        for target, line in _imports(module):
            if target == "argparse":
                assert in_commands, f"{module}:{line} imports argparse outside the command layer"
            if target.startswith("openunmix.commands"):
                assert in_commands, f"{module}:{line} imports the command layer"


def test_the_compatibility_module_is_imported_by_nobody():
    for module in MODULES:
        for target, line in _imports(module):
            assert target != "openunmix.model", f"{module}:{line} imports openunmix.model (upstream's paths only)"


def test_rooms_stay_small():
    for module in MODULES:
        path = _path(module)
        text = path.read_text()
        assert text.count("\n") <= MAX_MODULE_LINES, f"{path}: {text.count(chr(10))} lines (split it by job)"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                assert size <= MAX_CLASS_LINES, f"{path}: class {node.name} is {size} lines"


def test_no_loose_modules_with_clashing_names():
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert not {"catalog", "catalogue"} & loose  # the model table is models/table, catalogues separation/catalogue
    assert {"separate", "hub", "modelfolder", "download", "sharding", "manifest"}.isdisjoint(loose)


def test_public_api_and_upstream_import_paths():
    import openunmix
    from openunmix.model import OpenUnmix, Separator  # upstream's paths

    from openunmix.architectures.umx import OpenUnmix as Home
    from openunmix.models.hub import load_separator, pretrained
    from openunmix.separation.separate import separate
    from openunmix.separation.separator import Separator as Room

    assert OpenUnmix is Home and Separator is Room
    assert openunmix.Separator is Room and openunmix.load_separator is load_separator
    assert openunmix.pretrained is pretrained and openunmix.separate is separate
    with pytest.raises(AttributeError):
        openunmix.no_such_thing


def test_unit_tests_mirror_the_package():
    """A test file in tests/<subpackage>/ is named after a module of openunmix/<subpackage>/ (tests/core/: of
    the core modules at the package's root); tests/programs/ runs the programs, tests/plugins/ holds the
    test-only architectures."""
    tests = ROOT / "tests"
    for path in sorted(tests.glob("*/test_*.py")):
        folder = path.parent.name
        if folder in ("programs", "plugins", "helpers"):
            continue
        name = path.stem[len("test_"):] + ".py"
        module = PACKAGE / name if folder == "core" else PACKAGE / folder / name
        assert module.is_file(), f"{path.relative_to(ROOT)} mirrors no module ({module.relative_to(ROOT)})"


def test_the_package_root_holds_only_the_core_and_the_rooms():
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "model"}  # model: upstream's import paths
    assert loose == CORE, f"modules at the package's root outside the core: {sorted(loose - CORE)}"
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert rooms == ROOMS
