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

Loading never writes anything. Every problem found is reported at once in one `ConfigError`, one line per
problem, as `<where>: <dotted.key>: <what is wrong and how to fix it>`.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

from planalign.errors import ConfigError, SimulationYearError

if TYPE_CHECKING:
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
    random_seed: NonNegativeInt = 42
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


class ContributionsSection(_ParameterSection):
    """IRS contribution limits: how limits grow beyond the seeded years, and the catch-up age."""

    irs_indexing_rate: Rate | None = None
    catch_up_age: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=120)] | None = None
    #: employer non-elective (core) contribution, share of plan compensation (dbt var core_contribution_rate)
    core_contribution_rate: Rate | None = None
    #: the year's forfeitures reduce that year's employer cost (dbt var forfeitures_offset_employer_cost)
    forfeitures_offset_employer_cost: bool | None = None
    #: the top-paid group election for the HCE determination (dbt var hce_top_paid_group)
    hce_top_paid_group: bool | None = None


class AutoEnrollmentSection(_ParameterSection):
    """Auto-enrollment of eligible employees who have not enrolled."""

    DBT_VAR_PREFIX: ClassVar[str] = "auto_enrollment_"

    enabled: bool | None = None
    default_deferral_rate: Rate | None = None
    opt_out_rate: Rate | None = None
    #: capped at December 31 by the model; more than a year is a unit mistake (days, not hours)
    window_days: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=366)] | None = None


class EnrollmentSection(_ParameterSection):
    auto_enrollment: AutoEnrollmentSection = Field(default_factory=AutoEnrollmentSection)
    voluntary_enrollment_rate: Rate | None = None


class EscalationSection(_ParameterSection):
    """Automatic annual deferral increases: `increment` a year, up to `cap`, starting `delay_years` after
    enrollment."""

    DBT_VAR_PREFIX: ClassVar[str] = "escalation_"

    enabled: bool | None = None
    increment: Rate | None = None
    cap: Rate | None = None
    #: a delay beyond the simulation horizon would never end
    delay_years: Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=HORIZON_YEARS)] | None = None


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

    @field_validator("tiers")
    @classmethod
    def _tiers_ascending(cls, tiers: tuple[MatchTier, ...] | None) -> tuple[MatchTier, ...] | None:
        if tiers is not None:
            bounds = [t.employee_max for t in tiers]
            if any(b <= a for a, b in itertools.pairwise(bounds)):
                raise ValueError(f"tiers must have strictly increasing employee_max (got {bounds})")
        return tiers


class DbtSection(_Section):
    """Where the dbt project and its profiles live; `profiles_dir` defaults to `project_dir`."""

    project_dir: AbsolutePath = DEFAULT_DBT_PROJECT_DIR
    profiles_dir: AbsolutePath = DEFAULT_DBT_PROJECT_DIR
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
    safety: SafetySettings = Field(default_factory=SafetySettings)

    @property
    def effective_max_workers(self) -> int:
        """The workers the engine really uses: `max_workers` when parallelization is enabled, else 1. The one
        place this rule lives; the engine, plans, summaries and the CLI all read it."""
        return self.max_workers if self.enabled else 1


class ThreadingSection(_Section):
    model_parallelization: ModelParallelizationSettings = Field(default_factory=ModelParallelizationSettings)


class OrchestratorSection(_Section):
    threading: ThreadingSection = Field(default_factory=ThreadingSection)


