"""The sweep: every member of a scenario set simulated in ONE run of the orchestrator into one database,
and the sweep directory `<runs_dir>/<UTC yyyymmddTHHMMSSZ>-sweep-<file stem>/` that records it (`-02`,
`-03`, ... appended when a sweep of the same file already started in that second).

The run is the ordinary simulation — the same working copy, database lock, atomic replacement, year loop,
progress events and cancellation — with the dbt var `scenarios` added to every dbt call
(`planalign.simulation.build.ExtraVars`), so the dbt project builds every member side by side, keyed by
`scenario_id`. Its per-year headline figures are not recorded (they would add every scenario together);
the comparison computes them per member. The orchestrator's own run record goes to
`<sweep dir>/simulation/<run id>/`, so the sweep is one directory and `runs/` lists it once.

`sweep.json` is written before the simulation starts (status "running", with the process id and host
that run it, so that `planalign runs` can tell a sweep killed with SIGKILL from a running one) and again when
it ends ("complete" or "failed"; an interrupted sweep is "failed"). Each design's parameters in force are read
from the sweep database once it is built (`planalign.scenarios.sweep_designs`); until then, and for a sweep
that failed before its database was saved, sweep.json says why they are absent (`assumptions_error`).

Bad input — a census with too many bad
rows, a database another program holds, a project that does not parse — is refused before anything is
written and leaves no sweep directory.

The database records which sweep it holds (`SweepPlan.identity`: the scenario set's name and resolved
file). A re-run of the same sweep — the same file, its designs or seeds edited or not — replaces its own
database, as a re-run of `simulate` does; a database holding complete years of a simulation or of another
sweep (another name, another file) is refused before anything is written, unless the plan says to replace
it (`replace_database`, the command's `--replace-years`); see `planalign.simulation.year_plan.check_replaces`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from planalign.engine.results import write_json_atomic
from planalign.errors import PlanalignUsageError
from planalign.scenarios.expansion import Member, expand, scenarios_var
from planalign.scenarios.scenario_file import ScenarioSet
from planalign.scenarios.sweep_designs import NOT_READ_YET, designs_built, designs_in_force
from planalign.scenarios.sweep_directory import SWEEP_FILE as SWEEP_FILE
from planalign.scenarios.sweep_directory import SWEEP_SCHEMA_VERSION as SWEEP_SCHEMA_VERSION
from planalign.scenarios.sweep_directory import Keep
from planalign.scenarios.sweep_directory import SweepDirectoryError as SweepDirectoryError
from planalign.scenarios.sweep_directory import latest_complete_sweep as latest_complete_sweep
from planalign.scenarios.sweep_directory import load_sweep as load_sweep
from planalign.simulation.assumptions_resolve import count_census_rows
from planalign.simulation.build import ExtraVars, InvokerFactory
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import apply_overrides
from planalign.simulation.events import ProgressCallback
from planalign.simulation.orchestrator import PipelineOrchestrator
from planalign.simulation.run_directory import SimulationSummary
from planalign.simulation.state import DatabaseIdentity, SimulationState
from planalign.simulation.year_plan import check_replaces

SweepStatus = Literal["complete", "failed", "running"]


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run and where it will write; making one writes nothing."""

    scenario_set: ScenarioSet
    members: tuple[Member, ...]
    config: SimulationConfig
    """The baseline's configuration writing the sweep database, its run record inside the sweep directory."""
    directory: Path
    replace_database: bool = False
    """Replace the database even when it holds another result (a simulation, another sweep)."""
    keep: Keep = "tables"
    """What the database keeps of each member: its tables, or (a sharded sweep) only its yearly figures."""

    @property
    def identity(self) -> DatabaseIdentity:
        """What the sweep's database records it holds (see the module docstring)."""
        return DatabaseIdentity(
            kind="sweep",
            name=self.scenario_set.name,
            source=str(self.scenario_set.path),
            members=len(self.members),
        )

    @property
    def extra_vars(self) -> ExtraVars:
        return ExtraVars(values={"scenarios": scenarios_var(self.members)})


@dataclass(frozen=True)
class SweepOutcome:
    directory: Path
    status: SweepStatus
    summary: SimulationSummary | None
    document: dict[str, Any]


def plan_sweep(
    scenario_set: ScenarioSet,
    *,
    now: dt.datetime | None = None,
    replace_database: bool = False,
    keep: Keep = "tables",
) -> SweepPlan:
    baseline = scenario_set.baseline.config
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    directory = _free_directory(Path(baseline.run.runs_dir) / f"{stamp}-sweep-{scenario_set.path.stem}")
    config = apply_overrides(
        baseline,
        {
            "simulation.database_path": str(scenario_set.database),
            "run.runs_dir": str(directory / "simulation"),
        },
    )
    return SweepPlan(
        scenario_set=scenario_set,
        members=expand(scenario_set),
        config=config,
        directory=directory,
        replace_database=replace_database,
        keep=keep,
    )


