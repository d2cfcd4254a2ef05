"""Every member's yearly figures, as the comparison reads them: from a sweep database's dbt tables, or from
the per-member summary a sharded sweep kept instead of its tables (`--keep summaries`, docs/scaling.md).

The figures are one SQL query over the dbt tables (`FIGURES_SQL`: `rpt_yearly_summary`, the average deferral
rate of active participants from `fct_workforce_snapshot`, plan assets from `fct_account_balances` where the
database has it). A full-table sweep runs it on the sweep database when the comparison is written. A summary
shard runs the *same* query on its own database, where those tables are, and stores its rows as the table
`SUMMARY_TABLE` (`store_member_figures`); the driver merges those rows instead of the tables, and the
comparison reads them back column for column (`read_member_metrics(database, summaries=True)`). Both paths
turn each row into a `MemberYear` with the same function (`_member_year`), so the comparison built from a
summary is the one built from the tables: every figure is computed once, by one query, on the members'
own rows (each member's rows are in exactly one shard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from planalign.scenarios.database import SweepDatabaseError, has_column, read_only, relation

#: The table a summary shard stores its figures in, and the merged sweep database keeps.
SUMMARY_TABLE = "scenario_member_figures"
#: The figures' columns, in the order `_member_year` reads them.
FIGURE_COLUMNS: tuple[str, ...] = (
    "scenario_id", "scenario_name", "random_seed", "simulation_year", "active_employees", "hires",
    "terminations", "enrolled_actives", "participation_rate", "employee_contributions", "employer_match",
    "employer_core_contributions", "employer_cost", "total_compensation_paid", "average_deferral_rate",
    "closing_balance", "investment_return", "cash_outs",
)  # fmt: skip


@dataclass(frozen=True)
class MemberYear:
    """One member's metrics in one year."""

    scenario_id: str
    scenario_name: str
    random_seed: int
    year: int
    values: Mapping[str, float | None]


FIGURES_SQL = """
select d.scenario_id, d.scenario_name, d.random_seed, r.simulation_year,
    r.active_employees, r.hires, r.terminations, r.enrolled_actives, r.participation_rate,
    r.employee_contributions, r.employer_match, r.employer_core_contributions, r.employer_cost,
    r.total_compensation_paid, a.average_deferral_rate, b.closing_balance, b.investment_return, b.cash_outs
from {dim} as d
join {summary} as r on r.scenario_id = d.scenario_id
left join (
    select scenario_id, simulation_year, avg(deferral_rate) as average_deferral_rate
    from {snapshot}
    where employment_status = 'active' and is_enrolled and deferral_rate > 0
    group by scenario_id, simulation_year
) as a on a.scenario_id = r.scenario_id and a.simulation_year = r.simulation_year
left join ({balances}) as b on b.scenario_id = r.scenario_id and b.simulation_year = r.simulation_year
order by d.scenario_id, r.simulation_year
"""
_BALANCES_SQL = """
select scenario_id, simulation_year, sum(closing_balance) as closing_balance,
    sum(investment_return) as investment_return, sum(cash_outs) as cash_outs
from {balances} group by scenario_id, simulation_year
"""
#: Without fct_account_balances (a database built before it, or a hand-built one): no balance metrics.
_NO_BALANCES_SQL = (
    "select null::varchar as scenario_id, null::integer as simulation_year, null::double as closing_balance, "
    "null::double as investment_return, null::double as cash_outs where false"
)


def figures_sql(con: duckdb.DuckDBPyConnection, database: Path) -> str:
    """`FIGURES_SQL` over the dbt tables of the database `con` is connected to."""
    has_balances = has_column(con, "fct_account_balances", "closing_balance")
    return FIGURES_SQL.format(
        dim=relation(con, "dim_scenarios", database),
        summary=relation(con, "rpt_yearly_summary", database),
        snapshot=relation(con, "fct_workforce_snapshot", database),
        balances=_BALANCES_SQL.format(balances=relation(con, "fct_account_balances", database))
        if has_balances
        else _NO_BALANCES_SQL,
    )


def store_member_figures(database: Path) -> None:
    """Store `FIGURES_SQL`'s rows in `database` (a summary shard's own) as `main.SUMMARY_TABLE`."""
    con = duckdb.connect(str(database))
    try:
        con.execute(f'create or replace table main."{SUMMARY_TABLE}" as {figures_sql(con, database)}')
    finally:
        con.close()


def read_member_metrics(database: Path, *, summaries: bool = False) -> list[MemberYear]:
    """Every member's metrics in every year the database holds: from its dbt tables, or — for a sweep that
    kept summaries (`summaries`) — from the figures its shards computed from theirs."""
    with read_only(database) as con:
        if summaries:
            if not has_column(con, SUMMARY_TABLE, "scenario_id"):
                raise SweepDatabaseError(
                    f"the sweep database {database} has no {SUMMARY_TABLE}, the members' figures this sweep "
                    "kept (--keep summaries): another run has written it since. Run the sweep again."
                )
            columns = ", ".join(f'"{c}"' for c in FIGURE_COLUMNS)
            sql = (
                f"select {columns} from {relation(con, SUMMARY_TABLE, database)} "
                "order by scenario_id, simulation_year"
            )
        else:
            sql = figures_sql(con, database)
        rows = con.execute(sql).fetchall()
    return [_member_year(row) for row in rows]


def _member_year(row: Sequence[Any]) -> MemberYear:
    (sid, name, seed, year, actives, hires, terms, enrolled, participation, employee, match, core, cost,
     payroll, deferral, closing, returns, cash_outs) = row  # fmt: skip
    match_f, cost_f, payroll_f = _float(match), _float(cost), _float(payroll)
    values: dict[str, float | None] = {
        "actives": _count(actives),
        "hires": _count(hires),
        "terminations": _count(terms),
        "participation_rate": _float(participation),
        "average_deferral_rate": _float(deferral),
        "employee_contributions": _float(employee),
        "employer_match": match_f,
        "employer_core": _float(core),
        "employer_cost": cost_f,
        "match_pct_of_payroll": _ratio(match_f, payroll_f),
        "cost_per_participant": _ratio(cost_f, _float(enrolled)),
        "payroll": payroll_f,
        "closing_balance": _float(closing),
        "investment_return": _float(returns),
        "cash_outs": _float(cash_outs),
    }
    return MemberYear(str(sid), str(name), int(seed), int(year), values)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator
