"""`planalign export` hands out exactly what a run wrote, and nothing a spreadsheet would run (issue #19,
items 2, 3 and 6's `export --out`).

The databases and run directories here are built the way a run leaves them — the year-status rows by
`SimulationState.mark_complete`, summary.json by `SimulationSummary.to_dict` — with small stand-ins for the
dbt tables, so each state (an interrupted re-run, a stage run, a resume) costs milliseconds instead of a
simulation. The command-line path is exercised through the real CLI in a subprocess where it is the point.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign.scenarios.export import ExportError, export, export_source
from planalign.simulation.run_directory import RunKind, RunStatus, SimulationSummary
from planalign.simulation.state import SimulationState
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    file_digest,
    planalign,
    planalign_here,
    write_config,
)

RUN_TABLES = ("fct_workforce_snapshot", "fct_yearly_events", "rpt_yearly_summary")
#: Text a spreadsheet would evaluate: OWASP's formula-starting characters, a DDE payload, a link.
FORMULA_TEXTS = (
    '=HYPERLINK("http://example.invalid/?x","click")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
)


# ----------------------------------------------------------------------------------------------------
# Building the states
# ----------------------------------------------------------------------------------------------------


def _database(path: Path, years: Sequence[int], *, ids: Sequence[str] = ("E1", "E2")) -> Path:
    """The three exported tables with rows for `years` (no year complete yet): one snapshot row per id, one
    event and one summary row per year; a negative number to show numbers are left alone."""
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "create table fct_workforce_snapshot (employee_id varchar, simulation_year integer, "
            "employment_status varchar, prorated_change decimal(12, 2))"
        )
        con.execute(
            "create table fct_yearly_events (employee_id varchar, simulation_year integer, "
            "event_type varchar, event_details varchar)"
        )
        con.execute("create table rpt_yearly_summary (simulation_year integer, active_employees integer)")
        for year in years:
            for employee in ids:
                con.execute(
                    "insert into fct_workforce_snapshot values (?, ?, 'active', -5.25)", [employee, year]
                )
            con.execute("insert into fct_yearly_events values (?, ?, 'hire', ?)", [ids[0], year, ids[0]])
            con.execute("insert into rpt_yearly_summary values (?, ?)", [year, len(ids)])
    finally:
        con.close()
    return path


def _complete(database: Path, years: Sequence[int], run_id: str, config_hash: str) -> None:
    state = SimulationState(database)
    for year in years:
        state.mark_complete(year, run_id=run_id, config_hash=config_hash)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _run_dir(
    runs: Path,
    run_id: str,
    database: Path,
    *,
    status: RunStatus = "success",
    years: tuple[int, int] = (2025, 2026),
    completed: Sequence[int] = (2025, 2026),
    config_hash: str = "h42",
    kind: RunKind | None = "years",
    stage: str | None = None,
) -> Path:
    """A run directory whose summary.json is what `RunRecorder.write` writes for such a run."""
    directory = runs / run_id
    directory.mkdir(parents=True)
    summary = SimulationSummary(
        run_id=run_id,
        status=status,
        started_at=_now(),
        completed_at=_now(),
        start_year=years[0],
        end_year=years[1],
        completed_years=tuple(completed),
        years={},
        stages=(),
        run_dir=directory,
        database_path=database,
        parallelization={},
        error=None if status == "success" else "the run was interrupted",
        kind=kind,
        stage=stage,
        config_digest=run_id.split("-")[-1],
        results_digest=config_hash,
    )
    (directory / "summary.json").write_text(json.dumps(summary.to_dict()))
    return directory


def _exported_years(paths: Sequence[Path]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for path in paths:
        with path.open(newline="") as handle:
            out[path.stem] = {int(row["simulation_year"]) for row in csv.DictReader(handle)}
    return out


def _assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


# ----------------------------------------------------------------------------------------------------
# Item 2: export exactly what a run wrote
# ----------------------------------------------------------------------------------------------------


def test_cli_export_of_an_interrupted_rerun_refuses_and_names_the_run_whose_data_the_database_holds(
    tmp_path: Path,
) -> None:
    """A seed-43 re-run of a seed-42 database, interrupted: the database still holds the seed-42 run's years
    (correctly), and exporting the seed-43 run's directory must not hand them out under its name."""
    database = _database(tmp_path / "simulation.duckdb", [2025, 2026])
    _complete(database, [2025, 2026], "20261207T100000000000Z-seed42", "h42")
    runs = tmp_path / "runs"
    first = _run_dir(runs, "20261207T100000000000Z-seed42", database)
    rerun = _run_dir(runs, "20261207T110000000000Z-seed43", database, status="interrupted", config_hash="h43")
    before = file_digest(database)

    result = planalign("export", str(rerun), "--format", "csv", cwd=tmp_path)

    _assert_usage_error(result, "20261207T100000000000Z-seed42", "interrupted", str(first))
    assert not (rerun / "export").exists(), "a refused export wrote files"
    assert file_digest(database) == before
    # The run whose data it is still exports.
    written = export(export_source(first), "csv", first / "export")
    assert _exported_years(written) == {name: {2025, 2026} for name in RUN_TABLES}


