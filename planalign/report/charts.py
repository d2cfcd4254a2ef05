"""The report's charts: matplotlib figures rendered to SVG markup for inlining in the HTML.

SVG rather than an interactive JS library because a run report is read, archived and attached to tickets:
inline SVG needs no JavaScript, stays sharp when zoomed or printed, and still shows a tooltip per element
through SVG `<title>` elements. Figures are plain `Figure`s, not pyplot, so rendering needs no GUI backend
and keeps no global state. The execution timeline, the largest figure, is in `planalign.report.timeline`;
this module has what every chart shares and the smaller charts (speedup, slowest models, per-year results).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planalign.report.model import RunReport
from planalign.report.views import slowest_models, stage_speedups
from planalign.simulation.run_directory import YearMetrics

#: Colours per execution class: the Okabe-Ito palette, distinguishable with common colour-vision deficiencies.
CLASS_COLOURS: Mapping[str, str] = {
    "parallel_safe": "#0072B2",
    "sequential": "#E69F00",
    "conditional": "#009E73",
}
UNKNOWN_CLASS_COLOUR = "#999999"
FAILED_EDGE_COLOUR = "#D55E00"

STAGE_COLOURS: Mapping[str, str] = {
    "initialization": "#CC79A7",
    "foundation": "#56B4E9",
    "event_generation": "#E69F00",
    "state_accumulation": "#009E73",
    "validation": "#F0E442",
    "reporting": "#0072B2",
}

#: Short stage names for timeline bands too narrow for the full name.
STAGE_ABBREVIATIONS: Mapping[str, str] = {
    "initialization": "init",
    "foundation": "found.",
    "event_generation": "events",
    "state_accumulation": "state",
    "validation": "valid.",
    "reporting": "report",
}


@dataclass(frozen=True)
class Chart:
    """One rendered figure: its key (used for element ids), caption and inline SVG markup."""

    key: str
    title: str
    caption: str
    svg: str


def svg_from_figure(fig: Figure, key: str, titles: Mapping[str, str] | None = None) -> str:
    """Render a matplotlib figure to SVG markup fit for inlining in HTML.

    Several SVGs share one HTML document, so every id matplotlib writes (and every reference to one) gets the
    chart's key as a prefix; `titles` maps an artist gid to tooltip text, inserted as an SVG `<title>`.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        fig.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
        )
    svg = buffer.getvalue()
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("matplotlib produced no <svg> element")
    svg = svg[start:]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{key}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{key}-{m.group(1)}"', svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(key)}" ', 1)
    if titles:
        for gid, text in titles.items():
            svg = svg.replace(
                f'<g id="{key}-{gid}">', f'<g id="{key}-{gid}"><title>{html.escape(text)}</title>', 1
            )
    return svg


def new_figure(width_in: float, height_in: float) -> Figure:
    # Figure, not pyplot: no global figure registry and no GUI backend, so rendering works headless.
    return Figure(figsize=(width_in, height_in), dpi=100)


def class_colour(execution_class: str) -> str:
    return CLASS_COLOURS.get(execution_class, UNKNOWN_CLASS_COLOUR)


def short_stage(stage: str) -> str:
    return stage.replace("_", " ")


def fitting_label(share_of_width: float, *candidates: str | None) -> str | None:
    """The first label that fits a band taking this share of the timeline's width (7-point text on a
    13-inch figure: about 0.4% of the width per character), or None."""
    for label in candidates:
        if label and share_of_width > 0.004 * max(3, len(label)):
            return label
    return None


def plural(count: int) -> str:
    return "" if count == 1 else "s"


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {rest:04.1f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes):02d} min"


