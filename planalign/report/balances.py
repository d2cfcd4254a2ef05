"""The run report's plan assets and behaviour: per year the accounts' opening balance, contributions,
investment return, distributions (cash-outs among them), forfeitures and closing balance, read from the
run's database (`rpt_account_balances`, the totals of `fct_account_balances`); the behavioural assumptions in
force in words with their sources (`behaviour`); and what the model leaves out
(`planalign.scenarios.stats.MODEL_LIMITATIONS`).

The figures come from the database, not from the run directory, so they are only shown for the years the
database still holds *of this run*: `planalign.scenarios.provenance.export_source` — the check the export
makes — names them, and when the database was moved, replaced by another run or is held by another program,
the section says so instead of showing another run's money. Every text is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from planalign.errors import PlanalignUsageError
from planalign.report.behaviour import statements_html
from planalign.report.client import without_machine_paths
from planalign.report.model import RunReport
from planalign.report.panels import percent
from planalign.scenarios.database import read_only, relation
from planalign.scenarios.provenance import export_source
from planalign.scenarios.stats import MODEL_LIMITATIONS

#: The columns of `rpt_account_balances` the table shows, in order, with their headings.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("opening_balance", "opening balance"),
    ("employee_contributions", "employee contributions"),
    ("employer_contributions", "employer contributions"),
    ("investment_return", "investment return"),
    ("distributions", "distributions"),
    ("cash_outs", "of which cash-outs"),
    ("forfeitures", "forfeitures"),
    ("closing_balance", "closing balance"),
)


@dataclass(frozen=True)
class YearAssets:
    """One year of the plan's assets (sums over every account of the run's scenario), as the database holds
    them (exact decimals), with the year's drawn return and the leavers' choices."""

    year: int
    amounts: dict[str, Decimal]
    annual_return: float | None
    leavers: int
    leavers_cashed_out: int

    @property
    def reconciles(self) -> bool:
        """closing = opening + contributions + return − distributions − forfeitures, to the cent."""
        a = self.amounts
        flows = (
            a["opening_balance"]
            + a["employee_contributions"]
            + a["employer_contributions"]
            + a["investment_return"]
            - a["distributions"]
            - a["forfeitures"]
        )
        return flows == a["closing_balance"]


@dataclass(frozen=True)
class PlanAssets:
    """The run's plan assets by year, or a note saying why there are none."""

    years: tuple[YearAssets, ...] = ()
    note: str | None = None


def load_plan_assets(report: RunReport) -> PlanAssets:
    """The plan's assets per year of this run from its database, or a note (never an exception for a
    database that is missing, locked, of another run or without the balances models)."""
    if report.kind != "years":
        return PlanAssets(note="A stage run simulates no whole year: no account balances to show.")
    if not report.completed_years:
        return PlanAssets(note="No simulated year completed: no account balances to show.")
    try:
        source = export_source(report.run_dir)
        with read_only(source.database) as con:
            try:
                table = relation(con, "rpt_account_balances", source.database)
            except PlanalignUsageError:
                return PlanAssets(
                    note=f"The database {source.database.name} has no rpt_account_balances: it was built "
                    "by a version of the simulation without account balances. Rerun the simulation to see "
                    "them."
                )
            names = ", ".join(column for column, _ in COLUMNS)
            marks = ", ".join("?" for _ in source.years)
            try:
                rows = con.execute(
                    f"select simulation_year, count(distinct scenario_id) over () as scenarios, {names}, "
                    f"annual_return, leavers, leavers_cashed_out, account_balances_enabled from {table} "
                    f"where simulation_year in ({marks}) order by simulation_year",
                    list(source.years),
                ).fetchall()
            except duckdb.Error as exc:
                return PlanAssets(
                    note=without_machine_paths(
                        "The database's rpt_account_balances cannot be read by this version of the report "
                        f"({str(exc).strip().splitlines()[0]}); rerun the simulation to rebuild it."
                    )
                )
    except PlanalignUsageError as exc:
        known = (report.database_path, report.run_dir)
        return PlanAssets(note=without_machine_paths(f"Account balances cannot be shown: {exc}", known))
    if not rows:
        return PlanAssets(note="The database has no account balances for this run's years.")
    if rows[0][1] != 1:
        return PlanAssets(note="The database holds several scenarios: see the sweep's comparison report.")
    if not any(row[-1] for row in rows):
        return PlanAssets(note="Account balances are switched off for this run (account_balances.enabled).")
    years = []
    for row in rows:
        amounts = {column: Decimal(row[2 + i]) for i, (column, _) in enumerate(COLUMNS)}
        annual_return, leavers, cashed_out = row[2 + len(COLUMNS) : 5 + len(COLUMNS)]
        years.append(
            YearAssets(
                year=int(row[0]),
                amounts=amounts,
                annual_return=None if annual_return is None else float(annual_return),
                leavers=int(leavers),
                leavers_cashed_out=int(cashed_out),
            )
        )
    return PlanAssets(years=tuple(years))


