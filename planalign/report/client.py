"""What makes a report something an analyst can hand a plan sponsor: its title, client and preparer, the date
it was prepared in words, money with `$` and thousands separators, no machine paths, print styles that give a
clean PDF from the browser's print dialog, and the run report's cost block.

Shared by the run report (`html`) and the comparison report (`comparison`), so both read and print alike.
Every text from a run or sweep directory or from the command line is escaped here (`html.escape`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import PurePath

from planalign.report.model import RunReport
from planalign.simulation.run_labels import ReportLabels

#: Print styles: the browser's print (to paper or PDF) shows the answer and the appendices, not the engine.
#: Engine detail (stage timings, parallelism, the timeline; a sweep's detail) never prints; each appendix
#: (the assumptions, the nondiscrimination tests, a section with class `appendix`) starts a page; the
#: header prints as dark text on white (no ink-heavy band); charts and table rows are not split over pages.
PRINT_CSS = """
.prepared { font-size: 13px; margin-top: 4px; }
.prepared .who { font-weight: 600; }
td.money { white-space: nowrap; }
#cost-table th { white-space: normal; }
.num { white-space: nowrap; }
#cost-table td { font-variant-numeric: tabular-nums; white-space: nowrap; }
#cost-table tr.total td { font-weight: 600; border-top: 2px solid #999; }
@media print {
  @page { margin: 16mm 14mm; }
  body { background: #fff; color: #000; }
  header { background: #fff; color: #000; border-bottom: 2px solid #1f2d3d; padding: 0 0 8px 0; }
  header .meta { opacity: 1; }
  main { padding: 0; max-width: none; }
  .engine-detail, #engine-detail, #sweep-detail { display: none !important; }
  #assumptions, #nondiscrimination, .appendix { break-before: page; page-break-before: always; }
  figure.chart, tr, .cost-summary { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def money(value: float | None, *, places: int = 0) -> str:
    """12345.6 -> "$12,346"; negatives with a real minus sign ("−$4,463"); None -> "–"."""
    if value is None:
        return "–"
    text = f"${abs(value):,.{places}f}"
    return f"−{text}" if round(value, places) < 0 else text


def rate(value: float | None, places: int = 1) -> str:
    """0.0234 -> "2.3%"; None -> "–"."""
    return "–" if value is None else f"{value * 100:.{places}f}%"


def date_words(day: date) -> str:
    """date(2026, 12, 7) -> "7 December 2026" (no locale: the same words on every machine)."""
    return f"{day.day} {day.strftime('%B')} {day.year}"


def when_words(iso: str | None) -> str:
    """An ISO timestamp as a person reads it, "7 December 2026, 16:53 UTC"; the text itself when it is not
    one (a hand-edited file), "not recorded" for None."""
    if not iso:
        return "not recorded"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return f"{date_words(moment.date())}, {moment:%H:%M} UTC"
    return f"{date_words(moment.date())}, {moment:%H:%M}"


#: An absolute path inside a sentence: a `/` not preceded by a word character or a dot, then directories.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"/]+/)+([^\s'\"/]+)")


def without_machine_paths(text: str, known: Sequence[str | PurePath | None] = ()) -> str:
    """A sentence with every absolute path cut to its file name: messages written for a terminal (which
    name the file in full, so a user can find it) become safe for a report handed to a client. The `known`
    paths (the run's database, its directory) are replaced whole first, so a directory with a space in its
    name goes too; any other absolute path up to the first space."""
    for path in sorted((str(p) for p in known if p), key=len, reverse=True):
        if path.startswith("/"):
            text = text.replace(path, PurePath(path).name)
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1), text)


def file_name(path: str | None) -> str:
    """A path shown without the machine's directories: only its file name ("census.parquet")."""
    if not path:
        return "not recorded"
    return PurePath(path).name or path


def prepared_block(labels: ReportLabels, prepared_on: date) -> str:
    """The header's line of who the report is for, who prepared it and when."""
    parts = []
    if labels.client:
        parts.append(f'Prepared for <span class="who" id="client">{html.escape(labels.client)}</span>')
    if labels.prepared_by:
        verb = "by" if labels.client else "Prepared by"
        parts.append(f'{verb} <span class="who" id="prepared-by">{html.escape(labels.prepared_by)}</span>')
    when = f'<span id="prepared-on">{html.escape(date_words(prepared_on))}</span>'
    parts.append(f"on {when}" if parts else f"Prepared on {when}")
    return f'<div class="prepared">{" ".join(parts)}</div>'


def today() -> date:
    return datetime.now(UTC).date()


# ----------------------------------------------------------------------------------------------------------
# The run report's cost block
# ----------------------------------------------------------------------------------------------------------


def cost_section(report: RunReport) -> str:
    """Employer cost, payroll, match as a share of payroll, cost per participant and the cumulative cost,
    per year and over the horizon — the figures the comparison report gives per design, for one run."""
    rows = [(year, m, m.cost) for year, m in report.years.items()]
    parts = ['<section id="cost" class="cost-summary"><h2>Employer cost</h2>']
    if not rows:
        parts.append('<p class="note">No simulated year completed: no cost to show.</p></section>')
        return "".join(parts)
    if any(cost is None for _, _, cost in rows):
        parts.append(
            '<p class="note">This run directory does not record the employer cost and payroll (it was '
            "written before they were, or by a project without <code>rpt_yearly_summary</code>); rerun the "
            "simulation to see them here.</p></section>"
        )
        return "".join(parts)
    total_cost = sum(c.employer_cost for _, _, c in rows if c is not None)
    first, last = rows[0][0], rows[-1][0]
    span = f"{first}–{last}" if first != last else str(first)
    parts.append(
        f'<p class="answer" id="cost-answer">Employer cost over {span}: '
        f'<strong class="num">{html.escape(money(total_cost))}</strong> (match and core contributions, less '
        "forfeitures used).</p>"
    )
    parts.append(
        '<table id="cost-table"><thead><tr><th>year</th><th class="money">employer cost</th>'
        '<th class="money">employer match</th><th class="money">payroll</th><th>match % of payroll</th>'
        '<th>participants</th><th class="money">cost per participant</th>'
        '<th class="money">cumulative cost</th></tr></thead><tbody>'
    )
    cumulative = 0.0
    for year, m, c in rows:
        assert c is not None
        cumulative += c.employer_cost
        parts.append(
            f'<tr data-year="{year}"><td>{year}</td>'
            f"{_money_cells([c.employer_cost, m.employer_match, c.payroll])}"
            f"<td>{rate(_share(m.employer_match, c.payroll), 2)}</td><td>{c.enrolled:,}</td>"
            f"{_money_cells([_share(c.employer_cost, c.enrolled), cumulative])}</tr>"
        )
    payroll = sum(c.payroll for _, _, c in rows if c is not None)
    match = sum(m.employer_match for _, m, _ in rows)
    parts.append(
        f'<tr class="total"><td>{span}</td>{_money_cells([total_cost, match, payroll])}'
        f"<td>{rate(_share(match, payroll), 2)}</td><td></td><td></td>{_money_cells([total_cost])}</tr>"
    )
    parts.append("</tbody></table>")
    parts.append(
        '<p class="note">Participants: active employees enrolled at year end. Payroll: compensation paid in '
        "the year. Cost per participant: the year's employer cost over its participants.</p></section>"
    )
    return "".join(parts)


def _share(part: float, whole: float | int) -> float | None:
    return part / whole if whole else None


def _money_cells(values: Sequence[float | None]) -> str:
    return "".join(f'<td class="money">{html.escape(money(v))}</td>' for v in values)
