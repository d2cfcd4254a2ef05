"""The simulation configuration: `simulation_config.yaml`, environment overrides and command-line overrides.

One validated, immutable `SimulationConfig` is what every other module receives. It is built from four layers,
the later winning key by key (nested mappings merge, lists and scalars replace):

1. code defaults (the specification's tables for `orchestrator.threading.model_parallelization`);
2. the YAML file given to `load_simulation_config` (usually `simulation_config.yaml`);
3. environment variables: prefix `PLANALIGN_`, nested delimiter `__`, e.g.
   `PLANALIGN_SIMULATION__END_YEAR=2027` or
   `PLANALIGN_ORCHESTRATOR__THREADING__MODEL_PARALLELIZATION__MAX_WORKERS=2`;
4. `overrides` (the CLI's flags), as a nested mapping or dotted keys (`{"simulation.end_year": 2027}`).

Paths (`simulation.census_path`, `simulation.database_path`, `dbt.project_dir`, `dbt.profiles_dir`,
`run.runs_dir`) written in the file, and their defaults, are relative to the config file's directory, so a
config works from any working directory; paths from the environment or overrides are relative to the current
working directory, like any path typed in a shell. After loading, every path is absolute.

Parameter fields that mirror dbt vars (workforce, compensation, enrollment, escalation, match, contributions)
carry the dbt var's name (section prefix + field, e.g. `escalation.cap` -> `escalation_cap`) and may be None,
meaning "use the dbt project's seed value"; `dbt_vars(year)` passes only the ones that are set.

The schema lives here; reading the layers is `planalign.simulation.config_loading` (`load_simulation_config`)
and `planalign validate`'s review of a valid configuration is `planalign.simulation.config_review`.

Why it is long: one field per documented parameter, section by section as in `simulation_config.yaml`, each
with its range and the reason for it; splitting the sections would scatter that one contract.

Loading never writes anything. Every problem found is reported at once in one `ConfigError`, one line per
problem, as `<where>: <dotted.key>: <what is wrong and how to fix it>`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from planalign.errors import SimulationYearError
from planalign.simulation import plan_types, statutory
from planalign.simulation.run_labels import ReportLabels, label_problem

if TYPE_CHECKING:
    from planalign.dbt.workers import WorkerChoice
    from planalign.engine.runner import EngineSettings

ENV_PREFIX = "PLANALIGN_"
ENV_NESTED_DELIMITER = "__"

#: Default locations, relative to the config file's directory (or the working directory without a file).
DEFAULT_CENSUS_PATH = Path("dbt_project/data/census.parquet")
DEFAULT_DATABASE_PATH = Path("simulation.duckdb")
DEFAULT_DBT_PROJECT_DIR = Path("dbt_project")
DEFAULT_RUNS_DIR = Path("runs")

#: Dotted keys holding filesystem paths, with the default each gets when no layer sets it.
PATH_KEYS: Mapping[str, Path | None] = {
    "simulation.census_path": DEFAULT_CENSUS_PATH,
    "simulation.database_path": DEFAULT_DATABASE_PATH,
    "dbt.project_dir": DEFAULT_DBT_PROJECT_DIR,
    "dbt.profiles_dir": None,  # defaults to dbt.project_dir
    "run.runs_dir": DEFAULT_RUNS_DIR,
}


# ----------------------------------------------------------------------------------------------------
# Field types
# ----------------------------------------------------------------------------------------------------


def _reject_bool(value: Any) -> Any:
    """pydantic turns `true` into 1 for numeric fields; a boolean where a number belongs is a mistake."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _check_rate(value: float) -> float:
    if not 0.0 <= value <= 1.0:  # also refuses NaN, which compares false with everything
        raise ValueError("must be a rate between 0 and 1, e.g. 0.03 for 3%")
    return value


def _check_growth_rate(value: float) -> float:
    """Year-end actives = round(start × (1 + g)): g ≤ −1 leaves no one (or a negative headcount), and the
    hiring solver's layoff branch handles any g above it; above 1 (more than doubling in a year) is refused
    as a typo for a percentage."""
    if not -1.0 < value <= 1.0:
        raise ValueError(
            "must be greater than -1 and at most 1 (a share of the year-end headcount), e.g. 0.03 for 3% "
            "growth or -0.1 for a 10% reduction"
        )
    return value


def _check_new_hire_termination_rate(value: float) -> float:
    """int_workforce_needs hires ceil(needed / (1 − r)) people so that, after r of them leave, `needed`
    stay: at r = 1 that divides by zero (the model asked for millions of hires and ran until killed)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(
            "must be >= 0 and < 1: the hiring solver divides the hires needed by (1 - this rate), so 1 "
            "would ask for unlimited hires; e.g. 0.25 when a quarter of the year's hires leave that year"
        )
    return value


def _refuse_empty_path(value: Any) -> Any:
    """An empty path is the working directory to pydantic (`Path("")` is `.`): a run directory or database
    would silently land in whatever directory the command was started from."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty (an empty path would mean the current directory); give a path")
    return value


