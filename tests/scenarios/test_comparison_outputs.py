"""A sweep's comparison and exports from its database (hand-built here; the real one in the end-to-end
test): the files written, the metrics derived, and the refusals when the database no longer holds the
sweep or a sheet would overflow."""

from __future__ import annotations

import csv
import json
import os
import sys
import types
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from planalign.cli import main
from planalign.scenarios import export as export_module
from planalign.scenarios.comparison import write_comparison
from planalign.scenarios.database import SweepDatabaseError
from planalign.scenarios.export import ExportError, export, export_source
from planalign.scenarios.sweep import SweepDirectoryError

from .sweep_fixture import DIGEST, build_sweep, employer_cost


def test_compare_writes_comparison_json_and_metrics_csv_from_the_database(tmp_path: Path) -> None:
    hand = build_sweep(tmp_path)
    files = write_comparison(hand.directory)
    document = json.loads(files.comparison_json.read_text())
    assert document["sweep"] == hand.document
    rows = {(r["scenario"], r["year"], r["metric"]): r for r in document["rows"]}
    cost = rows[("richer", 2026, "employer_cost")]
    # Seeds 1 and 2: (1,600, 1,700) × 1.1; paired delta 500 × 1.1 for both.
    assert cost["p50"] == pytest.approx(1650.0 * 1.1)
    assert cost["delta_p5"] == pytest.approx(550.0) and cost["delta_p95"] == pytest.approx(550.0)
    # Derived: match / payroll, cost / enrolled actives; the deferral of active participants deferring.
    assert rows[("baseline", 2025, "match_pct_of_payroll")]["p50"] == pytest.approx(1150.0 * 0.8 / 100_000)
    assert rows[("baseline", 2025, "cost_per_participant")]["p50"] == pytest.approx(1150.0 / 2)
    assert rows[("baseline", 2025, "average_deferral_rate")]["p50"] == pytest.approx(0.06)
    assert rows[("baseline", 2025, "participation_rate")]["p50"] == 0.5
    totals = {(t["scenario"], t["metric"]): t for t in document["totals"]}
    seed1 = employer_cost("baseline", 1, 2025) + employer_cost("baseline", 1, 2026) / 1.1
    seed2 = employer_cost("baseline", 2, 2025) + employer_cost("baseline", 2, 2026) / 1.1
    assert totals[("baseline", "pv_employer_cost")]["p50"] == pytest.approx((seed1 + seed2) / 2)
    assert totals[("richer", "cumulative_employer_cost")]["delta_p50"] == pytest.approx(500.0 + 550.0)

    with files.metrics_csv.open(newline="") as handle:
        metrics = list(csv.reader(handle))
    assert metrics[0] == ["scenario_name", "random_seed", "year", "metric", "value"]
    assert len(metrics) == 1 + 2 * 2 * 2 * 12
    assert ["richer", "2", "2026", "employer_cost", str(employer_cost("richer", 2, 2026))] in metrics
    assert ["richer", "2", "2026", "actives", "4"] in metrics  # counts as whole numbers


def test_compare_refuses_a_sweep_that_did_not_complete(tmp_path: Path) -> None:
    hand = build_sweep(tmp_path, status="failed")
    with pytest.raises(SweepDirectoryError, match="is 'failed', not complete"):
        write_comparison(hand.directory)
    assert not (hand.directory / "comparison.json").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("update planalign.year_status set config_hash = 'other'", "no longer holds this sweep"),
        ("delete from dim_scenarios where scenario_id = 'richer__s2'", "no longer holds this sweep"),
        ("delete from planalign.year_status where simulation_year = 2026", "does not hold 2026 complete"),
    ],
)
def test_compare_refuses_a_database_that_no_longer_holds_the_sweep(
    tmp_path: Path, change: str, message: str
) -> None:
    hand = build_sweep(tmp_path)
    with duckdb.connect(str(hand.database)) as con:
        con.execute(change)
    with pytest.raises(SweepDatabaseError, match=message):
        write_comparison(hand.directory)
    assert not (hand.directory / "comparison.json").exists()
    assert DIGEST  # the fixture's digest is what sweep.json records


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_one_file_per_table(tmp_path: Path, fmt: str) -> None:
    hand = build_sweep(tmp_path)
    out = tmp_path / "out"
    written = export(export_source(hand.directory), fmt, out)  # type: ignore[arg-type]
    assert sorted(p.name for p in written) == sorted(
        f"{t}.{fmt}"
        for t in ("fct_workforce_snapshot", "fct_yearly_events", "rpt_yearly_summary", "dim_scenarios",
                  "scenario_metrics", "comparison_summary", "comparison_yearly")
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temporary left
    reader = "read_csv_auto" if fmt == "csv" else "read_parquet"
    with duckdb.connect() as con:
        # Issue #22.3: the comparison itself is exported (richer: 1,050 more over the two years).
        delta = con.execute(
            f"select \"vs baseline P50\" from {reader}(?) where design = 'richer'",
            [str(out / f"comparison_summary.{fmt}")],
        ).fetchall()
        assert delta == [(pytest.approx(1050.0),)]
        yearly = con.execute(
            f"select count(*) from {reader}(?) where metric = 'employer_cost'",
            [str(out / f"comparison_yearly.{fmt}")],
        ).fetchone()
        assert yearly == (2 * 2,)  # designs × years
    with duckdb.connect() as con:
        snapshot = con.execute(
            f"select count(*) from {reader}(?)", [str(out / f"fct_workforce_snapshot.{fmt}")]
        )
        assert snapshot.fetchone() == (4 * 2 * 3,)
        metrics = con.execute(
            f"select value from {reader}(?) where scenario_name = 'richer' and random_seed = 1 "
            "and year = 2025 and metric = 'employer_cost'",
            [str(out / f"scenario_metrics.{fmt}")],
        ).fetchall()
        assert metrics == [(employer_cost("richer", 1, 2025),)]


def test_export_xlsx_opens_on_the_summary_and_has_the_detail_tables_only_when_asked(tmp_path: Path) -> None:
    """Issue #22.3: the workbook opens on a Summary sheet (one row per design, the comparison), then the
    yearly comparison, assumptions and members; money and rates formatted, the header row frozen."""
    hand = build_sweep(tmp_path)
    [plain] = export(export_source(hand.directory), "xlsx", tmp_path / "plain")
    book = load_workbook(plain)
    assert book.sheetnames == ["Summary", "Yearly", "Assumptions", "Members"]
    assert book.active is not None and book.active.title == "Summary"
    summary = book["Summary"]
    assert summary.freeze_panes == "A2"
    header = [c.value for c in summary[1]]
    richer = {h: c for h, c in zip(header, summary[3], strict=True)}
    assert richer["design"].value == "richer"
    # richer costs 500 more a year, 550 in the second year: 1,050 over the two years (paired, every seed).
    assert richer["vs baseline P50"].value == pytest.approx(1050.0)
    assert richer["vs baseline P50"].number_format.startswith('"$"#,##0')
    assert richer["participation 2026"].number_format == "0.00%"
    yearly = book["Yearly"]
    yearly_rows = [list(r) for r in yearly.iter_rows(min_row=2)]
    rate_rows = [r for r in yearly_rows if r[2].value == "participation_rate"]
    assert rate_rows and all(r[7].number_format == "0.00%" for r in rate_rows)
    members = [r for r in book["Members"].iter_rows(min_row=2, values_only=True)]
    assert len(members) == 4

    [path] = export(export_source(hand.directory), "xlsx", tmp_path / "out", detail=True)
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == [
        "Summary",
        "Yearly",
        "Assumptions",
        "Members",
        "fct_workforce_snapshot",
        "fct_yearly_events",
        "rpt_yearly_summary",
        "dim_scenarios",
        "scenario_metrics",
    ]
    rows = list(workbook["rpt_yearly_summary"].iter_rows(values_only=True))
    assert rows[0][:2] == ("scenario_id", "simulation_year")
    assert len(rows) == 1 + 4 * 2
    assert rows[1][0] == "baseline__s1" and rows[1][1] == 2025
    cost = rows[1][10]  # employer_cost: a number cell, not text
    assert isinstance(cost, int | float | Decimal) and float(cost) == employer_cost("baseline", 1, 2025)


def test_export_xlsx_refuses_a_table_too_big_for_a_sheet_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand = build_sweep(tmp_path)
    monkeypatch.setattr(export_module, "EXCEL_MAX_ROWS", 20)  # the snapshot has 24 rows + its header
    out = tmp_path / "out"
    # Without --detail the answer fits whatever the size of the detail tables.
    [fits] = export(export_source(hand.directory), "xlsx", tmp_path / "fits")
    assert fits.is_file()
    with pytest.raises(ExportError) as caught:
        export(export_source(hand.directory), "xlsx", out, detail=True)
    message = str(caught.value)
    assert "fct_workforce_snapshot (24 rows)" in message
    assert "--format csv or --format parquet" in message
    assert "rpt_yearly_summary" not in message  # 8 rows fit
    assert not out.exists()


def test_export_of_a_run_directory_and_its_refusals(tmp_path: Path) -> None:
    hand = build_sweep(tmp_path)
    run = tmp_path / "runs" / "20261202T000000Z-abcd1234"
    run.mkdir()
    summary = {
        "run_id": "r",  # the run the fixture's year-status rows name
        "status": "success",
        "start_year": 2025,
        "end_year": 2026,
        "completed_years": [2025, 2026],
        "database_path": str(hand.database),
        "completed_at": "2026-12-02T00:05:00.000+00:00",
    }
    (run / "summary.json").write_text(json.dumps(summary))
    source = export_source(run)
    assert source.kind == "run"
    written = export(source, "csv", run / "export")
    assert sorted(p.stem for p in written) == [
        "fct_workforce_snapshot",
        "fct_yearly_events",
        "rpt_yearly_summary",
    ]
    # A run's workbook opens on its yearly summary, money formatted; readable by others (not 0600).
    [book_path] = export(source, "xlsx", run / "xlsx")
    assert book_path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    book = load_workbook(book_path)
    assert book.sheetnames[0] == "Summary"
    header = [c.value for c in book["Summary"][1]]
    first = dict(zip(header, book["Summary"][2], strict=True))
    assert first["simulation_year"].value == 2025
    assert first["employer_cost"].number_format.startswith('"$"#,##0')
    assert first["participation_rate"].number_format == "0.00%"
    # A later run wrote the database: this run's results are gone from it.
    summary["run_id"] = "20261201T000000Z-abcd1234"
    summary["completed_at"] = "2026-12-01T23:00:00.000+00:00"
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ExportError, match="written since by run r"):
        export_source(run)
    with pytest.raises(ExportError, match="neither a run directory"):
        export_source(tmp_path)


