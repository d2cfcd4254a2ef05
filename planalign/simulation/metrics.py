"""The per-year metrics of a simulation run (`YearMetrics`), read from the year's row of the dbt model
`rpt_yearly_summary` (where they are computed, per scenario), and its nondiscrimination results
(`nondiscrimination_results`, when the project has that model)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.errors import PlanalignError
from planalign.simulation.run_directory import NondiscriminationResults, YearCost, YearMetrics
from planalign.simulation.state import SimulationState

if TYPE_CHECKING:
    from planalign.engine.nodes import ProjectManifest


#: `YearMetrics.events_by_type`'s event types and the `rpt_yearly_summary` column counting each: every
#: event type `fct_yearly_events` holds (tests/report/test_summary_real.py checks there is no other).
EVENT_COLUMNS: dict[str, str] = {
    "hire": "hires",
    "termination": "terminations",
    "promotion": "promotions",
    "raise": "raises",
    "enrollment": "enrollments",
    "enrollment_opt_out": "opt_outs",
    "deferral_escalation": "deferral_escalations",
}
#: The other columns of planalign's `rpt_yearly_summary` that `year_metrics` reads.
_FIGURE_COLUMNS = (
    "active_employees",
    "new_hire_terminations",
    "participation_rate",
    "employee_contributions",
    "employer_match",
    "average_compensation",
    "enrolled_actives",
    "total_compensation_paid",
    "employer_core_contributions",
    "employer_cost",
)
_COLUMNS = (*EVENT_COLUMNS.values(), *_FIGURE_COLUMNS)


def year_metrics(
    database: Path, manifest: ProjectManifest, year: int, scenario_id: str
) -> YearMetrics | None:
    """The year's headline figures of `scenario_id`: its row of the dbt model `rpt_yearly_summary` (the one
    home of these numbers), read from the database the year was just built in. None when the project has
    no such model, or one without these columns (a test project's stand-in): such a run records no
    per-year figures. A project that has it but no row for the year and scenario is a broken build: that
    raises."""
    if not any(node.name == "rpt_yearly_summary" for node in manifest.models()):
        return None
    relation = _relation(manifest, "rpt_yearly_summary")
    state = SimulationState(database)
    present = {str(row[0]) for row in state.query(f"describe {relation}")}
    if not present >= set(_COLUMNS):  # a project's own rpt_yearly_summary, not planalign's
        return None
    v = _one_row(state, relation, _COLUMNS, year, scenario_id)
    by_type = {kind: int(v[column]) for kind, column in EVENT_COLUMNS.items() if v[column]}
    return YearMetrics(
        actives=int(v["active_employees"]),
        hires=by_type.get("hire", 0),
        terminations=by_type.get("termination", 0),
        new_hire_terminations=int(v["new_hire_terminations"]),
        promotions=by_type.get("promotion", 0),
        raises=by_type.get("raise", 0),
        enrollments=by_type.get("enrollment", 0),
        opt_outs=by_type.get("enrollment_opt_out", 0),
        escalations=by_type.get("deferral_escalation", 0),
        participation_rate=round(float(v["participation_rate"] or 0), 6),
        employee_contributions=_money(v["employee_contributions"]),
        employer_match=_money(v["employer_match"]),
        avg_compensation=_money(v["average_compensation"]),
        events_by_type=by_type,
        nondiscrimination=nondiscrimination_results(state, manifest, year, scenario_id),
        cost=YearCost(
            enrolled=int(v["enrolled_actives"]),
            payroll=_money(v["total_compensation_paid"]),
            employer_core=_money(v["employer_core_contributions"]),
            employer_cost=_money(v["employer_cost"]),
        ),
    )


def _one_row(
    state: SimulationState, relation: str, columns: tuple[str, ...], year: int, scenario_id: str
) -> dict[str, Any]:
    """`columns` of the one row `relation` (a model built once per scenario and year) holds for the year and
    scenario; any other count is a broken build, and raises."""
    rows = state.query(
        f"select {', '.join(columns)} from {relation} where simulation_year = ? and scenario_id = ?",
        [year, scenario_id],
    )
    if len(rows) != 1:
        raise PlanalignError(
            f"{relation} has {len(rows)} rows for {year} and scenario {scenario_id}; "
            "the model builds exactly one per scenario and year"
        )
    return dict(zip(columns, rows[0], strict=True))


#: The columns of `nondiscrimination_results` read into `NondiscriminationResults`, in field order.
_ND_COLUMNS = tuple(field.name for field in dataclasses.fields(NondiscriminationResults))


def nondiscrimination_results(
    state: SimulationState, manifest: ProjectManifest, year: int, scenario_id: str
) -> NondiscriminationResults | None:
    """The year's row of `nondiscrimination_results` for `scenario_id`; None when the project has no such
    model. A project that has it but holds no row for the year is a broken build, not an absence: that
    raises."""
    if not any(node.name == "nondiscrimination_results" for node in manifest.models()):
        return None
    relation = _relation(manifest, "nondiscrimination_results")
    v = _one_row(state, relation, _ND_COLUMNS, year, scenario_id)
    return NondiscriminationResults(
        hce_compensation_limit=_money(v["hce_compensation_limit"]),
        hces=int(v["hces"]),
        eligible_hces=int(v["eligible_hces"]),
        eligible_nhces=int(v["eligible_nhces"]),
        nhce_adp=_ratio(v["nhce_adp"]),
        hce_adp=_ratio(v["hce_adp"]),
        adp_hce_limit=_ratio(v["adp_hce_limit"]),
        adp_passed=bool(v["adp_passed"]),
        adp_refunds=_money(v["adp_refunds"]),
        adp_refunded_hces=int(v["adp_refunded_hces"]),
        nhce_acp=_ratio(v["nhce_acp"]),
        hce_acp=_ratio(v["hce_acp"]),
        acp_hce_limit=_ratio(v["acp_hce_limit"]),
        acp_passed=bool(v["acp_passed"]),
        acp_refunds=_money(v["acp_refunds"]),
        acp_refunded_hces=int(v["acp_refunded_hces"]),
        key_employees=int(v["key_employees"]),
        key_employee_share=_ratio(v["key_employee_share"]),
        is_top_heavy=bool(v["is_top_heavy"]),
    )


def _money(value: float | Decimal | None) -> float:
    return round(float(value or 0), 2)


def _ratio(value: float | Decimal | None) -> float | None:
    """The model keeps ratios to 12 places; the summary keeps 8 (a millionth of a percentage point)."""
    return None if value is None else round(float(value), 8)


def _relation(manifest: ProjectManifest, name: str) -> str:
    node = manifest.model_by_name(name)
    if not node.relation_name:
        raise PlanalignError(f"model {name} has no relation name in the manifest")
    return node.relation_name