def _absolute(path: Path) -> Path:
    """Absolute and normalised (no `..`), without resolving symlinks; relative means the working directory."""
    return Path(os.path.normpath(Path.cwd() / path.expanduser()))


#: How many years one simulation may span. The dbt project's payroll calendar (`dim_payroll_calendar`)
#: covers start_year − 1 … start_year + 60 and `int_effective_parameters` refuses a year beyond
#: start_year + 59, at compile time, after the parse; the config refuses such an end_year up front.
HORIZON_YEARS = 60

Rate = Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_rate)]
GrowthRate = Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_growth_rate)]
NewHireTerminationRate = Annotated[
    float, BeforeValidator(_reject_bool), AfterValidator(_check_new_hire_termination_rate)
]
Year = Annotated[int, BeforeValidator(_reject_bool), Field(ge=1900, le=2200)]
NonNegativeInt = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
#: A seed is a BIGINT in the database (dim_scenarios.random_seed); the dbt project refuses any other, after
#: its ~35 s parse, so the configuration refuses it first.
Seed = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, lt=2**63)]
AbsolutePath = Annotated[Path, BeforeValidator(_refuse_empty_path), AfterValidator(_absolute)]


class _Section(BaseModel):
    """Every section is immutable and rejects unknown keys, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class _ParameterSection(_Section):
    """A section whose fields are dbt vars: the var name is `DBT_VAR_PREFIX` + the field name."""

    DBT_VAR_PREFIX: ClassVar[str] = ""

    def dbt_vars(self) -> dict[str, Any]:
        """The fields that are set, under their dbt var names, JSON-safe; nested sections recurse."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, _ParameterSection):
                out.update(value.dbt_vars())
            elif isinstance(value, tuple):
                out[f"{self.DBT_VAR_PREFIX}{name}"] = [
                    v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value
                ]
            elif value is not None:
                out[f"{self.DBT_VAR_PREFIX}{name}"] = value
        return out


# ----------------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------------


class SimulationSection(_Section):
    """What to simulate: the years, the seed, the census and the database the run writes."""

    start_year: Year = 2025
    end_year: Year = 2029
    random_seed: Seed = 42
    target_growth_rate: GrowthRate = 0.03
    effective_date: date = date(2024, 12, 31)
    census_path: AbsolutePath = DEFAULT_CENSUS_PATH
    database_path: AbsolutePath = DEFAULT_DATABASE_PATH
    census_max_reject_share: Rate = 0.01

    @field_validator("end_year")
    @classmethod
    def _end_not_before_start(cls, end_year: int, info: ValidationInfo) -> int:
        start_year = info.data.get("start_year")
        if start_year is not None and end_year < start_year:
            raise ValueError(f"must be >= simulation.start_year ({start_year})")
        if start_year is not None and end_year - start_year + 1 > HORIZON_YEARS:
            raise ValueError(
                f"the dbt project simulates at most {HORIZON_YEARS} years from simulation.start_year (its "
                f"payroll calendar dim_payroll_calendar ends there); set end_year to "
                f"{start_year + HORIZON_YEARS - 1} or earlier, or move start_year"
            )
        return end_year


class WorkforceSection(_ParameterSection):
    """Turnover; None means the dbt project's default."""

    total_termination_rate: Rate | None = None
    new_hire_termination_rate: NewHireTerminationRate | None = None
    #: age (reached by December 31) at which an active retires for certain (dbt var retirement_max_age)
    retirement_max_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=18, le=120)] | None = None


class CompensationSection(_ParameterSection):
    """Raises: cost of living for everyone, merit by job level (1 = entry … 5 = executive), both effective on
    the first day of `merit_effective_month`."""

    cola_rate: Rate | None = None
    merit_effective_month: Annotated[int, BeforeValidator(_reject_bool), Field(ge=1, le=12)] | None = None
    merit_rate_level_1: Rate | None = None
    merit_rate_level_2: Rate | None = None
    merit_rate_level_3: Rate | None = None
    merit_rate_level_4: Rate | None = None
    merit_rate_level_5: Rate | None = None


class CoreContributionStep(_Section):
    """One row of an age/service-graded core contribution: `core_rate` of annual plan compensation for an
    employee aged at least `min_age` on December 31 with at least `min_service_years` completed years of
    service. The rate in force is the highest of the rows the employee has reached (0 below every row)."""

    min_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] = 0
    min_service_years: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] = 0
    core_rate: Rate


