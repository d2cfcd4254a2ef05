"""A fault at every step of a three-year simulation, on a new database and on a re-run of a complete one:
the database afterwards holds exactly its previous complete years (fingerprint-identical) or the new
complete ones — never a mix, never less (issue #11).

Every step means: each dbt command and each stage of the once-per-simulation setup, and each stage of each
year plus the year's dbt tests. At each step the walk injects a failure (the step's first model or command
fails) and, separately, a cancellation (as a signal does), and compares the database file with what it must
hold. The orchestrator, the engine, the working copy and the DuckDB files are real; the models are written
by a fake invoker that creates each model's table in the run's database (incremental models per year, the
rest replaced whole), so that the 2 × 2 × 24 runs take seconds. Real dbt through the same paths is covered
by test_data_safety.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import duckdb
import pytest

from planalign.engine.invocation import InvocationOutcome, OutcomeStatus
from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.simulation.orchestrator import PipelineOrchestrator
from planalign.simulation.run_directory import NondiscriminationResults
from planalign.simulation.stages import ModelScope, SimulationStage
from tests.product.simulation_helpers import make_config
from tests.reliability.helpers import Fingerprint, complete_years, file_digest, fingerprint

YEARS = (2025, 2026, 2027)
#: Names of the project's incremental models, filled in by the `walk` fixture from the parsed manifest.
INCREMENTAL: set[str] = set()


@dataclass(frozen=True)
class Step:
    """`year` None: the setup before the first year. `stage`: a stage's value, "seed" or "tests"."""

    year: int | None
    stage: str

    def __str__(self) -> str:
        return f"{self.year or 'setup'}:{self.stage}"


#: The stages of the once-per-simulation setup that have models (checked against the project by the fixture).
SETUP_STAGES = (SimulationStage.INITIALIZATION, SimulationStage.FOUNDATION, SimulationStage.VALIDATION)


def _steps() -> list[Step]:
    setup = [Step(None, "seed")] + [Step(None, s.value) for s in SETUP_STAGES]
    years = []
    for year in YEARS:
        for stage in SimulationStage:
            years.append(Step(year, stage.value))
            if stage is SimulationStage.VALIDATION:
                years.append(Step(year, "tests"))
    return setup + years


STEPS = _steps()


class Trap:
    """The step at which the next run fails or is cancelled; shared by the fake invokers of one test."""

    def __init__(self) -> None:
        self.step: Step | None = None
        self.kind = "fail"
        self.scope: anyio.CancelScope | None = None
        self.sprung: Step | None = None
        self.meddle: Callable[[], None] | None = None
        self.lock = threading.Lock()

    def arm(self, step: Step | None, kind: str, scope: anyio.CancelScope | None = None) -> None:
        self.step, self.kind, self.scope, self.sprung = step, kind, scope, None

    def springs(self, step: Step) -> bool:
        """True when `step` is the armed one (once per run): cancels the run's scope for a cancellation."""
        with self.lock:
            if self.step is None or step != self.step or self.sprung is not None:
                return False
            self.sprung = step
        if self.kind == "cancel":
            assert self.scope is not None
            anyio.from_thread.run_sync(self.scope.cancel)
            return False
        if self.kind == "meddle":
            assert self.meddle is not None
            self.meddle()
            return False
        return True


class TableWritingInvoker:
    """Writes each model's table into the database of its config, as dbt would build it; `dbt seed` writes
    a seeds table and `dbt test` writes nothing. The rows depend on the model, the year and the random seed,
    so two simulations with different seeds are told apart by their fingerprints."""

    def __init__(self, manifest: ProjectManifest, database: Path, trap: Trap) -> None:
        self.manifest = manifest
        self.database = database
        self.trap = trap
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    @property
    def supports_concurrency(self) -> bool:
        return False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the database, kept open between calls until `close()`, as dbt-duckdb keeps it."""
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(str(self.database))
            cursor = self._con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            con, self._con = self._con, None
        if con is not None:
            con.close()

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> InvocationOutcome:
        command = args[0]
        scope_year = vars["simulation_year"] if command == "test" else None
        if self.trap.springs(Step(scope_year, "tests" if command == "test" else command)):
            return InvocationOutcome(OutcomeStatus.ERROR, f"injected failure in dbt {command}")
        if command == "seed":
            with self._connect() as con:
                con.execute("create or replace table main.walk_seeds as select ? as random_seed",
                            [vars["random_seed"]])  # fmt: skip
        return InvocationOutcome(OutcomeStatus.SUCCESS)

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        meta = node.planalign_meta
        year = int(vars["simulation_year"])
        step_year = None if meta.get("scope") == ModelScope.SIMULATION.value else year
        if self.trap.springs(Step(step_year, str(meta.get("stage")))):
            return InvocationOutcome(OutcomeStatus.ERROR, f"injected failure in {node.name}")
        value = hashlib.sha256(f"{node.name}|{year}|{vars['random_seed']}".encode()).hexdigest()[:12]
        relation = node.relation_name
        assert relation is not None
        columns, rows = _shape(node.name, year, value)
        with self._connect() as con:
            con.execute("begin transaction")
            if node.materialized == "incremental":
                con.execute(f"create table if not exists {relation} ({columns})")
                con.execute(f"delete from {relation} where simulation_year = ?", [year])
            else:
                con.execute(f"create or replace table {relation} ({columns})")
            placeholders = ", ".join("?" for _ in rows[0])
            con.executemany(f"insert into {relation} values ({placeholders})", rows)
            con.execute("commit")
        return InvocationOutcome(OutcomeStatus.SUCCESS)


def _shape(name: str, year: int, value: str) -> tuple[str, list[tuple[Any, ...]]]:
    """Columns and rows of a model's table; the two the orchestrator reads for its metrics have theirs."""
    if name == "fct_yearly_events":
        return (
            "employee_id varchar, simulation_year integer, event_type varchar, note varchar",
            [(f"E{i}", year, kind, value) for i, kind in enumerate(("hire", "termination", "raise"))],
        )
    if name == "fct_workforce_snapshot":
        return (
            "employee_id varchar, simulation_year integer, employment_status varchar, is_enrolled boolean, "
            "employee_contribution double, employer_match double, annual_compensation double, note varchar",
            [("E0", year, "active", True, 100.0, 50.0, 1000.0, value)],
        )
    if name == "nondiscrimination_results":
        return _nondiscrimination_shape(year, value)
    return "simulation_year integer, note varchar", [(year, value)]


