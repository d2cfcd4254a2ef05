"""planalign.simulation.config: layering (file < env < overrides), validation messages, paths, dbt vars,
snapshots."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from planalign import cli
from planalign.errors import ConfigError, PlanalignUsageError, SimulationYearError
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import apply_overrides, load_simulation_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "simulation_config.yaml"
DBT_PROJECT = REPO / "dbt_project"

#: The configuration block of the specification (S067-02, "Enabling Model-Level Parallelization"), verbatim.
SPEC_YAML = """\
orchestrator:
  threading:
    model_parallelization:
      enabled: true
      max_workers: 4
      memory_limit_mb: 6000.0
      enable_conditional_parallelization: false
      deterministic_execution: true
      resource_monitoring: true

      safety:
        fallback_on_resource_pressure: true
        validate_execution_safety: true
        abort_on_dependency_conflict: true
        max_retries_per_model: 2
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own PLANALIGN_* variables must not leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("PLANALIGN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with a census file; the working directory is elsewhere, so that relative paths
    that wrongly resolve against the cwd show up."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "census.parquet").write_bytes(b"not read by config loading")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project


def write_config(directory: Path, text: str, name: str = "simulation_config.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_census(text: str) -> str:
    return "simulation:\n  census_path: data/census.parquet\n" + textwrap.dedent(text)


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The per-problem lines of a ConfigError message."""
    return [line.strip() for line in str(exc.value).splitlines()[1:]]


# ------------------------------------------------------------------------------------------------------------
# Defaults and the specification's examples
# ------------------------------------------------------------------------------------------------------------


def test_code_defaults_are_the_specification_tables(workdir: Path) -> None:
    config = load_simulation_config(check_files=False)
    mp = config.model_parallelization
    assert mp is config.orchestrator.threading.model_parallelization
    assert (mp.enabled, mp.max_workers, mp.memory_limit_mb) == (False, 4, 4000.0)
    assert mp.enable_conditional_parallelization is False
    assert mp.deterministic_execution is True
    assert mp.resource_monitoring is True
    assert mp.safety.fallback_on_resource_pressure is True
    assert mp.safety.validate_execution_safety is True
    assert mp.safety.abort_on_dependency_conflict is True
    assert mp.safety.max_retries_per_model == 2
    assert (config.simulation.start_year, config.simulation.end_year) == (2025, 2029)
    assert list(config.years) == [2025, 2026, 2027, 2028, 2029]


def test_the_specification_yaml_block_loads_as_is(workdir: Path) -> None:
    path = write_config(workdir, with_census(SPEC_YAML))
    mp = load_simulation_config(path).model_parallelization
    assert mp.enabled is True
    assert mp.max_workers == 4
    assert mp.memory_limit_mb == 6000.0
    assert mp.safety.max_retries_per_model == 2


def test_the_specification_example_runs_with_the_package_renamed(workdir: Path) -> None:
    # The spec loads 'config/simulation_config.yaml' relative to where the user runs it.
    config_dir = workdir / "config"
    config_dir.mkdir()
    write_config(config_dir, "simulation:\n  census_path: ../data/census.parquet\n" + SPEC_YAML)
    os.chdir(workdir)
    config = load_simulation_config("config/simulation_config.yaml")
    assert config.model_parallelization.enabled is True
    assert config.simulation.census_path == workdir / "data" / "census.parquet"


def test_the_shipped_config_loads_with_parallelization_on() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    mp = config.model_parallelization
    assert (mp.enabled, mp.max_workers, mp.memory_limit_mb) == (True, 4, 4000.0)
    assert (config.simulation.start_year, config.simulation.end_year) == (2025, 2029)
    assert config.simulation.census_path == DBT_PROJECT / "data" / "census.parquet"
    assert config.dbt.project_dir == DBT_PROJECT
    assert config.dbt.profiles_dir == DBT_PROJECT


def test_the_shipped_config_spells_out_every_parameter() -> None:
    """Users read the defaults in the shipped file, so no parameter there may be left to the seeds."""
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    for section in (
        "workforce",
        "compensation",
        "enrollment",
        "escalation",
        "match",
        "contributions",
        "vesting",
    ):
        dumped = getattr(config, section).model_dump()
        flat = {**dumped, **dumped.pop("auto_enrollment", {})}
        assert None not in flat.values(), f"{section} leaves a parameter unset: {flat}"


# ------------------------------------------------------------------------------------------------------------
# Alignment with the dbt project
# ------------------------------------------------------------------------------------------------------------


def _declared_dbt_vars() -> set[str]:
    """The vars the dbt project declares in dbt_project.yml or reads by literal name in its SQL
    (`var('x')` or the `planalign_param('x', ...)` macro)."""
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))
    names = set(project["vars"])
    pattern = re.compile(r"\b(?:var|planalign_param)\(\s*['\"](\w+)['\"]\s*[,)]")
    for sql in [
        *DBT_PROJECT.joinpath("models").rglob("*.sql"),
        *DBT_PROJECT.joinpath("macros").rglob("*.sql"),
    ]:
        names.update(pattern.findall(sql.read_text(encoding="utf-8")))
    return names


def test_every_var_the_config_passes_is_declared_by_the_dbt_project() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    declared = _declared_dbt_vars() | {"database_path"}  # database_path is read by profiles.yml
    assert set(config.dbt_vars(2025)) <= declared, set(config.dbt_vars(2025)) - declared


#: The dbt project's scenario-dimension vars: set by a sweep (the scenarios layer), not by one run's config.
SWEEP_VARS = {"scenarios", "scenario_id", "scenario_name"}


def test_every_parameter_var_of_the_dbt_project_can_be_set_from_the_config() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    missing = _declared_dbt_vars() - SWEEP_VARS - set(config.dbt_vars(2025))
    assert not missing, f"dbt vars simulation_config.yaml cannot set: {sorted(missing)}"


def _seed_parameters(name: str) -> dict[str, float]:
    with (DBT_PROJECT / "seeds" / f"{name}.csv").open(newline="") as handle:
        return {row["parameter_name"]: float(row["parameter_value"]) for row in csv.DictReader(handle)}


def test_the_shipped_parameters_restate_the_seed_defaults() -> None:
    """The shipped file promises it restates the seeds; a drift would silently change the product."""
    config_vars = load_simulation_config(SHIPPED_CONFIG, check_files=False).dbt_vars(2025)
    seeds = {**_seed_parameters("config_workforce_parameters"), **_seed_parameters("config_plan_parameters")}
    declared = _declared_dbt_vars()
    seeds = {name: value for name, value in seeds.items() if name in declared}  # the rest are not vars
    with (DBT_PROJECT / "seeds" / "config_comp_levers.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            seeds[f"merit_rate_level_{row['job_level']}"] = float(row["merit_rate"])
    with (DBT_PROJECT / "seeds" / "config_match_tiers.csv").open(newline="") as handle:
        seed_tiers = [
            {"employee_max": float(r["employee_max"]), "match_rate": float(r["match_rate"])}
            for r in sorted(csv.DictReader(handle), key=lambda r: int(r["tier"]))
        ]
    assert config_vars["match_tiers"] == seed_tiers
    with (DBT_PROJECT / "seeds" / "config_core_contribution_schedule.csv").open(newline="") as handle:
        seed_grades = [
            {
                "min_age": int(r["min_age"]),
                "min_service_years": int(r["min_service_years"]),
                "core_rate": float(r["core_rate"]),
            }
            for r in csv.DictReader(handle)
        ]
    assert config_vars["core_contribution_schedule"] == seed_grades
    for name, seed_value in seeds.items():
        assert name in config_vars, f"seed parameter {name} cannot be set from simulation_config.yaml"
        assert float(config_vars[name]) == seed_value, name


# ------------------------------------------------------------------------------------------------------------
# Precedence
# ------------------------------------------------------------------------------------------------------------


def test_environment_overrides_the_file_and_overrides_beat_both(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        workdir,
        with_census(
            """\
            orchestrator:
              threading:
                model_parallelization:
                  max_workers: 3
                  memory_limit_mb: 1000.0
            """
        ).replace("simulation:\n", "simulation:\n  end_year: 2028\n  random_seed: 7\n"),
    )
    assert load_simulation_config(path).simulation.end_year == 2028

    monkeypatch.setenv("PLANALIGN_SIMULATION__END_YEAR", "2027")
    monkeypatch.setenv("PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__MAX_WORKERS", "2")
    config = load_simulation_config(path)
    assert config.simulation.end_year == 2027
    assert config.model_parallelization.max_workers == 2
    assert config.model_parallelization.memory_limit_mb == 1000.0  # untouched keys of the file survive
    assert config.simulation.random_seed == 7

    config = load_simulation_config(
        path,
        overrides={
            "simulation.end_year": 2026,
            "orchestrator": {"threading": {"model_parallelization": {"max_workers": 1}}},
            "simulation.random_seed": None,  # a flag the user did not give
        },
    )
    assert config.simulation.end_year == 2026
    assert config.model_parallelization.max_workers == 1
    assert config.simulation.random_seed == 7


def test_environment_applies_without_a_config_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__ENABLED", "true")
    monkeypatch.setenv("PLANALIGN_MATCH__TIERS", '[{"employee_max": 0.06, "match_rate": 0.5}]')
    config = load_simulation_config(check_files=False)
    assert config.model_parallelization.enabled is True
    assert config.dbt_vars(2025)["match_tiers"] == [{"employee_max": 0.06, "match_rate": 0.5}]


def test_overrides_replace_lists_rather_than_merging_them(workdir: Path) -> None:
    path = write_config(
        workdir,
        with_census(
            """\
            match:
              tiers:
                - {employee_max: 0.03, match_rate: 1.0}
                - {employee_max: 0.05, match_rate: 0.5}
            """
        ),
    )
    config = load_simulation_config(
        path, overrides={"match.tiers": [{"employee_max": 0.04, "match_rate": 0.25}]}
    )
    assert [(t.employee_max, t.match_rate) for t in config.match.tiers or ()] == [(0.04, 0.25)]


# ------------------------------------------------------------------------------------------------------------
# Validation: every problem named by key and origin, all at once
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      max_workers: 0\n",
            "simulation_config.yaml: orchestrator.threading.model_parallelization.max_workers: "
            "must be >= 1 (got 0)",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      memory_limit_mb: 0\n",
            "simulation_config.yaml: orchestrator.threading.model_parallelization.memory_limit_mb: "
            "must be > 0 (got 0)",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      memory_limit_mb: -5.5\n",
            "model_parallelization.memory_limit_mb: must be > 0 (got -5.5)",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      max_workers: four\n",
            "model_parallelization.max_workers: input should be a valid integer",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      max_workers: true\n",
            "model_parallelization.max_workers: must be a number, not a boolean (got True)",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      max_worker: 2\n",
            "model_parallelization.max_worker: unknown key; did you mean 'max_workers'?",
        ),
        (
            "orchestrator:\n  threading:\n    model_parallelization:\n      safety:\n"
            "        max_retries_per_model: -1\n",
            "model_parallelization.safety.max_retries_per_model: must be >= 0 (got -1)",
        ),
        ("workforce:\n  total_termination_rate: 1.5\n", "workforce.total_termination_rate: must be a rate"),
        ("workforce:\n  new_hire_termination_rate: -0.1\n", "(got -0.1)"),
        ("compensation:\n  merit_rate_level_3: 3.5\n", "compensation.merit_rate_level_3: must be a rate"),
        ("enrollment:\n  auto_enrollment:\n    opt_out_rate: 2\n", "auto_enrollment.opt_out_rate: must be a"),
        ("escalation:\n  cap: 1.01\n", "escalation.cap: must be a rate between 0 and 1"),
        ("match:\n  tiers:\n    - {employee_max: 0.03, match_rate: 1.5}\n", "match.tiers[0].match_rate:"),
        ("match:\n  tiers:\n    - {employee_max: 0.03, rate: 1}\n", "match.tiers[0].rate: unknown key"),
        (
            "match:\n  tiers:\n    - {employee_max: 0.05, match_rate: 1}\n    - {employee_max: 0.03, "
            "match_rate: 0.5}\n",
            "match.tiers: tiers must have strictly increasing employee_max",
        ),
        (
            "contributions:\n  core_contribution_schedule:\n    - {min_age: 40, core_rate: 1.5}\n",
            "contributions.core_contribution_schedule[0].core_rate: must be a rate",
        ),
        (
            "contributions:\n  core_contribution_schedule:\n    - {min_age: 40, core_rate: 0.03}\n"
            "    - {min_age: 40, min_service_years: 0, core_rate: 0.04}\n",
            "core_contribution_schedule: two rows with the same min_age and min_service_years [(40, 0)]",
        ),
        ("contributions:\n  core_contribution_schedule: []\n", "list at least one row"),
        ("contributions:\n  roth_catch_up_start_year: 26\n", "roth_catch_up_start_year: must be >= 1900"),
        ("match:\n  true_up: 1.5\n", "match.true_up: input should be a valid boolean"),
        ("simulatoin:\n  end_year: 2027\n", "simulatoin: unknown key; did you mean 'simulation'?"),
        ("run:\n  log_format: xml\n", "run.log_format: input should be 'console' or 'json' (got 'xml')"),
        (
            "simulation:\n  effective_date: someday\n",
            "simulation.effective_date: input should be a valid date",
        ),
        (
            "simulation:\n  target_growth_rate: 3\n",
            "simulation.target_growth_rate: must be greater than -1 and at most 1",
        ),
    ],
)
def test_each_invalid_value_is_named_by_file_and_key(workdir: Path, snippet: str, expected: str) -> None:
    path = write_config(workdir, with_census(snippet) if "simulation:" not in snippet else snippet)
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path, check_files=False)
    assert any(expected in line for line in problems(exc)), str(exc.value)


def test_end_year_before_start_year(workdir: Path) -> None:
    path = write_config(workdir, "simulation:\n  start_year: 2026\n  end_year: 2025\n")
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path, check_files=False)
    assert problems(exc) == [
        f"{path}: simulation.end_year: must be >= simulation.start_year (2026) (got 2025)"
    ]


def test_a_missing_census_file_names_key_and_path(workdir: Path) -> None:
    path = write_config(workdir, "simulation:\n  census_path: data/nope.parquet\n")
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path)
    [line] = problems(exc)
    assert line.startswith(f"{path}: simulation.census_path: census file not found: ")
    assert str(workdir / "data" / "nope.parquet") in line
    # check_files=False is for commands that read no data (plan, info)
    assert load_simulation_config(path, check_files=False).simulation.census_path.name == "nope.parquet"


def test_every_problem_is_reported_at_once_one_per_line(workdir: Path) -> None:
    path = write_config(
        workdir,
        """\
        simulation:
          start_year: 2030
          end_year: 2029
          census_path: missing.parquet
        workforce:
          total_termination_rate: 7
        orchestrator:
          threading:
            model_parallelization:
              max_workers: 0
        """,
    )
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path)
    keys = [line.split(": ")[1] for line in problems(exc)]
    assert sorted(keys) == sorted(
        [
            "simulation.end_year",
            "simulation.census_path",
            "workforce.total_termination_rate",
            "orchestrator.threading.model_parallelization.max_workers",
        ]
    )


def test_bad_values_from_the_environment_name_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__MAX_WORKERS", "0")
    monkeypatch.setenv("PLANALIGN_RUN__VERBOS", "1")
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(check_files=False)
    assert sorted(problems(exc)) == [
        "environment PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__MAX_WORKERS: "
        "orchestrator.threading.model_parallelization.max_workers: must be >= 1 (got '0')",
        "environment PLANALIGN_RUN__VERBOS: run.verbos: unknown key; did you mean 'verbose'?",
    ]


def test_bad_overrides_are_named_as_overrides(workdir: Path) -> None:
    path = write_config(workdir, "simulation:\n  end_year: 2029\n")
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path, overrides={"simulation.end_year": 2020}, check_files=False)
    assert problems(exc) == [
        "override: simulation.end_year: must be >= simulation.start_year (2025) (got 2020)"
    ]
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path, overrides={"simulation.end_yaer": 2027}, check_files=False)
    assert problems(exc) == ["override: simulation.end_yaer: unknown key; did you mean 'end_year'?"]


def test_malformed_yaml_reports_line_and_column(workdir: Path) -> None:
    write_config(workdir, "simulation:\n  start_year: 2025\n   end_year: [2029\n")
    os.chdir(workdir)  # the message names the file as the user gave it
    with pytest.raises(ConfigError, match=r"^simulation_config\.yaml: line 3, column 12: invalid YAML"):
        load_simulation_config("simulation_config.yaml")


def test_a_key_given_twice_is_refused_rather_than_silently_replaced(workdir: Path) -> None:
    # e.g. the specification's `orchestrator:` block pasted below an existing one
    path = write_config(
        workdir,
        "orchestrator:\n  threading:\n    model_parallelization:\n      enabled: true\n"
        "simulation:\n  end_year: 2027\n"
        "orchestrator:\n  threading:\n    model_parallelization:\n      max_workers: 2\n",
    )
    with pytest.raises(
        ConfigError, match=r"line 7, column 1: invalid YAML: key 'orchestrator' appears twice"
    ):
        load_simulation_config(path, check_files=False)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "42\n"])
def test_the_top_level_must_be_a_mapping(workdir: Path, text: str) -> None:
    path = write_config(workdir, text)
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_simulation_config(path)


def test_a_missing_config_file_is_a_config_error(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nowhere\.yaml: config file not found"):
        load_simulation_config("nowhere.yaml")


def test_an_empty_file_means_all_defaults(workdir: Path) -> None:
    path = write_config(workdir, "# nothing set\n")
    assert load_simulation_config(path, check_files=False) == load_simulation_config(
        write_config(workdir, "{}\n", name="other.yaml"), check_files=False
    )


def test_config_errors_make_the_cli_exit_2(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI maps ConfigError (a usage error) to exit status 2 and prints every problem, no traceback."""
    path = write_config(
        workdir, "orchestrator:\n  threading:\n    model_parallelization:\n      max_workers: 0\n"
    )

    def add_parser(subparsers: Any) -> None:
        parser = subparsers.add_parser("cfgprobe")
        parser.add_argument("--config")
        parser.set_defaults(handler=lambda args: bool(load_simulation_config(args.config)) and 0)

    module = types.ModuleType("planalign.cli.cfgprobe")
    module.add_parser = add_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "planalign.cli.cfgprobe", module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("cfgprobe",))
    assert issubclass(ConfigError, PlanalignUsageError)
    assert cli.main(["cfgprobe", "--config", str(path)]) == cli.ExitStatus.USAGE


# ------------------------------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------------------------------


def test_relative_paths_in_the_file_resolve_against_its_directory(workdir: Path) -> None:
    path = write_config(
        workdir,
        """\
        simulation:
          census_path: data/census.parquet
          database_path: out/../sim.duckdb
        dbt:
          project_dir: ../dbt
        run:
          runs_dir: my-runs
        """,
    )
    config = load_simulation_config(path)
    assert config.simulation.census_path == workdir / "data" / "census.parquet"
    assert config.simulation.database_path == workdir / "sim.duckdb"
    assert config.dbt.project_dir == workdir.parent / "dbt"
    assert config.dbt.profiles_dir == workdir.parent / "dbt"  # defaults to the project dir
    assert config.run.runs_dir == workdir / "my-runs"


def test_defaults_resolve_against_the_config_directory(workdir: Path) -> None:
    path = write_config(workdir, "{}\n")
    config = load_simulation_config(path, check_files=False)
    assert config.simulation.census_path == workdir / "dbt_project" / "data" / "census.parquet"
    assert config.simulation.database_path == workdir / "simulation.duckdb"
    assert config.dbt.project_dir == workdir / "dbt_project"
    assert config.run.runs_dir == workdir / "runs"


def test_paths_from_env_and_overrides_resolve_against_the_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = Path.cwd()
    path = write_config(workdir, with_census("dbt:\n  profiles_dir: profiles\n"))
    monkeypatch.setenv("PLANALIGN_SIMULATION__DATABASE_PATH", "env.duckdb")
    config = load_simulation_config(
        path, overrides={"run.runs_dir": "cli-runs", "dbt.project_dir": "/abs/dbt"}
    )
    assert config.simulation.database_path == cwd / "env.duckdb"
    assert config.run.runs_dir == cwd / "cli-runs"
    assert config.dbt.project_dir == Path("/abs/dbt")
    assert config.dbt.profiles_dir == workdir / "profiles"


def test_loading_writes_nothing(workdir: Path) -> None:
    path = write_config(
        workdir, with_census("orchestrator:\n  threading:\n    model_parallelization:\n      enabled: true\n")
    )
    root = workdir.parent

    def listing() -> list[tuple[str, int]]:
        return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))

    before = listing()
    config = load_simulation_config(path)
    with pytest.raises(ConfigError):
        load_simulation_config(path, overrides={"simulation.end_year": 1})
    assert listing() == before
    assert not config.simulation.database_path.exists()


