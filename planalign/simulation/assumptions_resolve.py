"""The assumptions of a run from what dbt built: the values the dbt project resolved for one scenario (the
`int_effective_*` models: `int_effective_parameter_values` for every scalar parameter, then the merit rates,
match tiers, vesting steps and graded core rates), the descriptions of its parameter seeds, and from the
configuration only what it alone knows — each parameter's section and where its value was set.

`assemble_assumptions` takes the values from a `ParameterValues` (here `BuiltValues`; the tests' reference
reading of the seed files, tests/seed_assumptions.py, is another).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel

from planalign.simulation.assumptions import (
    ORIGIN_SOURCE,
    PARAMETER_SECTIONS,
    SAFE_HARBOR_DESCRIPTION,
    SCALAR_SEEDS,
    SIMULATION_PARAMETERS,
    Assumptions,
    AssumptionsError,
    Parameter,
    ParameterKind,
    ParameterValue,
    normalise_match_tiers,
)
from planalign.simulation.config import SimulationConfig

if TYPE_CHECKING:
    import duckdb

#: The run-identity vars among the parameters: their value is the var the run passes, not a lookup.
RUN_VARS = frozenset({"census_max_reject_share"})


class ParameterValues(Protocol):
    """Where the values in force come from: what dbt built, or (before a build) the seeds."""

    def value(self, name: str, kind: ParameterKind, configured: Any) -> ParameterValue:
        """The value in force of `name`; `configured` is the configuration's value (None: unset)."""
        ...

    def description(self, name: str) -> str: ...

    def scalar_names(self) -> list[str]:
        """Every scalar the seeds define (a seed row the configuration does not know is in force too)."""
        ...


def assemble_assumptions(
    config: SimulationConfig, values: ParameterValues, *, census_employees: int | None
) -> Assumptions:
    """Every parameter of `config` with its value from `values`, its section and where it was set; then the
    run's identity. `census_employees` skips counting the census when the caller knows its rows."""
    parameters: list[Parameter] = []
    seen: set[str] = set()
    for name, section, kind, configured, key in config_parameters(config):
        seen.add(name)
        source = "seed" if configured is None else ORIGIN_SOURCE.get(config.origin_of(key), "config")
        value = values.value(name, kind, configured)
        parameters.append(Parameter(name, section, kind, value, source, values.description(name)))
    for name in values.scalar_names():
        if name not in seen:
            value = values.value(name, "float", None)
            parameters.append(Parameter(name, "seed only", "float", value, "seed", values.description(name)))
    by_name = {p.name: p for p in parameters}
    tiers = by_name["match_tiers"].value
    cap = by_name["match_cap_rate"].value
    assert isinstance(tiers, tuple) and isinstance(cap, int | float) and not isinstance(cap, bool)
    sim = config.simulation
    return Assumptions(
        census_path=str(sim.census_path),
        census_employees=census_employees
        if census_employees is not None
        else count_census_rows(sim.census_path),
        random_seed=sim.random_seed,
        start_year=sim.start_year,
        end_year=sim.end_year,
        effective_date=sim.effective_date.isoformat(),
        parameters=tuple(parameters),
        match_tiers=normalise_match_tiers(tiers),
        match_cap_rate=float(cap),
        census_prior_year_pay_rows=count_prior_year_pay_rows(sim.census_path)
        if census_employees is None
        else None,
    )


#: The tables a run's assumptions are read from (`BuiltValues`), each with a `scenario_id` column: what a
#: sharded sweep that keeps only summaries still sends of each member, so its sweep.json lists every
#: design's parameters (`planalign.scenarios.shard_task.SUMMARY_KEPT`).
SCALARS_TABLE = "int_effective_parameter_values"
MERIT_TABLE = "int_effective_comp_levers"
MATCH_TIERS_TABLE = "int_effective_match_tiers"
VESTING_TABLE = "int_effective_vesting_schedule"
CORE_TABLE = "int_effective_core_contribution_schedule"
PARAMETER_TABLES = (SCALARS_TABLE, MERIT_TABLE, MATCH_TIERS_TABLE, VESTING_TABLE, CORE_TABLE)


def read_assumptions(
    config: SimulationConfig, database: Path, scenario_id: str, *, census_employees: int | None = None
) -> Assumptions:
    """The assumptions `scenario_id` was built under, read from `database` (which dbt has built at least
    the foundation stage of one year in); AssumptionsError when it holds no parameters of the scenario."""
    import duckdb

    if not Path(database).is_file():
        raise AssumptionsError(
            f"no parameters of scenario {scenario_id}: {database} does not exist (the run stopped before dbt "
            "built them)"
        )
    # One connection for every read, configured as the run's own (a read-only one could not open a file
    # this process holds).
    con = duckdb.connect(str(database))
    try:
        values = BuiltValues(con, Path(database), scenario_id)
    finally:
        con.close()
    return assemble_assumptions(config, values, census_employees=census_employees)


