"""The HTML document of a run report, and writing it.

One self-contained file that opens offline: the charts are inline SVG, the styles are in one `<style>`
element, and nothing is loaded from anywhere (no script, font, stylesheet or image reference). Every text
that comes from the run directory — names, labels, errors, the status — goes through `html.escape` here,
because a run directory may come from anywhere and its text must reach the page as text, never as markup.
"""

from __future__ import annotations

import html
import os
import tempfile
from datetime import date
from pathlib import Path

from planalign.errors import ReportOutputError
from planalign.report.balances import balances_section
from planalign.report.charts import (
    Chart,
    format_percent,
    format_seconds,
    slowest_chart,
    speedup_chart,
    year_charts,
)
from planalign.report.client import (
    PRINT_CSS,
    cost_section,
    money,
    prepared_block,
    today,
    when_words,
)
from planalign.report.model import RunReport, load_run
from planalign.report.panels import assumptions_section, nondiscrimination_section
from planalign.report.timeline import timeline_chart
from planalign.report.views import slowest_models
from planalign.simulation.run_labels import ReportLabels

REPORT_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header .meta { font-size: 13px; opacity: 0.9; }
main { padding: 10px 28px 40px 28px; max-width: 1400px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
figure.chart { margin: 10px 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 4px;
               padding: 8px; }
figure.chart svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 12px; color: #555; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 12px; }
table { border-collapse: collapse; font-size: 12px; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #e0e0e0; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.status-success { background: #2e7d32; }
.status-failed { background: #c62828; }
.status-interrupted, .status-unknown { background: #ef6c00; }
.error { background: #fdecea; border: 1px solid #f5c2c0; padding: 8px 12px; white-space: pre-wrap;
         font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.note { color: #666; font-style: italic; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px 12px; }
h3 { font-size: 15px; margin-bottom: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
.formula { font-size: 15px; font-weight: 600; }
tr.override td { background: #fff8d6; } td.fail { color: #c62828; font-weight: 600; }
td.pass { color: #2e7d32; }
ul.behaviour li { margin: 4px 0; } .source { color: #666; font-size: 12px; }
"""


def render_html(
    report: RunReport, *, labels: ReportLabels | None = None, prepared_on: date | None = None
) -> str:
    """The report as one self-contained HTML document. `labels` (the command line's) win over the run's
    stored ones; `prepared_on` defaults to today (UTC)."""
    shown = (labels or ReportLabels()).over(report.labels)
    timeline = timeline_chart(report)
    speedup = speedup_chart(report)
    slowest = slowest_chart(report)
    per_year = year_charts(report)

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(_document_title(report, shown))}</title>",
        f"<style>{REPORT_CSS}{PRINT_CSS}</style>",
        "</head>",
        "<body>",
        _header(report, shown, prepared_on or today()),
        "<main>",
    ]
    if report.kind != "years":
        parts.append(_kind_warning(report))
    if report.error:
        parts.append(
            f'<section id="run-error"><h2>Error</h2><div class="error">{html.escape(report.error)}</div>'
        )
        parts.append("</section>")

    parts.append(cost_section(report))
    parts.append('<section id="results"><h2>Results</h2>')
    if per_year:
        parts.append('<div class="grid">')
        parts.extend(_figure(chart) for chart in per_year)
        parts.append("</div>")
        parts.append(_year_table(report))
    else:
        parts.append('<p class="note">No simulated year completed: no results to chart.</p>')
    parts.append("</section>")
    parts.append(assumptions_section(report))
    parts.append(balances_section(report))
    parts.append(nondiscrimination_section(report))
    parts.append('<section id="engine-detail"><h2>Engine detail</h2>')
    parts.append('<section id="execution"><h3>Parallel execution</h3>')
    if timeline is not None:
        parts.append(_figure(timeline))
    elif report.engine_runs_missing:
        parts.append('<p class="note">This run directory has no engine_runs.json: no execution timeline.</p>')
    else:
        parts.append('<p class="note">No model executed in this run.</p>')
    parts.append("</section>")

    parts.append('<section id="planned-vs-achieved"><h3>Planned versus achieved</h3><div class="pair">')
    if speedup is not None:
        parts.append(_figure(speedup))
    if slowest is not None:
        parts.append(_figure(slowest))
    parts.append("</div>")
    if report.runs:
        parts.append(_stage_table(report))
        parts.append(_slowest_table(report))
    else:
        parts.append('<p class="note">No engine runs recorded.</p>')
    parts.append("</section>")

    parts.append("</section>")

    parts.extend(["</main>", "</body>", "</html>"])
    return "\n".join(parts) + "\n"


def _kind_warning(report: RunReport) -> str:
    """A stage run rebuilds one year up to one stage, for debugging: its results are not a simulation's."""
    if report.kind == "stage":
        what = (
            f"{report.start_year} rebuilt up to the stage {report.stage}"
            if report.stage
            else f"{report.start_year}"
        )
        text = (
            f"This is a one-stage debug run ({what}), not a simulation: it records no yearly results, and "
            "the year stays incomplete in the database until a full run rebuilds it."
        )
    else:
        text = "This run did not record whether it simulated whole years or rebuilt one stage of one year."
    return f'<section id="run-kind"><p class="warning">{html.escape(text)}</p></section>'


def _document_title(report: RunReport, labels: ReportLabels) -> str:
    return labels.title or labels.name or f"planalign {_kind_words(report)} {report.run_id}"


def _header(report: RunReport, labels: ReportLabels, prepared_on: date) -> str:
    status = report.status if report.status in {"success", "failed", "interrupted"} else "unknown"
    years = (
        f"{report.start_year}–{report.end_year}"
        if report.start_year is not None and report.end_year is not None
        else "?"
    )
    completed = ", ".join(str(y) for y in report.completed_years) or "none"
    par = report.parallelization
    if par:
        enabled = "on" if par.get("enabled") else "off"
        parallel = f"model parallelization {enabled}"
        if par.get("max_workers") is not None:
            parallel += f", max {par.get('max_workers')} workers"
    else:
        parallel = "parallelization settings not recorded"
    heading = labels.title or labels.name or f"planalign {_kind_words(report)} {report.run_id}"
    subtitle = (
        f'<div class="meta">run {html.escape(labels.name)}</div>'
        if labels.name and labels.title and labels.name != labels.title
        else ""
    )
    return (
        "<header>"
        f"<h1>{html.escape(heading)} "
        f'<span class="badge status-{status}">{html.escape(report.status)}</span></h1>'
        f"{subtitle}{prepared_block(labels, prepared_on)}"
        f'<div class="meta">years {html.escape(years)} · completed: {html.escape(completed)} · '
        f"simulated {html.escape(when_words(report.started_at))} · run id {html.escape(report.run_id)}</div>"
        f'<div class="meta engine-detail">finished {html.escape(when_words(report.completed_at))} · '
        f"{html.escape(parallel)} · elapsed {html.escape(format_seconds(report.duration_s))}</div>"
        "</header>"
    )


def _kind_words(report: RunReport) -> str:
    return {"years": "run", "stage": "stage run"}.get(report.kind or "", "run (kind not recorded)")


def _figure(chart: Chart) -> str:
    return (
        f'<figure class="chart" id="chart-{chart.key}" data-chart="{chart.key}">'
        f"{chart.svg}<figcaption><strong>{html.escape(chart.title)}.</strong> "
        f"{html.escape(chart.caption)}</figcaption></figure>"
    )


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _stage_table(report: RunReport) -> str:
    rows = [
        "<details open><summary>Every engine run</summary>",
        '<table id="stage-table"><thead><tr><th class="text">run</th><th>models</th><th>wall time</th>'
        "<th>model time</th><th>estimated speedup</th><th>achieved parallelism</th><th>limit changes</th>"
        '<th>pressure events</th><th class="text">result</th></tr></thead><tbody>',
    ]
    for run in report.runs:
        rows.append(
            f'<tr><td class="text">{html.escape(run.label)}</td><td>{len(run.executions)}</td>'
            f"<td>{run.wall_s:.2f} s</td><td>{run.busy_s:.2f} s</td>"
            f"<td>{_cell(run.estimated_speedup, '.2f')}</td><td>{_cell(run.achieved_speedup, '.2f')}</td>"
            f"<td>{len(run.limit_changes)}</td><td>{len(run.pressure_events)}</td>"
            f'<td class="text">{"ok" if run.success else "failed"}</td></tr>'
        )
    rows.append("</tbody></table></details>")
    return "".join(rows)


def _slowest_table(report: RunReport) -> str:
    rows = [
        '<details><summary>Slowest models</summary><table id="slowest-table"><thead><tr>'
        '<th class="text">model</th><th>year</th><th class="text">stage</th><th class="text">class</th>'
        '<th>lane</th><th>seconds</th><th>attempts</th><th class="text">status</th></tr></thead><tbody>'
    ]
    for e in slowest_models(report):
        rows.append(
            f'<tr><td class="text">{html.escape(e.model)}</td>'
            f"<td>{e.year if e.year is not None else '–'}</td>"
            f'<td class="text">{html.escape(e.stage)}</td>'
            f'<td class="text">{html.escape(e.execution_class)}</td>'
            f"<td>{html.escape(str(e.lane))}</td><td>{e.duration_s:.2f}</td>"
            f"<td>{html.escape(str(e.attempts))}</td>"
            f'<td class="text">{html.escape(e.status)}</td></tr>'
        )
    rows.append("</tbody></table></details>")
    return "".join(rows)


def _year_table(report: RunReport) -> str:
    rows = [
        '<table id="year-table"><thead><tr><th>year</th><th>actives</th><th>hires</th>'
        "<th>experienced terminations</th><th>new-hire terminations</th><th>all terminations</th>"
        "<th>avg compensation</th><th>participation (active)</th>"
        "<th>employee contributions</th><th>employer match</th></tr></thead><tbody>"
    ]
    for year, y in report.years.items():
        rows.append(
            f"<tr><td>{year}</td><td>{y.actives:,.0f}</td><td>{y.hires:,.0f}</td>"
            f"<td>{y.experienced_terminations:,.0f}</td><td>{y.new_hire_terminations:,.0f}</td>"
            f"<td>{y.terminations:,.0f}</td>"
            f'<td class="money">{money(y.avg_compensation)}</td>'
            f"<td>{format_percent(y.participation_rate)}</td>"
            f'<td class="money">{money(y.employee_contributions)}</td>'
            f'<td class="money">{money(y.employer_match)}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def write_report(
    run_dir: Path, out: Path, *, labels: ReportLabels | None = None, prepared_on: date | None = None
) -> Path:
    """Write the HTML report of `run_dir` to `out` (creating its parent directories) and return `out`.

    The file is written to a temporary sibling and renamed, so a reader never sees half a report and a failed
    render leaves an earlier report in place. Raises `RunDirectoryError` for a missing or malformed run
    directory and `ReportOutputError` when `out` cannot be written; both are usage errors (exit status 2).
    """
    report = load_run(Path(run_dir))
    return write_document(render_html(report, labels=labels, prepared_on=prepared_on), Path(out))


def write_document(document: str, out: Path) -> Path:
    """Write an HTML document to `out` atomically (a temporary sibling, then a rename), readable by all;
    `ReportOutputError` when it cannot be written."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(document)
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp_name, out)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out
