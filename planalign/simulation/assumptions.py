"""The assumptions a simulation runs under, resolved the way the dbt project resolves them, as frozen data.

A result means nothing to an analyst without what produced it: which census (and how many rows), which seed,
which years, and the value of every simulation parameter — including the ones nobody set, which the dbt
project takes from its seeds. `resolve_assumptions` answers that from a `SimulationConfig` and the dbt
project directory, applying the project's own rule (`macros/parameters.sql`, `planalign_param`, and the
`int_effective_*` models): a parameter var that is set wins, else the seed value. Concretely:

- scalar parameters: `seeds/config_workforce_parameters.csv`, `seeds/config_plan_parameters.csv` and
  `seeds/config_account_balance_parameters.csv`
  (`parameter_name`, `parameter_value`, `description`); a boolean var is 1/0 there;
- `merit_rate_level_N`: `seeds/config_comp_levers.csv`, column `merit_rate` of `job_level` N;
- `match_tiers`: `seeds/config_match_tiers.csv` (`employee_min`, `employee_max`, `match_rate`); a tier list
  set in the config starts each tier where the previous one ends, as `int_effective_match_tiers` does;
- `vesting_schedule`: `seeds/config_vesting_schedule.csv` (`years_of_service`, `vested_share`);
- `core_contribution_schedule`: `seeds/config_core_contribution_schedule.csv` (`min_age`,
  `min_service_years`, `core_rate`).

The result is what the run report's assumptions panel shows and what a sweep records per scenario
(`Assumptions.to_dict`, `Assumptions.parameter_values`). `match_formula_words` states the match formula in
words ("100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)").

Why it is long: the resolution has to mirror each of the dbt project's five lookup forms (scalar seeds,
merit by level, match tiers, vesting steps, graded core rates) and the read-back of the same data from
summary.json; splitting them would separate the rule from the data it describes.

Reading is side-effect free: the seeds are read as CSV, the census is counted with an in-memory DuckDB.
"""

from __future__ import annotations

import csv
import math
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from planalign.errors import PlanalignUsageError
from planalign.simulation.config import MatchTier, SimulationConfig


class AssumptionsError(PlanalignUsageError):
    """The assumptions cannot be resolved: a seed file is missing or malformed, the census cannot be read,
    or a parameter has neither a config value nor a seed value. The message names the file or parameter."""


ParameterSource = Literal["config", "seed", "environment", "flag", "override", "default"]
"""Where a value came from: "config" the configuration file, "environment" a `PLANALIGN_*` variable, "flag"
a command-line flag, "override" a scenario's design or an API caller, "default" planalign's code default,
"seed" the dbt project's seed (the configuration leaves it unset). Summaries written before the finer labels
say "config" for the first five."""

#: `SimulationConfig.origin_of`'s words as a parameter's source.
_ORIGIN_SOURCE: dict[str, ParameterSource] = {
    "file": "config",
    "environment": "environment",
    "flag": "flag",
    "override": "override",
    "default": "default",
}
ParameterKind = Literal[
    "bool", "int", "float", "match_tiers", "vesting_schedule", "core_contribution_schedule"
]
#: A JSON-able parameter value: a number or boolean, or a table as a tuple of rows (mappings).
ParameterValue = bool | int | float | tuple[Mapping[str, float], ...]

#: The config sections that hold parameters, in `simulation_config.yaml`'s order; "simulation" holds the two
#: parameters of that section (target_growth_rate, census_max_reject_share).
PARAMETER_SECTIONS = (
    "workforce",
    "compensation",
    "enrollment",
    "escalation",
    "match",
    "vesting",
    "contributions",
    "account_balances",
    "safe_harbor",
    "nondiscrimination",
)
#: issue #23: the plan design is a var only (no seed row); unset it is 0, no safe-harbor design
SAFE_HARBOR_DESCRIPTION = (
    "Plan design (issue #23): 0 = none (the ADP/ACP tests run), 1 = safe-harbor basic match, 2 = enhanced "
    "match, 3 = 3% non-elective; a design fixes the match or core, vests all employer money immediately and "
    "is deemed to pass the ADP test (and the ACP test for 1 and 2); with safe_harbor_qaca the design is a "
    "QACA (the QACA match or 3% core, a 2-year cliff, automatic enrollment within IRC 401(k)(13))"
)
_SIMULATION_PARAMETERS = ("target_growth_rate", "census_max_reject_share")
_SCALAR_SEEDS = ("config_workforce_parameters", "config_plan_parameters", "config_account_balance_parameters")


