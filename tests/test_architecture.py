"""The shape of the code (issue 16): short functions, short files, imports at the top of modules,
and every module placed in a layer of the import-linter contract (.importlinter)."""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "portal", "tenants", "triage", "mappings", "commerce", "connectors", "promotions", "posting")
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 600
IMPORT_HERE = re.compile(r"#\s*import here:\s*\S")


def _sources() -> Iterator[tuple[Path, str]]:
    """Every Python file of the project's apps, outside migrations (bench/ and tests/ are not apps)."""
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, path.read_text()


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{_name(path)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, source in _sources()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_no_file_is_longer_than_600_lines():
    long = [
        f"{_name(path)} ({len(source.splitlines())} lines)"
        for path, source in _sources()
        if len(source.splitlines()) > MAX_FILE_LINES
    ]
    assert long == []


def _inner_imports(source: str) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def test_imports_inside_functions_say_why():
    """An import inside a function needs `# import here: <reason>` on one of its lines."""
    unexplained = []
    for path, source in _sources():
        lines = source.splitlines()
        for node in _inner_imports(source):
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if not IMPORT_HERE.search(text):
                unexplained.append(f"{_name(path)}:{node.lineno}")
    assert sorted(set(unexplained)) == []


def _layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    modules = []
    for line in config["importlinter:contract:layers"]["layers"].split("\n"):
        for item in re.split(r"[:|]", line):
            item = item.strip().strip("()")
            if item:
                modules.append(item)
    return modules


def test_every_project_module_sits_in_a_layer_of_the_import_contract():
    layers = _layers()
    assert set(layers) >= set(APPS) - {"connectors"}
    unplaced = []
    for path, source in _sources():
        module = _module(path)
        if module in APPS and not source.strip():
            continue  # an app's empty package __init__ (connectors is split over several layers)
        if not any(module == layer or module.startswith(layer + ".") for layer in layers):
            unplaced.append(module)
    assert unplaced == []


def test_every_layer_names_a_module_that_exists_or_is_optional():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    missing = []
    for line in config["importlinter:contract:layers"]["layers"].split("\n"):
        for item in re.split(r"[:|]", line):
            item = item.strip()
            if not item or item.startswith("("):
                continue
            path = ROOT / item.replace(".", "/")
            if not (path.is_dir() or path.with_suffix(".py").is_file()):
                missing.append(item)
    assert missing == []