class ContributionsSection(_ParameterSection):
    """IRS contribution limits: how limits grow beyond the seeded years, and the catch-up age."""

    irs_indexing_rate: Rate | None = None
    catch_up_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] | None = None
    #: employer non-elective (core) contribution, share of plan compensation (dbt var core_contribution_rate)
    core_contribution_rate: Rate | None = None
    #: grade the core rate by age and service instead (dbt var core_contribution_graded; schedule below)
    core_contribution_graded: bool | None = None
    #: the graded rates (dbt var core_contribution_schedule; seed config_core_contribution_schedule), used
    #: only with core_contribution_graded
    core_contribution_schedule: tuple[CoreContributionStep, ...] | None = None
    #: SECURE 2.0 section 603: first plan year whose catch-ups are Roth for those paid above the seed's
    #: roth_catch_up_wage_threshold (config_irs_limits) in the previous year (dbt var
    #: roth_catch_up_start_year)
    roth_catch_up_start_year: Year | None = None
    #: the year's forfeitures reduce that year's employer cost (dbt var forfeitures_offset_employer_cost)
    forfeitures_offset_employer_cost: bool | None = None
    #: the top-paid group election for the HCE determination (dbt var hce_top_paid_group)
    hce_top_paid_group: bool | None = None

    @field_validator("catch_up_age")
    @classmethod
    def _catch_up_age_is_the_law(cls, age: int | None) -> int | None:
        problem = None if age is None else statutory.catch_up_age_problem(age)
        if problem:
            raise ValueError(problem)
        return age

    @field_validator("core_contribution_schedule")
    @classmethod
    def _schedule_rows_distinct(
        cls, steps: tuple[CoreContributionStep, ...] | None
    ) -> tuple[CoreContributionStep, ...] | None:
        if steps is not None:
            if not steps:
                raise ValueError(
                    "list at least one row, e.g. [{min_age: 0, min_service_years: 0, core_rate: 0.03}]"
                )
            keys = [(s.min_age, s.min_service_years) for s in steps]
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                raise ValueError(
                    f"two rows with the same min_age and min_service_years {repeated}: keep one rate per pair"
                )
        return steps


class AutoEnrollmentSection(_ParameterSection):
    """Auto-enrollment of eligible employees who have not enrolled."""

    DBT_VAR_PREFIX: ClassVar[str] = "auto_enrollment_"

    enabled: bool | None = None
    default_deferral_rate: Rate | None = None
    opt_out_rate: Rate | None = None
    #: capped at December 31 by the model; more than a year is a unit mistake (days, not hours)
    window_days: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=366)] | None = None
    #: share of those who stay in who elect their own rate instead of the default (docs/methodology.md)
    default_departure_rate: Rate | None = None
    #: change of opt_out_rate per unit of default rate above 6% (0: opt-outs do not depend on the default)
    opt_out_default_slope: Annotated[float, BeforeValidator(_reject_bool), Field(ge=-10, le=10)] | None = None
    #: issue #23: an eligible automatic contribution arrangement (IRC 414(w)): permissive_withdrawal_share of
    #: the auto-enrolled who stay in withdraw within 90 days (planalign.simulation.plan_types)
    eaca: bool | None = None
    permissive_withdrawal_share: Rate | None = None
    #: issue #23: SECURE 2.0 section 101 (IRC 414A) mandatory automatic enrollment (an EACA, 3-10% rising by
    #: 1 point a year to 10-15%); the exemptions are the user's to judge (docs/methodology.md)
    secure_2_0_mandatory: bool | None = None


class EnrollmentSection(_ParameterSection):
    auto_enrollment: AutoEnrollmentSection = Field(default_factory=AutoEnrollmentSection)
    voluntary_enrollment_rate: Rate | None = None
    #: plan entry (dbt vars eligibility_*): age, months and days of service, entry dates every N months
    #: (0 = immediately on meeting the requirements; 1 monthly, 3 quarterly, 6, 12)
    eligibility_min_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] | None = None
    eligibility_service_months: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] | None = (
        None
    )
    eligibility_service_days: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=3660)] | None = (
        None
    )
    eligibility_entry_frequency_months: Literal[0, 1, 2, 3, 4, 6, 12] | None = None
    #: deferral behaviour (issue #20 item 1, docs/methodology.md): false restores the fixed 3%..15% voluntary
    #: rates, the default kept by every auto-enrolled participant, no escalation opt-out and participation
    #: independent of the match
    deferral_response_enabled: bool | None = None
    #: share of voluntary elections exactly at the match-maximizing rate, and share below it
    deferral_match_threshold_share: Rate | None = None
    deferral_below_match_share: Rate | None = None
    #: voluntary_enrollment_rate is scaled by 1 + sensitivity x (match per dollar at the match-maximizing
    #: rate - reference)
    voluntary_enrollment_match_sensitivity: (
        Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=10)] | None
    ) = None
    voluntary_enrollment_match_reference: (
        Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=10)] | None
    ) = None

    @field_validator("eligibility_min_age")
    @classmethod
    def _age_within_the_law(cls, age: int | None) -> int | None:
        problem = None if age is None else statutory.eligibility_age_problem(age)
        if problem:
            raise ValueError(problem)
        return age

    @model_validator(mode="after")
    def _service_and_entry_within_the_law(self) -> EnrollmentSection:
        """IRC 410(a)(1)(A) and 410(a)(4) on the values a run uses (the seed's for those left unset)."""
        settings = statutory.PlanSettings(
            eligibility_min_age=self.eligibility_min_age,
            eligibility_service_months=self.eligibility_service_months,
            eligibility_service_days=self.eligibility_service_days,
            eligibility_entry_frequency_months=self.eligibility_entry_frequency_months,
        )
        months, days = (
            settings.value("eligibility_service_months"),
            settings.value("eligibility_service_days"),
        )
        problem = statutory.service_problem(months, days) or statutory.entry_problem(
            settings.value("eligibility_entry_frequency_months"),
            settings.value("eligibility_min_age"),
            months,
            days,
        )
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _election_shares_fit(self) -> EnrollmentSection:
        at, below = self.deferral_match_threshold_share, self.deferral_below_match_share
        if at is not None and below is not None and at + below > 1:
            raise ValueError(
                f"deferral_match_threshold_share + deferral_below_match_share is {at + below:g}, more than 1:"
                " they are shares of the same voluntary elections (the rest go above the match-maximizing"
                " rate)"
            )
        return self


