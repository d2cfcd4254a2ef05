"""The per-year metrics of a simulation run (`YearMetrics`), from the year's events and snapshot, and its
nondiscrimination results (`nondiscrimination_results`, when the project has that model)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from planalign.errors import PlanalignError
from planalign.simulation.run_directory import NondiscriminationResults, YearCost, YearMetrics
from planalign.simulation.state import SimulationState

if TYPE_CHECKING:
    from planalign.engine.nodes import ProjectManifest


def year_metrics(database: Path, manifest: ProjectManifest, year: int) -> YearMetrics:
    """The year's headline figures, read from the database the year was just built in."""
    events = _relation(manifest, "fct_yearly_events")
    snapshot = _relation(manifest, "fct_workforce_snapshot")
    state = SimulationState(database)
    by_type = {
        str(t): int(n)
        for t, n in state.query(
            f"select event_type, count(*) from {events} where simulation_year = ? group by 1 order by 1",
            [year],
        )
    }
    new_hire_terms = state.query(
        f"select count(*) from {events} t join {events} h using (employee_id, simulation_year) "
        "where t.simulation_year = ? and t.event_type = 'termination' and h.event_type = 'hire'",
        [year],
    )[0][0]
    row = state.query(
        "select count(*) filter (where employment_status = 'active'), "
        "count(*) filter (where employment_status = 'active' and is_enrolled), "
        "coalesce(sum(employee_contribution), 0), coalesce(sum(employer_match), 0), "
        "coalesce(avg(annual_compensation) filter (where employment_status = 'active'), 0) "
        f"from {snapshot} where simulation_year = ?",
        [year],
    )[0]
    actives = int(row[0] or 0)
    enrolled = int(row[1] or 0)
    return YearMetrics(
        actives=actives,
        hires=by_type.get("hire", 0),
        terminations=by_type.get("termination", 0),
        new_hire_terminations=int(new_hire_terms or 0),
        promotions=by_type.get("promotion", 0),
        raises=by_type.get("raise", 0),
        enrollments=by_type.get("enrollment", 0),
        opt_outs=by_type.get("enrollment_opt_out", 0),
        escalations=by_type.get("deferral_escalation", 0),
        participation_rate=round(enrolled / actives, 6) if actives else 0.0,
        employee_contributions=round(float(row[2] or 0), 2),
        employer_match=round(float(row[3] or 0), 2),
        avg_compensation=round(float(row[4] or 0), 2),
        events_by_type=by_type,
        nondiscrimination=nondiscrimination_results(state, manifest, year),
        cost=year_cost(state, manifest, year),
    )


#: The columns of planalign's `rpt_yearly_summary` that `year_cost` reads.
_COST_COLUMNS = frozenset(
    {"enrolled_actives", "total_compensation_paid", "employer_core_contributions", "employer_cost"}
)


def year_cost(state: SimulationState, manifest: ProjectManifest, year: int) -> YearCost | None:
    """The year's employer cost and payroll from `rpt_yearly_summary` (summed over its scenario rows: a plain
    run has one), as the sweep's comparison reads them; None when the project has no such model, or one
    without those columns (a test project's stand-in)."""
    if not any(node.name == "rpt_yearly_summary" for node in manifest.models()):
        return None
    relation = _relation(manifest, "rpt_yearly_summary")
    columns = {str(row[0]) for row in state.query(f"describe {relation}")}
    if not columns >= _COST_COLUMNS:  # a project's own rpt_yearly_summary, not planalign's: no cost record
        return None
    rows = state.query(
        "select count(*), coalesce(sum(enrolled_actives), 0), coalesce(sum(total_compensation_paid), 0), "
        "coalesce(sum(employer_core_contributions), 0), coalesce(sum(employer_cost), 0) "
        f"from {relation} where simulation_year = ?",
        [year],
    )
    count, enrolled, payroll, core, cost = rows[0]
    if not count:
        raise PlanalignError(f"{relation} has no row for {year}; the model builds one a year")
    return YearCost(
        enrolled=int(enrolled),
        payroll=_money(payroll),
        employer_core=_money(core),
        employer_cost=_money(cost),
    )


#: The columns of `nondiscrimination_results` read into `NondiscriminationResults`, in field order.
_ND_COLUMNS = tuple(field.name for field in dataclasses.fields(NondiscriminationResults))


def nondiscrimination_results(
    state: SimulationState, manifest: ProjectManifest, year: int
) -> NondiscriminationResults | None:
    """The year's row of `nondiscrimination_results`; None when the project has no such model. A project
    that has it but holds no row for the year is a broken build, not an absence: that raises."""
    if not any(node.name == "nondiscrimination_results" for node in manifest.models()):
        return None
    relation = _relation(manifest, "nondiscrimination_results")
    rows = state.query(f"select {', '.join(_ND_COLUMNS)} from {relation} where simulation_year = ?", [year])
    if len(rows) != 1:
        raise PlanalignError(
            f"{relation} has {len(rows)} rows for {year}; the model builds exactly one a year"
        )
    v = dict(zip(_ND_COLUMNS, rows[0], strict=True))
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
