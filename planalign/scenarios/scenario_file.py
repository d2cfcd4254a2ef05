"""The scenario file: a baseline configuration, named plan designs overriding its parameters, and seeds.

```yaml
config: simulation_config.yaml        # the baseline configuration, relative to this file
name: plan-designs                    # default: the file's stem
description: ...
baseline: {name: baseline, description: ..., overrides: {}}
scenarios:
  match_4pct:
    description: 100% of the first 4% of pay
    overrides: {match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}}
seeds: 20                             # config's random_seed, +1, ..., +19; or a list [42, 43]
discount_rate: 0.05                   # present value of employer cost, to the first simulated year
database: plan-designs.duckdb         # default: <file stem>.duckdb beside this file
sensitivities:                        # optional: one assumption at a time, at a low and a high value
  turnover:
    description: experienced termination rate 8% / 16%
    low: {workforce: {total_termination_rate: 0.08}}
    high: {workforce: {total_termination_rate: 0.16}}
```

A sensitivity adds, for every design and seed, two members: the design with the sensitivity's `low` (then
`high`) overrides applied on top of its own (a key both set takes the sensitivity's value), named
`<design>--<sensitivity>-low|high`. Same seeds, so each design's cost difference to the baseline under the
low and the high value is paired like the main comparison's (the tornado chart of the comparison report).

Every design's configuration is `config_loading.apply_overrides(baseline, overrides)` (the baseline's
own overrides applied to the config file first), so an override is validated by the same schema, with the
same messages, as the config file. Overrides may change plan and workforce *parameters* only: every
scenario of a sweep shares the census, the years, the seeds, the database and the dbt project, and how
the sweep runs is one setting for the whole run; such keys are refused, by name.

Loading writes nothing. Every problem of the file is reported at once in one `ScenarioFileError` (exit
status 2), one line per problem, as `<file>: <key.path>: <what is wrong and how to fix it>`.

Why it is long: the file's schema, the rule of what an override may change, the resolution of each design
through the configuration's own validation and the messages that name the file's key path for each kind of
problem are one contract; apart, a message could no longer say where in the file its problem is.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)

from planalign.errors import ConfigError
from planalign.scenarios.spreadsheet import starts_like_a_formula
from planalign.simulation.assumptions import PARAMETER_SECTIONS as ASSUMPTION_SECTIONS
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import (
    OVERRIDE_ORIGIN,
    UniqueKeyLoader,
    apply_overrides,
    load_simulation_config,
    normalise_overrides,
)
from planalign.simulation.run_labels import LabelError, ReportLabels, check_label

#: A member's id (`<name>__s<seed>`) must match this (the dbt project's rule for `scenario_id`).
SCENARIO_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
#: A sensitivity's name: it goes into member names `<design>--<name>-low`, so no '-' or '.' of its own.
SENSITIVITY_NAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,24}")
SENSITIVITY_SIDES: tuple[str, str] = ("low", "high")
SEED_SEPARATOR = "__s"
#: Seeds are stored as BIGINT (dim_scenarios.random_seed); the dbt project's `planalign_seed_value` refuses
#: anything outside [0, 2^63), so the file's validation refuses it first, before the ~35 s parse.
MAX_SEED = 2**63
#: The most members (designs × seeds) one sweep may have. A sweep holds every member's rows in one database
#: and one dbt pass, so its memory grows with the members: docs/benchmarks.md measured a peak of 2.3 GB for
#: 50 members against ~360 MB for one run at 10,000 employees (~40 MB a member), so 200 members need ~8 GB
#: there, and ten times that at 100,000 employees. More is run as several sweeps (blocks of seeds).
MAX_MEMBERS = 200
#: The most members of a sharded sweep (`scenarios run --executor`, docs/scaling.md): each of its passes
#: (shards) still holds at most MAX_MEMBERS.
SHARDED_MAX_MEMBERS = 100_000

#: Config sections whose every field is a plan or workforce parameter (a dbt parameter var): the sections
#: the assumptions list, one list for both.
PARAMETER_SECTIONS: frozenset[str] = frozenset(ASSUMPTION_SECTIONS)
#: The one parameter of the `simulation` section.
PARAMETER_SIMULATION_KEYS: frozenset[str] = frozenset({"target_growth_rate"})

#: Why each run-identity key cannot differ between scenarios, and where to set it instead.
_SAME_YEARS = "every scenario of a sweep simulates the same years; set them in the config file"
_REFUSED: Mapping[str, str] = {
    "simulation.start_year": _SAME_YEARS,
    "simulation.end_year": _SAME_YEARS,
    "simulation.effective_date": "every scenario of a sweep starts from the same census date; set it in the "
    "config file",
    "simulation.census_path": "every scenario of a sweep shares one census; set it in the config file",
    "simulation.census_max_reject_share": "every scenario of a sweep shares one census and its checks; set "
    "it in the config file",
    "simulation.random_seed": "the seeds come from `seeds:` in the scenario file, the same for every "
    "scenario (common random numbers)",
    "simulation.database_path": "a sweep writes one database for every scenario; set `database:` in the "
    "scenario file",
    "dbt": "a sweep builds every scenario with one dbt project and profile; set them in the config file",
    "orchestrator": "how the sweep runs is one setting for the whole sweep; use --workers / --no-parallel "
    "or the config file",
    "run": "run settings (runs directory, logging) are the config file's, for the whole sweep",
}


class ScenarioFileError(ConfigError):
    """The scenario file is invalid; the message names the file, the key path and how to fix it."""


# ----------------------------------------------------------------------------------------------------
# The file's schema
# ----------------------------------------------------------------------------------------------------


def _none_as_empty(value: Any) -> Any:
    """`key:` with everything under it commented out is YAML null; read it as "nothing here"."""
    return {} if value is None else value


def _check_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable scenario name: use letters, digits, '_', '.' and '-' only "
            "(e.g. match_4pct); it names the scenario's rows in every table"
        )
    return _refuse_formula_start(value)


def _refuse_formula_start(value: str) -> str:
    """A name lands in exported cells and on command lines: one starting with -, +, = or @ reads as a
    formula to a spreadsheet (and with - as an option to a command)."""
    if starts_like_a_formula(value):
        raise ValueError(
            f"{value!r} begins with {value[:1]!r}: a spreadsheet opening an export would read it as a "
            "formula (and a command line as an option); start the name with a letter or a digit"
        )
    return value


def _too_many_members(designs: int, seeds: int, limit: int = MAX_MEMBERS) -> str:
    """Why designs × seeds is refused, with the limit, the count asked for and what to do instead."""
    if limit != MAX_MEMBERS:
        return (
            f"{designs} design(s) x {seeds} seed(s) = {designs * seeds} members; a sharded sweep runs at "
            f"most {limit:,} members (docs/scaling.md): split the seeds over several scenario files"
        )
    if designs > MAX_MEMBERS:
        what_to_do = f"split the scenarios over several scenario files of at most {MAX_MEMBERS} designs"
    else:
        what_to_do = (
            f"run the seeds in blocks of at most {MAX_MEMBERS // designs}, one scenario file (and database) "
            "per block, each listing its seeds (e.g. `seeds: [42, 43, 44]`), or shard the sweep "
            "(`--executor local`, docs/scaling.md)"
        )
    return (
        f"{designs} design(s) x {seeds} seed(s) = {designs * seeds} members; a sweep runs at most "
        f"{MAX_MEMBERS} members, since it holds every member's rows at once (~40 MB a member at 10,000 "
        f"employees, docs/benchmarks.md): {what_to_do}"
    )


def _check_seeds(value: Any, info: ValidationInfo) -> Any:
    """The seeds' own checks: a count of 1 to MAX_MEMBERS (checked as a number, never expanded first), or a
    list of distinct seeds in [0, 2^63) no longer than that; designs × seeds is checked once the designs
    are known (`load_scenario_file`)."""
    limit = int((info.context or {}).get("max_members", MAX_MEMBERS))
    if isinstance(value, bool):
        raise ValueError("must be a number of seeds (e.g. 20) or a list of seeds, not a boolean")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(
                f"{value} seeds would simulate nothing; give a count of at least 1 (e.g. 20) or a list "
                "of seeds"
            )
        if value > limit:
            raise ValueError(_too_many_members(1, value, limit))
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("the list is empty; list at least one seed, e.g. [42, 43], or give a count")
        if len(value) > limit:
            raise ValueError(_too_many_members(1, len(value), limit))
        seen: set[int] = set()
        for seed in value:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
                raise ValueError(
                    f"{seed!r} is not a seed: seeds are integers from 0 to 2^63 - 1, e.g. [42, 43]"
                )
            if seed in seen:
                raise ValueError(f"seed {seed} is listed twice; list each seed once")
            seen.add(seed)
        return value
    raise ValueError(
        f"must be a number of seeds (e.g. 20) or a list of seeds such as [42, 43], got {value!r}"
    )


def _check_discount_rate(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"must be a rate between 0 and 1, e.g. 0.05 for 5% a year (got {value!r})")
    return float(value)


def _refuse_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty; give a path")
    return value


ScenarioName = Annotated[str, AfterValidator(_check_name)]
FilePath = Annotated[Path, BeforeValidator(_refuse_empty)]


def _check_report_label(value: str) -> str:
    """A report's title, client or preparer: one line of printable text (`check_label`)."""
    try:
        return check_label("the value", value)
    except LabelError as exc:
        raise ValueError(str(exc)) from exc


