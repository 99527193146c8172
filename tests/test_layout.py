"""The layout's promises: imports run downward between the wings, only the local backend
touches FAISS, bm25s, numba and SQLite and only the Milvus backend pymilvus and milvus_lite, and
functions and classes stay short enough to read at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qa"

# Lower levels never import higher ones; wings on one level never import each other.
LEVELS = {
    "qa.models": 0, "qa.errors": 0, "qa.text": 0, "qa.validation": 0, "qa.config": 0,
    "qa.encoder": 0, "qa.onnx_backend": 0, "qa.ort_encoder": 0, "qa.outlets": 0, "qa.cite": 0,
    "qa.storage": 1,
    "qa.indexing": 2, "qa.asking": 2,
    "qa.http": 3, "qa.evaluation": 3,
    "qa.cli": 4, "qa.__main__": 5,
}
# Each engine's library -> the one backend that may import it.
ENGINES = {"faiss": "qa.storage.local", "bm25s": "qa.storage.local", "sqlite3": "qa.storage.local",
           "numba": "qa.storage.local", "pymilvus": "qa.storage.milvus", "milvus_lite": "qa.storage.milvus"}
# The one exception: the shared term analyser takes its English stop words from bm25s.
ENGINE_EXCEPTIONS = {("qa.text", "bm25s")}
MAX_FUNCTION_LINES = 50
MAX_CLASS_LINES = 150


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name == "qa":
            continue  # the package's docstring and version
        found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def wing(module: str) -> str:
    """The entry of LEVELS a module belongs to (its longest matching prefix)."""
    return max((w for w in LEVELS if module == w or module.startswith(w + ".")), key=len)


def imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names if node.module == "qa")
    return names


@pytest.mark.parametrize("name,tree", modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_run_downward(name, tree):
    own = wing(name)
    for target in imports(tree):
        if not target.startswith("qa.") or target == "qa":
            continue
        other = wing(target)
        if other == own:
            continue
        assert LEVELS[other] < LEVELS[own] or LEVELS[other] == 0 == LEVELS[own], \
            f"{name} (level {LEVELS[own]}) imports {target} (level {LEVELS[other]})"


@pytest.mark.parametrize("name,tree", modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_only_each_backend_touches_its_engine(name, tree):
    used = {t.split(".")[0] for t in imports(tree)} & ENGINES.keys()
    foreign = {e for e in used if name != ENGINES[e] and not name.startswith(ENGINES[e] + ".")}
    assert foreign <= {e for m, e in ENGINE_EXCEPTIONS if m == name}, f"{name} imports {foreign}"


def test_functions_and_classes_are_short():
    long = []
    for name, tree in modules():
        for node in ast.walk(tree):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.end_lineno - node.lineno + 1 > limit:
                    long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long


def test_the_rules_catch_an_upward_import():
    """The checks themselves can fail: storage importing the asking wing is caught."""
    tree = ast.parse("from qa.asking.answer import Answerer\nimport faiss\n")
    with pytest.raises(AssertionError):
        test_imports_run_downward("qa.storage.local.store", tree)
    with pytest.raises(AssertionError):
        test_only_each_backend_touches_its_engine("qa.asking.retrieve", tree)
    with pytest.raises(AssertionError):
        test_only_each_backend_touches_its_engine("qa.storage.milvus.store", tree)
    with pytest.raises(AssertionError):
        test_only_each_backend_touches_its_engine("qa.storage.local.store", ast.parse("import pymilvus\n"))
