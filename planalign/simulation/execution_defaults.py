"""The simulation's naming conventions for the engine: execution classes by model name, and phase labels.

The engine classifies a model by its `meta: {planalign: {execution: ...}}` and knows no project; these are
the specification's defaults (S067-02, "Model Classification System") for the simulation's models, handed
to the engine as `ModelClassifier(defaults=SIMULATION_EXECUTION_DEFAULTS)`. Every model of `dbt_project/`
declares its own meta, which always wins; the table keeps the specification's examples true for a model
that does not, and names the plan's phases as the specification's log lines do ("Phase 1 (Parallel): 3
models, hazard_calculations group").

Add a model here only when it cannot carry its own meta.
"""

from __future__ import annotations

from planalign.engine.classification import ExecutionDefaults, ModelExecutionType

_PARALLEL_SAFE = ModelExecutionType.PARALLEL_SAFE
_SEQUENTIAL = ModelExecutionType.SEQUENTIAL
_CONDITIONAL = ModelExecutionType.CONDITIONAL

_NAMES: dict[ModelExecutionType, tuple[str, ...]] = {
    _PARALLEL_SAFE: (
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
    _SEQUENTIAL: (
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
    _CONDITIONAL: (
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

SIMULATION_EXECUTION_DEFAULTS = ExecutionDefaults(
    classes_by_name={name: cls for cls, names in _NAMES.items() for name in names},
    classes_by_prefix={"stg_config_": _PARALLEL_SAFE, "dq_": _PARALLEL_SAFE},
    # Most specific first: the first prefix a phase's common name tokens start with names it.
    group_names=(
        (("int", "hazard"), "hazard_calculations"),
        (("stg", "config"), "staging_config"),
        (("stg",), "staging"),
        (("dq",), "data_quality"),
        (("dim",), "dimensions"),
        (("fct",), "facts"),
        (("int",), "intermediate"),
    ),
)