# ------------------------------------------------------------------------------------------------------------
# What others consume: dbt vars, snapshot, immutability
# ------------------------------------------------------------------------------------------------------------


def test_dbt_vars_carry_run_identity_and_only_the_parameters_that_are_set(workdir: Path) -> None:
    path = write_config(
        workdir,
        with_census(
            """\
            escalation:
              cap: 0.12
              enabled: false
            enrollment:
              auto_enrollment:
                window_days: 30
            match:
              tiers:
                - {employee_max: 0.04, match_rate: 1}
            """
        ).replace("simulation:\n", "simulation:\n  random_seed: 99\n  start_year: 2025\n  end_year: 2027\n"),
    )
    config = load_simulation_config(path)
    vars_2026 = config.dbt_vars(2026)
    assert vars_2026 == {
        "simulation_year": 2026,
        "start_year": 2025,
        "random_seed": 99,
        "effective_date": "2024-12-31",
        "census_path": str(workdir / "data" / "census.parquet"),
        "database_path": str(workdir / "simulation.duckdb"),
        "target_growth_rate": 0.03,
        "census_max_reject_share": 0.01,
        "escalation_cap": 0.12,
        "escalation_enabled": False,
        "auto_enrollment_window_days": 30,
        "match_tiers": [{"employee_max": 0.04, "match_rate": 1.0}],
    }
    assert json.loads(json.dumps(vars_2026)) == vars_2026
    assert config.dbt_vars(2027)["simulation_year"] == 2027