class EscalationSection(_ParameterSection):
    """Automatic annual deferral increases: `increment` a year, up to `cap`, starting `delay_years` after
    enrollment."""

    DBT_VAR_PREFIX: ClassVar[str] = "escalation_"

    enabled: bool | None = None
    increment: Rate | None = None
    cap: Rate | None = None
    #: a delay beyond the simulation horizon would never end
    delay_years: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=HORIZON_YEARS)] | None = None
    #: yearly probability, at each increase due, of opting out of escalation for good
    opt_out_rate: Rate | None = None


class MatchTier(_Section):
    """The employer matches `match_rate` of each deferred dollar up to `employee_max` of pay (beyond the
    previous tier's `employee_max`)."""

    employee_max: Rate
    match_rate: Rate


class MatchSection(_ParameterSection):
    """Employer match: the tiers, ascending by `employee_max`, and the overall cap as a share of pay."""

    DBT_VAR_PREFIX: ClassVar[str] = "match_"

    tiers: tuple[MatchTier, ...] | None = None
    cap_rate: Rate | None = None
    #: the match on the plan year's deferrals and pay, the per-pay-period amount plus a year-end true-up
    #: (dbt var match_true_up; the seed's default, true); false: per pay period only
    true_up: bool | None = None

    @field_validator("tiers")
    @classmethod
    def _tiers_ascending(cls, tiers: tuple[MatchTier, ...] | None) -> tuple[MatchTier, ...] | None:
        if tiers is not None:
            bounds = [t.employee_max for t in tiers]
            if any(b <= a for a, b in itertools.pairwise(bounds)):
                raise ValueError(f"tiers must have strictly increasing employee_max (got {bounds})")
        return tiers


class VestingStep(_Section):
    """After `years_of_service` completed years, `vested_share` of the employer money (match, core) is
    the employee's; below the first step nothing is."""

    years_of_service: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=60)]
    vested_share: Rate


class VestingSection(_ParameterSection):
    """The vesting schedule of employer money (dbt var vesting_schedule; seed config_vesting_schedule):
    graded or, with one step, a cliff. Leavers forfeit the unvested part."""

    DBT_VAR_PREFIX: ClassVar[str] = "vesting_"

    schedule: tuple[VestingStep, ...] | None = None
    #: the plan's normal retirement age (dbt var vesting_normal_retirement_age; seed 65): employer money is
    #: fully vested from it (IRC 411(a)); at most 65 (IRC 411(a)(8), planalign.simulation.statutory)
    normal_retirement_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] | None = None
    #: issue #23 item 7: when a leaver's unvested part is forfeited (dbt var vesting_forfeiture_timing, 0/1):
    #: at the distribution of the vested part, in the year of termination (IRC 411(a)(7)(B)), or after five
    #: consecutive one-year breaks in service, in the fifth year after it (IRC 411(a)(6)(C))
    forfeiture_timing: Literal["distribution", "five_year_break"] | None = None

    def dbt_vars(self) -> dict[str, Any]:
        out = {k: v for k, v in super().dbt_vars().items() if k != "vesting_forfeiture_timing"}
        if self.forfeiture_timing is not None:
            out["vesting_forfeiture_timing"] = FORFEITURE_TIMING_CODES[self.forfeiture_timing]
        return out

    @field_validator("schedule")
    @classmethod
    def _schedule_ascending(cls, steps: tuple[VestingStep, ...] | None) -> tuple[VestingStep, ...] | None:
        if steps is not None:
            if not steps:
                raise ValueError("list at least one step, e.g. [{years_of_service: 0, vested_share: 1.0}]")
            years = [s.years_of_service for s in steps]
            shares = [s.vested_share for s in steps]
            if any(b <= a for a, b in itertools.pairwise(years)):
                raise ValueError(f"steps must have strictly increasing years_of_service (got {years})")
            if any(b < a for a, b in itertools.pairwise(shares)):
                raise ValueError(f"vested_share may not fall as service grows (got {shares})")
            problem = statutory.vesting_problem([(s.years_of_service, s.vested_share) for s in steps])
            if problem:
                raise ValueError(problem)
        return steps

    @field_validator("normal_retirement_age")
    @classmethod
    def _retirement_age_within_the_law(cls, age: int | None) -> int | None:
        problem = None if age is None else statutory.normal_retirement_age_problem(age)
        if problem:
            raise ValueError(problem)
        return age


