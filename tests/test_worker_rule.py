"""The worker rule (`planalign.dbt.workers`, issue #21 item 3): the workers that run follow where the SQL
runs and the cores available; an explicit setting wins; the configuration, `planalign info` and the gate
say both numbers and which adapter gets what. Pure functions and configuration only — no dbt run."""

from __future__ import annotations

import pytest

from planalign.dbt.workers import (
    EMBEDDED_MODELS_PER_INVOCATION,
    SERVER_MODELS_PER_INVOCATION,
    adapter_type_of,
    available_cores,
    choose_workers,
    default_models_per_invocation,
)
from planalign.simulation.config_loading import load_simulation_config

MP = "orchestrator.threading.model_parallelization."


@pytest.mark.parametrize(
    ("cores", "configured", "effective"),
    [(1, 4, 1), (2, 4, 1), (3, 4, 1), (4, 4, 2), (8, 4, 4), (16, 4, 4), (64, 8, 8), (2, 1, 1)],
)
def test_embedded_duckdb_gets_one_worker_per_two_cores_at_most_the_configured(
    cores: int, configured: int, effective: int
) -> None:
    choice = choose_workers(configured, adapter_type="duckdb", cores=cores)
    assert (choice.configured, choice.effective) == (configured, effective)
    assert str(cores) in choice.reason and "embedded duckdb" in choice.reason


def test_a_capped_choice_says_why_and_how_to_override() -> None:
    choice = choose_workers(4, adapter_type="duckdb", cores=2)
    assert choice.reason == (
        "1 worker(s) of the 4 configured: embedded duckdb runs every query on this machine's 2 cores, where "
        "more workers were measured slower (one worker per 2 cores; set worker_rule: fixed or --workers to "
        "use 4)"
    )


@pytest.mark.parametrize("cores", [1, 2, 32])
def test_a_server_warehouse_gets_the_configured_workers_whatever_the_cores(cores: int) -> None:
    choice = choose_workers(4, adapter_type="postgres", cores=cores)
    assert choice.effective == 4
    assert "runs on the postgres server" in choice.reason


def test_an_explicit_setting_wins() -> None:
    choice = choose_workers(4, adapter_type="duckdb", cores=1, explicit=True)
    assert choice.effective == 4 and "set explicitly" in choice.reason


def test_bad_configured_workers_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        choose_workers(0, adapter_type="duckdb")


def test_batches_by_where_the_sql_runs() -> None:
    assert default_models_per_invocation("duckdb") == EMBEDDED_MODELS_PER_INVOCATION == 64
    assert default_models_per_invocation("postgres") == SERVER_MODELS_PER_INVOCATION


def test_adapter_type_of_a_manifest() -> None:
    class Meta:
        adapter_type = "postgres"

    class Manifest:
        metadata = Meta()

    assert adapter_type_of(Manifest()) == "postgres"
    assert adapter_type_of(None) == "duckdb"  # unknown: the cautious, embedded rule


def test_available_cores_is_this_process_affinity() -> None:
    import os

    assert available_cores() == len(os.sched_getaffinity(0))


def test_the_simulation_config_applies_the_rule_and_keeps_both_numbers() -> None:
    config = load_simulation_config(None, overrides={MP + "enabled": True, MP + "max_workers": 4})
    mp = config.model_parallelization
    expected = choose_workers(4, adapter_type="duckdb")
    assert mp.max_workers == 4  # the specification's key is the upper bound, unchanged
    assert mp.effective_max_workers == expected.effective
    assert config.engine_settings().max_workers == expected.effective
    assert mp.worker_choice == expected


def test_the_simulation_config_fixed_rule_and_disabled() -> None:
    fixed = load_simulation_config(
        None, overrides={MP + "enabled": True, MP + "max_workers": 3, MP + "worker_rule": "fixed"}
    )
    assert fixed.model_parallelization.effective_max_workers == 3
    off = load_simulation_config(None, overrides={MP + "enabled": False, MP + "max_workers": 3})
    assert off.model_parallelization.effective_max_workers == 1
    assert off.model_parallelization.worker_choice.reason == "1 worker: model parallelization is disabled"


def test_the_environment_sets_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__WORKER_RULE", "fixed")
    config = load_simulation_config(None, overrides={MP + "enabled": True, MP + "max_workers": 4})
    assert config.model_parallelization.effective_max_workers == 4


def test_simulate_workers_flag_is_explicit() -> None:
    from planalign.cli import build_parser
    from planalign.cli.simulate import _overrides

    args = build_parser().parse_args(["simulate", "--workers", "3"])
    overrides = _overrides(args)
    assert overrides[MP + "max_workers"] == 3 and overrides[MP + "worker_rule"] == "fixed"


def test_the_gate_reports_each_installed_adapter_truthfully() -> None:
    from planalign.dbt.isolation import isolation_status

    status = isolation_status()
    described = status.describe()["adapters"]
    assert described["duckdb"]["sql_runs"] == "embedded, in this process"
    assert "per-database DuckDB environments" in described["duckdb"]["isolation"]
    assert status.reason.startswith("per-invocation adapter registry installed (every adapter)")
    if "postgres" in described:
        postgres = described["postgres"]
        assert postgres["sql_runs"] == "on the server" and postgres["tested"] is True
        assert not any("DuckDB" in piece for piece in postgres["isolation"])
        assert "cancel_open_connections" in postgres["queries_stopped_by"]
