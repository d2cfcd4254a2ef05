"""The analyst's panels of the reports: the assumptions in force and the nondiscrimination tests, as HTML.

The run report and the comparison report show the same assumptions the same way — census, seed, years, the
match formula in words, every parameter with its value — so the formatting of a parameter value lives here
once. Every text that comes from a run or sweep directory is escaped (`html.escape`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planalign.report.assumption_rows import ShownParameter, parameters_in_force
from planalign.report.client import file_name, money
from planalign.report.model import RunReport
from planalign.simulation.run_directory import NondiscriminationResults


@dataclass(frozen=True)
class ParameterRow:
    """One parameter as a table row: `flag` is the source ("config", "seed") or "override" for a scenario's
    override, which the table highlights."""

    name: str
    value: Any
    flag: str
    description: str = ""
    section: str = ""


def percent(value: float, places: int = 2) -> str:
    """0.035 -> "3.5%" (trailing zeros dropped)."""
    text = f"{value * 100:.{places}f}".rstrip("0").rstrip(".")
    return f"{text or '0'}%"


def format_parameter_value(name: str, value: Any) -> str:
    """A parameter's value as an analyst reads it: rates as percentages (with the raw value), booleans as
    yes/no, the match tiers, vesting steps and graded core rates spelled out."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        if name == "match_tiers":
            return "; ".join(_tier_text(t) for t in value) or "none"
        if name == "vesting_schedule":
            return ", ".join(_vesting_text(s) for s in value) or "none"
        if name == "core_contribution_schedule":
            return ", ".join(_core_grade_text(g) for g in value) or "none"
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{percent(value, 4)} ({value:g})"
    return str(value)


def _tier_text(tier: Any) -> str:
    if not isinstance(tier, Mapping):
        return str(tier)
    low = tier.get("employee_min")
    bounds = f"{percent(float(low))}–" if isinstance(low, int | float) else "up to "
    top = percent(float(tier.get("employee_max", 0)))
    return f"{bounds}{top} of pay: {percent(float(tier.get('match_rate', 0)))}"


def _vesting_text(step: Any) -> str:
    if not isinstance(step, Mapping):
        return str(step)
    return f"{step.get('years_of_service')} yr: {percent(float(step.get('vested_share', 0)))}"


def _core_grade_text(grade: Any) -> str:
    if not isinstance(grade, Mapping):
        return str(grade)
    rate = percent(float(grade.get("core_rate", 0)))
    return f"age {grade.get('min_age')}+ and {grade.get('min_service_years')}+ yr: {rate}"


def parameter_table(rows: Sequence[ParameterRow], *, table_id: str, flag_heading: str = "source") -> str:
    parts = [
        f'<table id="{html.escape(table_id)}" class="parameters"><thead><tr><th class="text">parameter</th>'
        f'<th class="text">value</th><th class="text">{html.escape(flag_heading)}</th>'
        '<th class="text">meaning</th></tr></thead><tbody>'
    ]
    for row in rows:
        css = ' class="override"' if row.flag == "override" else ""
        name = html.escape(row.name)
        value = html.escape(format_parameter_value(row.name, row.value))
        parts.append(
            f'<tr{css} data-parameter="{name}"><td class="text"><code>{name}</code></td>'
            f'<td class="text">{value}</td><td class="text">{html.escape(row.flag)}</td>'
            f'<td class="text">{html.escape(row.description)}</td></tr>'
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def facts(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<dl class="facts">'
        + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items)
        + "</dl>"
    )


def assumptions_section(report: RunReport) -> str:
    """The run's assumptions: census file and size, seed, years, the match formula in words, every parameter
    in force (config or seed)."""
    parts = ['<section id="assumptions"><h2>Assumptions</h2>']
    a = report.assumptions
    if a is None:
        parts.append(
            f'<p class="note">{html.escape(report.assumptions_note or "No assumptions recorded.")}</p>'
        )
        parts.append("</section>")
        return "".join(parts)
    formula = html.escape(a.match_formula)
    parts.append(f'<p>Employer match: <span class="formula" id="match-formula">{formula}</span></p>')
    parts.append(
        facts(
            [
                ("census", file_name(a.census_path)),
                ("census rows", f"{a.census_employees:,}"),
                ("first-year HCE look-back pay", a.hce_lookback),
                ("random seed", str(a.random_seed)),
                ("years", f"{a.start_year}–{a.end_year}"),
                ("census as of", a.effective_date),
                ("config digest", report.config_digest or "not recorded"),
            ]
        )
    )
    rows = [
        ParameterRow(s.parameter.name, s.parameter.json_value(), s.source, _meaning(s), s.parameter.section)
        for s in parameters_in_force(a.parameters)
    ]
    parts.append(
        "<p>Every simulation parameter in force and where its value came from: the <em>config file</em>, an "
        "<em>environment variable</em>, a <em>command-line flag</em>, <em>planalign's default</em>, or the "
        "<em>dbt seed</em> (the dbt project's value, when the configuration leaves it unset). A switch "
        "that is off is listed once, with what it turns off.</p>"
    )
    parts.append(parameter_table(rows, table_id="parameter-table"))
    parts.append("</section>")
    return "".join(parts)