#: The comparison report's `title:`, `client:` and `prepared_by:` (issue #22).
ReportLabel = Annotated[str, AfterValidator(_check_report_label)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DesignEntry(_Entry):
    """One plan design: what it is, in words, and the parameters it changes."""

    description: str = ""
    overrides: Annotated[dict[str, Any], BeforeValidator(_none_as_empty)] = Field(default_factory=dict)


class BaselineEntry(DesignEntry):
    name: ScenarioName = "baseline"


def _check_sensitivity_name(value: str) -> str:
    if not SENSITIVITY_NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable sensitivity name: use up to 24 letters, digits and '_' (e.g. "
            "turnover); it names the members `<design>--<name>-low|high`"
        )
    return value


def _check_side(value: Any) -> Any:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            "must set at least one parameter, e.g. {workforce: {termination_rate: 0.08}} — the value of the "
            "assumption at this end of its range"
        )
    return value


class SensitivityEntry(_Entry):
    """One assumption moved on its own: its parameters at the low and at the high end of its range."""

    description: str = ""
    low: Annotated[dict[str, Any], BeforeValidator(_check_side)]
    high: Annotated[dict[str, Any], BeforeValidator(_check_side)]


class ScenarioFileModel(_Entry):
    """The scenario file as written (paths not yet resolved)."""

    config: FilePath = Path("simulation_config.yaml")
    name: Annotated[str, AfterValidator(_refuse_formula_start)] | None = None
    description: str = ""
    baseline: Annotated[BaselineEntry, BeforeValidator(_none_as_empty)] = Field(default_factory=BaselineEntry)
    scenarios: Annotated[dict[ScenarioName, DesignEntry | None], BeforeValidator(_none_as_empty)] = Field(
        default_factory=dict
    )
    seeds: Annotated[int | list[int], BeforeValidator(_check_seeds)] = 1
    discount_rate: Annotated[float, BeforeValidator(_check_discount_rate)] = 0.05
    database: FilePath | None = None
    sensitivities: Annotated[
        dict[Annotated[str, AfterValidator(_check_sensitivity_name)], SensitivityEntry],
        BeforeValidator(_none_as_empty),
    ] = Field(default_factory=dict)
    title: ReportLabel | None = None
    client: ReportLabel | None = None
    prepared_by: ReportLabel | None = None