def test_cli_export_and_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hand = build_sweep(tmp_path)
    assert main(["export", str(hand.directory), "--format", "parquet"]) == 0
    assert (hand.directory / "export" / "rpt_yearly_summary.parquet").is_file()
    with pytest.raises(SystemExit) as usage:
        main(["export", str(hand.directory), "--format", "ods"])
    assert usage.value.code == 2
    capsys.readouterr()

    # The real comparison report, from the latest complete sweep of the runs directory.
    assert main(["scenarios", "compare", "--runs-dir", str(tmp_path / "runs")]) == 0
    html = (hand.directory / "comparison.html").read_text()
    assert "richer" in html and "<html" in html.lower()
    out = capsys.readouterr().out
    assert "richer" in out and f"report: {hand.directory / 'comparison.html'}" in out
    # Issue #22.5: dollars, and the paired difference's range (richer: +$1,050 every seed).
    assert "+$1,050" in out and "Δ P5 to P95" in out
    # Issue #20.3: the summary says what its figures' range is (2 seeds: rough bounds, and why).
    assert "spread over 2 random seeds under the stated assumptions" in " ".join(out.split())
    assert "not a confidence interval" in " ".join(out.split())

    calls: list[tuple[Path, Path]] = []

    def write_comparison_report(comparison_json_path: Path, out: Path) -> Path:
        calls.append((comparison_json_path, out))
        return out

    fake = types.ModuleType("planalign.report.comparison")
    fake.write_comparison_report = write_comparison_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "planalign.report.comparison", fake)
    assert main(["scenarios", "compare", str(hand.directory)]) == 0
    assert calls == [(hand.directory / "comparison.json", hand.directory / "comparison.html")]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