@dataclass(frozen=True)
class MatchTierTerm:
    """One match tier in force: `match_rate` of each deferred dollar between `employee_min` and
    `employee_max` of pay."""

    employee_min: float
    employee_max: float
    match_rate: float


@dataclass(frozen=True)
class Parameter:
    """One simulation parameter in force, under its dbt var name. `section` is the config section it is set
    in (`simulation_config.yaml`), `source` says whether the config set it or the seed supplied it."""

    name: str
    section: str
    kind: ParameterKind
    value: ParameterValue
    source: ParameterSource
    description: str

    def json_value(self) -> Any:
        """The value as JSON data (tables as lists of dicts)."""
        if isinstance(self.value, tuple):
            return [dict(row) for row in self.value]
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "section": self.section,
            "kind": self.kind,
            "value": self.json_value(),
            "source": self.source,
            "description": self.description,
        }


@dataclass(frozen=True)
class Assumptions:
    """Everything a simulation's results depend on, as the analyst reads it."""

    census_path: str
    census_employees: int
    random_seed: int
    start_year: int
    end_year: int
    effective_date: str
    parameters: tuple[Parameter, ...]
    match_tiers: tuple[MatchTierTerm, ...]
    match_cap_rate: float
    #: census rows with the optional prior_year_compensation (issue #23 item 6); None: not recorded
    census_prior_year_pay_rows: int | None = None

    @property
    def hce_lookback(self) -> str:
        """What the first simulated year's HCE determination takes as pay received in the look-back year."""
        if self.census_prior_year_pay_rows is None:
            return "not recorded"
        if self.census_prior_year_pay_rows == 0:
            return "the census pay rate (the census has no prior_year_compensation)"
        return (
            f"the census prior_year_compensation ({self.census_prior_year_pay_rows:,} rows), "
            "the pay rate where it is blank"
        )

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.start_year, self.end_year + 1))

    @property
    def match_formula(self) -> str:
        return match_formula_words(self.match_tiers, self.match_cap_rate)

    def parameter(self, name: str) -> Parameter:
        """The parameter called `name` (its dbt var name); KeyError naming the known ones otherwise."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; known: {', '.join(p.name for p in self.parameters)}")

    def parameter_values(self) -> dict[str, Any]:
        """Every parameter in force as {dbt var name: JSON value} — sweep.json's `parameters`."""
        return {p.name: p.json_value() for p in self.parameters}

    def to_dict(self) -> dict[str, Any]:
        """JSON data; `assumptions_from_dict` reads it back."""
        return {
            "census": {
                "path": self.census_path,
                "employees": self.census_employees,
                "prior_year_compensation_rows": self.census_prior_year_pay_rows,
            },
            "hce_lookback": self.hce_lookback,
            "random_seed": self.random_seed,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "years": list(self.years),
            "effective_date": self.effective_date,
            "parameters": [p.to_dict() for p in self.parameters],
            "match_tiers": [
                {"employee_min": t.employee_min, "employee_max": t.employee_max, "match_rate": t.match_rate}
                for t in self.match_tiers
            ],
            "match_cap_rate": self.match_cap_rate,
            "match_formula": self.match_formula,
        }


# ----------------------------------------------------------------------------------------------------
# Resolution
# ----------------------------------------------------------------------------------------------------