def _free_directory(directory: Path) -> Path:
    """`directory`, or when a sweep of the same file started in the same second, the first free
    `<name>-02`, `-03`, ... (two digits, so the names still sort by start time up to 99 a second)."""
    candidate, n = directory, 1
    while candidate.exists():
        n += 1
        candidate = directory.with_name(f"{directory.name}-{n:02d}")
    return candidate


def sweep_document(
    plan: SweepPlan,
    *,
    status: SweepStatus,
    config_digest: str,
    census_employees: int,
    designs: list[dict[str, Any]],
    started_at: str,
    finished_at: str | None,
    elapsed_seconds: float | None,
) -> dict[str, Any]:
    """sweep.json (docs/scenarios.md): what was swept; `designs` is `designs_in_force`'s."""
    scenarios = plan.scenario_set
    config = plan.config
    return {
        "schema_version": SWEEP_SCHEMA_VERSION,
        "kind": "sweep",
        "status": status,
        "name": scenarios.name,
        "description": scenarios.description,
        **scenarios.labels.over(config.report.labels()).to_dict(),
        "scenarios_file": str(scenarios.path),
        "database": str(scenarios.database),
        "keep": plan.keep,
        "config_digest": config_digest,
        "census": {"path": str(config.simulation.census_path), "employees": census_employees},
        "years": list(config.years),
        "seeds": list(scenarios.seeds),
        "baseline": scenarios.baseline.name,
        "discount_rate": scenarios.discount_rate,
        "started_at": started_at,
        "finished_at": finished_at,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "elapsed_seconds": None if elapsed_seconds is None else round(elapsed_seconds, 3),
        "members": [_member_entry(m) for m in plan.members],
        "scenarios": designs,
        "sensitivities": [
            {
                "name": s.name,
                "description": s.description,
                "low": json.loads(json.dumps(s.low, default=str)),
                "high": json.loads(json.dumps(s.high, default=str)),
            }
            for s in scenarios.sensitivities
        ],
    }


def _member_entry(member: Member) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "scenario_id": member.scenario_id,
        "scenario_name": member.scenario_name,
        "random_seed": member.random_seed,
    }
    if member.sensitivity is not None:
        entry["design"], entry["sensitivity"], entry["side"] = member.sensitivity
    return entry


@dataclass
class SweepRecord:
    """The sweep.json of a sweep being run (docs/scenarios.md): written "running" by `open_record` and final
    by `write`; the one-pass and the sharded sweep (`planalign.scenarios.sharded`) both keep one."""

    plan: SweepPlan
    config_digest: str
    census_employees: int
    designs: list[dict[str, Any]]
    started_at: str = field(default_factory=lambda: _now_iso())
    started: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> Path:
        return self.plan.directory / SWEEP_FILE

    def write(self, status: SweepStatus, *, finished: bool = True) -> dict[str, Any]:
        document = sweep_document(
            self.plan,
            status=status,
            config_digest=self.config_digest,
            census_employees=self.census_employees,
            designs=self.designs,
            started_at=self.started_at,
            finished_at=_now_iso() if finished else None,
            elapsed_seconds=time.monotonic() - self.started if finished else None,
        )
        write_json_atomic(self.path, document)
        return document

    async def finish(self, status: SweepStatus, why_unread: str | None = None) -> dict[str, Any]:
        """Write sweep.json's final form: each design's parameters read from the sweep database when it was
        built (`why_unread` None), else why they were not (a failed or interrupted sweep)."""
        if why_unread is None:
            database = Path(self.plan.config.simulation.database_path)
            self.designs = await anyio.to_thread.run_sync(
                designs_built, self.plan.scenario_set, self.plan.members, database, self.census_employees
            )
        else:
            self.designs = designs_in_force(self.plan.scenario_set, why_unread)
        return await anyio.to_thread.run_sync(self.write, status)

    def discard(self) -> None:
        """Remove the record of a sweep refused before it wrote anything (bad input)."""
        self.path.unlink(missing_ok=True)
        _remove_empty_tree(self.plan.directory)


