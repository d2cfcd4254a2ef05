"""How safely a model may run next to others: the execution classes and the classifier that assigns them.

The declared dbt graph says what a model reads; it cannot say whether a model also relies on *when* it runs
relative to models it does not reference (a state accumulator that reads the table it is about to replace,
a fact table assembled from events whose order matters). The execution class carries that knowledge, which
only the project author has, into the scheduler.

Order of precedence in `ModelClassifier.classify`:

1. the model's own meta, `meta: {planalign: {execution: sequential|parallel_safe|conditional}}`;
2. the project's `ExecutionDefaults` handed to the classifier (exact names, then prefixes; none unless the
   caller gives them — the simulation's are `planalign.simulation.execution_defaults`);
3. the classifier's `default_class` (CONDITIONAL unless the caller chooses otherwise — the generic
   `planalign run` uses PARALLEL_SAFE for projects that carry no planalign meta, the same assumption
   `dbt run --threads N` makes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from planalign.engine.nodes import ManifestNode
from planalign.errors import ClassificationError

ClassificationSource = Literal["meta", "name", "prefix", "default"]


class ModelExecutionType(StrEnum):
    """The three execution classes.

    SEQUENTIAL: runs alone — nothing else is in flight while it runs. Costs parallelism; buys freedom from any
    interference (state accumulators, year-over-year snapshots, fact tables whose content depends on order).

    PARALLEL_SAFE: runs next to any other PARALLEL_SAFE model as soon as its declared dependencies are built.
    The declared dbt graph is the whole contract; choose it when the model reads only what it `ref`s.

    CONDITIONAL: may be parallel-safe but has not been proven so; runs as SEQUENTIAL unless the caller enables
    conditional parallelization (`enable_conditional_parallelization`), in which case it runs as
    PARALLEL_SAFE.
    The safe default for a model nobody has classified.
    """

    SEQUENTIAL = "sequential"
    PARALLEL_SAFE = "parallel_safe"
    CONDITIONAL = "conditional"

    def runs_alone(self, *, enable_conditional_parallelization: bool) -> bool:
        """Whether the scheduler must run a model of this class with nothing else in flight."""
        if self is ModelExecutionType.SEQUENTIAL:
            return True
        return self is ModelExecutionType.CONDITIONAL and not enable_conditional_parallelization


@dataclass(frozen=True)
class ExecutionDefaults:
    """What a project's model names say about its models, for models that carry no meta of their own.

    The engine knows no project: these conventions belong to whoever wrote the models (the simulation's
    live in `planalign.simulation.execution_defaults`) and are handed to the `ModelClassifier`.
    `classes_by_name` classifies exact model names; `classes_by_prefix` name prefixes (the longest matching
    prefix wins). `group_names` names a phase of models by the underscore tokens their names start with,
    e.g. `(("int", "hazard"), "hazard_calculations")` labels a phase of `int_hazard_*` models
    "hazard_calculations group"; the first matching entry wins, so list the more specific ones first.
    """

    classes_by_name: Mapping[str, ModelExecutionType] = field(default_factory=dict)
    classes_by_prefix: Mapping[str, ModelExecutionType] = field(default_factory=dict)
    group_names: tuple[tuple[tuple[str, ...], str], ...] = ()


#: No conventions: a model is classified by its meta, else by the classifier's `default_class`.
NO_DEFAULTS = ExecutionDefaults()


class ModelClassifier:
    """Assigns each model its `ModelExecutionType` (meta → `defaults` by name, then prefix →
    `default_class`).

    `defaults` are the project's naming conventions (`ExecutionDefaults`); the engine's own are none, so a
    foreign dbt project whose model happens to be called e.g. `fct_yearly_events` is classified only by its
    meta and `default_class` unless the caller hands it the simulation's.
    """

    def __init__(
        self,
        default_class: ModelExecutionType = ModelExecutionType.CONDITIONAL,
        *,
        defaults: ExecutionDefaults = NO_DEFAULTS,
    ) -> None:
        self.default_class = ModelExecutionType(default_class)
        self.defaults = defaults
        # Longest prefix first, so a more specific prefix overrides a general one.
        self._by_prefix = sorted(defaults.classes_by_prefix.items(), key=lambda item: -len(item[0]))

    def classify(self, node_or_name: ManifestNode | str) -> ModelExecutionType:
        """The execution class of one model (a `ManifestNode`, or a bare model name with no meta)."""
        return self.explain(node_or_name)[0]

    def explain(self, node_or_name: ManifestNode | str) -> tuple[ModelExecutionType, ClassificationSource]:
        """The execution class and which rule produced it ("meta", "name", "prefix" or "default")."""
        if isinstance(node_or_name, ManifestNode):
            name = node_or_name.name
            declared = node_or_name.planalign_meta.get("execution")
            if declared is not None:
                return self._parse_declared(node_or_name, declared), "meta"
        else:
            name = node_or_name
        if name in self.defaults.classes_by_name:
            return self.defaults.classes_by_name[name], "name"
        for prefix, execution_type in self._by_prefix:
            if name.startswith(prefix):
                return execution_type, "prefix"
        return self.default_class, "default"

    @staticmethod
    def _parse_declared(node: ManifestNode, declared: object) -> ModelExecutionType:
        try:
            return ModelExecutionType(str(declared).strip().lower())
        except ValueError:
            allowed = ", ".join(t.value for t in ModelExecutionType)
            raise ClassificationError(
                f"model {node.name} ({node.original_file_path or node.unique_id}) declares "
                f"meta planalign.execution={declared!r}; expected one of: {allowed}"
            ) from None

    def get_statistics(self, nodes: Iterable[ManifestNode | str]) -> dict[str, int]:
        """Counts per class (keys are the enum values), `total_models`, and how many came from each rule
        (`from_meta`, `from_name`, `from_prefix`, `from_default`)."""
        counts: dict[str, int] = {t.value: 0 for t in ModelExecutionType}
        sources: Mapping[ClassificationSource, str] = {
            "meta": "from_meta",
            "name": "from_name",
            "prefix": "from_prefix",
            "default": "from_default",
        }
        source_counts = dict.fromkeys(sources.values(), 0)
        total = 0
        for node in nodes:
            execution_type, source = self.explain(node)
            counts[execution_type.value] += 1
            source_counts[sources[source]] += 1
            total += 1
        return {"total_models": total, **counts, **source_counts}
