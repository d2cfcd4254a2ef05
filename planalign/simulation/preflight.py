"""Checks of where a run will write, made before anything is parsed or written.

A simulation writes three things: the DuckDB file (`simulation.database_path`), a run directory under
`run.runs_dir`, and, when asked, an HTML report (`simulate --report PATH`). Without these checks a missing
or unwritable place is discovered only when dbt opens the database after the project's parse, or — for the
report — after the whole simulation has run. `check_output_paths` finds every such problem up front and
raises one `OutputPathError` (a usage error: exit status 2) naming the key or flag, the path and a fix.

It only looks (stat, access, statvfs); it creates nothing. Whether the database file is a DuckDB database is
not checked here; whether its name gives a catalog DuckDB and dbt-duckdb agree on is
(`planalign.dbt.catalog`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from planalign.dbt.catalog import catalog_problem
from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.simulation.config import SimulationConfig

__all__ = ["OutputPathError", "check_output_paths", "unwritable_reason"]


class OutputPathError(PlanalignUsageError):
    """A place the run would write to cannot be written (missing directory, a file in the way, no
    permission, a read-only filesystem); the message lists each one with its key or flag and a fix."""


def _read_only_filesystem(directory: Path) -> bool:
    """`access(2)` reports EROFS, but not for root on every filesystem; statvfs's flag is the direct
    answer."""
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _directory_problem(directory: Path) -> str | None:
    """Why files cannot be created in `directory` (which exists), or None."""
    if not directory.is_dir():
        return f"{directory} is not a directory"
    if _read_only_filesystem(directory):
        return f"{directory} is on a read-only filesystem"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"no permission to write in {directory}"
    return None


def _creatable_problem(path: Path) -> str | None:
    """Why `path` (a directory created with its parents on demand, or a file whose parents are) cannot be
    created: the nearest existing ancestor must be a writable directory."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    return _directory_problem(ancestor)


def unwritable_reason(path: Path) -> str | None:
    """Why a file cannot be written at `path` (creating its missing parent directories), or None."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        return f"{path} is a directory"
    problem = _creatable_problem(path)
    if problem is None and path.exists() and not os.access(path, os.W_OK):
        problem = f"no permission to replace {path}"
    return problem


def _database_problem(database: Path) -> str | None:
    problem = catalog_problem(database)  # the name dbt-duckdb parses for, before the parse
    if problem is not None:
        return problem
    if database.is_dir():
        example = database / "simulation.duckdb"
        return f"{database} is a directory, not a database file; name a file such as {example}"
    if database.exists():
        problem = _directory_problem(database.parent)  # DuckDB writes its .wal beside the file
        if problem is None and not os.access(database, os.W_OK):
            problem = f"no permission to write {database}"
        return problem
    parent = database.parent
    if not parent.exists():
        missing = parent
        while not missing.parent.exists() and missing.parent != missing:
            missing = missing.parent
        if not missing.parent.is_dir():
            return f"{missing.parent} is not a directory"
        return f"directory {parent} does not exist; create it first (mkdir -p {parent})"
    return _directory_problem(parent)


def check_output_paths(config: SimulationConfig, report_path: Path | None = None) -> None:
    """Raise `OutputPathError` unless the run can write its database, its run directory and (when given)
    the report at `report_path`. Every problem is reported at once, one line each."""
    problems: list[str] = []
    database = Path(config.simulation.database_path)
    problem = _database_problem(database)
    if problem is not None:
        problems.append(f"simulation.database_path (--database) {database}: {problem}")

    runs_dir = Path(config.run.runs_dir)
    problem = _directory_problem(runs_dir) if runs_dir.exists() else _creatable_problem(runs_dir / "run")
    if problem is not None:
        problems.append(
            f"run.runs_dir (--runs-dir) {runs_dir}: {problem}; every run writes its run directory there, "
            "so point run.runs_dir at a writable directory"
        )

    if report_path is not None:
        report = Path(os.path.abspath(report_path))
        problem = unwritable_reason(report)
        if report.is_dir():
            problem = f"is a directory; give a file path such as {report / 'report.html'}"
        if problem is not None:
            problems.append(f"--report {report}: {problem} (checked before the run, not after it)")

    if problems:
        raise OutputPathError("cannot write the run's output:\n" + "\n".join(f"  {p}" for p in problems))