#: issue #23 item 7: the dbt var code of each forfeiture timing and testing method
FORFEITURE_TIMING_CODES: dict[str, int] = {"distribution": 0, "five_year_break": 1}
TESTING_METHOD_CODES: dict[str, int] = {"current_year": 0, "prior_year": 1}


class NondiscriminationSection(_ParameterSection):
    """How the ADP and ACP tests are run (issue #23 item 7): `current_year` compares the HCEs with the NHCEs
    of the same plan year, `prior_year` with the NHCEs of the previous plan year (IRC 401(k)(3)(A),
    401(m)(2)(A); Treas. Reg. 1.401(k)-2(a)(2)(ii)) — dbt var nondiscrimination_testing_method (0/1)."""

    DBT_VAR_PREFIX: ClassVar[str] = "nondiscrimination_"

    testing_method: Literal["current_year", "prior_year"] | None = None

    def dbt_vars(self) -> dict[str, Any]:
        if self.testing_method is None:
            return {}
        return {"nondiscrimination_testing_method": TESTING_METHOD_CODES[self.testing_method]}


#: issue #23: the safe-harbor plan designs (IRC 401(k)(12), 401(m)(11)) and the dbt var code of each
SAFE_HARBOR_CODES: dict[str, int] = {"none": 0, "basic_match": 1, "enhanced_match": 2, "nonelective": 3}
#: what each design fixes in the plan: the match formula (100% of 3% + 50% of the next 2%, or 100% of 4%),
#: or a 3% non-elective contribution; every safe-harbor contribution is 100% vested (401(k)(12)(E)(i)),
#: modelled as immediate vesting of all employer money
SAFE_HARBOR_PLAN: dict[str, dict[str, Any]] = {
    "basic_match": {
        "match": {
            "tiers": ({"employee_max": 0.03, "match_rate": 1.0}, {"employee_max": 0.05, "match_rate": 0.5}),
            "cap_rate": 0.04,
        }
    },
    "enhanced_match": {"match": {"tiers": ({"employee_max": 0.04, "match_rate": 1.0},), "cap_rate": 0.04}},
    "nonelective": {"contributions": {"core_contribution_rate": 0.03}},
}
IMMEDIATE_VESTING = ({"years_of_service": 0, "vested_share": 1.0},)


class SafeHarborSection(_ParameterSection):
    """The plan design (issue #23): `none`, or a safe-harbor design whose contributions are fully vested and
    which is deemed to pass the ADP test (and the ACP test, for the two match designs) — dbt var
    safe_harbor_type (0-3). Choosing one fills match / core / vesting (SimulationConfig)."""

    DBT_VAR_PREFIX: ClassVar[str] = "safe_harbor_"

    type: Literal["none", "basic_match", "enhanced_match", "nonelective"] | None = None
    #: issue #23: the design is a qualified automatic contribution arrangement (IRC 401(k)(13)): the QACA
    #: match or 3% non-elective, a 2-year cliff, and automatic enrollment the law bounds (plan_types)
    qaca: bool | None = None

    @model_validator(mode="after")
    def _qaca_has_a_design(self) -> SafeHarborSection:
        if self.qaca and self.type in (None, "none"):
            raise ValueError(
                "qaca: true needs a safe-harbor design (type: basic_match, enhanced_match or nonelective): a "
                "QACA makes the QACA match or the 3% non-elective contribution (IRC 401(k)(13)(D))"
            )
        return self

    def dbt_vars(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.type is None else {"safe_harbor_type": SAFE_HARBOR_CODES[self.type]}
        if self.qaca is not None:
            out["safe_harbor_qaca"] = self.qaca
        return out


def _safe_harbor_plan(data: Any) -> Any:
    """Fill the match, core and vesting a safe-harbor design fixes. They replace what the file sets (the
    shipped file spells out every parameter); `planalign validate` warns about each value replaced
    (config_review.safe_harbor_findings)."""
    if not isinstance(data, dict):
        return data
    section = data.get("safe_harbor")
    design = section.get("type") if isinstance(section, dict) else getattr(section, "type", None)
    qaca = section.get("qaca") if isinstance(section, dict) else getattr(section, "qaca", None)
    if design not in SAFE_HARBOR_PLAN:
        return data
    data = dict(data)
    for section_name, values in safe_harbor_settings(design, qaca=_is_true(qaca)).items():
        given = data.get(section_name) or {}
        given = dict(given) if isinstance(given, dict) else given.model_dump(exclude_none=True)
        data[section_name] = {**given, **values}
    return data


def _is_true(value: Any) -> bool:
    """A raw value (a YAML bool, or an environment variable's text) that the bool field will read as true; an
    invalid one is left to the field's own validation."""
    try:
        return TypeAdapter(bool).validate_python(value) is True
    except ValidationError:
        return False


def safe_harbor_settings(design: str, *, qaca: bool = False) -> dict[str, dict[str, Any]]:
    """The settings a safe-harbor design fixes, by section: a QACA's (plan_types.QACA_PLAN, a 2-year cliff)
    or a traditional one's (immediate vesting)."""
    if qaca:
        return {**plan_types.QACA_PLAN[design], "vesting": {"schedule": plan_types.QACA_VESTING}}
    return {**SAFE_HARBOR_PLAN[design], "vesting": {"schedule": IMMEDIATE_VESTING}}


def _check_expected_return(value: float) -> float:
    """An annual return above -100% and at most 50%: 7 for 7% is a percentage typed as a number."""
    if not -1.0 < value <= 0.5:
        raise ValueError("must be an annual return above -1 and at most 0.5, e.g. 0.064 for 6.4%")
    return value


def _check_volatility(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a standard deviation between 0 and 1, e.g. 0.10 for 10%")
    return value


Money = Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=1_000_000_000)]