def _nondiscrimination_shape(year: int, value: str) -> tuple[str, list[tuple[Any, ...]]]:
    """One passing row a year, with the columns (and SQL types) the year metrics read."""
    sql_type = {bool: "boolean", int: "integer"}
    columns: list[str] = ["simulation_year integer", "note varchar"]
    row: list[Any] = [year, value]
    for field in dataclasses.fields(NondiscriminationResults):
        python_type = next((t for t in (bool, int) if field.type in (t, t.__name__)), float)
        columns.append(f"{field.name} {sql_type.get(python_type, 'double')}")
        row.append(python_type(1))
    return ", ".join(columns), [tuple(row)]


@dataclass
class Walk:
    trap: Trap
    fresh: PipelineOrchestrator
    rerun: PipelineOrchestrator
    reference: Path
    """A complete fault-free run with seed 42: the new database's years must match it."""
    reference_digest: str
    """The reference file's SHA-256: a re-run's database is compared with it first (see `_unchanged`)."""
    reference_fingerprint: Fingerprint | None
    """What the reference holds, computed once: every re-run starts from a byte copy of it."""
    reference_rows: dict[tuple[int, ...], dict[str, list[tuple[Any, ...]]]] = dataclasses.field(
        default_factory=dict
    )
    """`_year_rows(reference, years)` by `years`, computed once each (three sets of years in the walk)."""

    def rows_of(self, years: Sequence[int]) -> dict[str, list[tuple[Any, ...]]]:
        key = tuple(years)
        if key not in self.reference_rows:
            self.reference_rows[key] = _year_rows(self.reference, key)
        return self.reference_rows[key]


def _orchestrator(tmp: Path, census: Path, name: str, seed: int, trap: Trap) -> PipelineOrchestrator:
    config = make_config(tmp, census, name, workers=2, **{"simulation.random_seed": seed})

    def factory(manifest: ProjectManifest, cfg: Any) -> TableWritingInvoker:
        return TableWritingInvoker(manifest, Path(cfg.simulation.database_path), trap)

    return PipelineOrchestrator(config, invoker_factory=factory)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Walk:
    tmp = tmp_path_factory.mktemp("fault_walk")
    trap = Trap()
    fresh = _orchestrator(tmp, small_census, "fresh", 42, trap)
    stages = fresh.describe().stages
    assert tuple(s for s in SimulationStage if stages.models(s, ModelScope.SIMULATION)) == SETUP_STAGES
    INCREMENTAL.update(n.name for n in fresh.describe().manifest.models() if n.materialized == "incremental")
    summary = fresh.execute_multi_year_simulation()
    assert summary.success, summary.error
    assert summary.completed_years == YEARS
    reference = tmp / "reference.duckdb"
    shutil.move(summary.database_path, reference)
    rerun = _orchestrator(tmp, small_census, "rerun", 43, trap)
    return Walk(trap, fresh, rerun, reference, file_digest(reference), fingerprint(reference))


def _year_rows(database: Path, years: Sequence[int]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of `years` in every year-partitioned (incremental) table, sorted: what the database holds
    of those years. Tables rebuilt whole every year hold the last built year's intermediates, not years."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.columns where column_name = 'simulation_year' "
                "and table_schema = 'main' order by 1"
            ).fetchall()
            if t in INCREMENTAL
        ]
        assert tables, "no year-partitioned table in the database"
        wanted = ", ".join(str(int(y)) for y in years) or "null"
        return {
            t: sorted(con.execute(f"select * from main.{t} where simulation_year in ({wanted})").fetchall())
            for t in tables
        }
    finally:
        con.close()


