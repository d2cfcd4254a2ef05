"""The scenario file: what a valid one resolves to, and every kind of mistake named by file and key path,
with exit status 2 and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign.cli import main
from planalign.scenarios.scenario_file import ScenarioFileError, load_scenario_file

from .conftest import ScenarioWriter

VALID = """
config: simulation_config.yaml
name: plan-designs
description: three plan designs
baseline:
  description: today's plan
scenarios:
  match_4pct:
    description: 100% of the first 4%
    overrides:
      match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}
  auto_enroll_3pct:
    overrides:
      enrollment: {auto_enrollment: {default_deferral_rate: 0.03}}
      escalation.increment: 0.02
seeds: 3
discount_rate: 0.04
"""


def test_a_valid_file_resolves_every_design_through_the_config_schema(
    tmp_path: Path, write_scenarios: ScenarioWriter
) -> None:
    scenarios = load_scenario_file(write_scenarios(VALID))
    assert [d.name for d in scenarios.designs] == ["baseline", "match_4pct", "auto_enroll_3pct"]
    assert scenarios.seeds == (42, 43, 44)  # the config's random_seed, +1, +2
    assert scenarios.discount_rate == 0.04
    assert scenarios.name == "plan-designs"
    assert scenarios.config_path == tmp_path / "simulation_config.yaml"
    # Beside the scenario file, named after it.
    assert scenarios.database == tmp_path / "scenarios.duckdb"
    baseline, match, auto = scenarios.designs
    assert baseline.config.match.cap_rate is None
    assert match.config.match.tiers is not None and [t.employee_max for t in match.config.match.tiers] == [
        0.04
    ]
    assert match.config.match.cap_rate == 0.04
    assert auto.config.enrollment.auto_enrollment.default_deferral_rate == 0.03
    assert auto.config.escalation.increment == 0.02  # a dotted key inside overrides
    assert auto.overrides == {
        "enrollment": {"auto_enrollment": {"default_deferral_rate": 0.03}},
        "escalation": {"increment": 0.02},
    }
    # Everything else is the baseline's.
    assert auto.config.match == baseline.config.match
    assert auto.config.simulation == baseline.config.simulation


def test_seeds_may_be_listed_and_the_baseline_overrides_apply_to_every_scenario(
    write_scenarios: ScenarioWriter,
) -> None:
    scenarios = load_scenario_file(
        write_scenarios(
            {
                "baseline": {"name": "current", "overrides": {"compensation": {"cola_rate": 0.02}}},
                "scenarios": {"richer": {"overrides": {"contributions": {"core_contribution_rate": 0.03}}}},
                "seeds": [7, 1000],
                "database": "out/sweep.duckdb",
            }
        )
    )
    assert scenarios.seeds == (7, 1000)
    current, richer = scenarios.designs
    assert current.name == "current" and current.config.compensation.cola_rate == 0.02
    assert richer.config.compensation.cola_rate == 0.02
    assert richer.config.contributions.core_contribution_rate == 0.03
    assert scenarios.database == scenarios.path.parent / "out" / "sweep.duckdb"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("seeds: 0\n", ["scenarios.yaml: seeds: 0 seeds would simulate nothing"]),
        ("seeds: []\n", ["seeds: the list is empty"]),
        ("seeds: [1, 1]\n", ["seeds: seed 1 is listed twice"]),
        ("seeds: [-1]\n", ["seeds: -1 is not a seed"]),
        (f"seeds: [{2**63}]\n", [f"seeds: {2**63} is not a seed: seeds are integers from 0 to 2^63 - 1"]),
        ("seeds: true\n", ["seeds: must be a number of seeds"]),
        ("discount_rate: 5\n", ["discount_rate: must be a rate between 0 and 1"]),
        ("sceanrios: {}\n", ["sceanrios: unknown key; did you mean 'scenarios'?"]),
        (
            "scenarios: {a: {overides: {}}}\n",
            ["scenarios.a.overides: unknown key; did you mean 'overrides'?"],
        ),
        ("scenarios: {'bad name': {}}\n", ["'bad name' is not a usable scenario name"]),
        ("scenarios: {baseline: {}}\n", ["scenarios.baseline: 'baseline' is the baseline's name"]),
        (
            "scenarios: {a: {}}\nscenarios: {b: {}}\n",
            ["line 2, column 1: invalid YAML: key 'scenarios' appears twice"],
        ),
        ("scenarios: {a: {}, a: {}}\n", ["key 'a' appears twice"]),
        (
            "scenarios: {a: {overrides: {match: {cap_rat: 0.04}}}}\n",
            ["scenarios.a.overrides.match.cap_rat: unknown key; did you mean 'cap_rate'?"],
        ),
        (
            "scenarios: {a: {overrides: {enrollment: {auto_enrollment: {default_deferral_rate: 3}}}}}\n",
            ["scenarios.a.overrides.enrollment.auto_enrollment.default_deferral_rate: must be a rate"],
        ),
        (
            "scenarios: {a: {overrides: {escalation: {cap: null}}}}\n",
            ["scenarios.a.overrides.escalation.cap: null is not a value"],
        ),
        (
            "scenarios: {a: {overrides: {simulation: {end_year: 2030}}}}\n",
            ["scenarios.a.overrides.simulation.end_year: a scenario cannot override this: every scenario"],
        ),
        (
            "scenarios: {a: {overrides: {simulation: {census_path: x.csv}}}}\n",
            [
                "simulation.census_path: a scenario cannot override this: every scenario of a sweep "
                "shares one census"
            ],
        ),
        (
            "scenarios: {a: {overrides: {simulation: {random_seed: 1}}}}\n",
            ["simulation.random_seed: a scenario cannot override this: the seeds come from `seeds:`"],
        ),
        (
            "scenarios: {a: {overrides: {simulation.database_path: x.duckdb}}}\n",
            ["simulation.database_path: a scenario cannot override this: a sweep writes one database"],
        ),
        (
            "scenarios: {a: {overrides: {dbt: {project_dir: elsewhere}}}}\n",
            ["scenarios.a.overrides.dbt.project_dir: a scenario cannot override this: a sweep builds"],
        ),
        (
            "baseline: {overrides: {orchestrator: {threading: {model_parallelization: {max_workers: 2}}}}}\n",
            [
                "baseline.overrides.orchestrator.threading.model_parallelization.max_workers: a scenario "
                "cannot"
            ],
        ),
        (
            "config: missing.yaml\n",
            ["scenarios.yaml: config: the baseline configuration", "config file not found"],
        ),
        ("database: simulation.duckdb\n", ["database: the sweep would write", "own simulation database"]),
        (f"scenarios: {{{'x' * 70}: {{}}}}\n", ["ids have at most 64"]),
        ("- a\n- b\n", ["the top level must be a mapping"]),
    ],
)
def test_mistakes_are_named_by_file_and_key_path(
    write_scenarios: ScenarioWriter, content: str, expected: list[str]
) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario_file(write_scenarios(content))
    for fragment in expected:
        assert fragment in str(caught.value)


def test_every_problem_of_the_file_is_reported_at_once(write_scenarios: ScenarioWriter) -> None:
    content = """
