"""Determinism, re-runs, bad censuses and the project's structural rules (meta, stages, scopes, SQL)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planalign.simulation.census import check_census, generate_census, write_census

from .simulation_support import DBT_PROJECT, YEARS, DbtWorkspace, SimulationRun, parse_project

pytestmark = pytest.mark.slow

STAGES = ("initialization", "foundation", "event_generation", "state_accumulation", "validation", "reporting")
EXECUTION_CLASSES = {"parallel_safe", "sequential", "conditional"}
SPEC_CLASSES = {
    "parallel_safe": [
        "stg_census_data",
        "stg_comp_levers",
        "dim_hazard_table",
        "dim_payroll_calendar",
        "int_hazard_termination",
        "int_hazard_promotion",
        "int_hazard_merit",
        "int_effective_parameters",
        "int_workforce_needs",
        "dq_census_rejects",
        "dq_growth_check",
        "dq_event_snapshot_consistency",
        "dq_contribution_limits",
    ],
    "sequential": [
        "int_enrollment_state_accumulator",
        "int_deferral_rate_state_accumulator_v2",
        "fct_yearly_events",
        "fct_workforce_snapshot",
        "int_workforce_previous_year",
        "int_active_employees_prev_year_snapshot",
        "int_workforce_snapshot_optimized",
    ],
    "conditional": [
        "int_termination_events",
        "int_new_hire_termination_events",
        "int_hiring_events",
        "int_promotion_events",
        "int_merit_events",
        "int_enrollment_events",
        "int_deferral_escalation_events",
        "int_employee_contributions",
        "int_employee_match_calculations",
        "int_employee_compensation_by_year",
    ],
}
STATE_TABLES = ("fct_yearly_events", "fct_workforce_snapshot", "int_workforce_snapshot_optimized")


def table_digest(workspace: DbtWorkspace, table: str, years: tuple[int, ...]) -> tuple[int, str]:
    """Row count and an order-independent digest of a table's rows for the given years."""
    placeholders = ", ".join(str(int(y)) for y in years)
    with workspace.connect() as connection:
        rows = connection.execute(
            f"select * from {table} where simulation_year in ({placeholders})"
        ).fetchall()
    digests = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in rows)
    return len(rows), hashlib.sha256("".join(digests).encode()).hexdigest()


def test_draws_depend_only_on_the_seed_and_a_rerun_replaces_the_year(
    simulation: SimulationRun, workspace_factory: Callable[[str], DbtWorkspace]
) -> None:
    """A second database built by plain `dbt run` with one thread in its own process (another model order,
    and the project parsed for this year's vars rather than the shared in-process parse) matches the first;
    a different seed changes the draws but not the solved counts; re-running the year with the first seed
    replaces those rows and restores the original tables exactly."""
    replay = workspace_factory("replay")
    year = YEARS[0]
    replay.dbt("seed", vars=simulation.vars)
    replay.dbt_cli("run", "--threads", "1", vars={**simulation.vars, "simulation_year": year})
    baseline = {table: table_digest(simulation.workspace, table, (year,)) for table in STATE_TABLES}
    for table in STATE_TABLES:
        assert table_digest(replay, table, (year,)) == baseline[table], table

    replay.dbt("run", vars={**simulation.vars, "random_seed": 4242, "simulation_year": year})
    for table in STATE_TABLES:
        count, digest = table_digest(replay, table, (year,))
        assert digest != baseline[table][1], f"{table} did not change with the seed"
        if table != "fct_yearly_events":
            assert count == baseline[table][0], "headcounts are solved, not drawn"
    query = f"select count(*) from fct_yearly_events where simulation_year = {year} and event_type = ?"
    for event_type in ("hire", "termination"):
        with replay.connect() as a, simulation.workspace.connect() as b:
            assert a.execute(query, [event_type]).fetchall() == b.execute(query, [event_type]).fetchall()

    replay.dbt("run", vars={**simulation.vars, "simulation_year": year})
    for table in STATE_TABLES:
        assert table_digest(replay, table, (year,)) == baseline[table], (
            f"re-running {year} left {table} changed"
        )