# ----------------------------------------------------------------------------------------------------
# The resolved scenario set
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioDesign:
    """A named design and its validated configuration (the baseline's with the design's overrides)."""

    name: str
    description: str
    overrides: Mapping[str, Any]
    """As written in the file, normalised to nested mappings."""
    config: SimulationConfig


@dataclass(frozen=True)
class Sensitivity:
    """An assumption of the scenario file's `sensitivities:`, with its low and high overrides (normalised)."""

    name: str
    description: str
    low: Mapping[str, Any]
    high: Mapping[str, Any]


@dataclass(frozen=True)
class SensitivityVariant:
    """One design under one end of one sensitivity: the design's configuration with the side's overrides."""

    design: str
    sensitivity: str
    side: str
    config: SimulationConfig

    @property
    def name(self) -> str:
        return sensitivity_member_name(self.design, self.sensitivity, self.side)


def sensitivity_member_name(design: str, sensitivity: str, side: str) -> str:
    return f"{design}--{sensitivity}-{side}"


@dataclass(frozen=True)
class ScenarioSet:
    """A valid scenario file, resolved: every path absolute, every design's configuration validated."""

    path: Path
    name: str
    description: str
    config_path: Path
    baseline: ScenarioDesign
    scenarios: tuple[ScenarioDesign, ...]
    seeds: tuple[int, ...]
    discount_rate: float
    database: Path
    sensitivities: tuple[Sensitivity, ...] = ()
    variants: tuple[SensitivityVariant, ...] = ()
    """Every design under each end of each sensitivity, by sensitivity, then side, then design."""
    labels: ReportLabels = field(default_factory=ReportLabels)
    """The comparison report's title, client and preparer (`title:`, `client:`, `prepared_by:`)."""

    @property
    def designs(self) -> tuple[ScenarioDesign, ...]:
        """The baseline first, then the scenarios in the file's order."""
        return (self.baseline, *self.scenarios)