@pytest.mark.parametrize("year", [2024, 2030])
def test_dbt_vars_refuse_a_year_outside_the_simulation(workdir: Path, year: int) -> None:
    config = load_simulation_config(check_files=False)
    with pytest.raises(SimulationYearError, match=f"year {year} is outside"):
        config.dbt_vars(year)


def test_snapshot_is_json_and_reloads_to_the_same_config() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    snapshot = json.loads(json.dumps(config.snapshot()))
    assert snapshot["simulation"]["census_path"] == str(DBT_PROJECT / "data" / "census.parquet")
    assert SimulationConfig.model_validate(snapshot) == config
    assert config.digest() == SimulationConfig.model_validate(snapshot).digest()


def test_digest_tells_different_configs_apart() -> None:
    base = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    other = load_simulation_config(
        SHIPPED_CONFIG, overrides={"simulation.random_seed": 43}, check_files=False
    )
    assert base.digest() != other.digest()


def test_results_digest_ignores_where_a_run_writes_and_how_fast(tmp_path: Path) -> None:
    """The hash recorded with each completed year: the same simulation written elsewhere with more workers
    has the same one; another seed or another census has another."""
    census = tmp_path / "census.csv"
    census.write_text("employee_id\nE1\n")
    base = load_simulation_config(
        SHIPPED_CONFIG, overrides={"simulation.census_path": str(census)}, check_files=False
    )
    elsewhere = apply_overrides(base,
        {"simulation.database_path": str(tmp_path / "other.duckdb"), "run.runs_dir": str(tmp_path / "r"),
         "orchestrator.threading.model_parallelization.max_workers": 2}
    )  # fmt: skip
    assert elsewhere.results_digest() == base.results_digest()
    assert elsewhere.digest() != base.digest()
    assert apply_overrides(base, {"simulation.random_seed": 43}).results_digest() != base.results_digest()
    before = base.results_digest()
    census.write_text("employee_id\nE2\n")  # the same path, another census
    assert base.results_digest() != before