def resolve_assumptions(
    config: SimulationConfig, project_dir: Path | None = None, *, census_employees: int | None = None
) -> Assumptions:
    """The assumptions of `config` against the dbt project at `project_dir` (default
    `config.dbt.project_dir`). `census_employees` skips counting the census when the caller knows its rows."""
    project = Path(project_dir) if project_dir is not None else config.dbt.project_dir
    seeds = _SeedReader(project)
    parameters: list[Parameter] = []
    seen: set[str] = set()
    for name, section, kind, value, key in _config_parameters(config):
        seen.add(name)
        if value is not None:
            source = _ORIGIN_SOURCE.get(config.origin_of(key), "config")
            parameters.append(
                Parameter(name, section, kind, _config_value(kind, value), source, seeds.description(name))
            )
        elif name == "safe_harbor_type":
            parameters.append(Parameter(name, section, kind, 0, "seed", SAFE_HARBOR_DESCRIPTION))
        else:
            parameters.append(
                Parameter(name, section, kind, seeds.value(name, kind), "seed", seeds.description(name))
            )
    # A scalar the seeds define and the config does not know is still in force.
    for name in seeds.scalar_names():
        if name not in seen:
            parameters.append(
                Parameter(
                    name, "seed only", "float", seeds.value(name, "float"), "seed", seeds.description(name)
                )
            )
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


def _config_parameters(config: SimulationConfig) -> Iterator[tuple[str, str, ParameterKind, Any, str]]:
    """(dbt var name, section, kind, config value or None, dotted config key) for every parameter field of
    the config, set or not — the same names `SimulationConfig.parameter_vars` emits for the set ones."""
    for name in _SIMULATION_PARAMETERS:
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


def _config_value(kind: ParameterKind, value: Any) -> ParameterValue:
    if kind == "match_tiers":
        return tuple(
            {"employee_min": t.employee_min, "employee_max": t.employee_max, "match_rate": t.match_rate}
            for t in normalise_match_tiers(value)
        )
    if kind == "vesting_schedule":
        return tuple({"years_of_service": s.years_of_service, "vested_share": s.vested_share} for s in value)
    if kind == "core_contribution_schedule":
        return tuple(
            {"min_age": s.min_age, "min_service_years": s.min_service_years, "core_rate": s.core_rate}
            for s in value
        )
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    return float(value)


