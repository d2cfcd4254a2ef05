"""The model graph of a dbt project and what can be derived from it: order, cycles, selections, plans.

Works on the neutral `ProjectManifest` (an in-process parse or `target/manifest.json`), never on dbt classes.
Every node of the manifest is part of the graph; seeds, sources and snapshots are roots that the engine never
schedules. Edges point from a dependency to the node that reads it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import cached_property

from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.nodes import INLINED_MATERIALIZATIONS, ManifestNode, ProjectManifest
from planalign.engine.plan import ExecutionPlan, build_plan, topological
from planalign.engine.safety import SafetyReport, validate_safety
from planalign.errors import DependencyCycleError, SelectionError

#: Resource types dbt materializes as relations of the target (sources exist outside dbt's control).
_BUILT_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot"})


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
        return self.node(unique_id).materialized in INLINED_MATERIALIZATIONS

    def execution_class(self, unique_id: str) -> ModelExecutionType:
        """The model's class according to the classifier (cached)."""
        if unique_id not in self._classes:
            self._classes[unique_id] = self.classifier.classify(self.node(unique_id))
        return self._classes[unique_id]

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
        return topological(self.selection_dependencies(model_ids))

    # ---------------------------------------------------------------- planning

    def plan(
        self,
        model_ids: Iterable[str],
        *,
        durations: Mapping[str, float] | None = None,
        enable_conditional_parallelization: bool = False,
        max_workers: int | None = None,
        models_per_invocation: int = 1,
        label: str | None = None,
    ) -> ExecutionPlan:
        """The execution plan of a selection (see `ExecutionPlan` for what each figure means, `build_plan`
        for the arguments). Phases are named after the classifier's `ExecutionDefaults.group_names`.
        Raises `DependencyCycleError` / `SelectionError` for bad input.

        For the plan an engine will really execute — its workers (1 when parallelization is off), batch
        size and recorded durations — call `ParallelExecutionEngine.plan` instead.
        """
        deps = self.selection_dependencies(model_ids)
        stages: dict[str, str | None] = {}
        for uid in deps:
            stage = self.node(uid).planalign_meta.get("stage")
            stages[uid] = stage if isinstance(stage, str) else None
        return build_plan(
            deps,
            classes={uid: self.execution_class(uid) for uid in deps},
            names={uid: self.node(uid).name for uid in deps},
            stages=stages,
            durations=durations,
            enable_conditional_parallelization=enable_conditional_parallelization,
            max_workers=max_workers,
            models_per_invocation=models_per_invocation,
            group_names=self.classifier.defaults.group_names,
            label=label,
        )

    # ---------------------------------------------------------------- safety

    def validate_safety(
        self,
        model_ids: Iterable[str],
        *,
        already_built: Collection[str] = (),
        enable_conditional_parallelization: bool = False,
    ) -> SafetyReport:
        """Check a selection before running it; see `planalign.engine.safety.validate_safety`."""
        return validate_safety(
            self,
            model_ids,
            already_built=already_built,
            enable_conditional_parallelization=enable_conditional_parallelization,
        )

    def missing_references(self, unique_id: str) -> tuple[str, ...]:
        """What the node depends on that the manifest does not contain (a dangling `ref`)."""
        self.node(unique_id)
        return self._dangling.get(unique_id, ())

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
                if node.materialized in INLINED_MATERIALIZATIONS:
                    stack.extend(self._parents[parent])
                    continue
                found.setdefault(parent, set()).add(uid)
        return {parent: tuple(sorted(readers)) for parent, readers in sorted(found.items())}
