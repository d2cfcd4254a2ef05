"""The comparison report of a sweep: one self-contained HTML file from comparison.json.

It opens with the answer: per design, the difference to the baseline in employer cost over the years (with
its P5–P95 range) and at present value, and in participation, average deferral and employee contributions in
the last year — one sentence per design, then a table — followed by what the ranges cover and what the model
leaves out. Then the differences to the baseline per year as charts from zero with P5–P95 whiskers; the level
charts of the metrics that differ between designs (the others folded, saying they did not change); the
employer cost over all years, cumulative and at present value; sensitivities; then the assumptions per
scenario (its overrides highlighted, the match formula in words) and the sweep's detail. Charts are inline
SVG drawn by matplotlib (`planalign.report.charts`), with a tooltip per point; nothing is loaded from
anywhere. Every text from the sweep directory is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from planalign.report.behaviour import statements_html
from planalign.report.charts import Chart
from planalign.report.client import PRINT_CSS, file_name, prepared_block, today, when_words
from planalign.report.comparison_answer import answer, num
from planalign.report.comparison_charts import (
    delta_chart,
    format_delta,
    format_value,
    metric_chart,
    scenario_colour,
    tornado_chart,
    varies_with_design,
)
from planalign.report.comparison_model import Comparison, ComparisonFileError, MetricSpec, load_comparison
from planalign.report.html import REPORT_CSS, write_document
from planalign.report.panels import ParameterRow, facts, parameter_table, percent
from planalign.simulation.run_labels import LabelError, ReportLabels, check_label

TOTAL_LABELS: Mapping[str, str] = {
    "cumulative_employer_cost": "Cumulative employer cost",
    "pv_employer_cost": "Present value of employer cost",
}

_CSS = """
table.totals td.delta-up { color: #b71c1c; } table.totals td.delta-down { color: #1b5e20; }
.scenario { border: 1px solid #e3e3e3; background: #fff; border-radius: 4px; padding: 6px 12px;
            margin: 10px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: middle; }
.num { white-space: nowrap; }
.answer-line { font-size: 16px; margin: 6px 0; }
.limitations li { margin: 2px 0; }
"""

#: The metrics whose difference to the baseline the answer charts (in this order), when the sweep has them.
DELTA_METRICS: tuple[str, ...] = (
    "employer_cost",
    "participation_rate",
    "average_deferral_rate",
    "employee_contributions",
)


def _totals_table(comparison: Comparison) -> str:
    seeds = len(comparison.seeds)
    parts = [
        '<table id="totals-table" class="totals"><thead><tr><th class="text">scenario</th>'
        + "".join(
            f"<th>{html.escape(TOTAL_LABELS[m])} P50</th><th>P5–P95</th>"
            f"<th>vs {html.escape(comparison.baseline)} (P50 of paired differences)</th><th>P5–P95</th>"
            for m in TOTAL_LABELS
        )
        + "</tr></thead><tbody>"
    ]
    for name in comparison.scenario_names:
        cells = [f'<td class="text">{html.escape(name)}</td>']
        for metric in TOTAL_LABELS:
            stat = comparison.totals.get((name, metric))
            if stat is None:
                cells.append("<td>–</td>" * 4)
                continue
            band = (
                f"{num(format_value('usd', stat.p5))} – {num(format_value('usd', stat.p95))}"
                if stat.n > 1
                else "–"
            )
            if name == comparison.baseline:
                delta, delta_band, css = "baseline", "–", ""
            else:
                delta = format_delta("usd", stat.delta_p50)
                low, high = format_delta("usd", stat.delta_p5), format_delta("usd", stat.delta_p95)
                delta_band = f"{num(low)} – {num(high)}" if stat.n > 1 else "–"
                css = " delta-up" if stat.delta_p50 > 0 else " delta-down" if stat.delta_p50 < 0 else ""
            cells.append(
                f"<td>{num(format_value('usd', stat.p50))}</td><td>{band}</td>"
                f'<td class="delta{css}">{num(delta)}</td><td>{delta_band}</td>'
            )
        parts.append(f'<tr data-scenario="{html.escape(name)}">{"".join(cells)}</tr>')
    parts.append("</tbody></table>")
    years = f"{comparison.years[0]}–{comparison.years[-1]}"
    parts.append(
        f'<p class="note">Employer cost (match + core − forfeitures used) summed over {html.escape(years)}; '
        f"the present value discounts each year at {percent(comparison.discount_rate)} a year. Over {seeds} "
        "seed(s); a delta is a percentile of the per-seed differences from the baseline under the same "
        "random draws.</p>"
    )
    return "".join(parts)


def _sensitivity_section(comparison: Comparison) -> str:
    """The tornado charts and their values, with what one-at-a-time sensitivities show and do not."""
    if not comparison.sensitivities:
        return ""
    designs = [n for n in comparison.scenario_names if n != comparison.baseline]
    charts = [c for n in designs if (c := tornado_chart(comparison, n)) is not None]
    rows = []
    for name in comparison.sensitivity_names:
        description = comparison.sensitivity_descriptions.get(name, "")
        for scenario in designs:
            low, high = (comparison.sensitivity(name, side, scenario) for side in ("low", "high"))
            central = comparison.totals.get((scenario, "pv_employer_cost"))
            cells = [format_delta("usd", s.delta_p50) if s is not None else "–" for s in (low, central, high)]
            rows.append(
                f'<tr data-sensitivity="{html.escape(name)}" data-scenario="{html.escape(scenario)}">'
                f'<td class="text">{html.escape(name)}</td><td class="text">{html.escape(description)}</td>'
                f'<td class="text">{html.escape(scenario)}</td>'
                + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                + "</tr>"
            )
    return (
        "<h3>Sensitivity: one assumption at a time</h3>"
        '<p class="note">Each assumption is moved on its own to its low and then its high value, every other '
        "assumption as stated and the same seeds; the chart shows how each design's present-value cost "
        f"difference to {html.escape(comparison.baseline)} moves. It does not show assumptions moving "
        "together.</p>"
        '<div class="grid">' + "".join(_figure(c) for c in charts) + "</div>"
        '<table id="sensitivity-table"><thead><tr><th class="text">assumption</th><th class="text">values'
        '</th><th class="text">scenario</th><th>low</th><th>as stated</th><th>high</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _values_table(comparison: Comparison, metric: MetricSpec) -> str:
    heading = "".join(f"<th>{y}</th>" for y in comparison.years)
    rows = []
    for name in comparison.scenario_names:
        cells = []
        for year in comparison.years:
            stat = comparison.rows.get((name, metric.key, year))
            if stat is None:
                cells.append("<td>–</td>")
                continue
            text = format_value(metric.unit, stat.p50)
            if name != comparison.baseline:
                text += f" ({format_delta(metric.unit, stat.delta_p50)})"
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append(f'<tr><td class="text">{html.escape(name)}</td>{"".join(cells)}</tr>')
    return (
        f"<details><summary>{html.escape(metric.label)}: P50 by year "
        f"(delta vs {html.escape(comparison.baseline)})</summary>"
        f'<table data-metric="{html.escape(metric.key)}"><thead><tr><th class="text">scenario</th>'
        f"{heading}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _assumptions(comparison: Comparison) -> str:
    parts = ['<section id="assumptions"><h2>Assumptions</h2>']
    seeds = comparison.seeds
    seed_text = (
        ", ".join(str(s) for s in seeds)
        if len(seeds) <= 10
        else f"{len(seeds)} seeds ({seeds[0]}…{seeds[-1]})"
    )
    employees = (
        f"{comparison.census_employees:,}" if comparison.census_employees is not None else "not recorded"
    )
    parts.append(
        facts(
            [
                ("census", file_name(comparison.census_path)),
                ("census rows", employees),
                ("seeds", seed_text),
                ("years", f"{comparison.years[0]}–{comparison.years[-1]}"),
                ("baseline", comparison.baseline),
                ("discount rate", percent(comparison.discount_rate)),
            ]
        )
    )
    for index, design in enumerate(comparison.scenarios):
        overrides = set(design.overrides)
        rows = [
            ParameterRow(name, value, "override" if name in overrides else "")
            for name, value in sorted(
                design.parameters.items(), key=lambda kv: (kv[0] not in overrides, kv[0])
            )
        ]
        rows += [
            ParameterRow(n, v, "override") for n, v in design.overrides.items() if n not in design.parameters
        ]
        changed = ", ".join(sorted(overrides)) or "none (the baseline configuration)"
        parts.append(
            f'<div class="scenario" data-scenario="{html.escape(design.name)}"><h3><span class="swatch" '
            f'style="background:{scenario_colour(index)}"></span>{html.escape(design.name)}'
            f"{' (baseline)' if design.name == comparison.baseline else ''}</h3>"
        )
        if design.description:
            parts.append(f"<p>{html.escape(design.description)}</p>")
        parts.append(
            f'<p>Employer match: <span class="formula">{html.escape(design.match_formula or "not recorded")}'
            f"</span></p><p>Overrides: {html.escape(changed)}</p>"
        )
        if design.assumptions_error and not design.parameters:
            parts.append(
                '<p class="note">Parameters in force not recorded: '
                f"{html.escape(design.assumptions_error)}</p>"
            )
        parts.append(
            "<p>Behaviour in force:</p>" + statements_html(design.parameters, list_id=f"behaviour-{index}")
        )
        parts.append(
            f"<details><summary>Every parameter in force ({len(rows)}; overrides first, highlighted)"
            "</summary>"
            + parameter_table(rows, table_id=f"parameters-{index}", flag_heading="override")
            + "</details></div>"
        )
    parts.append("</section>")
    return "".join(parts)


def _sweep_detail(comparison: Comparison) -> str:
    sweep = comparison.sweep

    def text(key: str) -> str:
        value = sweep.get(key)
        return "–" if value is None else str(value)

    raw_members = sweep.get("members")
    members: list[Any] = raw_members if isinstance(raw_members, list) else []
    member_rows = "".join(
        f'<tr><td class="text">{html.escape(str(m.get("scenario_id")))}</td><td class="text">'
        f"{html.escape(str(m.get('scenario_name')))}</td><td>{html.escape(str(m.get('random_seed')))}</td></tr>"
        for m in members
        if isinstance(m, Mapping)
    )
    return (
        '<section id="sweep-detail"><h2>Sweep detail</h2>'
        + facts(
            [
                ("sweep", comparison.name),
                ("status", comparison.status),
                ("scenarios file", file_name(text("scenarios_file"))),
                ("database", file_name(text("database"))),
                ("config digest", text("config_digest")),
                ("started", when_words(text("started_at"))),
                ("finished", when_words(text("finished_at"))),
                (
                    "elapsed",
                    f"{sweep['elapsed_seconds']:.1f} s"
                    if isinstance(sweep.get("elapsed_seconds"), int | float)
                    else "–",
                ),
                ("comparison file", file_name(str(comparison.path))),
            ]
        )
        + f"<details><summary>{len(members)} members (scenario × seed)</summary>"
        '<table id="members-table"><thead><tr><th class="text">scenario_id</th>'
        '<th class="text">scenario</th><th>seed</th></tr></thead><tbody>'
        + member_rows
        + "</tbody></table></details></section>"
    )


def render_comparison(
    comparison: Comparison, *, labels: ReportLabels | None = None, prepared_on: date | None = None
) -> str:
    charts = [(m, metric_chart(comparison, m)) for m in comparison.metrics]
    status_note = (
        ""
        if comparison.status == "complete"
        else f'<p class="warning">The sweep is {html.escape(comparison.status)}: figures may be partial.</p>'
    )
    legend = " ".join(
        f'<span><span class="swatch" style="background:{scenario_colour(i)}"></span>{html.escape(n)}</span>'
        for i, n in enumerate(comparison.scenario_names)
    )
    seeds = len(comparison.seeds)
    by_key = {m.key: m for m in comparison.metrics}
    delta_charts = [c for k in DELTA_METRICS if k in by_key and (c := delta_chart(comparison, by_key[k]))]
    varying = [(m, c) for m, c in charts if c is not None and varies_with_design(comparison, m.key)]
    fixed = [(m, c) for m, c in charts if c is not None and not varies_with_design(comparison, m.key)]
    folded = ""
    if fixed:
        names = ", ".join(m.label for m, _ in fixed)
        folded = (
            '<details id="unchanged-metrics"><summary>Not changed by plan design in this sweep: '
            f"{html.escape(names)}</summary>"
            '<p class="note">Every design has the baseline\'s value for every seed: the designs change plan '
            "rules, not the workforce events these count.</p>"
            '<div class="grid">' + "".join(_figure(c) for _, c in fixed) + "</div></details>"
        )
    description = str(comparison.sweep.get("description") or "")
    shown = (labels or ReportLabels()).over(sweep_labels(comparison.sweep))
    heading = shown.title or f"planalign comparison {comparison.name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(heading)}</title>",
        f"<style>{REPORT_CSS}{PRINT_CSS}{_CSS}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{html.escape(heading)}</h1>"
        + prepared_block(shown, prepared_on or today())
        + f'<div class="meta">{len(comparison.scenarios)} scenarios × {seeds} seed(s) · years '
        f"{comparison.years[0]}–{comparison.years[-1]} · baseline: {html.escape(comparison.baseline)}"
        "</div>"
        + (f'<p class="description">{html.escape(description)}</p>' if description else "")
        + "</header>",
        "<main>",
        status_note,
        '<section id="results"><h2>Results</h2>',
        answer(comparison),
        f"<h3>Difference to {html.escape(comparison.baseline)} by year</h3><p>{legend}</p>",
        '<div class="grid" id="delta-charts">',
        *(_figure(chart) for chart in delta_charts),
        "</div>",
        "<h3>Levels</h3>",
        '<div class="grid" id="level-charts">',
        *(_figure(chart) for _, chart in varying),
        "</div>",
        folded,
        "<h3>Employer cost over all years</h3>",
        _totals_table(comparison),
        _sensitivity_section(comparison),
        "<h3>Values</h3>",
        *(_values_table(comparison, m) for m in comparison.metrics),
        "</section>",
        _assumptions(comparison),
        _sweep_detail(comparison),
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _figure(chart: Chart) -> str:
    return (
        f'<figure class="chart" id="chart-{chart.key}" data-chart="{chart.key}">'
        f"{chart.svg}<figcaption><strong>{html.escape(chart.title)}.</strong> "
        f"{html.escape(chart.caption)}</figcaption></figure>"
    )


def sweep_labels(sweep: Mapping[str, Any]) -> ReportLabels:
    """The title, client and preparer a scenario file gave (recorded in sweep.json), checked again as on
    input: the sweep directory may come from anywhere. `ComparisonFileError` naming the key otherwise."""
    values: dict[str, str] = {}
    for key in ("title", "client", "prepared_by"):
        raw = sweep.get(key)
        if raw is None:
            continue
        try:
            values[key] = check_label(f"sweep.{key}", raw)
        except LabelError as exc:
            raise ComparisonFileError(f"comparison.json: {exc}") from exc
    return ReportLabels(**values)


def write_comparison_report(
    comparison_json_path: Path,
    out: Path,
    *,
    labels: ReportLabels | None = None,
    prepared_on: date | None = None,
) -> Path:
    """Write the comparison report of `comparison_json_path` to `out` (atomically) and return `out`.
    `ComparisonFileError` for a missing or malformed comparison.json, `ReportOutputError` when `out` cannot
    be written; both are usage errors (exit status 2), and nothing is written."""
    comparison = load_comparison(Path(comparison_json_path))
    return write_document(render_comparison(comparison, labels=labels, prepared_on=prepared_on), Path(out))
