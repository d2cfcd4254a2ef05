"""The sheets an Excel user opens first: a sweep's or a run's answer, formatted, before any detail table.

`export --format xlsx` writes these sheets first — the workbook opens on **Summary** — and the database's
detail tables (snapshot, events, per-member metrics) after them only with `--detail`, since a sweep's
detail tables hold millions of rows no sheet can take. For a sweep: Summary (one row per design: employer
cost over the years and at present value with P5/P95 and the paired difference to the baseline, and the last
year's participation, deferral and employee contributions), Yearly (every design, year and metric of the
comparison), Sensitivities (when the scenario file declared some), Assumptions (every parameter in force per
design, overrides marked) and Members. For a run: Summary (its yearly summary, one row per year) and
Assumptions. Money is formatted as dollars, rates as percentages; the header row is frozen; every text
cell is a string cell (`planalign.scenarios.spreadsheet.xlsx_text_cell`).

Sheets are built as rows (`Sheet`) by pure functions and written by `write_sheet`, so the same rows serve
the CSV and Parquet exports' comparison files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from planalign.scenarios.comparison import YEARLY_METRICS, MemberYear, build_comparison
from planalign.scenarios.spreadsheet import xlsx_text_cell
from planalign.scenarios.sweep import load_sweep

if TYPE_CHECKING:
    import duckdb

MONEY = '"$"#,##0;[Red]-"$"#,##0'
RATE = "0.00%"
COUNT = "#,##0"
NUMBER_FORMATS = {"usd": MONEY, "usd_per_person": MONEY, "rate": RATE, "count": COUNT}
_UNITS = {spec.key: spec.unit for spec in YEARLY_METRICS}
_LABELS = {spec.key: spec.label for spec in YEARLY_METRICS}


@dataclass(frozen=True)
class Sheet:
    """One sheet: its title, header, rows, and the number format of each column (None: as is)."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    formats: tuple[str | None, ...] = ()
    widths: tuple[int, ...] = ()


def sweep_sheets(sweep: Mapping[str, Any], comparison: Mapping[str, Any]) -> list[Sheet]:
    """Summary, Yearly, Sensitivities (if any), Assumptions and Members of a sweep."""
    sheets = [_sweep_summary(sweep, comparison), _yearly(comparison)]
    if comparison.get("sensitivities"):
        sheets.append(_sensitivities(comparison))
    sheets += [_assumptions(sweep), _members(sweep)]
    return sheets


def run_sheets(
    summary_rows: Sequence[Mapping[str, Any]], assumptions: Mapping[str, Any] | None
) -> list[Sheet]:
    """Summary (the run's yearly summary) and Assumptions (from summary.json) of a run."""
    columns = list(summary_rows[0]) if summary_rows else []
    sheets = [
        Sheet(
            "Summary",
            tuple(columns),
            [tuple(r[c] for c in columns) for r in summary_rows],
            tuple(_column_format(c) for c in columns),
        )
    ]
    rows: list[tuple[Any, ...]] = []
    for name, value in sorted(((assumptions or {}).get("parameters") or {}).items()):
        rows.append((name, _text(value)))
    if rows:
        sheets.append(Sheet("Assumptions", ("parameter", "value"), rows, (None, None), (40, 60)))
    return sheets


def answer_sheets(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    directory: Path,
    years: Sequence[int],
    summary_sql: str | None,
    members: Sequence[MemberYear],
) -> list[Sheet]:
    """The sheets that open an export: a sweep's comparison of exactly the exported `years`, or a run's
    yearly summary (`summary_sql`: its rows the export may hand out) and assumptions."""
    if kind == "sweep":
        sweep = load_sweep(directory)
        sweep = {**sweep, "years": [y for y in sweep["years"] if int(y) in years]}
        return sweep_sheets(sweep, build_comparison(sweep, members))
    if summary_sql is None:
        raise ValueError("a run's answer needs the SQL of its yearly summary rows")
    cursor = con.execute(summary_sql)
    columns = [str(d[0]) for d in cursor.description or []]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row.pop("scenario_id", None)  # a run is one scenario
    return run_sheets(rows, _run_assumptions(directory))


def _run_assumptions(directory: Path) -> dict[str, Any] | None:
    from planalign.simulation.run_directory import RunFileError, read_summary

    try:
        document = read_summary(directory)
    except RunFileError:
        return None
    assumptions = document.get("assumptions")
    return assumptions if isinstance(assumptions, dict) else None


def _column_format(column: str) -> str | None:
    """A yearly-summary column's format from its name (the dbt project's naming: *_rate, money columns)."""
    name = column.lower()
    if name.endswith("_rate") or name.endswith("_pct") or name.endswith("_share"):
        return RATE
    money = ("contribution", "match", "cost", "compensation", "payroll", "forfeiture", "refund", "balance")
    if any(word in name for word in money):
        return MONEY
    return None