def test_export_of_a_run_that_failed_after_saving_years_exports_those_years_and_says_so(
    tmp_path: Path,
) -> None:
    """A run adding years saves each as it completes: failing in 2027 it leaves 2025–2026, its own."""
    database = _database(tmp_path / "simulation.duckdb", [2025, 2026])
    _complete(database, [2025, 2026], "20261207T100000000000Z-abc", "h42")
    run = _run_dir(
        tmp_path / "runs", "20261207T100000000000Z-abc", database, status="failed", years=(2025, 2027)
    )

    source = export_source(run)

    assert source.years == (2025, 2026)
    assert any("failed" in note and "2025–2026" in note and "2027" in note for note in source.notes)


def test_export_after_a_stage_run_names_the_incomplete_years_and_exports_no_partial_rows(
    tmp_path: Path,
) -> None:
    """`--stage ... --year 2026` rebuilt 2026 in place: 2026 and 2027 are no longer complete (their rows are
    still there). Neither the stage run nor the whole run before it may export them as complete."""
    database = _database(tmp_path / "simulation.duckdb", [2025, 2026, 2027])
    _complete(database, [2025, 2026, 2027], "20261207T100000000000Z-abc", "h42")
    runs = tmp_path / "runs"
    whole = _run_dir(
        runs, "20261207T100000000000Z-abc", database, years=(2025, 2027), completed=(2025, 2026, 2027)
    )
    SimulationState(database).mark_incomplete(2026)  # what the stage run does
    stage = _run_dir(
        runs,
        "20261207T110000000000Z-abc",
        database,
        years=(2026, 2026),
        completed=(2025,),
        kind="stage",
        stage="EVENT_GENERATION",
    )

    for directory in (stage, whole):
        with pytest.raises(ExportError, match="2026–2027") as refused:
            export_source(directory)
        assert "incomplete" in str(refused.value) and "--resume" in str(refused.value)
    assert not (stage / "export").exists() and not (whole / "export").exists()


def test_export_of_a_resumed_run_includes_the_years_it_kept_and_the_earlier_run_only_its_own(
    tmp_path: Path,
) -> None:
    database = _database(tmp_path / "simulation.duckdb", [2025, 2026, 2027])
    _complete(database, [2025, 2026], "20261207T100000000000Z-abc", "h42")
    runs = tmp_path / "runs"
    earlier = _run_dir(runs, "20261207T100000000000Z-abc", database)
    _complete(database, [2027], "20261207T110000000000Z-abc", "h42")
    resumed = _run_dir(
        runs, "20261207T110000000000Z-abc", database, years=(2025, 2027), completed=(2025, 2026, 2027)
    )

    later = export_source(resumed)
    assert later.years == (2025, 2026, 2027)
    assert any("kept" in n and "20261207T100000000000Z-abc" in n for n in later.notes), later.notes

    source = export_source(earlier)
    assert source.years == (2025, 2026)
    assert any("2027" in n and "20261207T110000000000Z-abc" in n for n in source.notes), source.notes
    written = export(source, "csv", tmp_path / "out")
    assert _exported_years(written) == {name: {2025, 2026} for name in RUN_TABLES}


