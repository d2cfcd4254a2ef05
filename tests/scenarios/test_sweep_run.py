"""The sweep as one orchestrator run (the project is parsed for real; a recording invoker stands in for
dbt): the `scenarios` var reaches every dbt call, the run summary records no whole-table year metrics,
the run record sits inside the sweep directory, and sweep.json says what ran."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from planalign.engine.invocation import InvocationOutcome, OutcomeStatus
from planalign.engine.nodes import ProjectManifest
from planalign.errors import CensusError
from planalign.scenarios.expansion import scenarios_var
from planalign.scenarios.scenario_file import load_scenario_file
from planalign.scenarios.sweep import load_sweep, plan_sweep, run_sweep_async
from planalign.simulation.assumptions import Assumptions, MatchTierTerm, Parameter
from planalign.simulation.build import ExtraVars
from planalign.simulation.config_loading import apply_overrides
from planalign.simulation.orchestrator import PipelineOrchestrator
from planalign.simulation.state import SimulationState

from .conftest import ScenarioWriter

FILE = """
name: two-designs
scenarios:
  match_4pct:
    description: 100% of the first 4%
    overrides: {match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}}
seeds: 2
"""


class RecordingInvoker:
    """Succeeds at everything and records the vars of every call (seed, tests, each model)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Mapping[str, Any]]] = []
        self._lock = threading.Lock()

    @property
    def supports_concurrency(self) -> bool:
        return False

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> InvocationOutcome:
        with self._lock:
            self.calls.append((args[0], dict(vars)))
        return InvocationOutcome(OutcomeStatus.SUCCESS)

    def run_model(self, node: Any, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        with self._lock:
            self.calls.append((str(node.name), dict(vars)))
        return InvocationOutcome(OutcomeStatus.SUCCESS)


#: What the fake build "built" per scenario id (the recording invoker builds nothing): the match cap in force.
BUILT_CAPS = {"baseline__s42": 0.061, "match_4pct__s42": 0.04}


class FakeBuiltAssumptions:
    """Stands in for `read_assumptions` (the real reader is tested on real builds in
    tests/test_assumptions_from_build.py): answers the literals of `BUILT_CAPS` for the scenario asked, and
    records what was asked: which member, database and configuration sweep.json is read from."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Path, str]] = []

    def __call__(
        self, config: Any, database: Path, scenario_id: str, *, census_employees: int
    ) -> Assumptions:
        self.asked.append((scenario_id, Path(database), str(config.match.cap_rate)))
        cap = BUILT_CAPS[scenario_id]
        tier = MatchTierTerm(0.0, cap, 1.0)
        sim = config.simulation
        return Assumptions(
            census_path=str(sim.census_path),
            census_employees=census_employees,
            random_seed=sim.random_seed,
            start_year=sim.start_year,
            end_year=sim.end_year,
            effective_date=sim.effective_date.isoformat(),
            parameters=(Parameter("match_cap_rate", "match", "float", cap, "seed", "cap"),),
            match_tiers=(tier,),
            match_cap_rate=cap,
        )


@pytest.mark.slow
def test_a_sweep_is_one_run_with_the_scenarios_var_in_every_call(
    write_scenarios: ScenarioWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = load_scenario_file(write_scenarios(FILE))
    plan = plan_sweep(scenarios)
    invoker = RecordingInvoker()
    read = FakeBuiltAssumptions()
    monkeypatch.setattr("planalign.scenarios.sweep_designs.read_assumptions", read)
    running: list[dict[str, Any]] = []

    def on_started(directory: Path) -> None:
        running.append(load_sweep(directory))

    def factory(manifest: ProjectManifest, config: Any) -> RecordingInvoker:
        return invoker

    outcome = anyio.run(lambda: run_sweep_async(plan, invoker_factory=factory, on_started=on_started))
    assert outcome.status == "complete"
    # While it runs, sweep.json (the live display, `planalign runs` read it) says the parameters are not read.
    [early] = running
    assert [d["parameters"] for d in early["scenarios"]] == [None, None]
    assert all(d["assumptions_error"].startswith("not read yet") for d in early["scenarios"])
    expected = scenarios_var(plan.members)
    assert [m["scenario_id"] for m in expected] == [
        "baseline__s42",
        "baseline__s43",
        "match_4pct__s42",
        "match_4pct__s43",
    ]
    commands = {name for name, _ in invoker.calls}
    assert {"seed", "test", "fct_yearly_events", "fct_workforce_snapshot"} <= commands
    for name, vars_ in invoker.calls:
        assert vars_["scenarios"] == expected, name
        # The top-level vars are the baseline's; the database is the sweep's working copy.
        assert "match_cap_rate" not in vars_
        assert vars_["random_seed"] == 42
    years = {vars_["simulation_year"] for name, vars_ in invoker.calls if name == "test"}
    assert years == {2025, 2026}

    summary = outcome.summary
    assert summary is not None and summary.success
    assert dict(summary.years) == {}  # several scenarios: no one row a year (the comparison reads each)
    assert summary.run_dir.parent == plan.directory / "simulation"
    assert (summary.run_dir / "summary.json").is_file()

    document = load_sweep(plan.directory)
    assert document == outcome.document
    assert document["status"] == "complete" and document["kind"] == "sweep"
    assert document["name"] == "two-designs"
    assert document["database"] == str(scenarios.database)
    assert document["years"] == [2025, 2026] and document["seeds"] == [42, 43]
    assert document["census"]["employees"] == 300
    assert document["members"] == [
        {k: m[k] for k in ("scenario_id", "scenario_name", "random_seed")} for m in expected
    ]
    baseline, match = document["scenarios"]
    assert match["overrides"] == {
        "match": {"tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "cap_rate": 0.04}
    }
    # Read once per design after the build, from the sweep database, for the design's first member, under
    # the design's configuration (section and source); what was read is what sweep.json records.
    assert read.asked == [
        ("baseline__s42", scenarios.database, str(scenarios.designs[0].config.match.cap_rate)),
        ("match_4pct__s42", scenarios.database, "0.04"),
    ]
    assert baseline["parameters"] == {"match_cap_rate": 0.061} and baseline["assumptions_error"] is None
    assert match["parameters"] == {"match_cap_rate": 0.04} and match["assumptions_error"] is None
    assert match["match_formula"].startswith("100% of the first 4% of pay")
    assert document["finished_at"] is not None and document["elapsed_seconds"] >= 0
    # Every year is recorded under the sweep's digest, which covers the scenarios var.
    completed = SimulationState(scenarios.database).completed_years()
    assert [c.simulation_year for c in completed] == [2025, 2026]
    assert {c.config_hash for c in completed} == {document["config_digest"]}
    assert document["config_digest"] != plan.config.results_digest()


@pytest.mark.slow
def test_bad_input_is_refused_before_a_sweep_directory_exists(
    tmp_path: Path, write_scenarios: ScenarioWriter
) -> None:
    scenarios = load_scenario_file(write_scenarios(FILE))
    bad = tmp_path / "bad_census.csv"
    bad.write_text("employee_id,hire_date\nE1,not-a-date\n")
    plan = plan_sweep(scenarios)
    plan = type(plan)(
        scenario_set=plan.scenario_set,
        members=plan.members,
        config=apply_overrides(plan.config, {"simulation.census_path": str(bad)}),
        directory=plan.directory,
    )
    with pytest.raises(CensusError):
        anyio.run(lambda: run_sweep_async(plan, invoker_factory=lambda m, c: RecordingInvoker()))
    assert not plan.directory.exists()
    assert not scenarios.database.exists()


def test_extra_vars_may_not_repeat_the_configurations(write_scenarios: ScenarioWriter) -> None:
    config = load_scenario_file(write_scenarios(FILE)).baseline.config
    with pytest.raises(ValueError, match=r"repeat the configuration's vars \['random_seed'\]"):
        PipelineOrchestrator(config, extra_vars=ExtraVars(values={"random_seed": 1}))


def test_sweep_json_is_what_the_contract_lists(write_scenarios: ScenarioWriter) -> None:
    """The keys of docs/scenarios.md's sweep.json, no more, no fewer (the report and `runs` read them)."""
    from planalign.scenarios.sweep import sweep_document

    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    document = sweep_document(
        plan,
        status="running",
        config_digest="d",
        census_employees=1,
        designs=[],
        started_at="s",
        finished_at=None,
        elapsed_seconds=None,
    )
    assert set(document) == {
        "schema_version", "kind", "status", "name", "scenarios_file", "database", "config_digest", "census",
        "years", "seeds", "baseline", "discount_rate", "started_at", "finished_at", "elapsed_seconds",
        "pid", "host", "members", "scenarios", "description", "sensitivities", "keep",
    }  # fmt: skip
    assert json.loads(json.dumps(document)) == document
    assert plan.directory.name.endswith("-sweep-scenarios")
    assert plan.directory.parent == Path(plan.scenario_set.baseline.config.run.runs_dir)


@pytest.mark.slow
def test_a_cancelled_sweep_is_recorded_as_failed(write_scenarios: ScenarioWriter) -> None:
    """Ctrl-C (a cancelled task): the orchestrator stops and records the run as interrupted, sweep.json says
    failed with its finish time, and the cancellation goes on to the caller."""
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    cancelled: list[anyio.CancelScope] = []

    class CancellingInvoker(RecordingInvoker):
        def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> InvocationOutcome:
            if args[0] == "test" and vars["simulation_year"] == 2026:
                anyio.from_thread.run_sync(cancelled[0].cancel)
            return super().invoke(args, vars=vars)

    async def main() -> None:
        with anyio.CancelScope() as scope:
            cancelled.append(scope)
            await run_sweep_async(plan, invoker_factory=lambda manifest, config: CancellingInvoker())
            raise AssertionError("the sweep should have been cancelled")

    anyio.run(main)
    document = load_sweep(plan.directory)
    assert document["status"] == "failed"
    assert document["finished_at"] is not None
    [summary] = (plan.directory / "simulation").glob("*/summary.json")
    assert json.loads(summary.read_text())["status"] == "interrupted"


def test_a_second_sweep_in_the_same_second_gets_its_own_directory(write_scenarios: ScenarioWriter) -> None:
    """CI ran two sweeps of one file within a second and the second was refused ("exists already"): a
    user re-running a quick sweep would be too. The second sweep takes the next free name, sorting after
    the first so "the latest sweep" is still the newest."""
    import datetime as dt

    scenarios = load_scenario_file(write_scenarios(FILE))
    now = dt.datetime(2026, 12, 7, 19, 49, 25, tzinfo=dt.UTC)
    first = plan_sweep(scenarios, now=now)
    first.directory.mkdir(parents=True)
    second = plan_sweep(scenarios, now=now)
    assert second.directory != first.directory
    assert second.directory.parent == first.directory.parent
    assert sorted([second.directory.name, first.directory.name])[-1] == second.directory.name
    assert second.config.run.runs_dir == second.directory / "simulation"
    second.directory.mkdir()
    third = plan_sweep(scenarios, now=now)
    names = [p.name for p in (first.directory, second.directory, third.directory)]
    assert sorted(names) == names