class RunSection(_Section):
    """How a run reports itself: where run directories go, log format, verbosity."""

    runs_dir: AbsolutePath = DEFAULT_RUNS_DIR
    log_format: Literal["console", "json"] = "console"
    verbose: bool = False


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

    simulation: SimulationSection = Field(default_factory=SimulationSection)
    workforce: WorkforceSection = Field(default_factory=WorkforceSection)
    compensation: CompensationSection = Field(default_factory=CompensationSection)
    enrollment: EnrollmentSection = Field(default_factory=EnrollmentSection)
    escalation: EscalationSection = Field(default_factory=EscalationSection)
    match: MatchSection = Field(default_factory=MatchSection)
    contributions: ContributionsSection = Field(default_factory=ContributionsSection)
    dbt: DbtSection = Field(default_factory=DbtSection)
    orchestrator: OrchestratorSection = Field(default_factory=OrchestratorSection)
    run: RunSection = Field(default_factory=RunSection)

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

    def with_overrides(self, overrides: Mapping[str, Any], *, check_files: bool = False) -> SimulationConfig:
        """A copy with `overrides` applied (nested or dotted keys, None skipped, relative paths against the
        working directory), validated like `load_simulation_config`'s overrides layer. `check_files` is off
        by default: the census was checked, if at all, when this config was loaded."""
        layer = _normalise_overrides(overrides)
        _anchor_paths(layer, Path.cwd())
        if not layer:
            return self
        current = self.model_dump()
        if self.dbt.profiles_dir == self.dbt.project_dir and _get_dotted(layer, "dbt.profiles_dir") is None:
            del current["dbt"]["profiles_dir"]  # it was following project_dir; keep following it
        return _build(
            [(current, "configuration"), (layer, _OVERRIDE_ORIGIN)],
            fallback_label="configuration",
            check_files=check_files,
        )

    def snapshot(self) -> dict[str, Any]:
        """The resolved configuration as JSON-safe data, for the run directory's `config.json`."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A short stable hash of the resolved configuration, to tell runs of different configs apart."""
        canonical = json.dumps(self.snapshot(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------------------------------
# Review: what `planalign validate` reports beyond "the file is valid"
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFinding:
    """One observation about a valid configuration. `error` means a run would fail; `warning` means it would
    run but probably not as intended; `info` is worth knowing."""

    severity: Literal["error", "warning", "info"]
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.key}: {self.message}"


def review_config(
    config: SimulationConfig, *, cpu_count: int | None = None, total_memory_mb: float | None = None
) -> list[ConfigFinding]:
    """Checks that need the machine or several keys at once, for `planalign validate`.

    Loading already rejects invalid values; this finds what is valid but will fail (no dbt project where
    `dbt.project_dir` points, no directory for the database) or will surprise (more workers than cores, a
    memory limit above physical memory, an escalation cap below the auto-enrollment rate). `cpu_count` and
    `total_memory_mb` default to this machine's. Reads the filesystem, writes nothing.
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if total_memory_mb is None:
        import psutil

        total_memory_mb = psutil.virtual_memory().total / (1024 * 1024)
    found: list[ConfigFinding] = []
    add = found.append

    dbt = config.dbt
    if not (dbt.project_dir / "dbt_project.yml").is_file():
        add(ConfigFinding("error", "dbt.project_dir", f"no dbt_project.yml in {dbt.project_dir}"))
    if not (dbt.profiles_dir / "profiles.yml").is_file():
        add(ConfigFinding("error", "dbt.profiles_dir", f"no profiles.yml in {dbt.profiles_dir}"))
    database_dir = config.simulation.database_path.parent
    if not database_dir.is_dir():
        add(
            ConfigFinding(
                "error",
                "simulation.database_path",
                f"directory {database_dir} does not exist; create it or choose another path",
            )
        )
    if config.simulation.effective_date.year >= config.simulation.start_year:
        add(
            ConfigFinding(
                "warning",
                "simulation.effective_date",
                f"the census date {config.simulation.effective_date} is not before the first simulated year "
                f"{config.simulation.start_year}",
            )
        )

    mp = config.model_parallelization
    key = "orchestrator.threading.model_parallelization"
    if not mp.enabled:
        add(
            ConfigFinding(
                "info", f"{key}.enabled", "parallelization is off: every stage runs with one worker"
            )
        )
    else:
        if mp.max_workers > cores:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.max_workers",
                    f"{mp.max_workers} workers on {cores} CPU cores; more workers than cores rarely helps",
                )
            )
        if mp.memory_limit_mb > total_memory_mb:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.memory_limit_mb",
                    f"{mp.memory_limit_mb:.0f} MB is more than this machine's {total_memory_mb:.0f} MB, "
                    "so the limit never protects it",
                )
            )
        if not mp.resource_monitoring:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.resource_monitoring",
                    "off: memory_limit_mb is not enforced while models run in parallel",
                )
            )
        if not mp.deterministic_execution:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.deterministic_execution",
                    "off: results may depend on the order in which parallel models finish",
                )
            )

    esc, auto = config.escalation, config.enrollment.auto_enrollment
    if esc.enabled is not False and esc.cap is not None:
        if esc.increment is not None and esc.cap < esc.increment:
            add(ConfigFinding("warning", "escalation.cap", f"{esc.cap} is below escalation.increment"))
        initial = auto.default_deferral_rate if auto.enabled is not False else None
        if initial is not None and esc.cap < initial:
            add(
                ConfigFinding(
                    "warning",
                    "escalation.cap",
                    f"{esc.cap} is below enrollment.auto_enrollment.default_deferral_rate "
                    f"({initial}), so auto-enrolled participants never escalate",
                )
            )
    return found


# ----------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------

_DEFAULTS_ORIGIN = "defaults"
_ENV_ORIGIN = "environment"
_OVERRIDE_ORIGIN = "override"


def load_simulation_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    check_files: bool = True,
) -> SimulationConfig:
    """Load and validate the configuration: code defaults < `path` (YAML) < `PLANALIGN_*` env < `overrides`.

    `overrides` is a nested mapping or dotted keys (`{"simulation.end_year": 2027}`); None values are skipped
    so a CLI can pass every flag whether or not the user gave it. With `check_files` (the default) the census
    file must exist; `plan`/`info`-style commands that read no data may pass False.

    Raises `ConfigError` listing every problem; never writes anything.
    """
    file_label = str(path) if path is not None else None
    file_layer: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        config_path = Path(path).expanduser()
        file_layer = _read_yaml(config_path, file_label or str(config_path))
        base_dir = config_path.absolute().parent

    cwd = Path.cwd()
    _drop_empty_sections(file_layer, ())
    _anchor_paths(file_layer, base_dir)
    for key, default in PATH_KEYS.items():
        if default is not None and _get_dotted(file_layer, key) is None:
            _set_dotted(file_layer, key, _join(base_dir, default))

    env_layer, env_problems = _read_env()
    _anchor_paths(env_layer, cwd)
    override_layer = _normalise_overrides(overrides or {})
    _anchor_paths(override_layer, cwd)

    return _build(
        [
            (file_layer, file_label or _DEFAULTS_ORIGIN),
            (env_layer, _ENV_ORIGIN),
            (override_layer, _OVERRIDE_ORIGIN),
        ],
        fallback_label=file_label or "configuration",
        check_files=check_files,
        problems=env_problems,
    )


def _build(
    layers: list[tuple[dict[str, Any], str]],
    *,
    fallback_label: str,
    check_files: bool,
    problems: list[str] | None = None,
) -> SimulationConfig:
    """Merge the layers (later wins), validate, and turn every problem (with `problems` found before, such
    as unknown environment variables) into one line of one ConfigError."""
    origins: dict[tuple[str, ...], str] = {}
    merged: dict[str, Any] = {}
    for layer, origin in layers:
        _deep_merge(merged, layer, origin, origins, ())

    problems = list(problems or [])
    config: SimulationConfig | None = None
    try:
        config = SimulationConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_describe_error(err, origins, fallback_label) for err in exc.errors())

    if check_files:
        census = _get_dotted(merged, "simulation.census_path")
        if isinstance(census, str | Path) and not Path(census).is_file():
            where = _origin_of(("simulation", "census_path"), origins, fallback_label)
            found = "is a directory, not a census file" if Path(census).is_dir() else "census file not found"
            problems.append(
                f"{where}: simulation.census_path: {found}: {census} "
                "(generate one with `python -m planalign census` or point simulation.census_path at yours)"
            )

    if problems or config is None:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
    return config


def _drop_empty_sections(layer: dict[str, Any], loc: tuple[str, ...]) -> None:
    """`section:` with everything under it commented out is YAML null; read it as "all defaults"."""
    for key in list(layer):
        value = layer[key]
        if isinstance(value, dict):
            _drop_empty_sections(value, (*loc, str(key)))
        elif value is None and _model_at((*loc, str(key))) is not None:
            del layer[key]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping. Plain YAML keeps the last one silently, so a
    second `orchestrator:` block pasted from the specification would erase the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in the same mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        """PyYAML reads `2024-13-45` as a date and lets `datetime.date`'s ValueError escape as a traceback;
        say where it is and what a date looks like instead."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} is not a real date ({exc}); write dates as YYYY-MM-DD",
                node.start_mark,
            ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_checked_timestamp)


