"""The model graph of a dbt project and what can be derived from it: order, cycles, parallelism, safety.

Works on the neutral `ProjectManifest` (an in-process parse or `target/manifest.json`), never on dbt classes.
Every node of the manifest is part of the graph; seeds, sources and snapshots are roots that the engine never
schedules. Edges point from a dependency to the node that reads it.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.nodes import SCHEDULABLE_RESOURCE_TYPES, ManifestNode, ProjectManifest
from planalign.engine.plan import (
    ExecutionPhase,
    ExecutionPlan,
    PhaseMode,
    group_label,
    safe_ratio,
    simulate_makespan,
)
from planalign.errors import DependencyCycleError, SelectionError

#: Materializations dbt never builds as a relation: such a model is inlined where it is referenced.
_INLINED_MATERIALIZATIONS = frozenset({"ephemeral"})
#: Resource types dbt materializes as relations of the target (sources exist outside dbt's control).
_BUILT_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot"})


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
    """The outcome of `ModelDependencyAnalyzer.validate_safety` for one selection."""

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


class ModelDependencyAnalyzer:
    """Dependency analysis and planning over one parsed project.

    The analyzer is immutable after construction and cheap to query repeatedly; classification results and
    the cycle check are cached.
    """

    def __init__(self, manifest: ProjectManifest, classifier: ModelClassifier) -> None:
        self.manifest = manifest
        self.classifier = classifier
        parents: dict[str, tuple[str, ...]] = {}
        dangling: dict[str, tuple[str, ...]] = {}
        for uid, node in manifest.nodes.items():
            known = tuple(dict.fromkeys(d for d in node.depends_on if d in manifest.nodes))
            parents[uid] = known
            missing = tuple(d for d in node.depends_on if d not in manifest.nodes)
            if missing:
                dangling[uid] = missing
        children: dict[str, list[str]] = {uid: [] for uid in manifest.nodes}
        for uid, ups in parents.items():
            for parent in ups:
                children[parent].append(uid)
        self._parents = parents
        self._children = {uid: tuple(sorted(kids)) for uid, kids in children.items()}
        self._dangling = dangling
        self._classes: dict[str, ModelExecutionType] = {}

    # ---------------------------------------------------------------- lookups

    def node(self, unique_id: str) -> ManifestNode:
        try:
            return self.manifest.nodes[unique_id]
        except KeyError:
            raise SelectionError(
                f"no node {unique_id!r} in the dbt project at {self.manifest.project_dir}"
            ) from None

    def resolve(self, model_ids: Iterable[str]) -> tuple[str, ...]:
        """unique_ids for the given model unique_ids or names, in the given order, duplicates removed.
        Raises `SelectionError` for anything that is not a model of the project."""
        resolved = (self.manifest.model_by_name(m).unique_id for m in model_ids)
        return tuple(dict.fromkeys(resolved))

    def inlined(self, unique_id: str) -> bool:
        """Whether dbt builds no relation for the model (ephemeral: its SQL is inlined where it is
        referenced). Such a model is never run on its own — `dbt run` reports nothing for it, and neither
        does the engine; its dependents compile it into their own SQL."""
        return self.node(unique_id).materialized in _INLINED_MATERIALIZATIONS

    def execution_class(self, unique_id: str) -> ModelExecutionType:
        """The model's class according to the classifier (cached)."""
        if unique_id not in self._classes:
            self._classes[unique_id] = self.classifier.classify(self.node(unique_id))
        return self._classes[unique_id]

    def model_graph(self) -> dict[str, tuple[str, ...]]:
        """Every model → its direct dependencies (models, seeds, sources, snapshots), sorted by unique_id."""
        return {n.unique_id: tuple(sorted(self._parents[n.unique_id])) for n in self.manifest.models()}

    def roots(self) -> tuple[str, ...]:
        """Nodes without dependencies (seeds, sources, models reading nothing), sorted."""
        return tuple(sorted(uid for uid, ups in self._parents.items() if not ups))

    def dependencies(self, unique_id: str, transitive: bool = False) -> frozenset[str]:
        """Nodes `unique_id` reads, directly or (transitive=True) through any chain."""
        self.node(unique_id)
        if not transitive:
            return frozenset(self._parents[unique_id])
        return self._reach(unique_id, self._parents)

    def dependents(self, unique_id: str, transitive: bool = False) -> frozenset[str]:
        """Nodes that read `unique_id`, directly or (transitive=True) through any chain."""
        self.node(unique_id)
        if not transitive:
            return frozenset(self._children[unique_id])
        return self._reach(unique_id, self._children)

    @staticmethod
    def _reach(start: str, edges: Mapping[str, Iterable[str]]) -> frozenset[str]:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            uid = stack.pop()
            if uid not in seen:
                seen.add(uid)
                stack.extend(edges[uid])
        seen.discard(start)  # only present when start is on a cycle
        return frozenset(seen)

    # ---------------------------------------------------------------- cycles

    def find_cycles(self) -> list[tuple[str, ...]]:
        """Every strongly connected knot of the graph as one closed path (first node repeated at the end),
        in the direction data flows (each node feeds the next). Empty for a DAG."""
        return list(self._cycles)

    @cached_property
    def _cycles(self) -> tuple[tuple[str, ...], ...]:
        cycles = []
        for component in self._strongly_connected_components():
            start = min(component)
            if len(component) == 1 and start not in self._parents[start]:
                continue
            cycles.append(self._cycle_through(start, component))
        return tuple(sorted(cycles))

    def check_acyclic(self) -> None:
        """Raise `DependencyCycleError` naming the first cycle (by model name), e.g. "a → b → c → a"."""
        cycles = self._cycles
        if cycles:
            raise DependencyCycleError(
                f"the model graph has {len(cycles)} cycle(s); dbt cannot order them: "
                + "; ".join(self.format_cycle(c) for c in cycles)
                + ". Remove one of these ref()s (or `-- depends_on:` lines) to break each cycle"
            )

    def format_cycle(self, cycle: Iterable[str]) -> str:
        return " → ".join(self.node(uid).name for uid in cycle)

    def _strongly_connected_components(self) -> list[frozenset[str]]:
        """Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit."""
        index: dict[str, int] = {}
        lowlink: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        components: list[frozenset[str]] = []
        counter = 0
        for root in sorted(self._children):
            if root in index:
                continue
            work: list[tuple[str, int]] = [(root, 0)]
            while work:
                uid, child_pos = work[-1]
                if child_pos == 0:
                    index[uid] = lowlink[uid] = counter
                    counter += 1
                    stack.append(uid)
                    on_stack.add(uid)
                children = self._children[uid]
                if child_pos < len(children):
                    work[-1] = (uid, child_pos + 1)
                    child = children[child_pos]
                    if child not in index:
                        work.append((child, 0))
                    elif child in on_stack:
                        lowlink[uid] = min(lowlink[uid], index[child])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[uid])
                if lowlink[uid] == index[uid]:
                    members = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.add(member)
                        if member == uid:
                            break
                    components.append(frozenset(members))
        return components

    def _cycle_through(self, start: str, component: frozenset[str]) -> tuple[str, ...]:
        """Shortest path start → … → start inside one strongly connected component (breadth-first)."""
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier:
            next_frontier = []
            for uid in frontier:
                for child in self._children[uid]:
                    if child not in component:
                        continue
                    if child == start:
                        path = [uid]
                        while path[-1] != start:
                            path.append(previous[path[-1]])
                        return (start, *reversed(path[:-1]), start) if len(path) > 1 else (start, start)
                    if child not in previous:
                        previous[child] = uid
                        next_frontier.append(child)
            frontier = next_frontier
        raise AssertionError(f"{start} is in a strongly connected component but on no cycle")

    # ---------------------------------------------------------------- selections

    def selection_dependencies(self, model_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each selected model → the selected models it must wait for, sorted.

        A path through unselected nodes still orders two selected models (dbt's subset-graph semantics), so
        `a → b → c` with only `a` and `c` selected makes `c` wait for `a`.
        """
        self.check_acyclic()
        selected = set(self.resolve(model_ids))
        nearest: dict[str, frozenset[str]] = {}

        def nearest_selected(uid: str) -> frozenset[str]:
            """Selected nodes reachable upward from uid without passing another selected node."""
            if uid in nearest:
                return nearest[uid]
            found: set[str] = set()
            stack = [uid]
            visited: set[str] = set()
            while stack:
                current = stack.pop()
                for parent in self._parents[current]:
                    if parent in selected:
                        found.add(parent)
                    elif parent in nearest:
                        found |= nearest[parent]
                    elif parent not in visited:
                        visited.add(parent)
                        stack.append(parent)
            nearest[uid] = frozenset(found)
            return nearest[uid]

        return {uid: tuple(sorted(nearest_selected(uid))) for uid in sorted(selected)}

    def topological_order(self, model_ids: Iterable[str]) -> tuple[str, ...]:
        """The selection in dependency order; among models whose dependencies are all placed, by unique_id."""
        return _topological(self.selection_dependencies(model_ids))

    def independent_sets(self, model_ids: Iterable[str]) -> list[frozenset[str]]:
        """The selection split into topological levels: no model of a set depends on another of the same set,
        and every model's dependencies sit in earlier sets. Each set may run concurrently as far as the graph
        is concerned (execution classes aside)."""
        deps = self.selection_dependencies(model_ids)
        levels = _levels(deps)
        by_level: dict[int, set[str]] = {}
        for uid, level in levels.items():
            by_level.setdefault(level, set()).add(uid)
        return [frozenset(by_level[level]) for level in sorted(by_level)]

    # ---------------------------------------------------------------- planning

    def plan(
        self,
        model_ids: Iterable[str],
        *,
        durations: Mapping[str, float] | None = None,
        enable_conditional_parallelization: bool = False,
        max_workers: int | None = None,
        label: str | None = None,
    ) -> ExecutionPlan:
        """The execution plan of a selection (see `ExecutionPlan` for what each figure means).

        `durations` maps unique_id or model name to seconds recorded in an earlier run; models missing from it
        weigh the mean of the known ones. Raises `DependencyCycleError` / `SelectionError` for bad input.
        """
        deps = self.selection_dependencies(model_ids)
        order = _topological(deps)
        classes = {uid: self.execution_class(uid) for uid in order}
        names = {uid: self.node(uid).name for uid in order}
        weights, weighted = self._weights(order, durations)
        alone = {
            uid: classes[uid].runs_alone(
                enable_conditional_parallelization=enable_conditional_parallelization
            )
            for uid in order
        }
        children: dict[str, list[str]] = {uid: [] for uid in order}
        for uid in order:
            for parent in deps[uid]:
                children[parent].append(uid)
        remaining: dict[str, float] = {}
        for uid in reversed(order):
            remaining[uid] = weights[uid] + max((remaining[c] for c in children[uid]), default=0.0)
        critical_path = self._critical_path(order, deps, weights)
        critical_weight = sum(weights[uid] for uid in critical_path)
        total_work = sum(weights.values())
        makespan = simulate_makespan(order, deps, weights, remaining, alone, max_workers)
        return ExecutionPlan(
            model_ids=order,
            names=names,
            classes=classes,
            dependencies=deps,
            phases=self._phases(order, deps, alone),
            weights=weights,
            weighted=weighted,
            remaining_path=remaining,
            critical_path=critical_path,
            critical_path_weight=critical_weight,
            total_work=total_work,
            estimated_speedup=safe_ratio(total_work, makespan),
            max_theoretical_speedup=safe_ratio(total_work, critical_weight),
            enable_conditional_parallelization=enable_conditional_parallelization,
            max_workers=max_workers,
            label=label,
        )

    def _weights(
        self, order: tuple[str, ...], durations: Mapping[str, float] | None
    ) -> tuple[dict[str, float], bool]:
        if not durations:
            return dict.fromkeys(order, 1.0), False
        known: dict[str, float] = {}
        for uid in order:
            value = durations.get(uid, durations.get(self.node(uid).name))
            if value is not None and value >= 0:
                known[uid] = float(value)
        if not known:
            return dict.fromkeys(order, 1.0), False
        fallback = sum(known.values()) / len(known)
        # A recorded 0 s would make a model free and distort the critical path; a 1 ms floor keeps order.
        return {uid: max(known.get(uid, fallback), 1e-3) for uid in order}, True

    @staticmethod
    def _critical_path(
        order: tuple[str, ...], deps: Mapping[str, tuple[str, ...]], weights: Mapping[str, float]
    ) -> tuple[str, ...]:
        best: dict[str, float] = {}
        via: dict[str, str | None] = {}
        for uid in order:
            parent = max(deps[uid], key=lambda p: (best[p], p), default=None)
            best[uid] = weights[uid] + (best[parent] if parent is not None else 0.0)
            via[uid] = parent
        if not order:
            return ()
        end: str | None = max(order, key=lambda u: (best[u], u))
        path: list[str] = []
        while end is not None:
            path.append(end)
            end = via[end]
        return tuple(reversed(path))

    def _phases(
        self, order: tuple[str, ...], deps: Mapping[str, tuple[str, ...]], alone: Mapping[str, bool]
    ) -> tuple[ExecutionPhase, ...]:
        levels = _levels(deps)
        position = {uid: i for i, uid in enumerate(order)}
        groups: list[tuple[PhaseMode, list[str]]] = []
        for level in sorted(set(levels.values())):
            members = sorted((u for u in order if levels[u] == level), key=position.__getitem__)
            parallel = [u for u in members if not alone[u]]
            sequential = [u for u in members if alone[u]]
            if parallel:
                groups.append((PhaseMode.PARALLEL, parallel))
            if sequential:
                if groups and groups[-1][0] is PhaseMode.SEQUENTIAL:
                    groups[-1][1].extend(sequential)
                else:
                    groups.append((PhaseMode.SEQUENTIAL, sequential))
        phases = []
        for index, (mode, members) in enumerate(groups, start=1):
            nodes = [self.node(u) for u in members]
            stages = [n.planalign_meta.get("stage") for n in nodes]
            label = group_label([n.name for n in nodes], [s if isinstance(s, str) else None for s in stages])
            phases.append(ExecutionPhase(index=index, mode=mode, models=tuple(members), label=label))
        return tuple(phases)

    # ---------------------------------------------------------------- safety

    def validate_safety(
        self,
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
        selection = self.resolve(model_ids)
        selected = set(selection)
        issues: list[SafetyIssue] = []
        for cycle in self._cycles:
            issues.append(
                SafetyIssue(
                    "cycle", IssueSeverity.ERROR, f"dependency cycle: {self.format_cycle(cycle)}", cycle
                )
            )
        built = set(already_built)
        for uid in selection:
            for missing in self._dangling.get(uid, ()):
                issues.append(
                    SafetyIssue(
                        "missing_node",
                        IssueSeverity.ERROR,
                        f"{self.node(uid).name} depends on {missing}, which the manifest does not contain",
                        (uid,),
                    )
                )
            for parent in self._unbuilt_parents(uid, selected, built):
                issues.append(
                    SafetyIssue(
                        "unbuilt_dependency",
                        IssueSeverity.ERROR,
                        f"{self.node(uid).name} depends on {self.node(parent).name}, which is neither "
                        "selected nor already built (dbt run would fail on it too); select it as well "
                        f"(`+{self.node(uid).name}`) or build it first",
                        (uid, parent),
                    )
                )
        if not self._cycles:
            issues.extend(self._unordered_alone(selection, enable_conditional_parallelization))
        return SafetyReport(model_ids=selection, issues=tuple(issues))

    def unselected_parents(self, model_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each relation the selection reads but does not build → the selected models reading it, sorted.

        Relations are models, seeds and snapshots that dbt materializes (`dbt run` of the selection treats
        them as already built); ephemeral models are looked through, since dbt compiles them into their
        readers; sources are not listed — they are not dbt's to build. Ephemeral models of the selection are
        readers like any other (what they read must exist for the models that inline them)."""
        selected = set(self.resolve(model_ids))
        found: dict[str, set[str]] = {}
        for uid in sorted(selected):
            stack = list(self._parents[uid])
            seen: set[str] = set()
            while stack:
                parent = stack.pop()
                if parent in seen or parent in selected:
                    continue
                seen.add(parent)
                node = self.node(parent)
                if node.resource_type not in _BUILT_RESOURCE_TYPES:
                    continue
                if node.materialized in _INLINED_MATERIALIZATIONS:
                    stack.extend(self._parents[parent])
                    continue
                found.setdefault(parent, set()).add(uid)
        return {parent: tuple(sorted(readers)) for parent, readers in sorted(found.items())}

    def _unbuilt_parents(self, uid: str, selected: set[str], built: set[str]) -> list[str]:
        found: list[str] = []
        stack = list(self._parents[uid])
        seen: set[str] = set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            node = self.node(parent)
            if node.resource_type not in SCHEDULABLE_RESOURCE_TYPES or parent in selected:
                continue
            if parent in built or node.name in built:
                continue
            if node.materialized in _INLINED_MATERIALIZATIONS:
                stack.extend(self._parents[parent])
                continue
            found.append(parent)
        return sorted(found)

    def _unordered_alone(self, selection: tuple[str, ...], enable_conditional: bool) -> list[SafetyIssue]:
        alone = sorted(
            uid
            for uid in selection
            if self.execution_class(uid).runs_alone(enable_conditional_parallelization=enable_conditional)
        )
        if len(alone) < 2:
            return []
        ancestors = {uid: self.dependencies(uid, transitive=True) for uid in alone}
        pairs = [
            (a, b)
            for i, a in enumerate(alone)
            for b in alone[i + 1 :]
            if a not in ancestors[b] and b not in ancestors[a]
        ]
        if not pairs:
            return []
        shown = ", ".join(f"{self.node(a).name} / {self.node(b).name}" for a, b in pairs[:10])
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


def _levels(deps: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Longest distance from a root of the selection (0 for models with no selected dependency)."""
    levels: dict[str, int] = {}
    for uid in _topological(deps):
        levels[uid] = 1 + max((levels[p] for p in deps[uid]), default=-1)
    return levels


def _topological(deps: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm with a sorted ready set: the one stable order every caller sees."""
    waiting = {uid: len(parents) for uid, parents in deps.items()}
    children: dict[str, list[str]] = {uid: [] for uid in deps}
    for uid, parents in deps.items():
        for parent in parents:
            children[parent].append(uid)
    ready = [uid for uid, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        uid = heapq.heappop(ready)
        order.append(uid)
        for child in children[uid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(deps):
        raise DependencyCycleError("the selected models form a cycle")  # check_acyclic runs first; defensive
    return tuple(order)