def _money(value: Decimal) -> str:
    return f"{value:,.0f}"


def _assets_table(assets: PlanAssets) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS)
    rows = [
        f'<table id="balances-table"><thead><tr><th>year</th>{head}<th>return of the year</th>'
        "<th>leavers (cashed out)</th></tr></thead><tbody>"
    ]
    for year in assets.years:
        cells = "".join(
            f'<td data-column="{column}">{_money(year.amounts[column])}</td>' for column, _ in COLUMNS
        )
        drawn = "–" if year.annual_return is None else percent(year.annual_return)
        rows.append(
            f'<tr data-year="{year.year}"><td>{year.year}</td>{cells}<td>{drawn}</td>'
            f"<td>{year.leavers:,} ({year.leavers_cashed_out:,})</td></tr>"
        )
    rows.append("</tbody></table>")
    first = assets.years[0]
    opening = (
        "Balances on the census date come from the census's opening_balance column."
        if first.amounts["opening_balance"] > 0
        else "The census gave no opening balances, so balances start at 0 on the census date: they show only "
        "money contributed during the simulation, and returns and distributions are understated (add an "
        "opening_balance column, e.g. `planalign census --opening-balances`)."
    )
    unbalanced = [str(y.year) for y in assets.years if not y.reconciles]
    check = (
        f" The identity does NOT hold in {', '.join(unbalanced)}: the database is inconsistent."
        if unbalanced
        else " Every year, closing = opening + contributions + return − distributions − forfeitures, "
        "to the cent."
    )
    return "".join(rows) + (
        f'<p class="note">Sums over every account (actives, leavers of the year, former employees who left '
        f"money in the plan), in dollars, from rpt_account_balances. {html.escape(opening)}"
        f"{html.escape(check)}</p>"
    )


def balances_section(report: RunReport) -> str:
    """The section: plan assets per year, the behavioural assumptions in words, what the model leaves out."""
    parts = ['<section id="balances"><h2>Plan assets and behaviour</h2>']
    assets = load_plan_assets(report)
    if assets.note is not None:
        parts.append(f'<p class="note" id="balances-note">{html.escape(assets.note)}</p>')
    else:
        parts.append(_assets_table(assets))
    parts.append("<h3>Behavioural assumptions in force</h3>")
    if report.assumptions is None:
        note = report.assumptions_note or "No assumptions recorded."
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    else:
        parts.append(statements_html(report.assumptions.parameter_values(), list_id="behaviour-run"))
    items = "".join(f"<li>{html.escape(item)}</li>" for item in MODEL_LIMITATIONS)
    parts.append(
        '<details id="limitations" open><summary>What the model leaves out</summary>'
        f'<ul class="limitations">{items}</ul></details>'
    )
    parts.append("</section>")
    return "".join(parts)