def _read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: config file not found (looked at {path.absolute()})") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read config file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise ValueError("it contains NUL bytes")
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise ConfigError(
            f"{label}: not a YAML text file ({exc}); --config must name a UTF-8 YAML file such as "
            "simulation_config.yaml"
        ) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{label}: {where}invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}: the top level must be a mapping of sections (simulation:, orchestrator:, ...), "
            f"got {type(data).__name__}"
        )
    return data


#: `PLANALIGN_*` variables that are not configuration: they belong to the test tooling (the report's browser
#: test). Every other `PLANALIGN_*` name must be a configuration key, so a typo cannot pass unnoticed.
NON_CONFIG_ENV: frozenset[str] = frozenset({"PLANALIGN_CHROMIUM", "PLANALIGN_REPORT_SCREENSHOT"})

#: The variable the shipped dbt profile reads for plain `dbt` runs; planalign honours it as
#: `simulation.database_path` so that one variable picks the database for both.
DATABASE_ENV_ALIAS = "PLANALIGN_DATABASE_PATH"


def env_names() -> dict[str, str]:
    """Every environment variable name the configuration reads, to its dotted key: one per leaf field
    (`PLANALIGN_SIMULATION__END_YEAR` → `simulation.end_year`) and one per section (a JSON object)."""
    names: dict[str, str] = {}

    def walk(model: type[BaseModel], loc: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            here = (*loc, name)
            names[ENV_PREFIX + ENV_NESTED_DELIMITER.join(p.upper() for p in here)] = ".".join(here)
            sub = _model_in(field.annotation)
            if sub is not None and sub is not MatchTier:  # match tiers are a list: one JSON variable
                walk(sub, here)

    walk(SimulationConfig, ())
    return names


def _check_env_names(environ: Mapping[str, str]) -> list[str]:
    """One problem per `PLANALIGN_*` variable that configures nothing: pydantic-settings ignores a name
    that starts with no known section silently, so `PLANALIGN_SIMULATION_DATABASE_PATH` (one underscore)
    would run against the default database without a word. (An unknown key inside a known section reaches
    validation, which names it.)"""
    known = env_names()
    problems: list[str] = []
    for raw_name in sorted(environ):
        name = raw_name.upper()
        if not name.startswith(ENV_PREFIX) or name in NON_CONFIG_ENV or name == DATABASE_ENV_ALIAS:
            continue
        section = name.removeprefix(ENV_PREFIX).split(ENV_NESTED_DELIMITER)[0].lower()
        if section in SimulationConfig.model_fields:
            continue
        flat = {key.replace(ENV_NESTED_DELIMITER, "_"): key for key in known}
        if name in flat:
            hint = f"levels are separated by two underscores: use {flat[name]}"
        else:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else (
                    f"configuration variables are {ENV_PREFIX}<SECTION>{ENV_NESTED_DELIMITER}<KEY>, e.g. "
                    f"{ENV_PREFIX}SIMULATION{ENV_NESTED_DELIMITER}END_YEAR; unset it"
                )
            )
        problems.append(f"{_ENV_ORIGIN} {raw_name}: unknown configuration variable; {hint}")
    return problems