async def open_record(
    plan: SweepPlan,
    check_inputs: Callable[[], None],
    on_started: Callable[[Path], None] | None = None,
) -> SweepRecord:
    """Check the inputs (`check_inputs`: the orchestrator's) and the database the sweep would replace, then
    make the sweep directory and write sweep.json "running". Bad input raises a `PlanalignUsageError` with
    nothing written."""
    await anyio.to_thread.run_sync(check_inputs)
    # Before the sweep directory exists (the orchestrator checks again, for callers that skip this).
    database = Path(plan.config.simulation.database_path)
    held = await anyio.to_thread.run_sync(SimulationState(database).contents)
    check_replaces(held, plan.identity, replace=plan.replace_database, database=f"the database {database}")
    employees = await anyio.to_thread.run_sync(count_census_rows, Path(plan.config.simulation.census_path))
    designs = designs_in_force(plan.scenario_set, NOT_READ_YET)
    digest = await anyio.to_thread.run_sync(plan.config.results_digest, plan.extra_vars.values)
    record = SweepRecord(plan, digest, employees, designs)
    try:
        plan.directory.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise SweepDirectoryError(
            f"{plan.directory} exists already: another sweep of this file is starting at the same moment; "
            "run again"
        ) from None
    record.write("running", finished=False)
    if on_started is not None:
        on_started(plan.directory)
    return record


async def run_sweep_async(
    plan: SweepPlan,
    *,
    on_progress: ProgressCallback | None = None,
    invoker_factory: InvokerFactory | None = None,
    on_started: Callable[[Path], None] | None = None,
) -> SweepOutcome:
    """Check the inputs, write sweep.json ("running"), simulate every member in one run, write sweep.json
    again. Returns the outcome; bad input raises a `PlanalignUsageError` with nothing written; cancellation
    records the sweep as failed and re-raises. `on_started` receives the sweep directory once it exists."""
    orchestrator = pass_orchestrator(plan.config, plan.members, plan.identity, invoker_factory)
    record = await open_record(plan, orchestrator.check_inputs, on_started)
    summaries: list[SimulationSummary] = []
    try:
        summary = await run_pass(
            orchestrator,
            replace_database=plan.replace_database,
            on_progress=on_progress,
            on_finished=summaries.append,
        )
    except PlanalignUsageError:
        # Refused before the simulation wrote anything (the orchestrator leaves no run record either).
        record.discard()
        raise
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await record.finish(
                "failed", f"not read: the sweep stopped before its database was saved ({exc!r})"
            )
        raise
    status: SweepStatus = "complete" if summary.success else "failed"
    final = await record.finish(
        status, None if summary.success else f"not read: the sweep failed ({summary.error})"
    )
    return SweepOutcome(directory=plan.directory, status=status, summary=summary, document=final)


def pass_orchestrator(
    config: SimulationConfig,
    members: tuple[Member, ...],
    identity: DatabaseIdentity,
    invoker_factory: InvokerFactory | None = None,
    parse_members: tuple[Member, ...] | None = None,
) -> PipelineOrchestrator:
    """The orchestrator of one sweep pass: `config`'s simulation with the dbt var `scenarios` of `members`
    (every member of a one-pass sweep, or one shard's, `planalign.scenarios.shards`).

    `parse_members`: the members whose `scenarios` var the dbt parse sees instead (a shard's sweep passes
    its first shard's to every shard, so they share one cached parse). The var reaches only SQL bodies,
    which dbt renders again with the run's vars; a parse that keeps one of those members' ids anyway is
    done again with the real vars (`planalign.dbt.parse_vars.stand_in_leaks`)."""
    parse: dict[str, Any] | None = None
    leaks: tuple[str, ...] = ()
    if parse_members is not None and parse_members != members:
        parse = {"scenarios": scenarios_var(parse_members)}
        leaks = tuple(m.scenario_id for m in parse_members if m not in members)
    extra = ExtraVars(
        values={"scenarios": scenarios_var(members)},
        parse_values=parse,
        parse_leaks=leaks,
    )
    return PipelineOrchestrator(config, invoker_factory=invoker_factory, extra_vars=extra, identity=identity)


async def run_pass(
    orchestrator: PipelineOrchestrator,
    *,
    replace_database: bool,
    on_progress: ProgressCallback | None = None,
    on_finished: Callable[[SimulationSummary], None] | None = None,
) -> SimulationSummary:
    """One sweep pass: every year from the census, every member of the orchestrator's `scenarios` var side by
    side, into its configured database (through the working copy). The one-pass sweep and every shard of a
    sharded sweep (`planalign.scenarios.shard_task`) run this same function."""
    return await orchestrator.execute_multi_year_simulation_async(
        # A sweep always simulates every year from the census: its database is the sweep's alone. It
        # replaces another result's database only when told to.
        replace_years=True,
        replace_database=replace_database,
        on_progress=on_progress,
        on_finished=on_finished,
    )


def _remove_empty_tree(directory: Path) -> None:
    """Remove `directory` and its empty sub-directories; anything with a file in it stays."""
    if not directory.is_dir():
        return
    for child in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir() and not any(child.iterdir()):
            child.rmdir()
    if not any(directory.iterdir()):
        directory.rmdir()


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