class AccountBalancesSection(_ParameterSection):
    """Participant account balances (fct_account_balances, issue #20; docs/methodology.md): investment
    returns and what leavers do with their money. None means the seed config_account_balance_parameters'
    value (the dbt var is `account_balances_` + the field)."""

    DBT_VAR_PREFIX: ClassVar[str] = "account_balances_"

    #: false: fct_account_balances is built empty (no other table reads it)
    enabled: bool | None = None
    #: mean annual return (default 0.064: J.P. Morgan LTCMA 2025/2026, USD 60/40)
    expected_return: (
        Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_expected_return)] | None
    ) = None
    #: standard deviation of the annual return (default 0.10), drawn once per seed and year
    return_volatility: (
        Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_volatility)] | None
    ) = None
    #: true: every year earns exactly expected_return
    deterministic_returns: bool | None = None
    #: false: every leaver's vested balance stays in the plan
    distributions_enabled: bool | None = None
    #: vested balances up to this are cashed out (default 1000, IRC 401(a)(31)(B))
    cash_out_limit: Money | None = None
    #: vested balances up to this leave the plan without consent (default 7000, SECURE 2.0 section 304)
    involuntary_limit: Money | None = None
    #: share of forced distributions between the two limits taken in cash (the rest rolled over)
    small_cash_out_share: Rate | None = None
    #: above the involuntary limit: shares taking cash and rolling over (the rest stay in the plan)
    cash_out_share: Rate | None = None
    rollover_share: Rate | None = None
    #: true: the top-heavy test uses these balances (nondiscrimination_results); false (default): today's
    top_heavy: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AccountBalancesSection:
        if (self.cash_out_share or 0.0) + (self.rollover_share or 0.0) > 1.0:
            raise ValueError("cash_out_share + rollover_share must be at most 1 (the rest stay in the plan)")
        if (
            self.cash_out_limit is not None
            and self.involuntary_limit is not None
            and self.cash_out_limit > self.involuntary_limit
        ):
            raise ValueError("cash_out_limit must not be above involuntary_limit")
        return self