def test_export_of_a_run_whose_years_a_later_run_replaced_names_that_run(tmp_path: Path) -> None:
    database = _database(tmp_path / "simulation.duckdb", [2025, 2026])
    _complete(database, [2025, 2026], "20261207T100000000000Z-abc", "h42")
    runs = tmp_path / "runs"
    replaced = _run_dir(runs, "20261207T100000000000Z-abc", database)
    _complete(database, [2025, 2026], "20261207T110000000000Z-def", "h43")
    _run_dir(runs, "20261207T110000000000Z-def", database, config_hash="h43")

    with pytest.raises(ExportError, match="20261207T110000000000Z-def"):
        export_source(replaced)


def _sweep_run_record(sweep: Path, run_id: str) -> None:
    """The sweep's run record (`<sweep dir>/simulation/<run id>/summary.json`), replacing the fixture's."""
    shutil.rmtree(sweep / "simulation")
    record = sweep / "simulation" / run_id
    record.mkdir(parents=True)
    (record / "summary.json").write_text(json.dumps({"run_id": run_id, "status": "success"}))


def test_export_of_a_sweep_whose_database_another_run_wrote_is_refused(tmp_path: Path) -> None:
    """Same designs, same seeds, same digest — but another run's years: not this sweep's output."""
    from tests.scenarios.sweep_fixture import build_sweep

    hand = build_sweep(tmp_path)  # its year-status rows are run "r"'s
    _sweep_run_record(hand.directory, "20261207T120000000000Z-sweep")

    with pytest.raises(ExportError, match=r"written by run r\b"):
        export_source(hand.directory)


# ----------------------------------------------------------------------------------------------------
# Item 3: formula injection — the output layer
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A complete run whose database holds formula-shaped text (planted past the census check, as an
    older database or another tool could hold it)."""
    database = _database(tmp_path / "simulation.duckdb", [2025], ids=FORMULA_TEXTS)
    _complete(database, [2025], "20261207T100000000000Z-abc", "h42")
    return _run_dir(
        tmp_path / "runs", "20261207T100000000000Z-abc", database, years=(2025, 2025), completed=(2025,)
    )


def test_xlsx_export_writes_formula_shaped_text_as_text(planted: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    [workbook] = export(export_source(planted), "xlsx", tmp_path / "out", detail=True)

    with zipfile.ZipFile(workbook) as archive:
        sheets = {n: archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")}
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets.values()), "a formula cell"
    cells = [row[0] for row in load_workbook(workbook)["fct_workforce_snapshot"].iter_rows(min_row=2)]
    assert {c.data_type for c in cells} == {"s"}
    ids = [str(c.value) for c in cells]
    # The text itself, unchanged — but for a carriage return, which openpyxl writes into the XML as it is
    # and XML readers (Excel's too) read as a line feed.
    assert sorted(ids) == sorted(t.replace("\r", "\n") for t in FORMULA_TEXTS)


def test_csv_export_prefixes_formula_shaped_text_and_leaves_numbers(planted: Path, tmp_path: Path) -> None:
    written = export(export_source(planted), "csv", tmp_path / "out")
    [snapshot] = [p for p in written if p.stem == "fct_workforce_snapshot"]
    with snapshot.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["employee_id"] for r in rows) == sorted("'" + t for t in FORMULA_TEXTS)
    assert {r["prorated_change"] for r in rows} == {"-5.25"}  # a negative number is a number


def test_sweep_metrics_csv_prefixes_a_formula_shaped_scenario_name(tmp_path: Path) -> None:
    """metrics.csv (`scenarios compare`) and the sweep export's scenario_metrics.csv: a design name planted
    in the sweep (the scenario file refuses it now) reaches a spreadsheet as text."""
    from planalign.scenarios.comparison import write_comparison
    from tests.scenarios.sweep_fixture import build_sweep

    hand = build_sweep(tmp_path)  # its run record and year-status rows are run "r"'s
    con = duckdb.connect(str(hand.database))
    con.execute("update dim_scenarios set scenario_name = '-richer' where scenario_name = 'richer'")
    con.close()
    document = json.loads(json.dumps(hand.document).replace('"richer"', '"-richer"'))
    (hand.directory / "sweep.json").write_text(json.dumps(document))

    files = write_comparison(hand.directory)
    exported = export(export_source(hand.directory), "csv", tmp_path / "out")
    [metrics] = [p for p in exported if p.stem == "scenario_metrics"]
    for path in (files.metrics_csv, metrics):
        with path.open(newline="") as handle:
            names = {row["scenario_name"] for row in csv.DictReader(handle)}
        assert names == {"baseline", "'-richer"}, (path, names)


# ----------------------------------------------------------------------------------------------------
# Item 3: formula injection — the inputs
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def formula_census(tmp_path: Path) -> Path:
    """20 generated employees, 7 of them with formula-shaped ids (Parquet keeps a tab or CR exactly)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from planalign.simulation.census import generate_census

    table = generate_census(20, seed=5)
    ids = [str(v) for v in table.column("employee_id").to_pylist()]
    ids[: len(FORMULA_TEXTS)] = FORMULA_TEXTS
    table = table.set_column(0, "employee_id", pa.array(ids, type=pa.string()))
    path = tmp_path / "census.parquet"
    pq.write_table(table, path)
    return path