def speedup_chart(report: RunReport) -> Chart | None:
    """Estimated against achieved speedup per stage."""
    rows = [
        row for row in stage_speedups(report.runs) if row.achieved is not None or row.estimated is not None
    ]
    if not rows:
        return None
    fig = new_figure(8.0, 3.4)
    ax = fig.add_subplot()
    positions = range(len(rows))
    width = 0.38
    estimated = [row.estimated or 0.0 for row in rows]
    achieved = [row.achieved or 0.0 for row in rows]
    ax.bar([p - width / 2 for p in positions], estimated, width, color="#BBBBBB", label="estimated (plan)")
    ax.bar([p + width / 2 for p in positions], achieved, width, color="#0072B2", label="achieved")
    ax.axhline(1.0, color="black", lw=0.8, linestyle="--")
    for p, value in zip(positions, achieved, strict=True):
        if value:
            ax.text(p + width / 2, value, f"{value:.2f}×", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions), labels=[short_stage(row.stage) for row in rows], fontsize=8)
    pad = max(0.0, (4 - len(rows)) / 2)  # a stage or two: keep the bars from filling the panel
    ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
    ax.set_ylabel("models' run time ÷ wall time")
    ax.set_ylim(0, max([*estimated, *achieved, 1.0]) * 1.18)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    caption = (
        "Per stage, over all years: the plan's estimated speedup against the parallelism achieved — the "
        "models' summed run time over wall time, so 1× (dashed) means one model at a time. It is not a "
        "speedup over a one-worker run: models that share the CPU (dbt's Python runs under one GIL) each "
        "take longer when they run together; compare the stage times of a `--no-parallel` run for that."
    )
    return Chart(
        "speedup", "Planned speedup versus achieved parallelism", caption, svg_from_figure(fig, "speedup")
    )


def slowest_chart(report: RunReport) -> Chart | None:
    rows = slowest_models(report)
    if not rows:
        return None
    fig = new_figure(8.0, 0.9 + 0.26 * len(rows))
    ax = fig.add_subplot()
    labels = [f"{e.model} ({e.year if e.year is not None else 'sim'})" for e in rows]
    ax.barh(
        range(len(rows)),
        [e.duration_s for e in rows],
        color=[class_colour(e.execution_class) for e in rows],
        edgecolor=[FAILED_EDGE_COLOUR if not e.succeeded else "none" for e in rows],
    )
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    caption = f"The {len(rows)} longest model executions, coloured by execution class."
    return Chart("slowest", "Slowest models", caption, svg_from_figure(fig, "slowest"))


# Number formats of the axes (matplotlib passes the tick position too) and of the HTML tables.


def format_money(value: float, _pos: object = None) -> str:
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"${value / 1e9:.1f}B"
    if magnitude >= 1e6:
        return f"${value / 1e6:.1f}M"
    if magnitude >= 1e3:
        return f"${value / 1e3:.0f}k"
    return f"${value:.0f}"


def format_count(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}"


def format_percent(value: float, _pos: object = None) -> str:
    return f"{value * 100:.0f}%" if abs(value) <= 1.0 else f"{value:.0f}%"


@dataclass(frozen=True)
class _YearSeries:
    label: str
    values: list[float]
    colour: str


def _year_chart(
    key: str,
    title: str,
    caption: str,
    years: Sequence[int],
    series: Sequence[_YearSeries],
    formatter: Callable[[float, object], str],
    bars: bool,
) -> Chart | None:
    if not years:
        return None
    fig = new_figure(4.6, 2.9)
    ax = fig.add_subplot()
    positions = list(range(len(years)))
    if bars:
        width = 0.8 / len(series)
        for index, s in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            ax.bar(
                [p + offset for p in positions],
                s.values,
                width,
                color=s.colour,
                label=s.label,
            )
    else:
        for s in series:
            ax.plot(
                positions,
                s.values,
                marker="o",
                color=s.colour,
                label=s.label,
            )
        ax.margins(y=0.25)
    ax.set_xticks(positions, labels=[str(y) for y in years])
    pad = max(0.0, (3 - len(years)) / 2)  # one or two years: keep bars and points from filling the panel
    ax.set_xlim(-0.5 - pad, len(years) - 0.5 + pad)
    ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        top = max((v for s in series for v in s.values), default=1.0)
        ax.set_ylim(0, top * 1.3)
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncols=len(series))
    fig.tight_layout()
    return Chart(key, title, caption, svg_from_figure(fig, key))


HIRES_COLOUR = "#009E73"
EXPERIENCED_TERMINATIONS_COLOUR = "#D55E00"
NEW_HIRE_TERMINATIONS_COLOUR = "#E69F00"