def test_apply_overrides_validates_and_keeps_the_rest(workdir: Path) -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    changed = apply_overrides(
        config, {"orchestrator.threading.model_parallelization.max_workers": 2, "run.verbose": None}
    )
    assert changed.model_parallelization.max_workers == 2
    assert changed.simulation == config.simulation
    assert config.model_parallelization.max_workers == 4  # the original is untouched
    assert apply_overrides(config, {}) is config
    with pytest.raises(ConfigError) as exc:
        apply_overrides(config, {"orchestrator.threading.model_parallelization.max_workers": 0})
    assert problems(exc) == [
        "override: orchestrator.threading.model_parallelization.max_workers: must be >= 1 (got 0)"
    ]


def test_apply_overrides_moves_a_following_profiles_dir_with_the_project(workdir: Path) -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    moved = apply_overrides(config, {"dbt.project_dir": "other"})
    assert moved.dbt.project_dir == moved.dbt.profiles_dir == Path.cwd() / "other"
    pinned = apply_overrides(
        apply_overrides(config, {"dbt.profiles_dir": "/etc/dbt"}), {"dbt.project_dir": "x"}
    )
    assert pinned.dbt.profiles_dir == Path("/etc/dbt")


def test_a_section_with_everything_commented_out_means_defaults(workdir: Path) -> None:
    path = write_config(workdir, "simulation:\n  # end_year: 2027\norchestrator:\n  threading:\n")
    config = load_simulation_config(path, check_files=False)
    assert config.simulation.end_year == 2029
    assert config.model_parallelization.enabled is False