async def _run(orchestrator: PipelineOrchestrator, trap: Trap, step: Step, kind: str) -> str:
    with anyio.CancelScope() as scope:
        trap.arm(step, kind, scope)
        summary = await orchestrator.execute_multi_year_simulation_async()
        assert trap.sprung == step or kind == "fail", f"the run never reached {step}"
        return summary.status
    assert trap.sprung == step, f"the run never reached {step}"
    return "interrupted"


@pytest.mark.parametrize("kind", ["fail", "cancel"])
@pytest.mark.parametrize("step", STEPS, ids=str)
async def test_a_fault_in_a_new_database_keeps_exactly_the_years_completed_before_it(
    walk: Walk, step: Step, kind: str
) -> None:
    database = Path(walk.fresh.config.simulation.database_path)
    database.unlink(missing_ok=True)
    status = await _run(walk.fresh, walk.trap, step, kind)
    assert walk.trap.sprung == step, f"the fault at {step} never fired"
    assert status == ("failed" if kind == "fail" else "interrupted")
    done = [y for y in YEARS if step.year is not None and y < step.year]
    if not done:
        assert not database.exists(), f"a run stopped at {step} created the database"
        return
    assert complete_years(database) == done
    assert _year_rows(database, YEARS) == walk.rows_of(done), (
        f"stopped at {step}: the database must hold exactly {done}, as the uninterrupted run built them"
    )


@pytest.mark.parametrize("kind", ["fail", "cancel"])
@pytest.mark.parametrize("step", STEPS, ids=str)
async def test_a_fault_in_a_rerun_leaves_the_previous_simulation_exactly_as_it_was(
    walk: Walk, step: Step, kind: str
) -> None:
    database = Path(walk.rerun.config.simulation.database_path)
    shutil.copyfile(walk.reference, database)  # a byte copy: it holds `walk.reference_fingerprint`
    status = await _run(walk.rerun, walk.trap, step, kind)
    assert walk.trap.sprung == step, f"the fault at {step} never fired"
    assert status == ("failed" if kind == "fail" else "interrupted")
    assert _unchanged(database, walk), f"a re-run stopped at {step} changed the database"


def _unchanged(database: Path, walk: Walk) -> bool:
    """Whether `database` holds what the reference it was copied from holds: byte-identical files hold the
    same tables (a file digest costs a tenth of a fingerprint); a file DuckDB rewrote without a
    change to a table is compared table by table."""
    return (
        file_digest(database) == walk.reference_digest or fingerprint(database) == walk.reference_fingerprint
    )


async def test_the_rerun_without_a_fault_replaces_every_year(walk: Walk) -> None:
    """The walk's re-run would detect a mix: its seed gives different rows for every year."""
    database = Path(walk.rerun.config.simulation.database_path)
    shutil.copyfile(walk.reference, database)
    walk.trap.arm(None, "fail")
    summary = await walk.rerun.execute_multi_year_simulation_async()
    assert summary.success, summary.error
    new, old = _year_rows(database, YEARS), walk.rows_of(YEARS)
    assert set(new) == set(old)
    assert all(new[t] != old[t] for t in new), "some table kept rows of the previous simulation"
    assert complete_years(database) == list(YEARS)


async def test_a_database_another_program_wrote_during_the_run_is_not_overwritten(walk: Walk) -> None:
    """A notebook writes the database while 2026 runs: saving 2026 would lose its write, so the run fails
    with a message saying so, and the database keeps 2025 (saved before) and the notebook's table."""
    database = Path(walk.fresh.config.simulation.database_path)
    database.unlink(missing_ok=True)

    def notebook_writes() -> None:
        con = duckdb.connect(str(database))
        try:
            con.execute("create table main.notebook as select 1 as note")
        finally:
            con.close()

    walk.trap.arm(Step(2026, SimulationStage.FOUNDATION.value), "meddle")
    walk.trap.meddle = notebook_writes
    summary = await walk.fresh.execute_multi_year_simulation_async()
    assert walk.trap.sprung is not None
    assert summary.status == "failed"
    assert "changed by another program" in (summary.error or "")
    assert complete_years(database) == [2025]
    con = duckdb.connect(str(database), read_only=True)
    try:
        assert con.execute("select note from main.notebook").fetchall() == [(1,)]
    finally:
        con.close()


def test_the_latest_runs_model_times_weight_the_next_runs_plans(walk: Walk) -> None:
    """No production caller passed recorded durations, so the duration-weighted critical path never ran:
    the next run's engine now reads the latest run directory's per-model times."""
    config = walk.fresh.config
    runs = sorted(Path(config.run.runs_dir).glob("*/engine_runs.json"))
    assert runs, "the walk's runs wrote no run directory"
    fresh = PipelineOrchestrator(config, invoker_factory=lambda manifest, cfg: TableWritingInvoker(
        manifest, Path(cfg.simulation.database_path), walk.trap))  # fmt: skip
    durations = fresh.engine_in_place().durations
    assert durations, "the engine got no recorded durations"
    models = {n.unique_id for n in fresh.describe().manifest.models()}
    assert set(durations) <= models