def hires_terminations_chart(years: Sequence[int], metrics: Sequence[YearMetrics]) -> Chart | None:
    """Hires beside the year's leavers, the leavers stacked as experienced and new-hire terminations.

    `YearMetrics.terminations` counts every termination event, new hires who left in their hire year
    included; a bar of it next to a new-hire bar counts those new hires twice. Each segment has a tooltip,
    and the stack's total is written above it."""
    if not years:
        return None
    key = "hires-terminations"
    fig = new_figure(4.6, 2.9)
    ax = fig.add_subplot()
    positions = list(range(len(years)))
    width = 0.38
    titles: dict[str, str] = {}
    hires = [m.hires for m in metrics]
    experienced = [m.experienced_terminations for m in metrics]
    new_hire = [m.new_hire_terminations for m in metrics]
    left = [p - width / 2 for p in positions]
    right = [p + width / 2 for p in positions]
    bars = [
        ("hires", ax.bar(left, hires, width, color=HIRES_COLOUR, label="hires"), hires, "hires"),
        (
            "experienced",
            ax.bar(
                right,
                experienced,
                width,
                color=EXPERIENCED_TERMINATIONS_COLOUR,
                label="experienced terminations",
            ),
            experienced,
            "experienced terminations",
        ),
        (
            "new-hire",
            ax.bar(
                right,
                new_hire,
                width,
                bottom=experienced,
                color=NEW_HIRE_TERMINATIONS_COLOUR,
                label="new-hire terminations",
            ),
            new_hire,
            "new-hire terminations",
        ),
    ]
    for name, container, values, words in bars:
        for index, (patch, value) in enumerate(zip(container.patches, values, strict=True)):
            gid = f"{name}-{index}"
            patch.set_gid(gid)
            titles[gid] = f"{years[index]}: {value:,} {words}"
    totals = [e + n for e, n in zip(experienced, new_hire, strict=True)]
    outline = ax.bar(right, totals, width, fill=False, linewidth=0.0)
    for index, (patch, total) in enumerate(zip(outline.patches, totals, strict=True)):
        patch.set_gid(f"total-{index}")
        titles[f"total-{index}"] = f"{years[index]}: {total:,} terminations in all"
        ax.text(right[index], total, f"{total:,}", ha="center", va="bottom", fontsize=6.5)
    ax.set_xticks(positions, labels=[str(y) for y in years])
    pad = max(0.0, (3 - len(years)) / 2)
    ax.set_xlim(-0.5 - pad, len(years) - 0.5 + pad)
    ax.yaxis.set_major_formatter(FuncFormatter(format_count))
    ax.set_title("Hires and terminations", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(0, max([*hires, *totals, 1]) * 1.35)
    ax.legend(fontsize=7, frameon=False, loc="upper center", ncols=3)
    fig.tight_layout()
    caption = (
        "Per year: hires, and the year's leavers stacked — experienced terminations (employees there at the "
        "start of the year) and new-hire terminations (hired and gone the same year); the number above a "
        "stack is all terminations."
    )
    return Chart(key, "Hires and terminations", caption, svg_from_figure(fig, key, titles))


def year_charts(report: RunReport) -> list[Chart]:
    """Per-year results: headcount, hires and terminations, pay, participation, contributions and match."""
    years = list(report.years)
    ys = list(report.years.values())
    specs: list[Chart | None] = [
        _year_chart(
            "headcount",
            "Active headcount",
            "Active employees at the end of each year.",
            years,
            [_YearSeries("actives", [y.actives for y in ys], "#0072B2")],
            format_count,
            bars=False,
        ),
        hires_terminations_chart(years, ys),
        _year_chart(
            "avg-compensation",
            "Average compensation",
            "Mean compensation of active employees.",
            years,
            [_YearSeries("average compensation", [y.avg_compensation for y in ys], "#CC79A7")],
            format_money,
            bars=False,
        ),
        _year_chart(
            "participation",
            "Participation rate",
            "Share of active employees enrolled in the plan at year end.",
            years,
            [_YearSeries("participation", [y.participation_rate for y in ys], "#56B4E9")],
            format_percent,
            bars=False,
        ),
        _year_chart(
            "employee-contributions",
            "Employee contributions",
            "Total employee deferrals per year.",
            years,
            [_YearSeries("employee contributions", [y.employee_contributions for y in ys], "#0072B2")],
            format_money,
            bars=True,
        ),
        _year_chart(
            "employer-match",
            "Employer match",
            "Total employer matching contributions per year.",
            years,
            [_YearSeries("employer match", [y.employer_match for y in ys], "#009E73")],
            format_money,
            bars=True,
        ),
    ]
    return [chart for chart in specs if chart is not None]