def _read_env() -> tuple[dict[str, Any], list[str]]:
    """The `PLANALIGN_*` variables as a nested mapping, parsed by pydantic-settings' own env source, with
    `PLANALIGN_DATABASE_PATH` resolved; and the problems with the names (reported with the others)."""
    environ = {name.upper(): value for name, value in os.environ.items()}
    problems = _check_env_names(environ)
    alias = environ.get(DATABASE_ENV_ALIAS)
    canonical_name = f"{ENV_PREFIX}SIMULATION{ENV_NESTED_DELIMITER}DATABASE_PATH"
    canonical = environ.get(canonical_name)
    if alias is not None and canonical is not None and alias != canonical:
        problems.append(
            f"{_ENV_ORIGIN}: {DATABASE_ENV_ALIAS}={alias!r} and {canonical_name}={canonical!r} name two "
            "different databases; give one of them"
        )
    try:
        layer = dict(EnvSettingsSource(SimulationConfig)())
    except SettingsError as exc:
        raise ConfigError(f"{_ENV_ORIGIN}: {exc}") from None
    if alias is not None and canonical is None:
        simulation = layer.get("simulation")
        section = dict(simulation) if isinstance(simulation, Mapping) else {}
        section["database_path"] = alias
        layer["simulation"] = section
    return layer, problems


