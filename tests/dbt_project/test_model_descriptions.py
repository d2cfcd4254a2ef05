"""The dbt project's public surface is documented (issue #24 item 6): every model says what a row is and what
it is for, and every column of the public outputs — the tables the exports, reports and comparisons read —
is described and is a column the model really builds.

Read from the parsed manifest (doc blocks rendered), so a description in a yml file that dbt does not attach
to the model (a misspelt model name, a wrong indentation) does not count. The columns are compared with the
tables of the shared three-year build (`simulation`, built once per test run for every dbt_project test), so a
column described but not built, or built but not described, fails the test — and with it a yml that falls
behind a change of the SQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from planalign.scenarios.provenance import SWEEP_TABLES

from .simulation_support import SimulationRun, shared_parse

pytestmark = pytest.mark.slow

#: The project's public outputs: what `planalign export` writes (RUN_TABLES, SWEEP_TABLES), what the run and
#: comparison reports read (rpt_account_balances, nondiscrimination_results, fct_account_balances) and what
#: the sweep metrics read. docs/simulation.md ("Public outputs") lists them with their grain.
PUBLIC_MODELS = (
    "dim_scenarios",
    "fct_yearly_events",
    "fct_workforce_snapshot",
    "fct_account_balances",
    "nondiscrimination_results",
    "rpt_yearly_summary",
    "rpt_account_balances",
)


def _models() -> dict[str, dict[str, Any]]:
    """The project's models in the parsed manifest, by name."""
    return {
        node["name"]: node
        for node in shared_parse().manifest_data()["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "planalign_sim"
    }


def test_public_models_cover_what_the_exports_read() -> None:
    assert set(SWEEP_TABLES) <= set(PUBLIC_MODELS)
    assert set(PUBLIC_MODELS) <= set(_models())


def test_every_model_has_a_description() -> None:
    models = _models()
    assert len(models) > 50, "the parse found the project's models"
    missing = sorted(name for name, node in models.items() if not node["description"].strip())
    assert not missing, f"models without a description (add one to their schema yml): {missing}"
    unrendered = sorted(name for name, node in models.items() if "{{" in node["description"])
    assert not unrendered, f"descriptions with an unrendered doc() call: {unrendered}"


def test_every_column_of_the_public_models_is_described() -> None:
    models = _models()
    for name in PUBLIC_MODELS:
        columns = models[name]["columns"]
        assert columns, f"{name} lists no columns in its schema yml"
        undescribed = sorted(column for column, spec in columns.items() if not spec["description"].strip())
        assert not undescribed, f"{name}: columns without a description: {undescribed}"


def test_described_columns_are_the_columns_built(simulation: SimulationRun) -> None:
    """Both ways: every built column is described, and every described column is built."""
    models = _models()
    for name in PUBLIC_MODELS:
        columns_sql = "select column_name from information_schema.columns where table_name = ?"
        built = [row[0] for row in simulation.query(columns_sql, [name])]
        assert built, f"the shared build has no table {name}"
        described = list(models[name]["columns"])
        assert sorted(described) == sorted(built), (
            f"{name}: not described {sorted(set(built) - set(described))}, "
            f"described but not built {sorted(set(described) - set(built))}"
        )
