"""comparison.json read and checked: the input of the comparison report (scenario contract §3).

A sweep directory's `comparison.json` (written by `planalign scenarios compare`) holds the sweep's record
(sweep.json), the metrics with their units, one row per (scenario, year, metric) with P5/P50/P95 over the
seeds and the paired deltas vs the baseline, and the totals over the years (cumulative and present-value
employer cost). `load_comparison` turns it into a frozen `Comparison`, so that a bad file fails with
`ComparisonFileError` naming the file and the field before anything is drawn; like a run directory, a sweep
directory may come from anywhere, so every value the report uses is checked here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from planalign.errors import PlanalignUsageError

COMPARISON_SCHEMA_VERSION = 1
Unit = Literal["count", "usd", "rate", "usd_per_person"]
UNITS: tuple[str, ...] = ("count", "usd", "rate", "usd_per_person")
TOTAL_METRICS: tuple[str, ...] = ("cumulative_employer_cost", "pv_employer_cost")
_STAT_FIELDS = ("mean", "p5", "p50", "p95", "delta_p5", "delta_p50", "delta_p95")


class ComparisonFileError(PlanalignUsageError):
    """comparison.json is missing, not JSON, of another schema version, or a field is not what the scenarios
    layer writes; the message names the file and the field."""


@dataclass(frozen=True)
class Stat:
    """A metric over the seeds: `n` seeds, mean and percentiles, and the percentiles of the paired per-seed
    differences from the baseline (0 for the baseline itself)."""

    n: int
    mean: float
    p5: float
    p50: float
    p95: float
    delta_p5: float
    delta_p50: float
    delta_p95: float

    @property
    def has_band(self) -> bool:
        """Several seeds whose values differ: there is a P5–P95 band to draw."""
        return self.n > 1 and self.p95 - self.p5 > 1e-12 * max(1.0, abs(self.p50))


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    unit: Unit


@dataclass(frozen=True)
class ScenarioDesign:
    """One scenario of the sweep as sweep.json describes it."""

    name: str
    description: str
    overrides: Mapping[str, Any]
    parameters: Mapping[str, Any]
    match_formula: str
    assumptions_error: str = ""
    """Why sweep.json records no parameters (not read from the sweep database); empty when it does."""


@dataclass(frozen=True)
class SensitivityStat:
    """A design's present-value employer cost under one end (`side`) of one sensitivity, with its paired
    difference to the baseline under the same value (comparison.json's `sensitivities`)."""

    sensitivity: str
    side: str
    scenario: str
    stat: Stat


@dataclass(frozen=True)
class Comparison:
    path: Path
    sweep: Mapping[str, Any]
    name: str
    status: str
    baseline: str
    discount_rate: float
    years: tuple[int, ...]
    seeds: tuple[int, ...]
    census_path: str
    census_employees: int | None
    scenarios: tuple[ScenarioDesign, ...]
    metrics: tuple[MetricSpec, ...]
    rows: Mapping[tuple[str, str, int], Stat]
    """(scenario, metric, year) -> Stat"""
    totals: Mapping[tuple[str, str], Stat]
    """(scenario, cumulative_employer_cost | pv_employer_cost) -> Stat"""
    sensitivities: tuple[SensitivityStat, ...] = ()
    """In the sweep's order; empty when the scenario file declared none."""
    sensitivity_descriptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def sensitivity_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.sensitivity for s in self.sensitivities))

    def sensitivity(self, name: str, side: str, scenario: str) -> Stat | None:
        for row in self.sensitivities:
            if (row.sensitivity, row.side, row.scenario) == (name, side, scenario):
                return row.stat
        return None

    @property
    def scenario_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    def series(self, scenario: str, metric: str) -> list[tuple[int, Stat]]:
        return [(y, s) for y in self.years if (s := self.rows.get((scenario, metric, y))) is not None]


