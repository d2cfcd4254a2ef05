"""A dbt project's graph as the engine sees it: dbt's manifest read into `planalign.engine.nodes`.

The engine works on `ProjectManifest` and `ManifestNode`, never on dbt's own classes; this module is where a
dbt project becomes those (selection through dbt's own selector, and the target's existing relations, too).

A `ProjectManifest` comes from one in-process parse (`parse_project`) or from `target/manifest.json`
(`load_manifest_json`). An in-process parse also keeps dbt's `Manifest` object (`dbt_manifest`), which the
invoker hands to `dbtRunner(manifest=...)` so no invocation parses the project again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planalign.dbt.files import DbtFiles
from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.errors import ProjectParseError, SelectionError

logger = logging.getLogger(__name__)


def _merged_meta(
    node_meta: Mapping[str, Any] | None, config_meta: Mapping[str, Any] | None
) -> dict[str, Any]:
    """dbt keeps `meta` in two places (node.meta from YAML, config.meta from config()/dbt_project.yml);
    the config wins, as in dbt's own docs."""
    merged: dict[str, Any] = dict(node_meta or {})
    merged.update(config_meta or {})
    return merged


def _node_from_dict(data: Mapping[str, Any]) -> ManifestNode:
    config = data.get("config") or {}
    depends = (data.get("depends_on") or {}).get("nodes") or []
    return ManifestNode(
        unique_id=data["unique_id"],
        name=data["name"],
        resource_type=str(data["resource_type"]),
        package_name=data["package_name"],
        depends_on=tuple(depends),
        materialized=config.get("materialized"),
        meta=_merged_meta(data.get("meta"), config.get("meta")),
        tags=tuple(data.get("tags") or ()),
        original_file_path=data.get("original_file_path") or "",
        fqn=tuple(data.get("fqn") or ()),
        relation_name=data.get("relation_name"),
    )


def _node_from_dbt(node: Any) -> ManifestNode:
    config = getattr(node, "config", None)
    depends_on = getattr(node, "depends_on", None)
    return ManifestNode(
        unique_id=node.unique_id,
        name=node.name,
        resource_type=str(node.resource_type),
        package_name=node.package_name,
        depends_on=tuple(getattr(depends_on, "nodes", None) or ()),
        materialized=getattr(config, "materialized", None),
        meta=_merged_meta(getattr(node, "meta", None), getattr(config, "meta", None)),
        tags=tuple(getattr(node, "tags", None) or ()),
        original_file_path=getattr(node, "original_file_path", "") or "",
        fqn=tuple(getattr(node, "fqn", None) or ()),
        relation_name=getattr(node, "relation_name", None),
    )


def project_manifest_from_dbt(project_dir: Path, dbt_manifest: Any) -> ProjectManifest:
    """Wrap dbt's in-memory `Manifest` (nodes + sources) as a `ProjectManifest` that keeps it."""
    nodes: dict[str, ManifestNode] = {}
    for node in list(dbt_manifest.nodes.values()) + list(dbt_manifest.sources.values()):
        converted = _node_from_dbt(node)
        nodes[converted.unique_id] = converted
    return ProjectManifest(project_dir=project_dir, nodes=nodes, dbt_manifest=dbt_manifest)


