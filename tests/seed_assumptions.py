"""The tests' reference for the parameters in force, computed independently of dbt: the dbt project's
parameter seeds, read as CSV, under the configuration's values — a var that is set wins, else the seed value;
match tiers starting where the previous ends, vesting and core rows in order.

Not the product's: the product reads the parameters only from what dbt built
(`planalign.simulation.assumptions_resolve.read_assumptions`). tests/test_assumptions_from_build.py checks
dbt's build against this independent reading; report tests use it to make realistic recorded assumptions
without a build.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import yaml

from planalign.simulation.assumptions import (
    SCALAR_SEEDS,
    Assumptions,
    AssumptionsError,
    ParameterKind,
    ParameterValue,
)
from planalign.simulation.assumptions_resolve import assemble_assumptions, config_value, generic_description
from planalign.simulation.config import SimulationConfig


def resolve_assumptions(
    config: SimulationConfig, project_dir: Path | None = None, *, census_employees: int | None = None
) -> Assumptions:
    """The assumptions of `config` against the dbt project at `project_dir` (default
    `config.dbt.project_dir`), before a build. `census_employees` skips counting the census."""
    project = Path(project_dir) if project_dir is not None else config.dbt.project_dir
    return assemble_assumptions(config, SeedValues(project), census_employees=census_employees)


class SeedValues:
    """The dbt project's parameter seeds, read once as CSV, and the configuration's values over them."""

    def __init__(self, project_dir: Path) -> None:
        self.seed_dir = project_dir / _seed_path(project_dir)
        self._scalars: dict[str, tuple[str, str, str]] = {}  # name -> (raw value, description, seed file)
        for seed in SCALAR_SEEDS:
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
        return self._scalars[name][1] if name in self._scalars else generic_description(name)

    def value(self, name: str, kind: ParameterKind, configured: Any) -> ParameterValue:
        if configured is not None:
            return config_value(kind, configured)
        if name == "safe_harbor_type":
            return 0
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
                f"{', '.join(f'{s}.csv' for s in SCALAR_SEEDS)} under {self.seed_dir}); set it in the config"
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