class BuiltValues:
    """The values dbt resolved for one scenario, read once from its `int_effective_*` tables, and the
    descriptions of its parameter seeds (the seed tables `dbt seed` loaded)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, database: Path, scenario_id: str) -> None:
        import duckdb

        def fetch(sql: str, parameters: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
            try:
                result = con.execute(sql, parameters)
                return [d[0] for d in result.description or ()], result.fetchall()
            except duckdb.Error as exc:  # a database without the table
                raise AssumptionsError(
                    f"the parameters of scenario {scenario_id} cannot be read from {database}: "
                    f"{str(exc).splitlines()[0]} (the run stopped before dbt built them)"
                ) from exc

        def rows(relation: str, order: str = "") -> list[dict[str, Any]]:
            """The scenario's rows of `relation` as dicts (every relation here has a scenario_id)."""
            sql = f"select * from {relation} where scenario_id = ? {order}"
            columns, found = fetch(sql, [scenario_id])
            return [dict(zip(columns, r, strict=True)) for r in found]

        scalars = rows(SCALARS_TABLE, "order by simulation_year limit 1")
        if not scalars:
            raise AssumptionsError(
                f"{database} holds no parameters of scenario {scenario_id} "
                f"({SCALARS_TABLE}); the run stopped before dbt built them"
            )
        self._scalars: dict[str, float] = {
            k: float(v) for k, v in scalars[0].items() if k not in ("scenario_id", "simulation_year")
        }
        self._merit = {
            int(r["job_level"]): float(r["merit_rate"])
            for r in rows(MERIT_TABLE)
            if r["merit_rate"] is not None
        }
        self._tables: dict[str, tuple[dict[str, Any], ...]] = {
            "match_tiers": tuple(
                {k: float(r[k]) for k in ("employee_min", "employee_max", "match_rate")}
                for r in rows(MATCH_TIERS_TABLE, "order by tier")
            ),
            "vesting_schedule": tuple(
                {"years_of_service": int(r["years_of_service"]), "vested_share": float(r["vested_share"])}
                for r in rows(VESTING_TABLE, "order by years_of_service")
            ),
            "core_contribution_schedule": tuple(
                {
                    "min_age": int(r["min_age"]),
                    "min_service_years": int(r["min_service_years"]),
                    "core_rate": float(r["core_rate"]),
                }
                for r in rows(CORE_TABLE, "order by min_age, min_service_years")
            ),
        }
        self._seeds: dict[str, tuple[float, str]] = {}
        for seed in SCALAR_SEEDS:
            for name, value, description in fetch(
                f"select parameter_name, parameter_value, description from {seed}", []
            )[1]:
                self._seeds[str(name).strip()] = (float(value), str(description or "").strip())

    def value(self, name: str, kind: ParameterKind, configured: Any) -> ParameterValue:
        if name in self._tables:
            return self._tables[name]
        if name in RUN_VARS and configured is not None:
            return float(configured)
        if name.startswith("merit_rate_level_"):
            number = self._merit[int(name.removeprefix("merit_rate_level_"))]
        elif name in self._scalars:
            number = self._scalars[name]
        elif name in self._seeds:  # a seed row no model reads
            number = self._seeds[name][0]
        else:
            raise AssumptionsError(f"parameter {name}: the dbt project resolved no value for it")
        if kind == "bool":
            return number != 0
        if kind == "int":
            return int(number)
        return number

    def description(self, name: str) -> str:
        return self._seeds[name][1] if name in self._seeds else generic_description(name)

    def scalar_names(self) -> list[str]:
        return list(self._seeds)


def generic_description(name: str) -> str:
    """The description of a parameter that has no seed row (the tables, the merit rates by level, ...)."""
    if name == "safe_harbor_type":
        return SAFE_HARBOR_DESCRIPTION
    if name == "census_max_reject_share":
        return "Largest share of census rows the run may reject as bad before it refuses the census"
    if name.startswith("merit_rate_level_"):
        level = name.removeprefix("merit_rate_level_")
        return f"Merit raise rate of job level {level} (seed config_comp_levers)"
    if name == "match_tiers":
        return (
            "Employer match tiers: match_rate of each deferred dollar between employee_min and "
            "employee_max of pay"
        )
    if name == "vesting_schedule":
        return "Vested share of employer money by completed years of service; nothing below the first step"
    if name == "core_contribution_schedule":
        return (
            "Graded core contribution rates (used with core_contribution_graded): the highest core_rate "
            "of the rows whose min_age and min_service_years the employee has reached"
        )
    return ""


def count_prior_year_pay_rows(path: Path) -> int:
    """Census rows with a prior_year_compensation (0 when the file has no such column), read as the dbt
    project reads it; count_census_rows has checked that the file can be read."""
    import duckdb

    reader = (
        "read_parquet(?)"
        if Path(path).suffix.lower() == ".parquet"
        else ("read_csv(?, header = true, all_varchar = true)")
    )
    connection = duckdb.connect(":memory:")
    try:
        columns = {
            r[0] for r in connection.execute(f"describe select * from {reader}", [str(path)]).fetchall()
        }
        if "prior_year_compensation" not in columns:
            return 0
        row = connection.execute(
            "select count(nullif(trim(cast(prior_year_compensation as varchar)), '')) from " + reader,
            [str(path)],
        ).fetchone()
    except duckdb.Error as exc:
        raise AssumptionsError(f"census {path}: cannot be read: {exc}") from exc
    finally:
        connection.close()
    assert row is not None
    return int(row[0])