def test_the_config_is_immutable() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    with pytest.raises(ValidationError):
        config.model_parallelization.max_workers = 8


@pytest.fixture
def engine_module() -> Iterator[types.ModuleType]:
    yield pytest.importorskip("planalign.engine.runner")


def test_engine_settings_follow_model_parallelization(engine_module: types.ModuleType) -> None:
    config = load_simulation_config(
        SHIPPED_CONFIG,
        overrides={
            "orchestrator.threading.model_parallelization": {
                "max_workers": 3,
                "worker_rule": "fixed",  # exactly 3, whatever the cores (the rule: tests/test_worker_rule.py)
                "memory_limit_mb": 1234.5,
                "enable_conditional_parallelization": True,
                "safety": {"max_retries_per_model": 5, "abort_on_dependency_conflict": False},
            }
        },
        check_files=False,
    )
    settings = config.engine_settings()
    assert isinstance(settings, engine_module.EngineSettings)
    assert settings.max_workers == 3
    assert settings.memory_limit_mb == 1234.5
    assert settings.enable_conditional_parallelization is True
    assert settings.max_retries_per_model == 5
    assert settings.abort_on_dependency_conflict is False

    serial = load_simulation_config(
        SHIPPED_CONFIG,
        overrides={"orchestrator.threading.model_parallelization.enabled": False},
        check_files=False,
    ).engine_settings()
    assert serial.max_workers == 1