def scenario_id(name: str, seed: int) -> str:
    return f"{name}{SEED_SEPARATOR}{seed}"


def load_scenario_file(
    path: str | Path, *, config_overrides: Mapping[str, Any] | None = None, max_members: int = MAX_MEMBERS
) -> ScenarioSet:
    """Read and validate the scenario file and the baseline configuration it names.

    `config_overrides` (dotted or nested keys) apply to the baseline configuration as the command line's
    flags do (`--workers`). `max_members`: SHARDED_MAX_MEMBERS for a sharded sweep. Raises
    `ScenarioFileError` naming every problem; writes nothing.
    """
    file = Path(path).expanduser()
    label = str(path)
    data = _read(file, label)
    try:
        model = ScenarioFileModel.model_validate(data, context={"max_members": max_members})
    except ValidationError as exc:
        raise ScenarioFileError(
            _problems_text(label, [_describe(label, err) for err in exc.errors()])
        ) from None

    base_dir = file.absolute().parent
    config_path = Path(_normpath(base_dir / model.config.expanduser()))
    try:
        file_config = load_simulation_config(config_path, overrides=config_overrides)
    except ConfigError as exc:
        raise ScenarioFileError(
            f"{label}: config: the baseline configuration {config_path} is not valid:\n{exc}"
        ) from None

    problems: list[str] = []
    designs = 1 + len(model.scenarios)
    count = model.seeds if isinstance(model.seeds, int) else len(model.seeds)
    if designs * count > max_members:
        # Refused before anything is built per member (ids, var entries): the count is the whole check.
        raise ScenarioFileError(
            _problems_text(label, [f"{label}: seeds: {_too_many_members(designs, count, max_members)}"])
        )
    random_seed = file_config.simulation.random_seed
    if isinstance(model.seeds, int) and random_seed + count - 1 >= MAX_SEED:
        raise ScenarioFileError(
            _problems_text(
                label,
                [
                    f"{label}: seeds: {count} seeds from the configuration's simulation.random_seed "
                    f"{random_seed} run up to {random_seed + count - 1}, past the largest seed 2^63 - 1; "
                    "lower simulation.random_seed, or list the seeds (e.g. [42, 43])"
                ],
            )
        )
    seeds = _seeds(model.seeds, random_seed)
    baseline_name = model.baseline.name
    baseline = _design(label, "baseline", baseline_name, model.baseline, file_config, problems)
    scenarios: list[ScenarioDesign] = []
    for name, entry in model.scenarios.items():
        where = f"scenarios.{name}"
        if name == baseline_name:
            problems.append(
                f"{label}: {where}: {name!r} is the baseline's name; rename the scenario, or the baseline "
                "with baseline.name"
            )
            continue
        if baseline is not None:
            design = _design(label, where, name, entry or DesignEntry(), baseline.config, problems)
            if design is not None:
                scenarios.append(design)
    sensitivities, variants = _sensitivities(
        label, model, [d for d in (baseline, *scenarios) if d is not None], problems
    )
    names = [baseline_name, *model.scenarios]
    names += [sensitivity_member_name(n, s, side) for s in model.sensitivities for side in SENSITIVITY_SIDES
              for n in names]  # fmt: skip
    longest = max(len(scenario_id(n, s)) for n in names for s in seeds)
    if longest > 64:
        problems.append(
            f"{label}: scenarios: a member id `<name>{SEED_SEPARATOR}<seed>` is {longest} characters; ids "
            "have at most 64: shorten the longest scenario name"
            + (" or sensitivity name" if model.sensitivities else "")
        )
    database = _database(label, model, base_dir, file, file_config, problems)
    if problems or baseline is None:
        raise ScenarioFileError(_problems_text(label, problems))
    return ScenarioSet(
        path=Path(_normpath(file.absolute())),
        name=model.name or file.stem,
        description=model.description,
        config_path=config_path,
        baseline=baseline,
        scenarios=tuple(scenarios),
        seeds=seeds,
        discount_rate=model.discount_rate,
        database=database,
        sensitivities=sensitivities,
        variants=variants,
        labels=ReportLabels(title=model.title, client=model.client, prepared_by=model.prepared_by),
    )


