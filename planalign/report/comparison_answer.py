"""The answer that opens the comparison report (`planalign.report.comparison`): per design, in a sentence and
a table row, its difference to the baseline in employer cost over the years (P5–P95) and at present value,
and in the last year's participation, average deferral and employee contributions; then what a range covers
and what the model leaves out (`planalign.scenarios.stats`). Numbers are wrapped so they never break away
from their sign.
"""

from __future__ import annotations

import html

from planalign.report.comparison_charts import format_delta, format_value
from planalign.report.comparison_model import Comparison, Stat
from planalign.report.panels import percent
from planalign.scenarios.stats import MODEL_LIMITATIONS, range_statement


def num(text: str) -> str:
    """A number that never wraps away from its sign (or a range's bound from its dash)."""
    return f'<span class="num">{html.escape(text)}</span>'


def _span_of_years(comparison: Comparison) -> str:
    return f"{comparison.years[0]}–{comparison.years[-1]}"


def _delta_range(unit: str, stat: Stat) -> str:
    if stat.n <= 1:
        return ""
    return f"{num(format_delta(unit, stat.delta_p5))} to {num(format_delta(unit, stat.delta_p95))}"


def answer(comparison: Comparison) -> str:
    """The answer a sponsor asks for, before any chart: per design its difference to the baseline, in a
    sentence and in a table, then what the figures cover."""
    last = comparison.years[-1]
    span = _span_of_years(comparison)
    seeds = len(comparison.seeds)
    base = comparison.baseline
    designs = [n for n in comparison.scenario_names if n != base]
    lines: list[str] = []
    for name in designs:
        cumulative = comparison.totals.get((name, "cumulative_employer_cost"))
        pv = comparison.totals.get((name, "pv_employer_cost"))
        if cumulative is None:
            continue
        delta = cumulative.delta_p50
        more = "more" if delta > 0 else "less" if delta < 0 else "the same"
        amount = num(format_value("usd", abs(delta))) + " " if delta else ""
        sentence = (
            f"<strong>{html.escape(name)}</strong> costs the employer {amount}{more} than {html.escape(base)}"
        )
        sentence += f" over {span}"
        if cumulative.n > 1:
            sentence += f" (P50 of {seeds} seeds; P5–P95 {_delta_range('usd', cumulative)})"
        if pv is not None:
            sentence += (
                f", {num(format_delta('usd', pv.delta_p50))} at present value "
                f"({percent(comparison.discount_rate)} a year)"
            )
        lines.append(f'<p class="answer-line" data-scenario="{html.escape(name)}">{sentence}.</p>')
    head = (
        '<table id="answer-table" class="totals"><thead><tr><th class="text">design</th>'
        f"<th>employer cost {span} vs {html.escape(base)}</th><th>P5–P95</th>"
        f"<th>present value vs {html.escape(base)}</th>"
        f"<th>participation {last}</th><th>average deferral {last}</th>"
        f"<th>employee contributions {last}</th></tr></thead><tbody>"
    )
    rows = [head]
    for name in comparison.scenario_names:
        cumulative = comparison.totals.get((name, "cumulative_employer_cost"))
        pv = comparison.totals.get((name, "pv_employer_cost"))
        yearly = [comparison.rows.get((name, key, last)) for key in
                  ("participation_rate", "average_deferral_rate", "employee_contributions")]  # fmt: skip
        units = ("rate", "rate", "usd")
        cells = [f'<td class="text">{html.escape(name)}</td>']
        if name == base:
            # The baseline's own levels, for scale.
            cells.append(f"<td>{num(format_value('usd', cumulative.p50)) if cumulative else '–'}</td>")
            cells.append("<td>–</td>")
            cells.append(f"<td>{num(format_value('usd', pv.p50)) if pv else '–'}</td>")
            cells += [
                f"<td>{num(format_value(u, st.p50)) if st else '–'}</td>"
                for u, st in zip(units, yearly, strict=True)
            ]
        else:
            css = ""
            if cumulative is not None:
                css = (
                    " delta-up"
                    if cumulative.delta_p50 > 0
                    else " delta-down"
                    if cumulative.delta_p50 < 0
                    else ""
                )
            text = num(format_delta("usd", cumulative.delta_p50)) if cumulative else "–"
            cells.append(f'<td class="delta{css}">{text}</td>')
            cells.append(f"<td>{_delta_range('usd', cumulative) or '–' if cumulative else '–'}</td>")
            cells.append(f"<td>{num(format_delta('usd', pv.delta_p50)) if pv else '–'}</td>")
            cells += [
                f"<td>{num(format_delta(u, st.delta_p50)) if st else '–'}</td>"
                for u, st in zip(units, yearly, strict=True)
            ]
        rows.append(f'<tr data-scenario="{html.escape(name)}">{"".join(cells)}</tr>')
    rows.append("</tbody></table>")
    note = (
        f'<p class="note">The {html.escape(base)} row gives its own levels; every other row its P50 '
        f"difference to {html.escape(base)} with the same seeds. Employer cost is match + core − "
        "forfeitures used.</p>"
    )
    return (
        '<div id="answer">'
        + "".join(lines)
        + "".join(rows)
        + note
        + f'<p class="range-note" id="what-the-range-covers">{html.escape(range_statement(seeds))}</p>'
        + _limitations()
        + "</div>"
    )


def _limitations() -> str:
    items = "".join(f"<li>{html.escape(item)}</li>" for item in MODEL_LIMITATIONS)
    return (
        '<details id="limitations" open><summary>What the model leaves out</summary>'
        f'<ul class="limitations">{items}</ul></details>'
    )