scenarios:
  a:
    overrides:
      simulation: {start_year: 2026}
      match: {cap_rat: 0.04}
  b:
    overrides: {escalation: {cap: 2}}
"""
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario_file(write_scenarios(content))
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("invalid scenario file ")
    assert sum("scenarios.a.overrides.simulation.start_year" in line for line in lines) == 1
    assert sum("scenarios.a.overrides.match.cap_rat" in line for line in lines) == 1
    assert sum("scenarios.b.overrides.escalation.cap" in line for line in lines) == 1


def test_a_scenario_file_named_after_the_configs_database_needs_its_own(
    write_scenarios: ScenarioWriter,
) -> None:
    """`simulation.yaml` would default to simulation.duckdb, the baseline's own database."""
    with pytest.raises(ScenarioFileError, match="set `database:` to another file"):
        load_scenario_file(write_scenarios("seeds: 1\n", name="simulation.yaml"))


def test_the_cli_exits_2_and_writes_nothing_for_a_bad_file(
    tmp_path: Path, write_scenarios: ScenarioWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenarios("scenarios: {a: {overrides: {match: {cap_rate: 7}}}}\nseeds: 2\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["scenarios", "run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "scenarios.a.overrides.match.cap_rate: must be a rate between 0 and 1" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no runs/, no database


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenarios", "run", "missing.yaml"], "scenario file not found"),
        (["scenarios", "run", "x.yaml", "--workers", "2", "--no-parallel"], "contradict"),
        (["scenarios", "run", "x.yaml", "--workers", "0"], "--workers must be at least 1"),
        (["scenarios"], "give a subcommand"),
        (["scenarios", "compare", "nowhere"], "nowhere is not a directory"),
    ],
)
def test_cli_usage_errors_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_compare_without_a_sweep_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios", "compare", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "no complete sweep under" in capsys.readouterr().err


def test_the_shipped_example_compares_three_designs_with_twenty_seeds() -> None:
    """`make scenarios` runs scenarios.yaml at the repository root."""
    repo = Path(__file__).resolve().parents[2]
    scenarios = load_scenario_file(repo / "scenarios.yaml")
    assert [d.name for d in scenarios.designs] == ["baseline", "match_4pct", "auto_enroll_3pct"]
    assert len(scenarios.seeds) == 20
    assert scenarios.config_path == repo / "simulation_config.yaml"
    auto = scenarios.designs[2].config
    assert auto.enrollment.auto_enrollment.default_deferral_rate == 0.03 and auto.escalation.enabled