def test_bad_census_rows_are_listed_and_fail_the_run_above_the_share(
    workspace_factory: Callable[[str], DbtWorkspace], tmp_path: Path
) -> None:
    census = write_census(generate_census(300, seed=2, bad_rows=7), tmp_path / "bad.csv")
    preflight = check_census(census, max_reject_share=0.01)
    workspace = workspace_factory("bad_census")
    select = ("--select", "dim_scenarios", "stg_census_rows", "stg_census_data", "dq_census_rejects")
    failed = workspace.dbt("run", *select, vars={"census_path": str(census)}, check=False)
    assert failed.returncode != 0
    assert "rows are rejected, above the allowed share" in failed.stdout
    with workspace.connect() as connection:
        reasons = dict(
            connection.execute("select reject_reason, count(*) from dq_census_rejects group by 1").fetchall()
        )
    assert reasons == preflight.reasons
    assert sum(reasons.values()) == preflight.rejected_rows == 8

    workspace.dbt("run", *select, vars={"census_path": str(census), "census_max_reject_share": 0.05})
    with workspace.connect() as connection:
        kept = connection.execute("select count(*) from stg_census_data").fetchone()
    assert kept == (307 - 8,)


def _models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "planalign_sim"
    }


def _meta(node: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = node["config"]["meta"]["planalign"]
    return meta


def test_every_model_declares_execution_stage_and_scope(simulation: SimulationRun) -> None:
    models = _models(simulation.manifest())
    for name, node in models.items():
        meta = _meta(node)
        assert meta["execution"] in EXECUTION_CLASSES, name
        assert meta["stage"] in STAGES, name
        assert meta["scope"] in {"simulation", "year"}, name
    for execution, names in SPEC_CLASSES.items():
        for name in names:
            assert _meta(models[name])["execution"] == execution, name
    assert {n for n in models if n.startswith("stg_config_")}, "one stg_config_* per parameter seed"
    assert all(_meta(models[n])["stage"] == "validation" for n in models if n.startswith("dq_"))


def test_no_model_depends_on_a_later_stage_and_simulation_scope_is_year_free(
    simulation: SimulationRun,
) -> None:
    manifest = simulation.manifest()
    models = _models(manifest)
    by_id = {node["unique_id"]: node for node in models.values()}
    for name, node in models.items():
        meta = _meta(node)
        for dependency in node["depends_on"]["nodes"]:
            if dependency.startswith("seed."):
                continue
            if dependency.startswith("source."):
                assert meta["scope"] == "year", f"{name} reads earlier-year state but is scope: simulation"
                continue
            upstream = _meta(by_id[dependency])
            assert STAGES.index(upstream["stage"]) <= STAGES.index(meta["stage"]), (name, dependency)
            if meta["scope"] == "simulation":
                assert upstream["scope"] == "simulation", (name, dependency)
        if meta["scope"] == "simulation":
            assert "simulation_year" not in node["raw_code"], name


def _sql_outside_jinja(raw_code: str) -> str:
    without_jinja = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", raw_code, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", without_jinja)


def test_models_name_other_tables_only_through_ref_or_source(simulation: SimulationRun) -> None:
    models = _models(simulation.manifest())
    seeds = [p.stem for p in (DBT_PROJECT / "seeds").glob("*.csv")]
    names = set(models) | set(seeds)
    for name, node in models.items():
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _sql_outside_jinja(node["raw_code"])))
        assert not (words & (names - {name})), f"{name} names a table outside ref/source: {words & names}"
    reads_state = sorted(n for n, node in models.items() if node["sources"])
    assert reads_state == [
        "int_account_balances_previous_year",
        "int_nondiscrimination_benchmarks",
        "int_prior_year_compensation",
        "int_top_heavy_previous_year",
        "int_workforce_previous_year",
    ]
    assert {tuple(source) for source in models["int_top_heavy_previous_year"]["sources"]} == {
        ("planalign_state", "nondiscrimination_results")
    }
    assert {tuple(source) for source in models["int_nondiscrimination_benchmarks"]["sources"]} == {
        ("planalign_state", "nondiscrimination_results")
    }
    assert {tuple(source) for source in models["int_prior_year_compensation"]["sources"]} == {
        ("planalign_state", "int_workforce_snapshot_optimized")
    }
    assert {tuple(source) for source in models["int_account_balances_previous_year"]["sources"]} == {
        ("planalign_state", "fct_account_balances")
    }
    state_sources = {tuple(source) for source in models["int_workforce_previous_year"]["sources"]}
    assert state_sources == {
        ("planalign_state", "int_workforce_snapshot_optimized"),
        ("planalign_state", "int_employer_contribution_accounts"),
    }