def load_comparison(path: Path) -> Comparison:
    """Read and check comparison.json; `ComparisonFileError` naming the field that is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ComparisonFileError(
            f"{path}: no such file; a sweep directory's comparison.json is written by `planalign scenarios "
            "compare` (which `planalign scenarios run` calls at the end)"
        ) from exc
    except OSError as exc:
        raise ComparisonFileError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise ComparisonFileError(f"{path}: not valid JSON ({exc})") from exc
    return _Reader(path).comparison(data)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> ComparisonFileError:
        return ComparisonFileError(
            f"{self.path}: {where} {what}"[:400] + ". Rewrite it with `planalign scenarios compare SWEEP_DIR`"
        )

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"must be an object, got {type(value).__name__}")
        return value

    def lst(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, got {type(value).__name__}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"must be a non-empty text, got {value!r}")
        return value

    def number(self, value: Any, where: str) -> float:
        if not _is_number(value):
            raise self.fail(where, f"must be a finite number, got {value!r}")
        return float(value)

    def whole(self, value: Any, where: str) -> int:
        if type(value) is not int:
            raise self.fail(where, f"must be a whole number, got {value!r}")
        return value

    def comparison(self, data: Any) -> Comparison:
        data = self.obj(data, "the file")
        version = data.get("schema_version")
        if version != COMPARISON_SCHEMA_VERSION:
            raise ComparisonFileError(
                f"{self.path}: schema_version {version!r}; this planalign reads comparison files of version "
                f"{COMPARISON_SCHEMA_VERSION} (a newer planalign wrote it: upgrade, or rewrite the file with "
                "`planalign scenarios compare`)"
            )
        sweep = self.obj(data.get("sweep"), "sweep")
        years = tuple(
            self.whole(y, f"sweep.years[{i}]")
            for i, y in enumerate(self.lst(sweep.get("years"), "sweep.years"))
        )
        if not years:
            raise self.fail("sweep.years", "must list at least one year")
        seeds = tuple(
            self.whole(s, f"sweep.seeds[{i}]")
            for i, s in enumerate(self.lst(sweep.get("seeds"), "sweep.seeds"))
        )
        scenarios = tuple(
            self.scenario(s, f"sweep.scenarios[{i}]")
            for i, s in enumerate(self.lst(sweep.get("scenarios"), "sweep.scenarios"))
        )
        names = [s.name for s in scenarios]
        if not names or len(set(names)) != len(names):
            raise self.fail("sweep.scenarios", f"must name each scenario once, got {names}")
        baseline = self.text(sweep.get("baseline"), "sweep.baseline")
        if baseline not in names:
            raise self.fail("sweep.baseline", f"{baseline!r} is not one of the scenarios {names}")
        census = sweep.get("census") or {}
        census = self.obj(census, "sweep.census")
        employees = census.get("employees")
        metrics = tuple(
            self.metric(m, f"metrics[{i}]") for i, m in enumerate(self.lst(data.get("metrics"), "metrics"))
        )
        keys = {m.key for m in metrics}
        if len(keys) != len(metrics):
            raise self.fail("metrics", "must list each metric key once")
        rows: dict[tuple[str, str, int], Stat] = {}
        for i, row in enumerate(self.lst(data.get("rows"), "rows")):
            where = f"rows[{i}]"
            row = self.obj(row, where)
            scenario = self.known(row.get("scenario"), names, f"{where}.scenario")
            metric = self.known(row.get("metric"), sorted(keys), f"{where}.metric")
            year = self.whole(row.get("year"), f"{where}.year")
            if year not in years:
                raise self.fail(f"{where}.year", f"{year} is not one of the sweep's years {list(years)}")
            if (scenario, metric, year) in rows:
                raise self.fail(where, f"repeats ({scenario}, {year}, {metric})")
            rows[(scenario, metric, year)] = self.stat(row, where)
        totals: dict[tuple[str, str], Stat] = {}
        for i, row in enumerate(self.lst(data.get("totals"), "totals")):
            where = f"totals[{i}]"
            row = self.obj(row, where)
            scenario = self.known(row.get("scenario"), names, f"{where}.scenario")
            metric = self.known(row.get("metric"), list(TOTAL_METRICS), f"{where}.metric")
            totals[(scenario, metric)] = self.stat(row, where)
        declared = {
            self.text(x.get("name"), f"sweep.sensitivities[{i}].name"): str(x.get("description") or "")
            for i, x in enumerate(self.lst(sweep.get("sensitivities") or [], "sweep.sensitivities"))
            if isinstance(x, Mapping)
        }
        sensitivities: list[SensitivityStat] = []
        for i, row in enumerate(self.lst(data.get("sensitivities") or [], "sensitivities")):
            where = f"sensitivities[{i}]"
            row = self.obj(row, where)
            sensitivities.append(
                SensitivityStat(
                    sensitivity=self.known(row.get("sensitivity"), list(declared), f"{where}.sensitivity"),
                    side=self.known(row.get("side"), ["low", "high"], f"{where}.side"),
                    scenario=self.known(row.get("scenario"), names, f"{where}.scenario"),
                    stat=self.stat(row, where),
                )
            )
        discount = sweep.get("discount_rate", 0.0)
        return Comparison(
            path=self.path,
            sweep=sweep,
            name=str(sweep.get("name") or self.path.parent.name),
            status=str(sweep.get("status") or "unknown"),
            baseline=baseline,
            discount_rate=self.number(discount, "sweep.discount_rate"),
            years=years,
            seeds=seeds,
            census_path=str(census.get("path") or "?"),
            census_employees=employees if type(employees) is int else None,
            scenarios=scenarios,
            metrics=metrics,
            rows=rows,
            totals=totals,
            sensitivities=tuple(sensitivities),
            sensitivity_descriptions=declared,
        )

    def known(self, value: Any, allowed: list[str], where: str) -> str:
        if value not in allowed:
            raise self.fail(where, f"{value!r} is not one of {allowed}")
        return str(value)

    def scenario(self, value: Any, where: str) -> ScenarioDesign:
        value = self.obj(value, where)
        overrides = self.obj(value.get("overrides") or {}, f"{where}.overrides")
        parameters = self.obj(value.get("parameters") or {}, f"{where}.parameters")
        formula = value.get("match_formula") or ""
        if not isinstance(formula, str):
            raise self.fail(f"{where}.match_formula", "must be a text")
        return ScenarioDesign(
            name=self.text(value.get("name"), f"{where}.name"),
            description=str(value.get("description") or ""),
            overrides=overrides,
            parameters=parameters,
            match_formula=formula,
            assumptions_error=str(value.get("assumptions_error") or ""),
        )

    def metric(self, value: Any, where: str) -> MetricSpec:
        value = self.obj(value, where)
        unit = value.get("unit")
        if unit not in UNITS:
            raise self.fail(f"{where}.unit", f"{unit!r} is not one of {list(UNITS)}")
        return MetricSpec(
            key=self.text(value.get("key"), f"{where}.key"),
            label=self.text(value.get("label"), f"{where}.label"),
            unit=unit,
        )

    def stat(self, row: Mapping[str, Any], where: str) -> Stat:
        n = self.whole(row.get("n"), f"{where}.n")
        if n < 1:
            raise self.fail(f"{where}.n", f"must be at least 1, got {n}")
        values = {name: self.number(row.get(name), f"{where}.{name}") for name in _STAT_FIELDS}
        if not values["p5"] <= values["p50"] <= values["p95"]:
            raise self.fail(
                where,
                f"percentiles must satisfy p5 <= p50 <= p95, got {values['p5']}, "
                f"{values['p50']}, {values['p95']}",
            )
        return Stat(n=n, **values)