# ------------------------------------------------------------------------------------------------------------
# review_config: what `planalign validate` adds to "the file is valid"
# ------------------------------------------------------------------------------------------------------------


def _findings(config: SimulationConfig, **machine: Any) -> dict[str, str]:
    from planalign.simulation.config_review import review_config

    defaults: dict[str, Any] = {"cpu_count": 8, "total_memory_mb": 64_000.0}
    return {f.key: f.severity for f in review_config(config, **{**defaults, **machine})}


def test_review_of_the_shipped_config_on_a_roomy_machine_finds_nothing() -> None:
    config = load_simulation_config(SHIPPED_CONFIG, check_files=False)
    assert _findings(config) == {}


def test_review_names_what_would_fail_or_surprise(workdir: Path) -> None:
    config = load_simulation_config(
        SHIPPED_CONFIG,
        overrides={
            "dbt.project_dir": str(workdir),  # has no dbt_project.yml / profiles.yml
            "simulation.database_path": str(workdir / "no-such-dir" / "sim.duckdb"),
            "simulation.effective_date": "2025-06-30",
            "escalation.cap": 0.05,  # below the 6% auto-enrollment default
            "orchestrator.threading.model_parallelization": {
                "deterministic_execution": False,
                "resource_monitoring": False,
            },
        },
        check_files=False,
    )
    assert _findings(config, cpu_count=2, total_memory_mb=2000.0) == {
        "dbt.project_dir": "error",
        "dbt.profiles_dir": "error",
        "simulation.database_path": "error",
        "simulation.effective_date": "warning",
        "escalation.cap": "warning",
        "orchestrator.threading.model_parallelization.max_workers": "warning",
        "orchestrator.threading.model_parallelization.memory_limit_mb": "warning",
        "orchestrator.threading.model_parallelization.resource_monitoring": "warning",
        "orchestrator.threading.model_parallelization.deterministic_execution": "warning",
    }


