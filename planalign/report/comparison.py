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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.ticker import FuncFormatter

from planalign.report.charts import Chart, format_count, format_money, new_figure, svg_from_figure
from planalign.report.comparison_model import Comparison, MetricSpec, Stat, load_comparison
from planalign.report.html import REPORT_CSS, write_document
from planalign.report.panels import ParameterRow, facts, parameter_table, percent
from planalign.scenarios.stats import MODEL_LIMITATIONS, range_statement

#: One colour per scenario, in sweep order (Okabe-Ito, then greys).
SCENARIO_COLOURS: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#777777",
    "#BBBBBB",
)
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


def _rate_tick(value: float, _pos: object = None) -> str:
    return percent(value, 1)


def _dollar_tick(value: float, _pos: object = None) -> str:
    return f"${value:,.0f}" if value >= 0 else f"−${-value:,.0f}"


def unit_formatter(unit: str) -> Callable[[float, object], str]:
    if unit == "rate":
        return _rate_tick
    if unit == "usd_per_person":
        return _dollar_tick  # a few thousand dollars: "$3k" on every tick would say nothing
    if unit == "usd":
        return format_money
    return format_count


def _same_as_baseline(comparison: Comparison, name: str, metric: str) -> bool:
    """Every year's statistic equals the baseline's (the design does not touch this metric): its line lies
    under the baseline's, so the legend says so."""
    if name == comparison.baseline:
        return False
    mine, base = comparison.series(name, metric), dict(comparison.series(comparison.baseline, metric))
    return bool(mine) and all(
        y in base and abs(s.p50 - base[y].p50) <= 1e-9 * max(1.0, abs(s.p50)) and s.delta_p50 == 0
        for y, s in mine
    )


def format_value(unit: str, value: float) -> str:
    """A value for a table: money to the dollar, rates to 0.01 points, counts whole."""
    if unit == "rate":
        return percent(value, 2)
    if unit in ("usd", "usd_per_person"):
        return f"${value:,.0f}" if value >= 0 else f"−${-value:,.0f}"
    return f"{value:,.0f}"


def format_delta(unit: str, value: float) -> str:
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if unit == "rate":
        return f"{sign}{abs(value) * 100:.2f} pts"
    if unit in ("usd", "usd_per_person"):
        return f"{sign}${abs(value):,.0f}"
    return f"{sign}{abs(value):,.0f}"


def _colour(index: int) -> str:
    return SCENARIO_COLOURS[index % len(SCENARIO_COLOURS)]


def _point_text(comparison: Comparison, metric: MetricSpec, scenario: str, year: int, stat: Stat) -> str:
    text = f"{scenario} {year}: P50 {format_value(metric.unit, stat.p50)}"
    if stat.n > 1:
        low, high = format_value(metric.unit, stat.p5), format_value(metric.unit, stat.p95)
        text += f" (P5 {low}, P95 {high}, {stat.n} seeds)"
    if scenario != comparison.baseline:
        text += f"; vs {comparison.baseline} {format_delta(metric.unit, stat.delta_p50)}"
    return text


def metric_chart(comparison: Comparison, metric: MetricSpec) -> Chart | None:
    """The scenarios side by side over the years: P50 lines, P5–P95 bands, a tooltip per point."""
    key = f"metric-{metric.key}"
    series = [
        (i, name, comparison.series(name, metric.key)) for i, name in enumerate(comparison.scenario_names)
    ]
    series = [(i, name, points) for i, name, points in series if points]
    if not series:
        return None
    fig = new_figure(4.8, 3.0)
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    bands = False
    for index, name, points in series:
        years = [y for y, _ in points]
        colour = _colour(index)
        if any(s.has_band for _, s in points):
            bands = True
            ax.fill_between(
                years,
                [s.p5 for _, s in points],
                [s.p95 for _, s in points],
                color=colour,
                alpha=0.16,
                linewidth=0,
            )
        label = (
            f"{name} (= {comparison.baseline})" if _same_as_baseline(comparison, name, metric.key) else name
        )
        ax.plot(years, [s.p50 for _, s in points], color=colour, linewidth=1.6, label=label)
        for year, stat in points:
            (marker,) = ax.plot([year], [stat.p50], marker="o", markersize=4, color=colour, linestyle="none")
            gid = f"point-{index}-{year}"
            marker.set_gid(gid)
            titles[gid] = _point_text(comparison, metric, name, year, stat)
    ax.set_xticks(list(comparison.years), labels=[str(y) for y in comparison.years])
    ax.yaxis.set_major_formatter(FuncFormatter(unit_formatter(metric.unit)))
    ax.set_title(metric.label, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.2)
    values = [v for _, _, points in series for _, st in points for v in (st.p5, st.p50, st.p95)]
    if all(v == 0 for v in values):
        ax.set_yticks([0.0])  # all zero: one tick, not a ladder of "$0"s
    ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    caption = "P50 over the seeds" + (", shaded P5–P95" if bands else "") + "; hover a point for its values."
    return Chart(key, metric.label, caption, svg_from_figure(fig, key, titles))


