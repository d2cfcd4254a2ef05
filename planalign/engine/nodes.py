"""The graph the engine schedules: a neutral, immutable view of a project's nodes.

Everything in the engine (classification, dependency analysis, planning, scheduling) works on
`ProjectManifest`
and `ManifestNode`, never on dbt's own classes, so it is testable without dbt and serves any DAG of named
nodes. `planalign.dbt.manifest` fills these from a dbt project; the engine never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planalign.errors import SelectionError

#: Resource types that are graph nodes. Seeds and sources are roots: they are never scheduled by the engine.
SCHEDULABLE_RESOURCE_TYPES = frozenset({"model"})
#: Materializations dbt never builds as a relation: such a model is inlined where it is referenced.
INLINED_MATERIALIZATIONS = frozenset({"ephemeral"})


@dataclass(frozen=True)
class ManifestNode:
    """One dbt node (model, seed, source, snapshot or test)."""

    unique_id: str
    name: str
    resource_type: str
    package_name: str
    depends_on: tuple[str, ...] = ()
    materialized: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    original_file_path: str = ""
    fqn: tuple[str, ...] = ()  # dbt's fully qualified name; `fqn:a.b.c` selects exactly this node
    relation_name: str | None = None  # the quoted database relation a model/seed writes, e.g. "db"."main"."t"

    @property
    def planalign_meta(self) -> Mapping[str, Any]:
        """The `meta: {planalign: {...}}` block (execution class, stage, scope), or an empty mapping."""
        value = self.meta.get("planalign", {})
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ProjectManifest:
    """All nodes of a parsed dbt project, keyed by unique_id."""

    project_dir: Path
    nodes: Mapping[str, ManifestNode]
    dbt_manifest: Any | None = None  # dbt.contracts.graph.manifest.Manifest, when parsed in-process

    def models(self) -> list[ManifestNode]:
        """Schedulable nodes (models), sorted by unique_id for determinism."""
        return sorted(
            (n for n in self.nodes.values() if n.resource_type in SCHEDULABLE_RESOURCE_TYPES),
            key=lambda n: n.unique_id,
        )

    def model_by_name(self, name: str) -> ManifestNode:
        """Resolve a model by name or unique_id; raises `SelectionError` naming close matches."""
        if name in self.nodes and self.nodes[name].resource_type in SCHEDULABLE_RESOURCE_TYPES:
            return self.nodes[name]
        matches = [n for n in self.models() if n.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(m.unique_id for m in matches)
            raise SelectionError(f"model name {name!r} is ambiguous ({ids}); use the unique_id")
        import difflib

        close = difflib.get_close_matches(name, [m.name for m in self.models()], n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SelectionError(f"no model named {name!r} in the dbt project at {self.project_dir}.{hint}")