def test_review_notes_that_parallelization_is_off() -> None:
    config = load_simulation_config(
        SHIPPED_CONFIG,
        overrides={"orchestrator.threading.model_parallelization.enabled": False},
        check_files=False,
    )
    assert _findings(config, cpu_count=1) == {"orchestrator.threading.model_parallelization.enabled": "info"}


def test_dotted_and_nested_overrides_combine_without_touching_the_callers_data(workdir: Path) -> None:
    nested = {"model_parallelization": {"max_workers": 3, "safety": {"max_retries_per_model": None}}}
    overrides: dict[str, Any] = {
        "orchestrator.threading": nested,
        "orchestrator.threading.model_parallelization.memory_limit_mb": 512.0,
        "simulation": {"end_year": 2026, "random_seed": None},
    }
    before = json.dumps(overrides, sort_keys=True)
    config = load_simulation_config(overrides=overrides, check_files=False)
    assert json.dumps(overrides, sort_keys=True) == before
    mp = config.model_parallelization
    assert (mp.max_workers, mp.memory_limit_mb, mp.safety.max_retries_per_model) == (3, 512.0, 2)
    assert (config.simulation.end_year, config.simulation.random_seed) == (2026, 42)


def test_direct_construction_reads_the_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANALIGN_SIMULATION__END_YEAR", "2026")
    config = SimulationConfig()
    assert config.simulation.end_year == 2026
    assert config.simulation.database_path == Path.cwd() / "simulation.duckdb"