def test_models_keep_warehouse_specific_sql_in_dispatched_macros(simulation: SimulationRun) -> None:
    duckdb_only = re.compile(
        r"\b(md5|hash|make_date|date_diff|generate_series|range|read_csv|read_parquet|error|to_years|"
        r"try_cast|strftime|random|uuid|gen_random_uuid|now|current_date|current_timestamp)\s*\(",
        re.IGNORECASE,
    )
    for name, node in _models(simulation.manifest()).items():
        found = duckdb_only.findall(_sql_outside_jinja(node["raw_code"]))
        assert not found, f"{name} uses {found} outside a dispatched macro"
    macros = (DBT_PROJECT / "macros" / "portable.sql").read_text()
    for macro in ("planalign_uniform", "planalign_add_days", "planalign_days_between", "planalign_sequence"):
        assert f"adapter.dispatch('{macro}'" in macros


def test_graph_is_the_same_whatever_year_is_compiled(simulation: SimulationRun, tmp_path: Path) -> None:
    """Dependencies and configs are declared for every year, so the scheduler sees one graph (first year or
    later) — and one parse serves every year of the in-process tests (`simulation_support`)."""
    first_manifest = simulation.manifest()  # parsed with the project's default vars: the first year
    later_vars = {"simulation_year": YEARS[-1], "census_path": "elsewhere.parquet", "random_seed": 7}
    later_manifest = parse_project(tmp_path / "target", vars=later_vars).manifest_data()
    assert first_manifest["metadata"]["invocation_id"] != later_manifest["metadata"]["invocation_id"]
    first = {n: sorted(node["depends_on"]["nodes"]) for n, node in _models(first_manifest).items()}
    later = {n: sorted(node["depends_on"]["nodes"]) for n, node in _models(later_manifest).items()}
    assert first == later
    configs = {n: node["config"] for n, node in _models(first_manifest).items()}
    assert configs == {n: node["config"] for n, node in _models(later_manifest).items()}
    assert (
        "source.planalign_sim.planalign_state.int_workforce_snapshot_optimized"
        in first["int_workforce_previous_year"]
    )
    assert "model.planalign_sim.stg_census_data" in first["int_workforce_previous_year"]


def test_var_overrides_win_over_seeds_and_irs_limits_index(
    workspace_factory: Callable[[str], DbtWorkspace],
) -> None:
    workspace = workspace_factory("overrides")
    overrides = {
        "simulation_year": 2028,
        "target_growth_rate": 0.1,
        "auto_enrollment_enabled": False,
        "escalation_cap": 0.15,
        "merit_rate_level_3": 0.05,
        "match_tiers": [{"employee_max": 0.06, "match_rate": 0.5}],
    }
    workspace.dbt("seed", vars=overrides)
    selection = ("+int_effective_parameters", "+int_effective_comp_levers", "+int_effective_match_tiers")
    workspace.dbt("run", "--select", *selection, vars=overrides)
    with workspace.connect() as connection:
        params = connection.execute(
            "select target_growth_rate, total_termination_rate, auto_enrollment_enabled, escalation_cap, "
            "elective_deferral_limit, catch_up_limit, compensation_limit from int_effective_parameters"
        ).fetchone()
        merit = dict(
            connection.execute("select job_level, merit_rate from int_effective_comp_levers").fetchall()
        )
        tiers = connection.execute(
            "select tier, employee_min, employee_max, match_rate from int_effective_match_tiers"
        ).fetchall()
    # overridden values win; the rest come from the seeds; 2028 limits are 2026's indexed 2.5%/year
    assert params == (0.1, 0.12, False, 0.15, 25500.0, 8000.0, 375000.0)
    assert merit == {1: 0.025, 2: 0.025, 3: 0.05, 4: 0.03, 5: 0.035}
    assert tiers == [(1, 0.0, 0.06, 0.5)]