def _num(text: str) -> str:
    """A number that never wraps away from its sign (or a range's bound from its dash)."""
    return f'<span class="num">{html.escape(text)}</span>'


def _span_of_years(comparison: Comparison) -> str:
    return f"{comparison.years[0]}–{comparison.years[-1]}"


def _delta_range(unit: str, stat: Stat) -> str:
    if stat.n <= 1:
        return ""
    return f"{_num(format_delta(unit, stat.delta_p5))} to {_num(format_delta(unit, stat.delta_p95))}"


def _answer(comparison: Comparison) -> str:
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
        amount = _num(format_value("usd", abs(delta))) + " " if delta else ""
        sentence = (
            f"<strong>{html.escape(name)}</strong> costs the employer {amount}{more} than {html.escape(base)}"
        )
        sentence += f" over {span}"
        if cumulative.n > 1:
            sentence += f" (P50 of {seeds} seeds; P5–P95 {_delta_range('usd', cumulative)})"
        if pv is not None:
            sentence += (
                f", {_num(format_delta('usd', pv.delta_p50))} at present value "
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
            cells.append(f"<td>{_num(format_value('usd', cumulative.p50)) if cumulative else '–'}</td>")
            cells.append("<td>–</td>")
            cells.append(f"<td>{_num(format_value('usd', pv.p50)) if pv else '–'}</td>")
            cells += [
                f"<td>{_num(format_value(u, st.p50)) if st else '–'}</td>"
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
            text = _num(format_delta("usd", cumulative.delta_p50)) if cumulative else "–"
            cells.append(f'<td class="delta{css}">{text}</td>')
            cells.append(f"<td>{_delta_range('usd', cumulative) or '–' if cumulative else '–'}</td>")
            cells.append(f"<td>{_num(format_delta('usd', pv.delta_p50)) if pv else '–'}</td>")
            cells += [
                f"<td>{_num(format_delta(u, st.delta_p50)) if st else '–'}</td>"
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


def delta_chart(comparison: Comparison, metric: MetricSpec) -> Chart | None:
    """Each design's difference to the baseline per year, from zero: the P50 of the paired differences
    with a P5–P95 whisker, so a difference of $25k on a $20M cost is visible and so is its range."""
    designs = [(i, n) for i, n in enumerate(comparison.scenario_names) if n != comparison.baseline]
    series = [(i, n, comparison.series(n, metric.key)) for i, n in designs]
    series = [(i, n, points) for i, n, points in series if points]
    if not series:
        return None
    key = f"delta-{metric.key}"
    fig = new_figure(4.8, 3.0)
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    width = 0.6 / max(1, len(series))
    for slot, (index, name, points) in enumerate(series):
        colour = _colour(index)
        offset = (slot - (len(series) - 1) / 2) * width
        xs = [y + offset for y, _ in points]
        p50 = [s.delta_p50 for _, s in points]
        low = [s.delta_p50 - s.delta_p5 for _, s in points]
        high = [s.delta_p95 - s.delta_p50 for _, s in points]
        ax.errorbar(xs, p50, yerr=[low, high], fmt="none", ecolor=colour, elinewidth=1.4, capsize=3)
        for x, (year, stat) in zip(xs, points, strict=True):
            (marker,) = ax.plot(
                [x], [stat.delta_p50], marker="o", markersize=5, color=colour, linestyle="none"
            )
            gid = f"point-{index}-{year}"
            marker.set_gid(gid)
            text = f"{name} {year}: {format_delta(metric.unit, stat.delta_p50)} vs {comparison.baseline}"
            if stat.n > 1:
                text += (
                    f" (P5 {format_delta(metric.unit, stat.delta_p5)}, "
                    f"P95 {format_delta(metric.unit, stat.delta_p95)}, {stat.n} seeds)"
                )
            titles[gid] = text
        ax.plot([], [], marker="o", color=colour, linestyle="none", label=name)
    ax.axhline(0.0, color="#333333", linewidth=1)
    ax.set_xticks(list(comparison.years), labels=[str(y) for y in comparison.years])
    ax.yaxis.set_major_formatter(FuncFormatter(_delta_formatter(metric.unit)))
    if all(v == 0 for _, _, points in series for _, st in points for v in (st.delta_p5, st.delta_p95)):
        ax.set_yticks([0.0])  # no difference at all: one tick, not a made-up scale
    short = metric.label.split(" (")[0]
    ax.set_title(f"{short}: difference", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(x=0.15, y=0.2)
    ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    caption = (
        f"P50 of the differences to {comparison.baseline} with the same seeds; whiskers P5–P95. "
        "Hover a point for its values."
    )
    return Chart(
        key, f"{short}: difference to {comparison.baseline}", caption, svg_from_figure(fig, key, titles)
    )


def _delta_formatter(unit: str) -> Callable[[float, object], str]:
    def tick(value: float, _pos: object = None) -> str:
        if unit == "rate":
            return format_delta("rate", value).replace(" pts", "")
        return format_delta(unit, value)

    return tick


def varies_with_design(comparison: Comparison, metric: str) -> bool:
    """Whether any design's value of `metric` differs from the baseline's in any year (its paired
    differences are not all zero, or its level differs)."""
    base = comparison.baseline
    for name in comparison.scenario_names:
        if name == base:
            continue
        for _, stat in comparison.series(name, metric):
            if stat.delta_p5 != 0 or stat.delta_p50 != 0 or stat.delta_p95 != 0:
                return True
        if not _same_as_baseline(comparison, name, metric) and comparison.series(name, metric):
            return True
    return False


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
                f"{_num(format_value('usd', stat.p5))} – {_num(format_value('usd', stat.p95))}"
                if stat.n > 1
                else "–"
            )
            if name == comparison.baseline:
                delta, delta_band, css = "baseline", "–", ""
            else:
                delta = format_delta("usd", stat.delta_p50)
                low, high = format_delta("usd", stat.delta_p5), format_delta("usd", stat.delta_p95)
                delta_band = f"{_num(low)} – {_num(high)}" if stat.n > 1 else "–"
                css = " delta-up" if stat.delta_p50 > 0 else " delta-down" if stat.delta_p50 < 0 else ""
            cells.append(
                f"<td>{_num(format_value('usd', stat.p50))}</td><td>{band}</td>"
                f'<td class="delta{css}">{_num(delta)}</td><td>{delta_band}</td>'
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


def tornado_chart(comparison: Comparison, scenario: str) -> Chart | None:
    """One design's present-value cost difference to the baseline under each sensitivity's low and high
    value (P50 of the paired differences), as bars from the central difference: the widest bar is the
    assumption the answer depends on most."""
    central = comparison.totals.get((scenario, "pv_employer_cost"))
    names = comparison.sensitivity_names
    if central is None or not names:
        return None
    key = f"tornado-{scenario}"
    ends: list[tuple[str, float, float]] = []
    for name in names:
        low = comparison.sensitivity(name, "low", scenario)
        high = comparison.sensitivity(name, "high", scenario)
        if low is not None and high is not None:
            ends.append((name, low.delta_p50, high.delta_p50))
    if not ends:
        return None
    ends.sort(key=lambda e: abs(e[2] - e[1]))  # the widest at the top
    fig = new_figure(4.8, 0.9 + 0.45 * len(ends))
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    base = central.delta_p50
    for row, (name, low_delta, high_delta) in enumerate(ends):
        for side, value, colour in (("low", low_delta, "#0072B2"), ("high", high_delta, "#D55E00")):
            (bar,) = ax.barh([row], [value - base], left=[base], height=0.6, color=colour, alpha=0.85)
            gid = f"{key}-{row}-{side}"
            bar.set_gid(gid)
            titles[gid] = (
                f"{name} {side}: {format_delta('usd', value)} vs {comparison.baseline} "
                f"(central {format_delta('usd', base)})"
            )
    ax.axvline(base, color="#333333", linewidth=1)
    # From zero: a bar that is a sliver next to the difference itself is an answer that barely moves.
    values = [0.0, base, *(v for _, low_delta, high_delta in ends for v in (low_delta, high_delta))]
    pad = 0.08 * (max(values) - min(values) or 1.0)
    ax.set_xlim(min(values) - pad, max(values) + pad)
    ax.axvline(0.0, color="#999999", linewidth=0.6)
    ax.set_yticks(range(len(ends)), labels=[e[0] for e in ends])
    ax.xaxis.set_major_formatter(FuncFormatter(_delta_formatter("usd")))
    ax.set_title(f"{scenario}: present-value cost vs {comparison.baseline}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    caption = (
        f"Blue: the assumption's low value, orange: its high value; the line is the difference under the "
        f"stated assumptions ({format_delta('usd', base)}). P50 of the paired differences over the seeds."
    )
    title = f"Sensitivity of {scenario}'s cost difference"
    return Chart(key, title, caption, svg_from_figure(fig, key, titles))


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
                ("census", comparison.census_path),
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
            f'style="background:{_colour(index)}"></span>{html.escape(design.name)}'
            f"{' (baseline)' if design.name == comparison.baseline else ''}</h3>"
        )
        if design.description:
            parts.append(f"<p>{html.escape(design.description)}</p>")
        parts.append(
            f'<p>Employer match: <span class="formula">{html.escape(design.match_formula or "not recorded")}'
            f"</span></p><p>Overrides: {html.escape(changed)}</p>"
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
                ("scenarios file", text("scenarios_file")),
                ("database", text("database")),
                ("config digest", text("config_digest")),
                ("started", text("started_at")),
                ("finished", text("finished_at")),
                (
                    "elapsed",
                    f"{sweep['elapsed_seconds']:.1f} s"
                    if isinstance(sweep.get("elapsed_seconds"), int | float)
                    else "–",
                ),
                ("comparison file", str(comparison.path)),
            ]
        )
        + f"<details><summary>{len(members)} members (scenario × seed)</summary>"
        '<table id="members-table"><thead><tr><th class="text">scenario_id</th>'
        '<th class="text">scenario</th><th>seed</th></tr></thead><tbody>'
        + member_rows
        + "</tbody></table></details></section>"
    )


def render_comparison(comparison: Comparison) -> str:
    charts = [(m, metric_chart(comparison, m)) for m in comparison.metrics]
    status_note = (
        ""
        if comparison.status == "complete"
        else f'<p class="warning">The sweep is {html.escape(comparison.status)}: figures may be partial.</p>'
    )
    legend = " ".join(
        f'<span><span class="swatch" style="background:{_colour(i)}"></span>{html.escape(n)}</span>'
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
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>planalign comparison {html.escape(comparison.name)}</title>",
        f"<style>{REPORT_CSS}{_CSS}</style>",
        "</head>",
        "<body>",
        f"<header><h1>planalign comparison {html.escape(comparison.name)}</h1>"
        f'<div class="meta">{len(comparison.scenarios)} scenarios × {seeds} seed(s) · years '
        f"{comparison.years[0]}–{comparison.years[-1]} · baseline: {html.escape(comparison.baseline)}"
        "</div>"
        + (f'<p class="description">{html.escape(description)}</p>' if description else "")
        + "</header>",
        "<main>",
        status_note,
        '<section id="results"><h2>Results</h2>',
        _answer(comparison),
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


def write_comparison_report(comparison_json_path: Path, out: Path) -> Path:
    """Write the comparison report of `comparison_json_path` to `out` (atomically) and return `out`.
    `ComparisonFileError` for a missing or malformed comparison.json, `ReportOutputError` when `out` cannot
    be written; both are usage errors (exit status 2), and nothing is written."""
    comparison = load_comparison(Path(comparison_json_path))
    return write_document(render_comparison(comparison), Path(out))
