"""How safely a model may run next to others: the execution classes and the classifier that assigns them.

The declared dbt graph says what a model reads; it cannot say whether a model also relies on *when* it runs
relative to models it does not reference (a state accumulator that reads the table it is about to replace,
a fact table assembled from events whose order matters). The execution class carries that knowledge, which
only the project author has, into the scheduler.

Order of precedence in `ModelClassifier.classify`:

1. the model's own meta, `meta: {planalign: {execution: sequential|parallel_safe|conditional}}`;
2. the built-in defaults of the specification (`_initialize_classifications`: exact names, then prefixes);
3. the classifier's `default_class` (CONDITIONAL unless the caller chooses otherwise — the generic
   `planalign run` uses PARALLEL_SAFE for projects that carry no planalign meta, the same assumption
   `dbt run --threads N` makes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


class ModelClassifier:
    """Assigns each model its `ModelExecutionType` (meta → built-in names/prefixes → `default_class`).

    `builtin_defaults=False` switches off the specification's name/prefix table, so a foreign dbt project
    whose model happens to be called e.g. `fct_yearly_events` is classified only by its meta and
    `default_class`.
    """

    def __init__(
        self,
        default_class: ModelExecutionType = ModelExecutionType.CONDITIONAL,
        *,
        builtin_defaults: bool = True,
    ) -> None:
        self.default_class = ModelExecutionType(default_class)
        self.builtin_defaults = builtin_defaults
        self._by_name: dict[str, ModelExecutionType] = {}
        self._by_prefix: list[tuple[str, ModelExecutionType]] = []
        if builtin_defaults:
            self._initialize_classifications()

    def _initialize_classifications(self) -> None:
        """The specification's classification table (S067-02, "Model Classification System").

        Add a new simulation model here only when it cannot carry its own meta; meta always wins.
        """
        parallel_safe = ModelExecutionType.PARALLEL_SAFE
        sequential = ModelExecutionType.SEQUENTIAL
        conditional = ModelExecutionType.CONDITIONAL
        names: dict[ModelExecutionType, tuple[str, ...]] = {
            parallel_safe: (
                # hazard calculations
                "int_hazard_termination",
                "int_hazard_promotion",
                "int_hazard_merit",
                # staging
                "stg_census_data",
                "stg_comp_levers",
                # independent logic
                "int_effective_parameters",
                "int_workforce_needs",
                # dimensions
                "dim_hazard_table",
                "dim_payroll_calendar",
            ),
            sequential: (
                # state accumulators
                "int_enrollment_state_accumulator",
                "int_deferral_rate_state_accumulator_v2",
                # fact tables
                "fct_yearly_events",
                "fct_workforce_snapshot",
                # previous-year models
                "int_workforce_previous_year",
                "int_active_employees_prev_year_snapshot",
                # snapshots
                "int_workforce_snapshot_optimized",
            ),
            conditional: (
                # event generation
                "int_termination_events",
                "int_hiring_events",
                "int_promotion_events",
                # contributions
                "int_employee_contributions",
                "int_employee_match_calculations",
                # complex aggregations
                "int_employee_compensation_by_year",
            ),
        }
        for execution_type, model_names in names.items():
            for name in model_names:
                self._by_name[name] = execution_type
        # Longest prefix first, so a more specific prefix can override a general one if one is ever added.
        prefixes = [("stg_config_", parallel_safe), ("dq_", parallel_safe)]
        self._by_prefix = sorted(prefixes, key=lambda item: -len(item[0]))

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
        if name in self._by_name:
            return self._by_name[name], "name"
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

    def classify_all(self, nodes: Iterable[ManifestNode]) -> dict[str, ModelExecutionType]:
        """unique_id → class for every node given."""
        return {node.unique_id: self.classify(node) for node in nodes}

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
