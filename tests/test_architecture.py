"""The package's import contract (docs/architecture.md), checked on the source: each layer imports only the
layers below it, and dbt's internals are reached from one place.

    engine/      knows nothing of dbt or of the simulation: it imports only planalign.errors, planalign.log
                 and itself
    dbt/         the engine's node and invocation types, and dbt; only dbt/isolation/ reaches dbt internals
    simulation/  engine, dbt
    report/      engine and simulation (their data types)
    cli/         anything

and no module grows past ~400 lines without saying why in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planalign"
SHARED = {"planalign", "planalign.errors", "planalign.log"}

#: For each layer, the planalign layers its modules may import (besides SHARED and itself).
ALLOWED: dict[str, set[str]] = {
    "engine": set(),
    "dbt": {"engine"},
    "simulation": {"engine", "dbt"},
    "scenarios": {"engine", "dbt", "simulation"},
    "report": {"engine", "simulation", "scenarios"},
    "cli": {"engine", "dbt", "simulation", "scenarios", "report"},
}
#: dbt's public, documented entry points, which any module of dbt/ may use; everything else under these
#: packages is an internal that only dbt/isolation/ may touch.
DBT_PUBLIC = {"dbt.cli.main"}
DBT_PACKAGES = ("dbt", "dbt_common", "dbt_adapters")
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module name `path` imports, at any depth (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _planalign_layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "planalign" and parts[1] in ALLOWED else None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_layer_imports_only_the_layers_below_it(path: Path) -> None:
    layer = _layer(path)
    if layer is None:  # top-level modules: the public API and shared infrastructure
        return
    wrong = sorted(
        {
            name
            for name in _imports(path)
            if (target := _planalign_layer(name)) is not None
            and target != layer
            and target not in ALLOWED[layer]
        }
    )
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}/) may not import {wrong}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_isolation_layer_touches_dbt_internals(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    in_dbt = relative.parts[0] == "dbt" and len(relative.parts) > 1
    in_isolation = in_dbt and relative.parts[1] == "isolation"
    dbt_imports = {
        name
        for name in _imports(path)
        if name.split(".")[0] in DBT_PACKAGES and not name.startswith("planalign")
    }
    if in_isolation:
        return
    if in_dbt:
        internal = sorted(
            n for n in dbt_imports if not any(n == p or n.startswith(p + ".") for p in DBT_PUBLIC)
        )
        assert not internal, f"{relative} reaches dbt internals {internal}: they belong in dbt/isolation/"
    else:
        assert not dbt_imports, f"{relative} imports dbt ({sorted(dbt_imports)}): only planalign/dbt/ may"


def test_the_engine_imports_no_database_or_dbt_library() -> None:
    for path in (PACKAGE / "engine").rglob("*.py"):
        offending = sorted(n for n in _imports(path) if n.split(".")[0] in {*DBT_PACKAGES, "duckdb"})
        assert not offending, f"{path.relative_to(PACKAGE)} imports {offending}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_long_module_says_why_it_is_long(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "Why it is long:" in docstring, (
        f"{path.relative_to(PACKAGE)} has {lines} lines; split it, or say why not in its docstring "
        "('Why it is long: ...')"
    )