def test_census_check_rejects_every_formula_shaped_id(formula_census: Path, tmp_path: Path) -> None:
    from planalign.simulation.census import REASON_FIXES, check_census

    check = check_census(formula_census, effective_date=dt.date(2024, 12, 31))
    assert check.reasons == {"formula_employee_id": len(FORMULA_TEXTS)}
    assert not check.ok
    assert "formula" in REASON_FIXES["formula_employee_id"]

    result = planalign_here("census", "--check", str(formula_census), cwd=tmp_path)
    _assert_usage_error(result, "formula_employee_id", "spreadsheet")


def test_simulate_refuses_a_formula_shaped_census_before_the_parse(
    formula_census: Path, tmp_path: Path
) -> None:
    database = tmp_path / "simulation.duckdb"
    write_config(tmp_path / "simulation_config.yaml", base_settings(formula_census, database))

    result = planalign_here("simulate", cwd=tmp_path)

    _assert_usage_error(result, "formula_employee_id", "census.parquet")
    assert "parsing the dbt project" not in result.stdout + result.stderr
    assert not database.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("scenarios:\n  -richer: {}\n", "scenarios.-richer"),
        ("baseline: {name: -base}\nscenarios:\n  richer: {}\n", "baseline.name"),
        ("name: '=HYPERLINK(\"x\")'\nscenarios:\n  richer: {}\n", "name"),
    ],
    ids=["design", "baseline", "sweep_name"],
)
def test_scenario_file_refuses_names_a_spreadsheet_or_a_shell_would_run(
    tmp_path: Path, section: str, fragment: str
) -> None:
    from planalign.scenarios.scenario_file import ScenarioFileError, load_scenario_file

    path = tmp_path / "designs.yaml"
    path.write_text(section)
    with pytest.raises(ScenarioFileError) as refused:
        load_scenario_file(path)
    message = str(refused.value)
    assert fragment in message and "formula" in message, message


# ----------------------------------------------------------------------------------------------------
# Item 6: export --out
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def complete_run(tmp_path: Path) -> Path:
    database = _database(tmp_path / "simulation.duckdb", [2025])
    _complete(database, [2025], "20261207T100000000000Z-abc", "h42")
    return _run_dir(
        tmp_path / "runs", "20261207T100000000000Z-abc", database, years=(2025, 2025), completed=(2025,)
    )