def load_manifest_json(path: Path) -> ProjectManifest:
    """Read dbt's `target/manifest.json`. The result has no `dbt_manifest`, so it plans but cannot run."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ProjectParseError(f"no dbt manifest at {path}; run `dbt parse` first") from exc
    except json.JSONDecodeError as exc:
        raise ProjectParseError(f"{path} is not valid JSON: {exc}") from exc
    nodes: dict[str, ManifestNode] = {}
    for section in ("nodes", "sources"):
        for raw in (data.get(section) or {}).values():
            converted = _node_from_dict(raw)
            nodes[converted.unique_id] = converted
    project_dir = path.parent.parent if path.parent.name == "target" else path.parent
    return ProjectManifest(project_dir=project_dir, nodes=nodes)


def default_profiles_dir(project_dir: Path, profiles_dir: Path | None) -> Path | None:
    """The profiles dir to pass dbt: the given one, else the project's own profiles.yml if it has one,
    else None (dbt's default). In-process dbt resolves a relative default against the process's cwd, which
    is rarely the project, so a project-local profiles.yml is preferred explicitly."""
    if profiles_dir is not None:
        return profiles_dir
    if (project_dir / "profiles.yml").is_file():
        return project_dir
    return None


def dbt_common_args(
    project_dir: Path,
    *,
    profiles_dir: Path | None,
    target: str | None,
    vars: Mapping[str, Any] | None,
    profile: str | None = None,
) -> list[str]:
    """Arguments every in-process dbt call shares: where the project and profile are, which profile (dbt's
    `--profile`; None: the one dbt_project.yml names) and target, the vars, and no usage tracking (tracking
    would make network calls from every invocation)."""
    args = ["--project-dir", str(project_dir), "--no-send-anonymous-usage-stats"]
    pdir = default_profiles_dir(project_dir, profiles_dir)
    if pdir is not None:
        args += ["--profiles-dir", str(pdir)]
    if profile:
        args += ["--profile", profile]
    if target:
        args += ["--target", target]
    if vars:
        args += ["--vars", json.dumps(dict(vars), sort_keys=True, default=str)]
    return args


_PARSE_LOCK = threading.Lock()

#: Projects found to keep a stand-in path in their parse (`stand_in_leaks`): parsed with the real vars only.
_STAND_INS_LEAK: set[Path] = set()


def parse_project(
    project_dir: Path,
    *,
    profiles_dir: Path | None = None,
    target: str | None = None,
    vars: Mapping[str, Any] | None = None,
    profile: str | None = None,
    files: DbtFiles | None = None,
    extra_args: Sequence[str] = (),
    path_vars: Collection[str] = (),
    parse_values: Mapping[str, Any] | None = None,
    parse_leaks: Collection[str] = (),
) -> ProjectManifest:
    """Parse the dbt project once, in-process, keeping dbt's `Manifest` for `dbtRunner(manifest=...)`.

    `files`: where dbt writes its target and logs and which cached parse it starts from
    (`planalign.dbt.files`); None: dbt's defaults, `target/` and `logs/` in the project, as `dbt parse`.
    `extra_args`: more dbt flags for the parse (`planalign run`'s `--no-partial-parse`, `--target-path`).
    `path_vars`: vars naming files the project reads only when its models run (the simulation's census and
    database): the parse sees stand-in paths with the same file names (`planalign.dbt.parse_vars`), so one
    cached parse serves every run whose other vars match. A project whose parsed manifest keeps a stand-in
    is parsed again with the real `vars` (and, in this process, only so from then on). `parse_values`: vars
    the parse sees instead of these `vars` (the same rule; `parse_leaks`: texts of them it must not keep).

    Raises `ProjectParseError` with dbt's message when the project (or its profile) does not parse.
    """
    from planalign.dbt.parse_vars import stand_in_leaks, stand_in_vars

    project_dir = project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise ProjectParseError(f"{project_dir} is not a dbt project (no dbt_project.yml)")
    options = {"profiles_dir": profiles_dir, "target": target, "profile": profile}
    real_vars = dict(vars or {})
    parse_vars = stand_in_vars({**real_vars, **(parse_values or {})}, path_vars)
    if parse_vars != real_vars and project_dir not in _STAND_INS_LEAK:
        manifest = _parse(project_dir, parse_vars, options, files, extra_args)
        leaks = stand_in_leaks(manifest.dbt_manifest, parse_leaks)
        if not leaks:
            return manifest
        _STAND_INS_LEAK.add(project_dir)  # and parse again, with the real vars
        logger.warning("%s keeps a stand-in path when parsed (%s): parsing again", project_dir, leaks[0])
    return _parse(project_dir, real_vars, options, files, extra_args)


def _parse(
    project_dir: Path,
    vars: Mapping[str, Any],
    options: Mapping[str, Any],
    files: DbtFiles | None,
    extra_args: Sequence[str],
) -> ProjectManifest:
    from planalign.dbt.isolation import invocation_slot
    from planalign.engine.heap import bulk_load

    def fail(detail: str) -> ProjectParseError:
        return ProjectParseError(f"the dbt project at {project_dir} does not parse: {detail}")

    common = dbt_common_args(project_dir, vars=vars, **options)
    cached = files.cache_file(project_dir, common) if files is not None else None
    args = ["parse", *common, *(files.args() if files is not None else ()), *extra_args, "--quiet"]
    with bulk_load():
        # The private target's saved parse is this parse's until published: the lock covers both ends.
        with _PARSE_LOCK, invocation_slot(("parse", str(project_dir)), exclusive=True):
            stamp = files.start_parse(cached) if files is not None else None
            result = _call_dbt(args, fail, "dbt parse failed")
            if files is not None:
                files.publish_parse(cached, stamp)
        if result.result is None:
            raise fail("dbt returned no manifest")
        return project_manifest_from_dbt(project_dir, result.result)


def _call_dbt(
    args: Sequence[str],
    fail: Callable[[str], Exception],
    failed: str,
    *,
    manifest: Any = None,
    callbacks: Sequence[Any] = (),
) -> Any:
    """One in-process dbt call (the caller holds its slot); a failure raises `fail(dbt's message)`."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(list(args))
    if not result.success:
        raise fail(str(result.exception) if result.exception is not None else failed)
    return result


@dataclass(frozen=True)
class Selection:
    """The models a selection resolves to (sorted), and dbt's warnings about selectors that match nothing
    (dbt's `NoNodesForSelectionCriteria`: the selector as typed, and the line dbt prints for it)."""

    unique_ids: tuple[str, ...]
    unmatched: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def resolve_selection(
    manifest: ProjectManifest,
    select: Sequence[str],
    exclude: Sequence[str] = (),
    *,
    profiles_dir: Path | None = None,
    target: str | None = None,
    vars: Mapping[str, Any] | None = None,
    profile: str | None = None,
    extra_args: Sequence[str] = (),
    strict: bool = False,
) -> Selection:
    """Resolve a selection as `dbt run` does, with one `dbt ls` over the parsed manifest: the models, and
    the selectors dbt warns match nothing (dbt runs the rest; with `--warn-error` the warning is dbt's error,
    raised here as `SelectionError`). `extra_args`: dbt's other selection flags (`--selector`, `--state`,
    `--indirect-selection`) and flags of every call (`--warn-error`, `--target-path`). `strict`: each
    selector must match at least one model on its own, else `SelectionError` names it. An empty `select`
    means every model."""
    selectors = [part for item in select for part in item.split()]
    excluders = [part for item in exclude for part in item.split()]
    common = dbt_common_args(
        manifest.project_dir, profiles_dir=profiles_dir, target=target, vars=vars, profile=profile
    )
    unmatched: list[str] = []
    warnings: list[str] = []

    def on_event(event: Any) -> None:
        if event.info.name == "NoNodesForSelectionCriteria":
            unmatched.append(str(event.data.spec_raw))
            warnings.append(str(event.info.msg))

    ids = _ls_models(manifest, selectors, excluders, [*common, *extra_args], callbacks=[on_event])
    if strict and unmatched:
        raise SelectionError(f"the selector {unmatched[0]!r} matches no model in {manifest.project_dir}")
    return Selection(tuple(sorted(ids)), tuple(unmatched), tuple(warnings))


def _ls_models(
    manifest: ProjectManifest,
    select: Sequence[str],
    exclude: Sequence[str],
    common_args: Sequence[str],
    *,
    callbacks: Sequence[Any] = (),
) -> list[str]:
    from planalign.dbt.isolation import invocation_slot

    if manifest.dbt_manifest is None:
        raise ProjectParseError("model selection needs a manifest parsed in-process (parse_project)")
    args = [
        "ls",
        *common_args,
        "--resource-type",
        "model",
        "--output",
        "json",
        "--output-keys",
        "unique_id",
        "--log-level",
        "none",
    ]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]

    def fail(detail: str) -> SelectionError:
        return SelectionError(f"invalid selection {' '.join(select)!r}: {detail}")

    with invocation_slot(("ls", str(manifest.project_dir)), exclusive=True):
        # The callbacks only see this invocation's events: the slot is exclusive.
        result = _call_dbt(args, fail, "dbt ls failed", manifest=manifest.dbt_manifest, callbacks=callbacks)
    lines = result.result if isinstance(result.result, list) else []
    return [json.loads(line)["unique_id"] for line in lines]


def relation_key(relation_name: str) -> tuple[str, ...]:
    """`"db"."schema"."name"` → ("db", "schema", "name"), unquoted and lower-cased (DuckDB folds case)."""
    return tuple(part.strip().strip('"`').lower() for part in relation_name.split("."))


@dataclass(frozen=True)
class TargetRelations:
    """The tables and views the target database holds, as `relation_key`s of (catalog, schema, name).

    `checked` is False when the target cannot be inspected without dbt running a query (not a DuckDB file:
    another adapter, `:memory:`, MotherDuck); `reason` says why. Callers then do what `dbt run` does —
    assume every unselected parent is built and let a model whose parent is missing fail when it runs.
    """

    relations: frozenset[tuple[str, ...]] = frozenset()
    checked: bool = True
    reason: str = ""
    location: str = ""

    def exists(self, relation_name: str) -> bool:
        key = relation_key(relation_name)
        # A two-part name (no database) matches any catalog.
        return key in self.relations or (len(key) == 2 and any(r[1:] == key for r in self.relations))


def target_relations(
    project_dir: Path,
    *,
    profiles_dir: Path | None,
    target: str | None,
    vars: Mapping[str, Any] | None,
    profile: str | None = None,
) -> TargetRelations:
    """What the target's information_schema lists (see `TargetRelations`).

    For a DuckDB file the file is opened read-only (or, when this process already holds it open for dbt, with
    the same default configuration dbt-duckdb uses, which shares that open database) for one query; a file
    that does not exist holds nothing. Raises `DatabaseLockedError` when another process holds the file.
    """
    from planalign.dbt.isolation import render_target_output
    from planalign.errors import DatabaseLockedError

    try:
        _, output = render_target_output(
            project_dir,
            default_profiles_dir(project_dir, profiles_dir),
            target,
            dict(vars or {}),
            profile=profile,
        )
    except (
        Exception
    ) as exc:  # the parse rendered this profile already; a failure here is reported, not hidden
        raise ProjectParseError(f"cannot read the target of the dbt project at {project_dir}: {exc}") from exc
    kind = str(output.get("type", ""))
    path = str(output.get("path", ""))
    if kind != "duckdb":
        return TargetRelations(checked=False, reason=f"the target is a {kind or 'unknown'} database")
    if not path or path == ":memory:" or ":" in path.split("/", 1)[0]:
        return TargetRelations(checked=False, reason=f"the DuckDB target {path!r} is not a local file")
    database = Path(path).expanduser()
    if not database.is_absolute():
        database = Path.cwd() / database  # dbt-duckdb opens a relative path from the working directory
    if not database.exists():
        return TargetRelations(location=str(database))
    import duckdb

    query = "select table_catalog, table_schema, table_name from information_schema.tables"
    try:
        try:
            con = duckdb.connect(str(database), read_only=True)
        except duckdb.ConnectionException:
            con = duckdb.connect(
                str(database)
            )  # already open in this process with dbt-duckdb's configuration
        try:
            rows = con.execute(query).fetchall()
        finally:
            con.close()
    except duckdb.IOException as exc:
        raise DatabaseLockedError(
            f"cannot read {database} to check which parents of the selection are built: {exc}"
        ) from exc
    relations = frozenset(tuple(str(v).lower() for v in row) for row in rows)
    return TargetRelations(relations=relations, location=str(database))