class DbtSection(_Section):
    """Where the dbt project and its profiles live; `profiles_dir` defaults to `project_dir`. `profile` is
    dbt's `--profile`: the profiles.yml entry to use instead of the one dbt_project.yml names (None)."""

    project_dir: AbsolutePath = DEFAULT_DBT_PROJECT_DIR
    profiles_dir: AbsolutePath = DEFAULT_DBT_PROJECT_DIR
    profile: str | None = None
    target: str = "duckdb"

    @model_validator(mode="before")
    @classmethod
    def _profiles_default_to_project(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("profiles_dir") is None:
            data = {**data, "profiles_dir": data.get("project_dir", DEFAULT_DBT_PROJECT_DIR)}
        return data


class SafetySettings(_Section):
    """`orchestrator.threading.model_parallelization.safety`, exactly the specification's table."""

    fallback_on_resource_pressure: bool = True
    validate_execution_safety: bool = True
    abort_on_dependency_conflict: bool = True
    max_retries_per_model: NonNegativeInt = 2
    #: Ours, not the specification's: how long one model may run before it is interrupted and fails (not
    #: retried), so that no query runs unbounded.
    model_timeout_seconds: Annotated[float, BeforeValidator(_reject_bool), Field(gt=0)] = 1800.0


class ModelParallelizationSettings(_Section):
    """`orchestrator.threading.model_parallelization`: the specification's table (off by default), plus
    `models_per_invocation`, ours: the largest batch of models one dbt invocation runs (1: one model per
    invocation, as the specification's predecessor did)."""

    enabled: bool = False
    max_workers: Annotated[int, BeforeValidator(_reject_bool), Field(ge=1)] = 4
    memory_limit_mb: Annotated[float, BeforeValidator(_reject_bool), Field(gt=0)] = 4000.0
    enable_conditional_parallelization: bool = False
    deterministic_execution: bool = True
    resource_monitoring: bool = True
    models_per_invocation: Annotated[int, BeforeValidator(_reject_bool), Field(ge=1)] = 64
    #: Ours: "auto" — `max_workers` is the upper bound and the workers that pay on this machine run
    #: (`planalign.dbt.workers`: embedded DuckDB, one worker per 2 cores); "fixed" — exactly `max_workers`
    #: (what `simulate --workers N` sets).
    worker_rule: Literal["auto", "fixed"] = "auto"
    safety: SafetySettings = Field(default_factory=SafetySettings)

    @property
    def worker_choice(self) -> WorkerChoice:
        """The workers configured and those the engine really uses, and why in words: 1 when
        parallelization is disabled, else `planalign.dbt.workers.choose_workers` for the simulation's
        embedded DuckDB (an explicit `worker_rule: fixed` wins)."""
        from planalign.dbt.workers import WorkerChoice, choose_workers

        if not self.enabled:
            return WorkerChoice(self.max_workers, 1, "1 worker: model parallelization is disabled")
        return choose_workers(self.max_workers, adapter_type="duckdb", explicit=self.worker_rule == "fixed")

    @property
    def effective_max_workers(self) -> int:
        """The workers the engine really uses (`worker_choice`). The one place this rule lives; the engine,
        plans, summaries and the CLI all read it."""
        return self.worker_choice.effective


class ThreadingSection(_Section):
    model_parallelization: ModelParallelizationSettings = Field(default_factory=ModelParallelizationSettings)


class OrchestratorSection(_Section):
    threading: ThreadingSection = Field(default_factory=ThreadingSection)


class RunSection(_Section):
    """How a run reports itself: where run directories go, log format, verbosity."""

    runs_dir: AbsolutePath = DEFAULT_RUNS_DIR
    log_format: Literal["console", "json"] = "console"
    verbose: bool = False


class ReportSection(_Section):
    """The words a report carries when the command line does not give them (`--title`, `--client`,
    `--prepared-by` win): set once for a team's runs. Each is one line of printable text
    (`planalign.simulation.run_labels.check_label`). Not a dbt var: never part of a run's results."""

    title: str | None = None
    client: str | None = None
    prepared_by: str | None = None

    @field_validator("title", "client", "prepared_by", mode="before")
    @classmethod
    def _one_line_of_text(cls, value: Any) -> Any:
        if value is None:
            return None
        problem = label_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()

    def labels(self) -> ReportLabels:
        return ReportLabels(title=self.title, client=self.client, prepared_by=self.prepared_by)


class ValueOrigins(dict[str, str]):
    """Where each value of a configuration was set. Not part of the configuration's identity: two
    configurations with the same values are equal (and hash alike) wherever their values came from, so this
    mapping compares equal to any other."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # a dict; never hashed (pydantic hashes fields only)


class SimulationConfig(BaseSettings):
    """The whole validated configuration. Build it with `load_simulation_config`, which layers the file,
    the environment and overrides; constructing it directly reads only the environment and code defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    _origins: ValueOrigins = PrivateAttr(default_factory=lambda: ValueOrigins())
    """Dotted key -> where its value was set ("file", "environment", "flag", "override"); kept by the loader
    so that the run report can say truthfully where each assumption came from (`origin_of`)."""

    simulation: SimulationSection = Field(default_factory=SimulationSection)
    workforce: WorkforceSection = Field(default_factory=WorkforceSection)
    compensation: CompensationSection = Field(default_factory=CompensationSection)
    enrollment: EnrollmentSection = Field(default_factory=EnrollmentSection)
    escalation: EscalationSection = Field(default_factory=EscalationSection)
    match: MatchSection = Field(default_factory=MatchSection)
    vesting: VestingSection = Field(default_factory=VestingSection)
    safe_harbor: SafeHarborSection = Field(default_factory=SafeHarborSection)
    nondiscrimination: NondiscriminationSection = Field(default_factory=NondiscriminationSection)
    contributions: ContributionsSection = Field(default_factory=ContributionsSection)
    account_balances: AccountBalancesSection = Field(default_factory=AccountBalancesSection)
    dbt: DbtSection = Field(default_factory=DbtSection)
    orchestrator: OrchestratorSection = Field(default_factory=OrchestratorSection)
    run: RunSection = Field(default_factory=RunSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @model_validator(mode="before")
    @classmethod
    def _fill_the_safe_harbor_plan(cls, data: Any) -> Any:
        return _safe_harbor_plan(data)

    @property
    def model_parallelization(self) -> ModelParallelizationSettings:
        """Shortcut for `orchestrator.threading.model_parallelization`."""
        return self.orchestrator.threading.model_parallelization

    @property
    def years(self) -> range:
        """The simulated years, start to end inclusive."""
        return range(self.simulation.start_year, self.simulation.end_year + 1)

    def engine_settings(self) -> EngineSettings:
        """The engine's settings from `orchestrator.threading.model_parallelization`. With parallelization
        disabled the same engine runs with one worker (deterministic topological order)."""
        from planalign.engine.runner import EngineSettings

        mp = self.model_parallelization
        return EngineSettings(
            max_workers=mp.effective_max_workers,
            memory_limit_mb=mp.memory_limit_mb,
            enable_conditional_parallelization=mp.enable_conditional_parallelization,
            deterministic_execution=mp.deterministic_execution,
            resource_monitoring=mp.resource_monitoring,
            fallback_on_resource_pressure=mp.safety.fallback_on_resource_pressure,
            validate_execution_safety=mp.safety.validate_execution_safety,
            abort_on_dependency_conflict=mp.safety.abort_on_dependency_conflict,
            max_retries_per_model=mp.safety.max_retries_per_model,
            model_timeout_seconds=mp.safety.model_timeout_seconds,
            models_per_invocation=mp.models_per_invocation,
        )

    def plan_type_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Where the automatic enrollment breaks the law of the plan types selected (QACA, EACA, SECURE 2.0
        section 101), as (key path, message); `config_loading.build_config` refuses the configuration."""
        auto = self.enrollment.auto_enrollment
        return plan_types.problems(
            self.parameter_vars(),
            qaca=self.safe_harbor.qaca is True,
            eaca=auto.eaca is True,
            mandatory=auto.secure_2_0_mandatory is True,
        )

    def parameter_vars(self) -> dict[str, Any]:
        """Every parameter that is set, under its dbt var name (no per-year or per-run vars)."""
        out: dict[str, Any] = {
            "target_growth_rate": self.simulation.target_growth_rate,
            "census_max_reject_share": self.simulation.census_max_reject_share,
        }
        sections: tuple[_ParameterSection, ...] = (
            self.workforce,
            self.compensation,
            self.enrollment,
            self.escalation,
            self.match,
            self.contributions,
            self.vesting,
            self.account_balances,
            self.safe_harbor,
            self.nondiscrimination,
        )
        for section in sections:
            out.update(section.dbt_vars())
        return out

    def dbt_vars(self, year: int) -> dict[str, Any]:
        """The `--vars` for building `year`: run identity (years, seed, census, database) plus every parameter
        that is set. JSON-safe (paths and dates as strings)."""
        sim = self.simulation
        if year not in self.years:
            raise SimulationYearError(
                f"year {year} is outside the configured simulation "
                f"{sim.start_year}-{sim.end_year}; set simulation.start_year/end_year to include it"
            )
        return {
            "simulation_year": year,
            "start_year": sim.start_year,
            "random_seed": sim.random_seed,
            "effective_date": sim.effective_date.isoformat(),
            "census_path": str(sim.census_path),
            "database_path": str(sim.database_path),
            **self.parameter_vars(),
        }

    def origin_of(self, key: str) -> str:
        """Where the value of the dotted `key` came from: "file" (the YAML file), "environment" (a
        `PLANALIGN_*` variable), "flag" (a command-line flag or `load_simulation_config`'s overrides),
        "override" (`config_loading.apply_overrides`: a scenario's design, an API caller) or "default" (the
        code's)."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            origin = self._origins.get(".".join(parts[:end]))
            if origin is not None:
                return origin
        return "default"

    def snapshot(self) -> dict[str, Any]:
        """The resolved configuration as JSON-safe data, for the run directory's `config.json`."""
        return self.model_dump(mode="json")

    def results_digest(self, extra_vars: Mapping[str, Any] | None = None) -> str:
        """What determines a simulation's results — every dbt var except the year and the database, plus
        the census file's bytes — as a hash recorded with each completed year: building years under another
        one would mix two simulations (`planalign.simulation.year_plan`). Reads the census file.
        `extra_vars`: the vars a run adds to the configuration's (`planalign.simulation.build.ExtraVars`,
        e.g. a sweep's scenarios), which determine its results too."""
        vars_ = {**self.dbt_vars(self.simulation.start_year), **(extra_vars or {})}
        for volatile in ("simulation_year", "database_path", "census_path"):
            vars_.pop(volatile, None)
        digest = hashlib.sha256(json.dumps(vars_, sort_keys=True, default=str).encode())
        digest.update(Path(self.simulation.census_path).read_bytes())
        return digest.hexdigest()[:16]

    def digest(self) -> str:
        """A short stable hash of the whole resolved configuration (paths and settings included), to tell
        runs of different configs apart: the suffix of every run id. Not `results_digest`: two runs with
        different worker counts have different digests and the same results."""
        canonical = json.dumps(self.snapshot(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]