def _normalise_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted and nested keys into one fresh nested dict (the caller's mappings are never modified); None
    values, and mappings that hold only None, are dropped."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            value = _normalise_overrides(value)
            if not value:
                continue
        elif value is None:
            continue
        nested: Any = value
        for part in reversed(str(key).split(".")):
            nested = {part: nested}
        _deep_merge(out, nested, _OVERRIDE_ORIGIN, {}, ())
    return out


def _deep_merge(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    origin: str,
    origins: dict[tuple[str, ...], str],
    prefix: tuple[str, ...],
) -> None:
    for key, value in layer.items():
        loc = (*prefix, str(key))
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value, origin, origins, loc)
        else:
            target[key] = _copy_mappings(value)
            for stale in [k for k in origins if k[: len(loc)] == loc]:
                del origins[stale]
            _record_origins(value, origin, origins, loc)


def _copy_mappings(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy_mappings(v) for k, v in value.items()}
    return value


def _record_origins(
    value: Any, origin: str, origins: dict[tuple[str, ...], str], loc: tuple[str, ...]
) -> None:
    origins[loc] = origin
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _record_origins(sub, origin, origins, (*loc, str(key)))


def _get_dotted(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key, creating missing sections; a non-mapping in the way is left for validation."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = child
    node[parts[-1]] = value


def _join(base: Path, value: str | Path) -> str:
    return os.path.normpath(base / Path(value).expanduser())


def _anchor_paths(layer: dict[str, Any], base: Path) -> None:
    """Make the layer's path values absolute against `base`; non-path junk is left for validation to name."""
    for key in PATH_KEYS:
        value = _get_dotted(layer, key)
        if isinstance(value, str | Path) and str(value).strip():
            _set_dotted(layer, key, _join(base, value))


# ----------------------------------------------------------------------------------------------------
# Error messages
# ----------------------------------------------------------------------------------------------------


def _describe_error(err: Mapping[str, Any], origins: Mapping[tuple[str, ...], str], fallback: str) -> str:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    key = _dotted(loc)
    where = _origin_of(tuple(str(p) for p in loc), origins, fallback)
    if where == _ENV_ORIGIN:
        where = f"{_ENV_ORIGIN} {ENV_PREFIX}{ENV_NESTED_DELIMITER.join(str(p).upper() for p in loc)}"
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = f" (got {_show(err.get('input'))})"
    if kind == "extra_forbidden":
        return f"{where}: {key}: unknown key{_suggestion(loc)}"
    if kind == "missing":
        return f"{where}: {key}: required key is missing"
    if kind == "greater_than_equal":
        return f"{where}: {key}: must be >= {ctx['ge']}{got}"
    if kind == "greater_than":
        return f"{where}: {key}: must be > {ctx['gt']}{got}"
    if kind == "less_than_equal":
        return f"{where}: {key}: must be <= {ctx['le']}{got}"
    if kind == "less_than":
        return f"{where}: {key}: must be < {ctx['lt']}{got}"
    if kind == "value_error":
        return f"{where}: {key}: {ctx.get('error', err['msg'])}{got}"
    message = str(err["msg"])
    return f"{where}: {key}: {message[:1].lower()}{message[1:]}{got}"


def _origin_of(loc: tuple[str, ...], origins: Mapping[tuple[str, ...], str], fallback: str) -> str:
    for end in range(len(loc), 0, -1):
        origin = origins.get(loc[:end])
        if origin is not None:
            return fallback if origin == _DEFAULTS_ORIGIN else origin
    return fallback


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _suggestion(loc: tuple[str | int, ...]) -> str:
    """`; did you mean 'x'?` from the fields of the model the unknown key sits in."""
    model = _model_at(loc[:-1])
    if model is None or not loc:
        return ""
    names = list(model.model_fields)
    matches = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    if matches:
        return f"; did you mean '{matches[0]}'?"
    return f"; expected one of: {', '.join(names)}"


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = SimulationConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        found = _model_in(field.annotation)
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