def normalise_match_tiers(
    tiers: Iterable[MatchTierTerm | MatchTier | Mapping[str, Any]],
) -> tuple[MatchTierTerm, ...]:
    """Tiers as `MatchTierTerm`s, from config `MatchTier`s, mappings (the dbt var form, with or without
    `employee_min`) or terms. A tier without `employee_min` starts where the previous one ends (the first at
    0), exactly as `int_effective_match_tiers` builds them from the var."""
    out: list[MatchTierTerm] = []
    previous = 0.0
    for tier in tiers:
        if isinstance(tier, MatchTierTerm):
            term = tier
        elif isinstance(tier, Mapping):
            try:
                term = MatchTierTerm(
                    float(tier.get("employee_min", previous)),
                    float(tier["employee_max"]),
                    float(tier["match_rate"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise AssumptionsError(
                    f"match tier {dict(tier)!r}: needs numbers employee_max and match_rate ({exc})"
                ) from exc
        else:
            term = MatchTierTerm(previous, float(tier.employee_max), float(tier.match_rate))
        out.append(term)
        previous = term.employee_max
    return tuple(out)


class _SeedReader:
    """The dbt project's parameter seeds, read once as CSV."""

    def __init__(self, project_dir: Path) -> None:
        self.seed_dir = project_dir / _seed_path(project_dir)
        self._scalars: dict[str, tuple[str, str, str]] = {}  # name -> (raw value, description, seed file)
        for seed in _SCALAR_SEEDS:
            for row in self._rows(seed, ("parameter_name", "parameter_value")):
                self._scalars[row["parameter_name"].strip()] = (
                    row["parameter_value"].strip(),
                    (row.get("description") or "").strip(),
                    seed,
                )

    def _rows(self, seed: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
        path = self.seed_dir / f"{seed}.csv"
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                header = reader.fieldnames or []
        except OSError as exc:
            raise AssumptionsError(f"seed {path}: cannot be read ({exc.strerror or exc})") from exc
        missing = [c for c in columns if c not in header]
        if missing:
            raise AssumptionsError(f"seed {path}: missing column(s) {', '.join(missing)}")
        return rows

    def scalar_names(self) -> list[str]:
        return list(self._scalars)

    def description(self, name: str) -> str:
        if name in self._scalars:
            return self._scalars[name][1]
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
            return (
                "Vested share of employer money by completed years of service; nothing below the first step"
            )
        if name == "core_contribution_schedule":
            return (
                "Graded core contribution rates (used with core_contribution_graded): the highest core_rate "
                "of the rows whose min_age and min_service_years the employee has reached"
            )
        return ""

    def value(self, name: str, kind: ParameterKind) -> ParameterValue:
        if kind == "match_tiers":
            rows = self._rows("config_match_tiers", ("tier", "employee_min", "employee_max", "match_rate"))
            rows.sort(key=lambda r: self._number("config_match_tiers", "tier", r["tier"]))
            return tuple(
                {
                    "employee_min": self._number("config_match_tiers", "employee_min", r["employee_min"]),
                    "employee_max": self._number("config_match_tiers", "employee_max", r["employee_max"]),
                    "match_rate": self._number("config_match_tiers", "match_rate", r["match_rate"]),
                }
                for r in rows
            )
        if kind == "vesting_schedule":
            rows = self._rows("config_vesting_schedule", ("years_of_service", "vested_share"))
            steps = [
                {
                    "years_of_service": int(
                        self._number("config_vesting_schedule", "years_of_service", r["years_of_service"])
                    ),
                    "vested_share": self._number(
                        "config_vesting_schedule", "vested_share", r["vested_share"]
                    ),
                }
                for r in rows
            ]
            return tuple(sorted(steps, key=lambda s: s["years_of_service"]))
        if kind == "core_contribution_schedule":
            seed = "config_core_contribution_schedule"
            rows = self._rows(seed, ("min_age", "min_service_years", "core_rate"))
            grades = [
                {
                    "min_age": int(self._number(seed, "min_age", r["min_age"])),
                    "min_service_years": int(self._number(seed, "min_service_years", r["min_service_years"])),
                    "core_rate": self._number(seed, "core_rate", r["core_rate"]),
                }
                for r in rows
            ]
            return tuple(sorted(grades, key=lambda g: (g["min_age"], g["min_service_years"])))
        if name.startswith("merit_rate_level_"):
            level = name.removeprefix("merit_rate_level_")
            for row in self._rows("config_comp_levers", ("job_level", "merit_rate")):
                if row["job_level"].strip() == level:
                    return self._number("config_comp_levers", "merit_rate", row["merit_rate"])
            raise AssumptionsError(
                f"parameter {name}: not set in the config and config_comp_levers.csv has no job_level {level}"
            )
        if name not in self._scalars:
            raise AssumptionsError(
                f"parameter {name}: not set in the config and no seed row defines it (looked in "
                f"{', '.join(f'{s}.csv' for s in _SCALAR_SEEDS)} under {self.seed_dir}); set it in the config"
            )
        raw, _, seed = self._scalars[name]
        number = self._number(seed, name, raw)
        if kind == "bool":
            return number != 0
        if kind == "int":
            if number != int(number):
                raise AssumptionsError(f"seed {seed}.csv: {name} must be a whole number, got {raw}")
            return int(number)
        return number

    @staticmethod
    def _number(seed: str, column: str, raw: str) -> float:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise AssumptionsError(f"seed {seed}.csv: {column} must be a number, got {raw!r}")
        return number


def _seed_path(project_dir: Path) -> str:
    """The project's first seed path (dbt_project.yml `seed-paths`, default "seeds")."""
    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise AssumptionsError(
            f"dbt project {project_dir}: dbt_project.yml is not valid YAML ({exc})"
        ) from exc
    except OSError as exc:
        raise AssumptionsError(
            f"dbt project {project_dir}: no readable dbt_project.yml ({exc.strerror or exc}); "
            "set dbt.project_dir"
        ) from exc
    paths = project.get("seed-paths") if isinstance(project, dict) else None
    return str(paths[0]) if isinstance(paths, list) and paths else "seeds"


# ----------------------------------------------------------------------------------------------------
# The match formula in words
# ----------------------------------------------------------------------------------------------------


def _pct(share: float) -> str:
    """0.035 -> "3.5%", 1.0 -> "100%" (at most 4 decimals of a percent)."""
    text = f"{round(share * 100, 4):.4f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('', '-0') else text}%"


def match_formula_words(
    tiers: Iterable[MatchTierTerm | MatchTier | Mapping[str, Any]], cap_rate: float
) -> str:
    """The employer match formula as an analyst says it, e.g. "100% of the first 3% of pay, then 50% of the
    next 2% (up to 4% of pay)". A tier that does not start where the previous one ended is said with its
    bounds ("50% of deferrals from 4% to 6% of pay"). The parenthesis is the most the match can be: "up to"
    the tiers' total, or "capped at" `cap_rate` when the cap is below it."""
    terms = sorted(normalise_match_tiers(tiers), key=lambda t: t.employee_min)
    tier_total = sum(max(0.0, t.employee_max - t.employee_min) * t.match_rate for t in terms)
    maximum = min(tier_total, cap_rate)
    if not terms or tier_total <= 0:
        return "no employer match"
    if maximum <= 0:
        return f"no employer match (the match cap is {_pct(cap_rate)} of pay)"
    parts: list[str] = []
    previous_max: float | None = None
    for term in terms:
        rate = _pct(term.match_rate)
        if previous_max is None and math.isclose(term.employee_min, 0.0, abs_tol=1e-12):
            parts.append(f"{rate} of the first {_pct(term.employee_max)} of pay")
        elif previous_max is not None and math.isclose(term.employee_min, previous_max, abs_tol=1e-12):
            parts.append(f"then {rate} of the next {_pct(term.employee_max - term.employee_min)}")
        else:
            lead = "then " if parts else ""
            bounds = f"from {_pct(term.employee_min)} to {_pct(term.employee_max)} of pay"
            parts.append(f"{lead}{rate} of deferrals {bounds}")
        previous_max = term.employee_max
    binding = cap_rate < tier_total and not math.isclose(cap_rate, tier_total, abs_tol=1e-12)
    limit = f"capped at {_pct(cap_rate)}" if binding else f"up to {_pct(maximum)}"
    return f"{', '.join(parts)} ({limit} of pay)"


# ----------------------------------------------------------------------------------------------------
# Reading back
# ----------------------------------------------------------------------------------------------------


def assumptions_from_dict(data: Mapping[str, Any]) -> Assumptions:
    """Read `Assumptions.to_dict`'s output back (e.g. from summary.json); AssumptionsError naming the key that
    is wrong."""
    try:
        census = data["census"]
        parameters = tuple(
            Parameter(
                name=str(p["name"]),
                section=str(p["section"]),
                kind=p["kind"],
                value=tuple(dict(r) for r in p["value"]) if isinstance(p["value"], list) else p["value"],
                source=p["source"],
                description=str(p.get("description", "")),
            )
            for p in data["parameters"]
        )
        return Assumptions(
            census_path=str(census["path"]),
            census_employees=int(census["employees"]),
            random_seed=int(data["random_seed"]),
            start_year=int(data["start_year"]),
            end_year=int(data["end_year"]),
            effective_date=str(data["effective_date"]),
            parameters=parameters,
            match_tiers=normalise_match_tiers(data["match_tiers"]),
            match_cap_rate=float(data["match_cap_rate"]),
            census_prior_year_pay_rows=None
            if census.get("prior_year_compensation_rows") is None
            else int(census["prior_year_compensation_rows"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AssumptionsError(
            f"assumptions: missing or malformed entry ({type(exc).__name__}: {exc})"
        ) from exc