# ---------------------------------------------------------------------- output paths and the horizon


def test_output_paths_on_a_read_only_filesystem_are_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere on a read-write filesystem, so a read-only mount is recognised by statvfs's
    flag (simulated here: mounting needs privileges the tests do not have)."""
    from planalign.simulation import preflight

    config = load_simulation_config(
        overrides={"simulation.database_path": str(workdir / "sim.duckdb"), "run.runs_dir": str(workdir)},
        check_files=False,
    )
    preflight.check_output_paths(config, report_path=workdir / "r.html")  # writable: no error
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, path: str) -> None:
            self.f_flag = real_statvfs(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", ReadOnly)  # the os module preflight calls
    with pytest.raises(preflight.OutputPathError) as exc:
        preflight.check_output_paths(config, report_path=workdir / "r.html")
    lines = str(exc.value).splitlines()
    assert len(lines) == 4 and all("read-only filesystem" in line for line in lines[1:]), lines
    assert "simulation.database_path" in lines[1] and "run.runs_dir" in lines[2] and "--report" in lines[3]


def test_the_config_horizon_is_the_dbt_projects() -> None:
    """HORIZON_YEARS restates two numbers of the dbt project; if either changes, the config must follow."""
    from planalign.simulation.config import HORIZON_YEARS

    params = (DBT_PROJECT / "models" / "foundation" / "int_effective_parameters.sql").read_text()
    calendar = (DBT_PROJECT / "models" / "dimensions" / "dim_payroll_calendar.sql").read_text()
    assert f"var('start_year') | int + {HORIZON_YEARS - 1} %}}" in params
    assert f"planalign_sequence({HORIZON_YEARS + 2})" in calendar  # start_year - 1 .. start_year + 60


def test_planalign_database_path_names_the_database(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PLANALIGN_DATABASE_PATH", "elsewhere.duckdb")
    config = load_simulation_config(check_files=False)
    assert config.simulation.database_path == workdir / "elsewhere.duckdb"
    override = load_simulation_config(
        overrides={"simulation.database_path": "flag.duckdb"}, check_files=False
    )
    assert override.simulation.database_path == workdir / "flag.duckdb"


def test_deferral_election_shares_must_fit_in_one(workdir: Path) -> None:
    """Issue #20: the shares of voluntary elections at and below the match-maximizing rate are parts of one
    whole; more than 1 is refused with both names."""
    path = write_config(
        workdir,
        with_census(
            """\
            enrollment:
              deferral_match_threshold_share: 0.6
              deferral_below_match_share: 0.5
            """
        ),
    )
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path, check_files=False)
    assert any("deferral_below_match_share is 1.1, more than 1" in line for line in problems(exc))
    fine = write_config(
        workdir,
        with_census(
            """\
            enrollment:
              deferral_response_enabled: false
              deferral_match_threshold_share: 0.5
              auto_enrollment: {default_departure_rate: 0.3, opt_out_default_slope: -0.5}
            escalation: {opt_out_rate: 0.1}
            """
        ),
        name="fine.yaml",
    )
    vars_ = load_simulation_config(fine, check_files=False).dbt_vars(2025)
    assert (
        vars_["deferral_response_enabled"],
        vars_["deferral_match_threshold_share"],
        vars_["auto_enrollment_default_departure_rate"],
        vars_["auto_enrollment_opt_out_default_slope"],
        vars_["escalation_opt_out_rate"],
    ) == (False, 0.5, 0.3, -0.5, 0.1)