def _sensitivities(
    label: str, model: ScenarioFileModel, designs: list[ScenarioDesign], problems: list[str]
) -> tuple[tuple[Sensitivity, ...], tuple[SensitivityVariant, ...]]:
    """Each sensitivity's sides checked like a design's overrides (what they may change, then the
    configuration's schema on top of every design), and every design × side resolved."""
    sensitivities: list[Sensitivity] = []
    variants: list[SensitivityVariant] = []
    for name, entry in model.sensitivities.items():
        sides: dict[str, dict[str, Any]] = {}
        for side in SENSITIVITY_SIDES:
            prefix = f"{label}: sensitivities.{name}.{side}"
            raw: dict[str, Any] = getattr(entry, side)
            refused = check_overrides(raw, prefix)
            problems.extend(refused.values())
            if refused:
                continue
            overrides = normalise_overrides(_nested(_leaves(raw, ())))
            sides[side] = overrides
            reported = False
            for design in designs:
                try:
                    config = apply_overrides(design.config, overrides)
                except ConfigError as exc:
                    if not reported:  # the same problem for every design: name it once
                        problems.extend(_rewrite_override_errors(str(exc), prefix))
                        reported = True
                    continue
                variants.append(SensitivityVariant(design.name, name, side, config))
        if len(sides) == len(SENSITIVITY_SIDES):
            sensitivities.append(Sensitivity(name, entry.description, sides["low"], sides["high"]))
    return tuple(sensitivities), tuple(variants)