def _can_mount_read_only(directory: Path) -> bool:
    """Whether this machine lets an unprivileged mount namespace bind `directory` read-only."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f"mount --bind '{directory}' '{directory}' && "
            f"mount -o remount,bind,ro '{directory}' && ! touch '{directory}/probe' 2>/dev/null",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_cli_export_out_on_a_read_only_filesystem_exits_2_naming_the_path(
    complete_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "readonly"
    out.mkdir()
    if not _can_mount_read_only(out):
        pytest.skip("no unprivileged mount namespaces here to make a read-only filesystem")
    target = out / "export"
    command = (
        f"mount --bind '{out}' '{out}' && mount -o remount,bind,ro '{out}' && "
        f"exec '{sys.executable}' -m planalign export '{complete_run}' --format csv --out '{target}'"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _assert_usage_error(result, str(target), "read-only")
    assert list(out.iterdir()) == []


def test_export_that_fails_while_writing_leaves_no_file_and_names_the_path(
    complete_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up at the second table: a usage error naming the file, and no table is half there
    (nor the first one alone: the export is all or nothing)."""
    import errno

    from planalign.scenarios import export as export_module

    out = tmp_path / "out"
    real_copy = export_module._copy_table
    calls: list[Path] = []

    def copy_then_fail(con: Any, rel: Any, fmt: Any, path: Path) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_copy(con, rel, fmt, path)

    monkeypatch.setattr(export_module, "_copy_table", copy_then_fail)
    with pytest.raises(ExportError, match="No space left on device") as refused:
        export(export_source(complete_run), "csv", out)
    assert str(out) in str(refused.value)
    assert list(out.iterdir()) == []


@dataclass(frozen=True)
class OutCase:
    make: str
    refused: str | None


OUT_CASES: Mapping[str, OutCase] = {
    "a_file": OutCase("file", "is a file"),
    "a_symlink_to_a_file": OutCase("link_to_file", "is a file"),
    "a_dangling_symlink": OutCase("dangling_link", "does not exist"),
    "a_symlink_to_a_directory": OutCase("link_to_dir", None),
}


@pytest.mark.parametrize("case", list(OUT_CASES), ids=list(OUT_CASES))
def test_export_out_that_is_not_a_plain_directory(complete_run: Path, tmp_path: Path, case: str) -> None:
    """--out naming a file (or a link to one) or a dangling link is refused with nothing written; a link to
    a directory is followed, as `cp` and `tar` do: the files go into the directory it points at."""
    spec = OUT_CASES[case]
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    real_dir = tmp_path / "real_dir"
    real_dir.mkdir()
    if spec.make == "file":
        out.write_text("keep me")
    elif spec.make == "link_to_file":
        out.symlink_to(victim)
    elif spec.make == "dangling_link":
        out.symlink_to(tmp_path / "nowhere")
    else:
        out.symlink_to(real_dir, target_is_directory=True)

    source = export_source(complete_run)
    if spec.refused is not None:
        with pytest.raises(ExportError, match=spec.refused):
            export(source, "csv", out)
        assert victim.read_text() == "keep me" and not (tmp_path / "nowhere").exists()
        return
    written = export(source, "csv", out)
    assert sorted(p.name for p in real_dir.iterdir()) == sorted(f"{t}.csv" for t in RUN_TABLES)
    assert all(p.parent == out for p in written)


def test_export_replaces_a_symlink_in_the_output_directory_instead_of_writing_through_it(
    complete_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.csv"
    victim.write_text("keep me")
    (out / "fct_yearly_events.csv").symlink_to(victim)

    export(export_source(complete_run), "csv", out)

    assert victim.read_text() == "keep me"
    assert not (out / "fct_yearly_events.csv").is_symlink()


def test_the_census_rule_and_the_export_use_the_same_formula_characters() -> None:
    from planalign.scenarios.spreadsheet import sql_formula_prefixes
    from planalign.simulation.census import census_rules

    assert str(census_rules().census_formula_prefixes()).strip() == sql_formula_prefixes()


def test_xlsx_export_of_text_excel_cannot_store_is_a_usage_error(tmp_path: Path) -> None:
    """A control character (here \\x01) in an id: openpyxl raised IllegalCharacterError, a traceback."""
    database = _database(tmp_path / "simulation.duckdb", [2025], ids=("E\x01",))
    _complete(database, [2025], "20261207T100000000000Z-abc", "h42")
    run = _run_dir(
        tmp_path / "runs", "20261207T100000000000Z-abc", database, years=(2025, 2025), completed=(2025,)
    )
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"fct_workforce_snapshot .*control character.*--format csv"):
        export(export_source(run), "xlsx", out, detail=True)
    assert not out.exists()
