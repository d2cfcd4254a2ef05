"""The per-year metrics of a simulation run (`YearMetrics`), from the year's events and snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planalign.errors import PlanalignError
from planalign.simulation.run_directory import YearMetrics
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
    )


def _relation(manifest: ProjectManifest, name: str) -> str:
    node = manifest.model_by_name(name)
    if not node.relation_name:
        raise PlanalignError(f"model {name} has no relation name in the manifest")
    return node.relation_name
