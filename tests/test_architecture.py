"""The package's import contract (docs/architecture.md), checked on the source: each layer imports only the
layers below it, and dbt's internals are reached from one place.

    engine/      knows nothing of dbt or of the simulation: it imports only planalign.errors, planalign.log
                 and itself
    dbt/         the engine's node and invocation types, and dbt; only dbt/isolation/ reaches dbt internals
    simulation/  engine, dbt
    report/      engine and simulation (their data types)
    project_run/ engine, dbt, simulation (the execution-class name table): `planalign run` as a library
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
    "project_run": {"engine", "dbt", "simulation"},
    "cli": {"engine", "dbt", "simulation", "scenarios", "report", "project_run"},
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Import circles still in the package, each with why it stays (issue #24 item 4 broke the others: engine
#: graph ↔ safety, run ↔ runner, cli report ↔ runs ↔ runs_table; the last, simulation config ↔
#: config_loading, by `config_loading.apply_overrides`). Do not add to this list.
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _import_graph() -> dict[str, set[str]]:
    """module → the planalign modules it imports, at any depth (lazy and TYPE_CHECKING imports count: a
    circle hidden in a function is still two modules that cannot be understood, or moved, one without the
    other). A package importing its own submodules (re-exports) and the reverse are not edges."""
    paths = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = {n for n in _imports(path) if n in paths and n != name}
        graph[name] = {t for t in targets if not t.startswith(name + ".") and not name.startswith(t + ".")}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_circles() -> None:
    circles = [sorted(c) for c in _circles(_import_graph()) if c not in KNOWN_CIRCLES]
    assert not circles, f"modules that import each other (directly or around a circle): {circles}"


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [frozenset({"a", "b", "c"})]


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_a_command_imports_no_private_name_of_another_command(path: Path) -> None:
    """Commands share code through modules named `_*` (`_common`, `_cancel`) or public names; a command that
    reaches into another's `_private` function breaks when that command changes (`retry` did, with `run`'s
    `_target_dir`)."""
    own = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    commands = {_module_name(p) for p in (PACKAGE / "cli").glob("*.py") if not p.name.startswith("_")} - {own}
    aliases: dict[str, str] = {}
    wrong: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in commands:
                    aliases[alias.asname or alias.name] = target
                elif node.module in commands and alias.name.startswith("_"):
                    wrong.append(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in commands and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
        ):
            wrong.append(f"{aliases[node.value.id]}.{node.attr}")
    assert not wrong, f"cli/{path.name} uses another command's private names {sorted(set(wrong))}"


#: The run directory's files, and the modules that own reading and writing them (issue #24 item 2): every
#: other reader goes through `simulation.run_history` / `run_directory.read_summary` and friends.
RUN_FILES = ("summary.json", "engine_runs.json")
RUN_FILE_CONSTANTS = {"SUMMARY_FILE", "ENGINE_RUNS_FILE"}
RUN_DIRECTORY_MODULES = {
    "planalign.simulation.run_directory",
    "planalign.simulation.run_history",
    "planalign.simulation.run_listing",
}


def _run_file_uses(tree: ast.AST) -> list[str]:
    """Where code names a run file to open, glob or join it (`d / "summary.json"`, `glob("*/summary.json")`,
    `open(...)`, `Path(...)`) or uses the library's file-name constants. Text in messages and docstrings
    that only mentions a file is not a use."""

    def names_run_file(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(RUN_FILES)
        )

    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and names_run_file(node.right):
            found.append(f"line {node.lineno}: / {node.right.value!r}")  # type: ignore[attr-defined]
        elif isinstance(node, ast.Call) and any(names_run_file(a) for a in node.args):
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, ast.Name) and node.id in RUN_FILE_CONSTANTS:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and any(a.name in RUN_FILE_CONSTANTS for a in node.names):
            found.append(f"line {node.lineno}: imports {[a.name for a in node.names]}")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_run_directory_modules_open_run_files(path: Path) -> None:
    """One writer, one place of readers: a module that opened summary.json or engine_runs.json itself would
    bring back its own parsing (raw `json.loads`) and its own "latest run" rule."""
    if _module_name(path) in RUN_DIRECTORY_MODULES:
        return
    uses = _run_file_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not uses, (
        f"{path.relative_to(PACKAGE)} opens run-directory files itself ({'; '.join(uses)}); read them "
        "through planalign.simulation.run_history / run_directory (read_summary, summary_path, list_runs)"
    )


def test_the_run_file_check_finds_a_raw_reader() -> None:
    code = 'import json\njson.loads((run_dir / "summary.json").read_text())\nglob("*/engine_runs.json")\n'
    assert len(_run_file_uses(ast.parse(code))) == 2
