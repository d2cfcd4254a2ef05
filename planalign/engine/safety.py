"""Safety validation of a selection before it runs: what would make the run fail or misorder, found first.

A run is refused (`ExecutionSafetyError`) or falls back to one worker on an ERROR; WARNINGs are reported.
The checks read only the declared graph and the execution classes, through `DependencyGraph` — the part of
`planalign.engine.graph.ModelDependencyAnalyzer` they need, so that the graph may call them without the two
modules importing each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from planalign.engine.classification import ModelExecutionType
from planalign.engine.nodes import INLINED_MATERIALIZATIONS, SCHEDULABLE_RESOURCE_TYPES, ManifestNode


class DependencyGraph(Protocol):
    """What the checks read of a project's graph (`ModelDependencyAnalyzer` is the one implementation)."""

    def node(self, unique_id: str) -> ManifestNode: ...

    def resolve(self, model_ids: Iterable[str]) -> tuple[str, ...]: ...

    def execution_class(self, unique_id: str) -> ModelExecutionType: ...

    def dependencies(self, unique_id: str, transitive: bool = False) -> frozenset[str]: ...

    def find_cycles(self) -> list[tuple[str, ...]]: ...

    def format_cycle(self, cycle: Iterable[str]) -> str: ...

    def missing_references(self, unique_id: str) -> tuple[str, ...]: ...


class IssueSeverity(StrEnum):
    """ERROR makes a selection unsafe to run; WARNING is reported and does not block."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class SafetyIssue:
    """One finding of `validate_safety`. `kind` is a stable identifier for tests and machine readers."""

    kind: str
    severity: IssueSeverity
    message: str
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class SafetyReport:
    """The outcome of `validate_safety` for one selection."""

    model_ids: tuple[str, ...]
    issues: tuple[SafetyIssue, ...] = ()

    @property
    def safe(self) -> bool:
        """True when no issue is an ERROR (warnings do not block)."""
        return not self.errors

    @property
    def errors(self) -> tuple[SafetyIssue, ...]:
        return tuple(i for i in self.issues if i.severity is IssueSeverity.ERROR)

    @property
    def warnings(self) -> tuple[SafetyIssue, ...]:
        return tuple(i for i in self.issues if i.severity is IssueSeverity.WARNING)

    def describe(self) -> str:
        """A multi-line message listing every issue, errors first."""
        if not self.issues:
            return f"{len(self.model_ids)} models: no safety issues"
        lines = [f"{len(self.errors)} error(s), {len(self.warnings)} warning(s):"]
        lines.extend(f"  [{i.severity.value}] {i.kind}: {i.message}" for i in (*self.errors, *self.warnings))
        return "\n".join(lines)


def validate_safety(
    analyzer: DependencyGraph,
    model_ids: Iterable[str],
    *,
    already_built: Collection[str] = (),
    enable_conditional_parallelization: bool = False,
) -> SafetyReport:
    """Check a selection before running it.

    Errors: a cycle; a reference to a node missing from the manifest; a selected model reading a model
    that is neither selected nor in `already_built` (unique_ids or names; ephemeral models are looked
    through, since dbt inlines them). Warnings: models that run alone but whose mutual order the graph
    does not declare (the scheduler then orders them by its deterministic tie-break, which may not be what
    their state logic assumes).
    """
    selection = analyzer.resolve(model_ids)
    cycles = analyzer.find_cycles()
    selected = set(selection)
    issues: list[SafetyIssue] = []
    for cycle in cycles:
        issues.append(
            SafetyIssue(
                "cycle", IssueSeverity.ERROR, f"dependency cycle: {analyzer.format_cycle(cycle)}", cycle
            )
        )
    built = set(already_built)
    for uid in selection:
        for missing in analyzer.missing_references(uid):
            issues.append(
                SafetyIssue(
                    "missing_node",
                    IssueSeverity.ERROR,
                    f"{analyzer.node(uid).name} depends on {missing}, which the manifest does not contain",
                    (uid,),
                )
            )
        for parent in _unbuilt_parents(analyzer, uid, selected, built):
            issues.append(
                SafetyIssue(
                    "unbuilt_dependency",
                    IssueSeverity.ERROR,
                    f"{analyzer.node(uid).name} depends on {analyzer.node(parent).name}, which is neither "
                    "selected nor already built (dbt run would fail on it too); select it as well "
                    f"(`+{analyzer.node(uid).name}`) or build it first",
                    (uid, parent),
                )
            )
    if not cycles:
        issues.extend(_unordered_alone(analyzer, selection, enable_conditional_parallelization))
    return SafetyReport(model_ids=selection, issues=tuple(issues))


def _unbuilt_parents(analyzer: DependencyGraph, uid: str, selected: set[str], built: set[str]) -> list[str]:
    found: list[str] = []
    stack = list(analyzer.dependencies(uid))
    seen: set[str] = set()
    while stack:
        parent = stack.pop()
        if parent in seen:
            continue
        seen.add(parent)
        node = analyzer.node(parent)
        if node.resource_type not in SCHEDULABLE_RESOURCE_TYPES or parent in selected:
            continue
        if parent in built or node.name in built:
            continue
        if node.materialized in INLINED_MATERIALIZATIONS:
            stack.extend(analyzer.dependencies(parent))
            continue
        found.append(parent)
    return sorted(found)


def _unordered_alone(
    analyzer: DependencyGraph, selection: tuple[str, ...], enable_conditional: bool
) -> list[SafetyIssue]:
    alone = sorted(
        uid
        for uid in selection
        if analyzer.execution_class(uid).runs_alone(enable_conditional_parallelization=enable_conditional)
    )
    if len(alone) < 2:
        return []
    ancestors = {uid: analyzer.dependencies(uid, transitive=True) for uid in alone}
    pairs = [
        (a, b)
        for i, a in enumerate(alone)
        for b in alone[i + 1 :]
        if a not in ancestors[b] and b not in ancestors[a]
    ]
    if not pairs:
        return []
    shown = ", ".join(f"{analyzer.node(a).name} / {analyzer.node(b).name}" for a, b in pairs[:10])
    more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
    models = tuple(sorted({uid for pair in pairs for uid in pair}))
    return [
        SafetyIssue(
            "unordered_sequential",
            IssueSeverity.WARNING,
            f"{len(pairs)} pair(s) of models that run alone have no declared order ({shown}{more}); "
            "they run in deterministic tie-break order",
            models,
        )
    ]