def _sweep_summary(sweep: Mapping[str, Any], comparison: Mapping[str, Any]) -> Sheet:
    baseline = str(sweep["baseline"])
    last = max(int(y) for y in sweep["years"])
    totals = {(t["scenario"], t["metric"]): t for t in comparison["totals"]}
    rows_by = {(r["scenario"], r["metric"], r["year"]): r for r in comparison["rows"]}
    descriptions = {str(s["name"]): str(s.get("description") or "") for s in sweep["scenarios"]}
    header = (
        "design",
        "description",
        "cumulative employer cost P50",
        "P5",
        "P95",
        f"vs {baseline} P50",
        f"vs {baseline} P5",
        f"vs {baseline} P95",
        "present value P50",
        f"present value vs {baseline}",
        f"participation {last}",
        f"participation vs {baseline}",
        f"average deferral {last}",
        f"average deferral vs {baseline}",
        f"employee contributions {last}",
        f"employee contributions vs {baseline}",
    )
    rows: list[tuple[Any, ...]] = []
    for name in descriptions:
        cumulative = totals.get((name, "cumulative_employer_cost"), {})
        pv = totals.get((name, "pv_employer_cost"), {})
        row: list[Any] = [name, descriptions[name]]
        row += [cumulative.get(k) for k in ("p50", "p5", "p95", "delta_p50", "delta_p5", "delta_p95")]
        row += [pv.get("p50"), pv.get("delta_p50")]
        for metric in ("participation_rate", "average_deferral_rate", "employee_contributions"):
            stat = rows_by.get((name, metric, last), {})
            row += [stat.get("p50"), stat.get("delta_p50")]
        rows.append(tuple(row))
    formats = (None, None, *(MONEY,) * 8, RATE, RATE, RATE, RATE, MONEY, MONEY)
    widths = (18, 40, *(16,) * 14)
    return Sheet("Summary", header, rows, formats, widths)


def _yearly(comparison: Mapping[str, Any]) -> Sheet:
    header = (
        "design",
        "year",
        "metric",
        "label",
        "seeds",
        "mean",
        "P5",
        "P50",
        "P95",
        "Δ P5",
        "Δ P50",
        "Δ P95",
    )
    rows = []
    for r in comparison["rows"]:
        rows.append(
            (
                r["scenario"],
                r["year"],
                r["metric"],
                _LABELS.get(r["metric"], r["metric"]),
                r["n"],
                *(r[k] for k in ("mean", "p5", "p50", "p95", "delta_p5", "delta_p50", "delta_p95")),
            )
        )
    # The format is the metric's unit, row by row: `write_sheet` takes it from the metric column.
    return Sheet("Yearly", header, rows, (None, None, None, None, COUNT, *("unit",) * 7), (18, 6, 24, 40))


def _sensitivities(comparison: Mapping[str, Any]) -> Sheet:
    header = (
        "assumption",
        "side",
        "design",
        "present value P50",
        "P5",
        "P95",
        "vs baseline P50",
        "P5",
        "P95",
    )
    rows = [
        (
            r["sensitivity"],
            r["side"],
            r["scenario"],
            *(r[k] for k in ("p50", "p5", "p95", "delta_p50", "delta_p5", "delta_p95")),
        )
        for r in comparison["sensitivities"]
    ]
    return Sheet("Sensitivities", header, rows, (None, None, None, *(MONEY,) * 6), (18, 6, 18))


def _assumptions(sweep: Mapping[str, Any]) -> Sheet:
    rows: list[tuple[Any, ...]] = []
    for design in sweep["scenarios"]:
        overridden = set(_flat(design.get("overrides") or {}))
        for name, value in sorted((design.get("parameters") or {}).items()):
            rows.append((design["name"], name, _text(value), "yes" if _overrides(name, overridden) else ""))
    return Sheet(
        "Assumptions", ("design", "parameter", "value", "set by the design"), rows, (), (18, 40, 60, 10)
    )


def _members(sweep: Mapping[str, Any]) -> Sheet:
    header = ("scenario_id", "scenario_name", "random_seed", "design", "sensitivity", "side")
    rows = [tuple(m.get(k) for k in header) for m in sweep["members"]]
    return Sheet("Members", header, rows, (), (28, 28, 12))


def _flat(node: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += _flat(value, f"{name}.")
        else:
            out.append(name)
    return out


def _overrides(parameter: str, overridden: set[str]) -> bool:
    """Whether the design's overrides (dotted config keys) set `parameter` (a dbt var name, or a key)."""
    return any(parameter == key or key.endswith(f".{parameter}") or key.replace(".", "_") == parameter
               for key in overridden)  # fmt: skip


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def write_sheet(workbook: Any, sheet: Sheet) -> None:
    """Append `sheet` to a write-only openpyxl workbook: header frozen, columns formatted, text as text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws = workbook.create_sheet(title=sheet.title[:31])
    ws.freeze_panes = "A2"
    for index, width in enumerate(sheet.widths):
        ws.column_dimensions[_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for title in sheet.header:
        cell = xlsx_text_cell(ws, title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    metric_column = sheet.header.index("metric") if "metric" in sheet.header else None
    for row in sheet.rows:
        unit_format = (
            NUMBER_FORMATS.get(_UNITS.get(str(row[metric_column]), "")) if metric_column is not None else None
        )
        cells = []
        for index, value in enumerate(row):
            if isinstance(value, str):
                cells.append(xlsx_text_cell(ws, value))
                continue
            if value is not None and not isinstance(value, int | float | Decimal | dt.date | dt.datetime):
                cells.append(xlsx_text_cell(ws, str(value)))
                continue
            number_format = sheet.formats[index] if index < len(sheet.formats) else None
            if number_format == "unit":
                number_format = unit_format
            cell = WriteOnlyCell(ws, value=cast(Any, value))
            if number_format is not None and value is not None:
                cell.number_format = number_format
            cells.append(cell)
        ws.append(cells)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