def _meaning(shown: ShownParameter) -> str:
    return (
        f"{shown.parameter.description} — {shown.note}".strip(" —")
        if shown.note
        else shown.parameter.description
    )


def _pass_cell(passed: bool) -> str:
    return '<td class="text pass">pass</td>' if passed else '<td class="text fail">FAIL</td>'


def _ratio(value: float | None) -> str:
    return "–" if value is None else percent(value, 2)


def nondiscrimination_section(report: RunReport) -> str:
    """Per year: HCEs, the ADP and ACP tests (NHCE and HCE averages, the HCE limit, pass/fail, refunds) and
    top-heavy status, from the dbt model nondiscrimination_results."""
    parts = ['<section id="nondiscrimination"><h2>Nondiscrimination</h2>']
    rows: list[tuple[int, NondiscriminationResults]] = [
        (year, m.nondiscrimination) for year, m in report.years.items() if m.nondiscrimination is not None
    ]
    if not rows:
        if not report.years:
            note = "No simulated year completed: no nondiscrimination results."
        elif report.schema_version < 2:
            note = (
                f"This run directory was written with summary schema version {report.schema_version}, before "
                "runs recorded the nondiscrimination tests; rerun the simulation to see them here."
            )
        else:
            note = "The run's dbt project has no nondiscrimination_results model: no tests to show."
        parts.append(f'<p class="note">{html.escape(note)}</p></section>')
        return "".join(parts)
    failing = [str(y) for y, nd in rows if not (nd.adp_passed and nd.acp_passed)]
    heavy = [str(y) for y, nd in rows if nd.is_top_heavy]
    summary = (
        f"ADP/ACP failed in {', '.join(failing)}; corrective refunds below."
        if failing
        else "ADP and ACP pass every year."
    )
    summary += f" Top-heavy at the end of {', '.join(heavy)}." if heavy else " Never top-heavy."
    parts.append(f"<p>{html.escape(summary)}</p>")
    parts.append(
        '<table id="nondiscrimination-table"><thead><tr><th>year</th><th>HCEs</th><th>NHCE ADP</th>'
        '<th>HCE ADP</th><th>ADP limit</th><th class="text">ADP</th><th>ADP refunds</th><th>NHCE ACP</th>'
        '<th>HCE ACP</th><th>ACP limit</th><th class="text">ACP</th><th>ACP refunds</th>'
        '<th>key employees\' share</th><th class="text">top-heavy</th></tr></thead><tbody>'
    )
    for year, nd in rows:
        parts.append(
            f'<tr data-year="{year}"><td>{year}</td><td>{nd.hces:,}</td><td>{_ratio(nd.nhce_adp)}</td>'
            f"<td>{_ratio(nd.hce_adp)}</td><td>{_ratio(nd.adp_hce_limit)}</td>{_pass_cell(nd.adp_passed)}"
            f"<td>{money(nd.adp_refunds, places=2)} ({nd.adp_refunded_hces} HCEs)</td>"
            f"<td>{_ratio(nd.nhce_acp)}</td>"
            f"<td>{_ratio(nd.hce_acp)}</td><td>{_ratio(nd.acp_hce_limit)}</td>{_pass_cell(nd.acp_passed)}"
            f"<td>{money(nd.acp_refunds, places=2)} ({nd.acp_refunded_hces} HCEs)</td>"
            f"<td>{_ratio(nd.key_employee_share)}</td>"
            f'<td class="text">{"yes" if nd.is_top_heavy else "no"}</td></tr>'
        )
    parts.append("</tbody></table>")
    parts.append(
        '<p class="note">HCE limit = max(1.25 × NHCE average, min(NHCE + 2 points, 2 × NHCE)); refunds are '
        "the dollar levelling of the highest HCE contributions; top-heavy = key employees hold over 60% of "
        "the balances on December 31 (it governs the next plan year).</p>"
    )
    parts.append("</section>")
    return "".join(parts)