def count_census_rows(path: Path) -> int:
    """Rows of the census file (CSV with a header, or Parquet), read as the dbt project reads it."""
    import duckdb

    suffix = Path(path).suffix.lower()
    readers = {".parquet": "read_parquet(?)", ".csv": "read_csv(?, header = true, all_varchar = true)"}
    if suffix not in readers:
        raise AssumptionsError(f"census {path}: must end in .csv or .parquet")
    if not Path(path).is_file():
        raise AssumptionsError(f"census {path}: no such file; set simulation.census_path to the census file")
    connection = duckdb.connect(":memory:")
    try:
        row = connection.execute(f"select count(*) from {readers[suffix]}", [str(path)]).fetchone()
    except duckdb.Error as exc:
        raise AssumptionsError(f"census {path}: cannot be read: {exc}") from exc
    finally:
        connection.close()
    assert row is not None
    return int(row[0])


def config_parameters(config: SimulationConfig) -> Iterator[tuple[str, str, ParameterKind, Any, str]]:
    """(dbt var name, section, kind, config value or None, dotted config key) for every parameter field of
    the config, set or not — the same names `SimulationConfig.parameter_vars` emits for the set ones."""
    for name in SIMULATION_PARAMETERS:
        field = type(config.simulation).model_fields[name]
        value = getattr(config.simulation, name)
        yield name, "simulation", _kind(name, field.annotation), value, f"simulation.{name}"
    for section_name in PARAMETER_SECTIONS:
        yield from _section_parameters(getattr(config, section_name), section_name, section_name)


def _section_parameters(
    section: BaseModel, section_name: str, key: str
) -> Iterator[tuple[str, str, ParameterKind, Any, str]]:
    prefix = str(getattr(type(section), "DBT_VAR_PREFIX", ""))
    for field_name, field in type(section).model_fields.items():
        value = getattr(section, field_name)
        if isinstance(value, BaseModel) and hasattr(type(value), "DBT_VAR_PREFIX"):
            yield from _section_parameters(value, section_name, f"{key}.{field_name}")
            continue
        var = f"{prefix}{field_name}"
        codes = _coded_vars().get(var)
        if codes is not None:
            # a named choice in the config, a code in the dbt var and the seed (the panel shows the code
            # with the seed's description of each)
            yield (var, section_name, "int", None if value is None else codes[value], f"{key}.{field_name}")
            continue
        yield var, section_name, _kind(var, field.annotation), value, f"{key}.{field_name}"


def _coded_vars() -> dict[str, dict[str, int]]:
    """The dbt vars whose config value is a name mapped to a code (issue #23)."""
    from planalign.simulation.config import FORFEITURE_TIMING_CODES, SAFE_HARBOR_CODES, TESTING_METHOD_CODES

    return {
        "safe_harbor_type": SAFE_HARBOR_CODES,
        "vesting_forfeiture_timing": FORFEITURE_TIMING_CODES,
        "nondiscrimination_testing_method": TESTING_METHOD_CODES,
    }


def _kind(name: str, annotation: Any) -> ParameterKind:
    """The value kind of a config field from its type annotation (`Rate | None`, `bool | None`, …)."""
    if name == "match_tiers":
        return "match_tiers"
    if name == "vesting_schedule":
        return "vesting_schedule"
    if name == "core_contribution_schedule":
        return "core_contribution_schedule"
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    candidates = typing.get_args(annotation) if is_union else (annotation,)
    for arg in candidates:
        base = typing.get_args(arg)[0] if typing.get_origin(arg) is typing.Annotated else arg
        if base is bool:
            return "bool"
        if base is int or typing.get_origin(base) is Literal:
            return "int"
        if base is float:
            return "float"
    raise AssumptionsError(f"parameter {name}: unsupported config type {annotation!r}")


def config_value(kind: ParameterKind, value: Any) -> ParameterValue:
    if kind == "match_tiers":
        return tuple(
            {"employee_min": t.employee_min, "employee_max": t.employee_max, "match_rate": t.match_rate}
            for t in normalise_match_tiers(value)
        )
    if kind == "vesting_schedule":
        return tuple({"years_of_service": s.years_of_service, "vested_share": s.vested_share} for s in value)
    if kind == "core_contribution_schedule":  # the rule ignores the rows' order: stated sorted, as built
        return tuple(
            {"min_age": s.min_age, "min_service_years": s.min_service_years, "core_rate": s.core_rate}
            for s in sorted(value, key=lambda s: (s.min_age, s.min_service_years))
        )
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    return float(value)
