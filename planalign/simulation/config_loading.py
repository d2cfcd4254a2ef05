"""Reading the configuration's layers — code defaults < the YAML file < `PLANALIGN_*` environment <
the command line's overrides — into one validated `SimulationConfig` (the layers and the path rules are
described in `planalign.simulation.config`), and explaining every problem at once in one `ConfigError`.

Why it is long: the readers of the three layers, their merge with where each value came from, and the
messages that name that origin, the key and the fix belong together: a message can only name the file or
the environment variable a value came from because the loader kept it.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_settings import EnvSettingsSource, SettingsError

from planalign.errors import ConfigError
from planalign.simulation.config import (
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    PATH_KEYS,
    MatchTier,
    SimulationConfig,
    ValueOrigins,
)

_DEFAULTS_ORIGIN = "defaults"
_ENV_ORIGIN = "environment"
OVERRIDE_ORIGIN = "override"


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
    anchor_paths(file_layer, base_dir)
    for key, default in PATH_KEYS.items():
        if default is not None and get_dotted(file_layer, key) is None:
            _set_dotted(file_layer, key, _join(base_dir, default))

    env_layer, env_problems = _read_env()
    anchor_paths(env_layer, cwd)
    override_layer = normalise_overrides(overrides or {})
    anchor_paths(override_layer, cwd)

    return build_config(
        [
            (file_layer, file_label or _DEFAULTS_ORIGIN),
            (env_layer, _ENV_ORIGIN),
            (override_layer, OVERRIDE_ORIGIN),
        ],
        fallback_label=file_label or "configuration",
        check_files=check_files,
        problems=env_problems,
    )


def build_config(
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
    if config is not None:
        for loc, message in config.plan_type_problems():
            problems.append(f"{_origin_of(loc, origins, fallback_label)}: {'.'.join(loc)}: {message}")

    if check_files:
        census = get_dotted(merged, "simulation.census_path")
        if isinstance(census, str | Path) and not Path(census).is_file():
            where = _origin_of(("simulation", "census_path"), origins, fallback_label)
            found = "is a directory, not a census file" if Path(census).is_dir() else "census file not found"
            problems.append(
                f"{where}: simulation.census_path: {found}: {census} "
                "(generate one with `python -m planalign census` or point simulation.census_path at yours)"
            )

    if problems or config is None:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
    config._origins = ValueOrigins({".".join(loc): _origin_kind(origin) for loc, origin in origins.items()})
    return config


def apply_overrides(
    config: SimulationConfig, overrides: Mapping[str, Any], *, check_files: bool = False
) -> SimulationConfig:
    """A copy of `config` with `overrides` applied (nested or dotted keys, None skipped, relative paths
    against the working directory), validated like `load_simulation_config`'s overrides layer; the keys it
    sets report the origin "override". `check_files` is off by default: the census was checked, if at all,
    when `config` was loaded.

    A function of the loader, not a method of the schema: the schema (`simulation.config`) stays free of the
    loader that builds it, so the two modules do not import each other."""
    layer = normalise_overrides(overrides)
    anchor_paths(layer, Path.cwd())
    if not layer:
        return config
    current = config.model_dump()
    if config.dbt.profiles_dir == config.dbt.project_dir and get_dotted(layer, "dbt.profiles_dir") is None:
        del current["dbt"]["profiles_dir"]  # it was following project_dir; keep following it
    result = build_config(
        [(current, "configuration"), (layer, OVERRIDE_ORIGIN)],
        fallback_label="configuration",
        check_files=check_files,
    )
    result._origins = ValueOrigins({**config._origins, **{k: "override" for k in _dotted_keys(layer)}})
    return result


def _origin_kind(origin: str) -> str:
    """A layer's label as `SimulationConfig.origin_of` reports it (the file's label is its path)."""
    return {_DEFAULTS_ORIGIN: "default", _ENV_ORIGIN: "environment", OVERRIDE_ORIGIN: "flag"}.get(
        origin, "file"
    )


def _drop_empty_sections(layer: dict[str, Any], loc: tuple[str, ...]) -> None:
    """`section:` with everything under it commented out is YAML null; read it as "all defaults"."""
    for key in list(layer):
        value = layer[key]
        if isinstance(value, dict):
            _drop_empty_sections(value, (*loc, str(key)))
        elif value is None and _model_at((*loc, str(key))) is not None:
            del layer[key]


class UniqueKeyLoader(yaml.SafeLoader):
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


UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", UniqueKeyLoader.construct_checked_timestamp)


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
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
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


def normalise_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted and nested keys into one fresh nested dict (the caller's mappings are never modified); None
    values, and mappings that hold only None, are dropped."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            value = normalise_overrides(value)
            if not value:
                continue
        elif value is None:
            continue
        nested: Any = value
        for part in reversed(str(key).split(".")):
            nested = {part: nested}
        _deep_merge(out, nested, OVERRIDE_ORIGIN, {}, ())
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


def get_dotted(data: Mapping[str, Any], key: str) -> Any:
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


def anchor_paths(layer: dict[str, Any], base: Path) -> None:
    """Make the layer's path values absolute against `base`; non-path junk is left for validation to name."""
    for key in PATH_KEYS:
        value = get_dotted(layer, key)
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


def _dotted_keys(layer: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every leaf key of a nested mapping, dotted."""
    keys: list[str] = []
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        keys.extend(_dotted_keys(value, f"{dotted}.") if isinstance(value, Mapping) and value else [dotted])
    return keys