def _read(file: Path, label: str) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioFileError(f"{label}: scenario file not found (looked at {file.absolute()})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(f"{label}: cannot read the scenario file as UTF-8 YAML: {exc}") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass that refuses repeated keys
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioFileError(f"{label}: {where}invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioFileError(
            f"{label}: the top level must be a mapping (config:, baseline:, scenarios:, seeds:, ...), got "
            f"{type(data).__name__}"
        )
    return data


def _seeds(seeds: int | list[int], random_seed: int) -> tuple[int, ...]:
    if isinstance(seeds, int):
        return tuple(random_seed + i for i in range(seeds))
    return tuple(seeds)


def _design(
    label: str,
    where: str,
    name: str,
    entry: DesignEntry,
    base: SimulationConfig,
    problems: list[str],
) -> ScenarioDesign | None:
    """The design's configuration, or None with its problems appended."""
    prefix = f"{label}: {where}.overrides"
    refused = check_overrides(entry.overrides, prefix)
    problems.extend(refused.values())
    # The rest is still validated, so that one run of the command names every problem of the file.
    overrides = normalise_overrides(
        _nested((key, value) for key, value in _leaves(entry.overrides, ()) if key not in refused)
    )
    try:
        config = apply_overrides(base, overrides)
    except ConfigError as exc:
        problems.extend(_rewrite_override_errors(str(exc), prefix))
        return None
    if refused:
        return None
    return ScenarioDesign(name=name, description=entry.description, overrides=overrides, config=config)


def check_overrides(overrides: Mapping[str, Any], prefix: str) -> dict[tuple[str, ...], str]:
    """What an override may not change, by key: null values, and run-identity keys (named, with where to
    set them instead). Unknown keys and bad values are left to the configuration's schema."""
    problems: dict[tuple[str, ...], str] = {}
    for key, value in _leaves(overrides, ()):
        dotted = ".".join(key)
        if value is None:
            problems[key] = (
                f"{prefix}.{dotted}: null is not a value; give one, or remove the key to keep the baseline's"
            )
            continue
        section = key[0]
        if section in PARAMETER_SECTIONS:
            continue
        if section == "simulation" and len(key) > 1 and key[1] in PARAMETER_SIMULATION_KEYS:
            continue
        reason = _REFUSED.get(".".join(key[:2])) or _REFUSED.get(section)
        if reason is None and section == "simulation":
            reason = "only simulation.target_growth_rate may differ between scenarios"
        if reason is not None:
            problems[key] = f"{prefix}.{dotted}: a scenario cannot override this: {reason}"
    return problems


def _nested(leaves: Iterable[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in leaves:
        node = out
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return out


def _leaves(node: Mapping[str, Any], loc: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """(dotted key parts, value) of every non-mapping value; dotted keys (`match.cap_rate`) are split."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in node.items():
        here = (*loc, *str(key).split("."))
        if isinstance(value, Mapping) and value:
            out.extend(_leaves(value, here))
        else:
            out.append((here, value))
    return out


def _rewrite_override_errors(message: str, prefix: str) -> list[str]:
    """The configuration's lines name the override layer as `override: <key>: ...`; name the scenario
    file's key path instead."""
    lines: list[str] = []
    for raw in message.splitlines()[1:] or message.splitlines():
        line = raw.strip()
        origin = f"{OVERRIDE_ORIGIN}: "
        if line.startswith(origin):
            key, _, what = line.removeprefix(origin).partition(": ")
            lines.append(f"{prefix}.{key}: {what}")
        elif line:
            lines.append(f"{prefix}: {line}")
    return lines


def _database(
    label: str,
    model: ScenarioFileModel,
    base_dir: Path,
    file: Path,
    config: SimulationConfig,
    problems: list[str],
) -> Path:
    """The sweep's database: `database:` relative to the file, by default `<file stem>.duckdb` beside the
    file — so two scenario files of one name in two folders never default to one database (and if they
    are pointed at one, the database's record of which sweep it holds refuses the second)."""
    configured = Path(config.simulation.database_path)
    if model.database is None:
        database = base_dir / f"{file.stem}.duckdb"
    else:
        database = Path(_normpath(base_dir / model.database.expanduser()))
    if database == configured:
        key = "database" if model.database is not None else "the file's name"
        problems.append(
            f"{label}: database: the sweep would write {database}, the baseline configuration's own "
            f"simulation database (from {key}); set `database:` to another file, e.g. "
            f"{file.stem}-sweep.duckdb"
        )
    return database


def _normpath(path: Path) -> str:
    return os.path.normpath(path)


# ----------------------------------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------------------------------


def _problems_text(label: str, problems: list[str]) -> str:
    return f"invalid scenario file {label}:\n" + "\n".join(f"  {p}" for p in problems)


def _describe(label: str, err: Mapping[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{label}: {key}: unknown key{_suggestion(loc)}"
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        return f"{label}: {key}: {ctx.get('error', err['msg'])}"
    message = str(err["msg"])
    return f"{label}: {key}: {message[:1].lower()}{message[1:]} (got {err.get('input')!r})"


def _dotted(loc: tuple[Any, ...]) -> str:
    """pydantic's location without its internals (`[key]` of a dict key's validation, union branches)."""
    parts: list[str] = []
    for part in loc:
        if part in ("[key]", "DesignEntry", "int", "list[int]") or str(part).startswith("function-"):
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
    text = ""
    for part in parts:
        text += part if part.startswith("[") or not text else f".{part}"
    return text or "(top level)"


def _suggestion(loc: tuple[Any, ...]) -> str:
    fields = {
        (): ScenarioFileModel.model_fields,
        ("baseline",): BaselineEntry.model_fields,
    }
    if loc[:1] == ("sensitivities",) and len(loc) == 3:
        fields[tuple(loc[:2])] = SensitivityEntry.model_fields
    scope: tuple[Any, ...] = tuple(loc[:-1])
    names = list(fields.get(scope, DesignEntry.model_fields if scope[:1] == ("scenarios",) else {}))
    if not names:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(names)}"
