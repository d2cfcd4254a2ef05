"""What the benchmark needs to know about the dbt project, read from dbt's own `target/manifest.json`.

Configurations C and E do the simulation's work without planalign, so they cannot use planalign's planner;
they derive the same work from the same declarations the planner reads — each model's `meta: {planalign:
{stage, scope}}` and its declared dependencies — so that all five configurations build the same models in
every year:

- year 1 builds every model (year-invariant `scope: simulation` models included);
- later years build only `scope: year` models, because year-invariant models do not change between years
  (planalign builds them once per simulation, as "simulation:<stage>").
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Stages in run order (docs/architecture.md); a model never depends on a model of a later stage.
STAGES: tuple[str, ...] = (
    "initialization",
    "foundation",
    "event_generation",
    "state_accumulation",
    "validation",
    "reporting",
)


class ProjectError(Exception):
    """The dbt project's manifest cannot be used for the benchmark (missing meta, unknown stage, cycle)."""


@dataclass(frozen=True)
class ModelInfo:
    """One model as the benchmark configurations C and E need it."""

    unique_id: str
    name: str
    stage: str
    scope: str
    materialized: str
    depends_on: tuple[str, ...]

    @property
    def stage_index(self) -> int:
        return STAGES.index(self.stage)


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a dbt `manifest.json`."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ProjectError(f"{path} does not exist; run `dbt parse` or `dbt compile` first") from exc
    return data


def _planalign_meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    for meta in (node.get("config", {}).get("meta", {}), node.get("meta", {})):
        value = meta.get("planalign") if isinstance(meta, Mapping) else None
        if isinstance(value, Mapping):
            return value
    return {}


def project_models(manifest: Mapping[str, Any], project_name: str | None = None) -> dict[str, ModelInfo]:
    """Every enabled model of the root project with its stage and scope, keyed by unique_id.

    Raises `ProjectError` naming every model whose meta lacks a known stage, because a model the benchmark
    cannot place would silently be built by some configurations and not others.
    """
    nodes: Mapping[str, Mapping[str, Any]] = manifest["nodes"]
    root = project_name or manifest.get("metadata", {}).get("project_name")
    models: dict[str, ModelInfo] = {}
    problems: list[str] = []
    for uid, node in nodes.items():
        if node.get("resource_type") != "model" or (root and node.get("package_name") != root):
            continue
        meta = _planalign_meta(node)
        stage = meta.get("stage")
        if stage not in STAGES:
            problems.append(f"{node['name']}: meta.planalign.stage is {stage!r}, expected one of {STAGES}")
            continue
        scope = str(meta.get("scope", "year"))
        models[uid] = ModelInfo(
            unique_id=uid,
            name=str(node["name"]),
            stage=str(stage),
            scope=scope,
            materialized=str(node.get("config", {}).get("materialized", "view")),
            depends_on=tuple(node.get("depends_on", {}).get("nodes", [])),
        )
    if problems:
        raise ProjectError("models the benchmark cannot place:\n  " + "\n  ".join(problems))
    return models


def models_for_year(models: Mapping[str, ModelInfo], *, first_year: bool) -> dict[str, ModelInfo]:
    """The models built in one year: all of them in the first year, `scope: year` ones afterwards."""
    return {uid: m for uid, m in models.items() if first_year or m.scope != "simulation"}


def by_stage(models: Iterable[ModelInfo]) -> dict[str, list[ModelInfo]]:
    """Models grouped by stage, stages in run order, models sorted by name (stages with no model omitted)."""
    grouped: dict[str, list[ModelInfo]] = {}
    for stage in STAGES:
        members = sorted((m for m in models if m.stage == stage), key=lambda m: m.name)
        if members:
            grouped[stage] = members
    return grouped


def topological_order(models: Mapping[str, ModelInfo]) -> list[ModelInfo]:
    """A deterministic topological order of `models` (dependencies outside the set are treated as built).

    Ties are broken by (stage, name), so the order also respects the stage sequence the orchestrator uses.
    """
    indegree = {uid: 0 for uid in models}
    dependents: dict[str, list[str]] = {uid: [] for uid in models}
    for uid, model in models.items():
        for dep in set(model.depends_on):
            if dep in models:
                indegree[uid] += 1
                dependents[dep].append(uid)
    ready = [(m.stage_index, m.name, uid) for uid, m in models.items() if indegree[uid] == 0]
    heapq.heapify(ready)
    order: list[ModelInfo] = []
    while ready:
        _, _, uid = heapq.heappop(ready)
        order.append(models[uid])
        for child in dependents[uid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (models[child].stage_index, models[child].name, child))
    if len(order) != len(models):
        stuck = sorted(models[uid].name for uid, deg in indegree.items() if deg > 0)
        raise ProjectError(f"dependency cycle among: {', '.join(stuck)}")
    return order


def reporting_stage_tests(manifest: Mapping[str, Any]) -> list[str]:
    """Names of the enabled data tests that read a model of the reporting stage. planalign runs them right
    after that stage (`planalign.simulation.build.reporting_tests`), not with the validation stage's tests:
    before the reporting stage their tables do not exist yet in the first year."""
    nodes = manifest["nodes"]
    reporting = {
        uid
        for uid, node in nodes.items()
        if node.get("resource_type") == "model" and _planalign_meta(node).get("stage") == "reporting"
    }
    return sorted(
        str(node["name"])
        for node in nodes.values()
        if node.get("resource_type") == "test"
        and node.get("config", {}).get("enabled", True)
        and set((node.get("depends_on") or {}).get("nodes") or ()) & reporting
    )


def project_tests(manifest: Mapping[str, Any], *, first_year: bool = True) -> list[str]:
    """unique_ids of the enabled data tests planalign's validation stage runs in a year: every test in the
    first year (a plain `dbt test`), afterwards the tests that read at least one node other than a
    year-invariant (`scope: simulation`) model or a seed (`planalign.simulation.build.year_tests`)."""
    nodes = manifest["nodes"]
    invariant = {
        uid
        for uid, node in nodes.items()
        if node.get("resource_type") == "seed"
        or (node.get("resource_type") == "model" and _planalign_meta(node).get("scope") == "simulation")
    }
    return sorted(
        uid
        for uid, node in nodes.items()
        if node.get("resource_type") == "test"
        and node.get("config", {}).get("enabled", True)
        and (first_year or not set((node.get("depends_on") or {}).get("nodes") or ()) <= invariant)
    )
