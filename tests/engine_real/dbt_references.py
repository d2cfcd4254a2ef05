"""Plain `dbt` references for many cases, computed one after another in ONE separate process.

The comparison tests ("planalign run does what dbt run does") need plain dbt's result for every case. One
`dbt` process per case paid dbt's import (~2.3 s of CPU) and, on a fresh copy of the project, a full parse
(6-8 s) every time. Here one process (this file run as a script: `python dbt_references.py SPEC`) imports
dbt once and runs every case through dbt's own command line (`dbt.cli.main.cli`, exactly what the `dbt`
executable calls, exit status included) on ONE copy of the base project at a fixed path, reset from the base
before each case — so dbt parses it fully once and reuses its partial parse afterwards, as a dbt user's
project would. It is still plain dbt in its own process: nothing of planalign is imported or installed here.

After each case the runner saves what the tests compare under `out/<case>/`: the run's `run_results.json`
(at the case's target path), the database file (at the same relative path as in the project), everything
dbt printed (stdout and stderr together, as one stream) and the exit status; `result.json` is written last,
so its presence says the case is complete. The tests (`DbtReferences`) start the runner in the background
when their module starts and wait for each case only when they compare, so plain dbt runs on one core while
planalign runs in the test process on the other.

Optionally the runner first builds the base itself (`setup`: commands run on the copy, then the copy is
saved as the base), which saves the process and the parse of a separate build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Written into a case's output directory when its reference is complete.
RESULT_FILE = "result.json"
#: Written into the base directory when the runner's own `setup` build of it is complete.
BASE_BUILT = ".reference-base-built"


@dataclass(frozen=True)
class ReferenceCase:
    """One reference run: dbt's arguments (the command first), files written into the project before it
    (relative path → contents; put back as the base has them afterwards), and the target path of its
    run_results.json."""

    name: str
    args: Sequence[str]
    writes: Mapping[str, str] = field(default_factory=dict)
    target: str = "target"


@dataclass(frozen=True)
class Reference:
    """Plain dbt's result of one case: `project` holds `<target>/run_results.json` and the database at the
    same relative paths as the project the case ran in."""

    returncode: int
    stdout: str
    project: Path


class DbtReferences:
    """The runner process for `cases`, started at once; `get(name)` waits for one case's reference.

    `base`: the project with its built database (read-only for the runner), or — with `setup` — the
    directory the runner builds it into (the test waits for it with `wait_for_base`). `database`: the
    database file's path relative to the project. The runner's copy is `workdir / "project"` (`project`):
    paths in a case's arguments name files there."""

    def __init__(
        self,
        base: Path,
        workdir: Path,
        cases: Sequence[ReferenceCase],
        *,
        database: str,
        setup: Sequence[Sequence[str]] = (),
    ) -> None:
        names = [case.name for case in cases]
        assert len(set(names)) == len(names), f"case names repeat: {names}"
        self.base = base
        self.workdir = workdir
        self.project = workdir / "project"
        self.out = workdir / "out"
        self.names = {case.name: index for index, case in enumerate(cases)}
        workdir.mkdir(parents=True, exist_ok=True)
        spec = {
            "base": str(base),
            "project": str(self.project),
            "out": str(self.out),
            "database": database,
            "setup": [list(args) for args in setup],
            "cases": [
                {"name": c.name, "args": list(c.args), "writes": dict(c.writes), "target": c.target}
                for c in cases
            ],
        }
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        self.log = workdir / "runner.log"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(spec_path)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )

    def _wait_for(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        """Wait until `done()`; fail naming `what` (with the runner's log) if the runner ends without it."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None and not done():
                raise AssertionError(f"the dbt reference runner ended without {what}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {what} from the dbt reference runner:\n{self._log_tail()}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        return self.log.read_text()[-4000:] if self.log.exists() else "(no log)"

    def wait_for_base(self, timeout: float = 1800) -> Path:
        """The base, once the runner's `setup` has built it."""
        self._wait_for(lambda: (self.base / BASE_BUILT).is_file(), "the base build", timeout)
        return self.base

    def get(self, name: str, timeout: float = 1800) -> Reference:
        assert name in self.names, f"no reference case {name!r}"
        directory = self.out / name
        self._wait_for(lambda: (directory / RESULT_FILE).is_file(), f"the reference of {name!r}", timeout)
        result = json.loads((directory / RESULT_FILE).read_text())
        return Reference(result["returncode"], (directory / "stdout.txt").read_text(), directory / "project")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ---- the runner process ------------------------------------------------------------------------------


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open for the life of the process (`keep_open`), so the file can
    be replaced, and forget its once-per-execution warnings — as a new `dbt` process would start."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None
        DuckDBConnectionManager._LOGGED_MESSAGES.clear()


def _dbt(args: Sequence[str], output: Path) -> int:
    """dbt's command line in this process, as the `dbt` executable runs it (`sys.exit(cli())`), with file
    descriptors 1 and 2 sent to `output`; returns its exit status."""
    from dbt.cli.main import cli

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with output.open("w") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        sys.argv = ["dbt", *args]
        try:
            cli.main(args=list(args), prog_name="dbt")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # what the executable would die of: a traceback and exit 1
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    _close_duckdb()
    return code


def _restore(base: Path, project: Path, relative: str) -> None:
    """Put `relative` back as the base has it (or remove it when the base has none)."""
    source, dest = base / relative, project / relative
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    else:
        dest.unlink(missing_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest)
    elif source.exists():
        shutil.copyfile(source, dest)


def _reset(base: Path, project: Path, database: str, targets: set[str]) -> None:
    """The copy as the base has it: its database, its models, no results of an earlier case."""
    for target in targets:
        (project / target / "run_results.json").unlink(missing_ok=True)
    db = project / database
    db.with_name(db.name + ".wal").unlink(missing_ok=True)
    shutil.copyfile(base / database, db)
    _restore(base, project, "models")


def run(spec: Mapping[str, object]) -> None:
    base, project, out = Path(str(spec["base"])), Path(str(spec["project"])), Path(str(spec["out"]))
    database = str(spec["database"])
    cases = list(spec["cases"])  # type: ignore[call-overload]
    setup = list(spec["setup"])  # type: ignore[call-overload]
    out.mkdir(parents=True, exist_ok=True)
    import dbt.cli.main  # noqa: F401  # before the first case's output is captured, as a process's import is

    shutil.copytree(base, project)
    os.chdir(project)  # where the `dbt` process of each case ran
    if setup:
        # Build the base in the copy (its path stays the cases' one, so its parse serves them), then save it.
        for step, args in enumerate(setup):
            output = out / f"setup-{step}.txt"
            code = _dbt(args, output)
            assert code == 0, f"dbt {' '.join(args)} exited {code}:\n{output.read_text()}"
        shutil.rmtree(base)
        shutil.copytree(project, base)
        (base / BASE_BUILT).touch()
    targets = {"target", *(str(case["target"]) for case in cases)}
    for case in cases:
        name, args, writes, target = case["name"], case["args"], case["writes"], str(case["target"])
        _reset(base, project, database, targets)
        for relative, text in writes.items():
            path = project / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        started = time.monotonic()
        saved = out / name
        (saved / "project").mkdir(parents=True)
        code = _dbt(args, saved / "stdout.txt")
        for relative in writes:
            _restore(base, project, relative)
        results = project / target / "run_results.json"
        if results.exists():
            (saved / "project" / target).mkdir(parents=True)
            shutil.copyfile(results, saved / "project" / target / "run_results.json")
        (saved / "project" / database).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project / database, saved / "project" / database)
        result = {"returncode": code, "seconds": round(time.monotonic() - started, 2)}
        (saved / RESULT_FILE).write_text(json.dumps(result))
        print(name, result, flush=True)


if __name__ == "__main__":
    run(json.loads(Path(sys.argv[1]).read_text()))
