"""Issue #19, items 5, 6 and 7 (parts): what planalign reads back — scenario files asking for huge sweeps,
run and sweep directories and dbt's run_results.json edited, truncated or planted, a database a stage run
left partly incomplete — is refused with exit status 2 and a message naming the file and the problem, or
listed as unreadable, never a traceback; nothing read is changed (file digests compared), and nothing read is
printed raw to the terminal.

Most of it runs the command in-process (`planalign.cli.main`, exactly the command line's path, minus the
interpreter start; `planalign_here` where stdout and stderr are compared) so the many corrupt variants take
milliseconds each; the reported case of `runs` and `report`, and `runs` printing a hostile name, also run in a
subprocess as a user would.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign.cli import build_parser, main
from planalign.cli._common import ExitStatus
from planalign.cli.run import _artifact_args, parse_vars
from planalign.dbt.workers import default_models_per_invocation
from planalign.scenarios.scenario_file import MAX_MEMBERS
from tests.reliability.helpers import base_settings, file_digest, planalign, planalign_here, write_config

# ----------------------------------------------------------------------------------------------------
# Item 5: unbounded sweeps
# ----------------------------------------------------------------------------------------------------


def _sweep_setup(tmp_path: Path, census: Path, scenario_file: str, **simulation: Any) -> Path:
    settings = base_settings(census, tmp_path / "sim.duckdb")
    settings["simulation"].update(simulation)
    write_config(tmp_path / "simulation_config.yaml", settings)
    path = tmp_path / "sweep.yaml"
    path.write_text("config: simulation_config.yaml\ndatabase: sweep.duckdb\n" + scenario_file)
    return path


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "sweep.duckdb").exists()
    assert not (tmp_path / "runs").exists()


TWO_DESIGNS = "scenarios:\n  richer:\n    overrides: {match: {cap_rate: 0.06}}\n"


@pytest.mark.parametrize(
    ("scenario_file", "members"),
    [
        ("seeds: 100000000000\n", 100_000_000_000),  # grew memory ~170 MB/s, no message
        ("seeds: 300000\n", 300_000),  # was accepted
        (TWO_DESIGNS + "seeds: 101\n", 202),  # designs x seeds, each part under the limit
        (f"seeds: {list(range(MAX_MEMBERS + 1))}\n", MAX_MEMBERS + 1),
    ],
    ids=["1e11-seeds", "300000-seeds", "2-designs-x-101-seeds", "a-list-of-201-seeds"],
)
def test_a_sweep_over_the_member_limit_is_refused_at_once_naming_the_limit(
    tmp_path: Path, small_census: Path, scenario_file: str, members: int
) -> None:
    path = _sweep_setup(tmp_path, small_census, scenario_file)
    # A generous timeout: before the fix the first case filled memory, the others went on to build.
    result = planalign_here("scenarios", "run", str(path), cwd=tmp_path)
    assert result.returncode == ExitStatus.USAGE, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"= {members} members" in result.stderr
    assert f"at most {MAX_MEMBERS} members" in result.stderr
    assert "blocks of at most" in result.stderr or "split the scenarios" in result.stderr
    _nothing_written(tmp_path)


def test_seeds_past_the_largest_bigint_are_refused_by_the_scenario_file_not_by_dbt(
    tmp_path: Path, small_census: Path
) -> None:
    """`seeds: 5` counts up from the configuration's random_seed; from 2^63 - 2 that passes 2^63 - 1, which
    the dbt project refused only after its parse, blaming `--vars`."""
    path = _sweep_setup(tmp_path, small_census, "seeds: 5\n", random_seed=2**63 - 2)
    result = planalign_here("scenarios", "run", str(path), cwd=tmp_path)
    assert result.returncode == ExitStatus.USAGE
    assert "Traceback" not in result.stderr
    assert "seeds: 5 seeds from the configuration's simulation.random_seed" in result.stderr
    assert "2^63 - 1" in result.stderr and "--vars" not in result.stderr
    _nothing_written(tmp_path)


def test_a_random_seed_past_the_largest_bigint_is_refused_by_the_configuration(
    tmp_path: Path, small_census: Path
) -> None:
    database = tmp_path / "sim.duckdb"
    config = write_config(tmp_path / "c.yaml", base_settings(small_census, database))
    result = planalign_here("simulate", "--config", str(config), "--seed", str(2**63), cwd=tmp_path)
    assert result.returncode == ExitStatus.USAGE
    assert "simulation.random_seed" in result.stderr and "--vars" not in result.stderr
    assert not database.exists() and not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------------------------------
# Item 6: run and sweep directories that cannot be read
# ----------------------------------------------------------------------------------------------------

GOOD_RUN = "20261201T100000000000Z-abcdef12"
CORRUPT_RUN = "20261201T110000000000Z-abcdef12"  # newer than the good run, so `report` must skip it
CORRUPT_SWEEP = "20261201T120000Z-sweep-designs"


def _summary(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "run_id": name,
        "status": "success",
        "kind": "years",
        "start_year": 2025,
        "end_year": 2026,
        "completed_years": [2025, 2026],
        "years": {},
        "stages": [],
        "started_at": "2026-12-01T10:00:00.000+00:00",
        "database_path": "/data/sim.duckdb",
        "config_digest": "abcdef12",
        **fields,
    }


def _sweep(**fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "sweep",
        "status": "complete",
        "name": "designs",
        "scenarios_file": "/data/designs.yaml",
        "database": "/data/sweep.duckdb",
        "config_digest": "99998888",
        "years": [2025, 2026],
        "seeds": [1],
        "baseline": "baseline",
        "discount_rate": 0.05,
        "members": [{"scenario_id": "baseline__s1", "scenario_name": "baseline", "random_seed": 1}],
        "scenarios": [{"name": "baseline"}],
        "started_at": "2026-12-01T12:00:00Z",
        **fields,
    }


def _json(value: Any) -> Callable[[Path], object]:
    return lambda path: path.write_text(json.dumps(value))


def _text(text: str | bytes) -> Callable[[Path], object]:
    return lambda path: path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "x").write_text("{}")


DEEP = "[" * 100_000 + "]" * 100_000

#: (directory, file, how the file is written): every way found to break a reader.
CORRUPT: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "sweep-years-mixed": (CORRUPT_SWEEP, "sweep.json", _json(_sweep(years=[2025, "x"]))),
    "sweep-years-string": (CORRUPT_SWEEP, "sweep.json", _json(_sweep(years="2025-2026"))),
    "sweep-years-null": (CORRUPT_SWEEP, "sweep.json", _json(_sweep(years=None))),
    "sweep-years-nested": (CORRUPT_SWEEP, "sweep.json", _json(_sweep(years=[{"a": [1]}, [2]]))),
    "sweep-years-huge": (CORRUPT_SWEEP, "sweep.json", _json(_sweep(years=[10**400, -(10**300)]))),
    "sweep-every-field-nested": (
        CORRUPT_SWEEP,
        "sweep.json",
        _json({**{k: {"a": {"b": []}} for k in _sweep()}, "kind": "sweep", "schema_version": 1}),
    ),
    "sweep-truncated": (CORRUPT_SWEEP, "sweep.json", _text(json.dumps(_sweep())[:40])),
    "sweep-a-folder": (CORRUPT_SWEEP, "sweep.json", _folder),
    "sweep-a-list": (CORRUPT_SWEEP, "sweep.json", _json([1, 2])),
    "sweep-too-deep": (CORRUPT_SWEEP, "sweep.json", _text(DEEP)),
    "summary-truncated": (CORRUPT_RUN, "summary.json", _text(json.dumps(_summary(CORRUPT_RUN))[:50])),
    "summary-a-folder": (CORRUPT_RUN, "summary.json", _folder),
    "summary-not-utf8": (CORRUPT_RUN, "summary.json", _text(b"\xff\xfe{\x00")),
    "summary-too-deep": (CORRUPT_RUN, "summary.json", _text(DEEP)),
    "summary-a-number": (CORRUPT_RUN, "summary.json", _text("1e999")),
    "summary-version-text-no-kind": (
        CORRUPT_RUN,
        "summary.json",
        _json({k: v for k, v in _summary(CORRUPT_RUN, schema_version="2").items() if k != "kind"}),
    ),
    "summary-years-nested": (
        CORRUPT_RUN,
        "summary.json",
        _json(_summary(CORRUPT_RUN, start_year={"a": 1}, end_year=[2026], years="x")),
    ),
    "summary-huge-numbers": (
        CORRUPT_RUN,
        "summary.json",
        _json(_summary(CORRUPT_RUN, start_year=10**400, end_year=1e308, stages=[{"label": 10**300}])),
    ),
    "summary-every-field-null": (
        CORRUPT_RUN,
        "summary.json",
        _json({**dict.fromkeys(_summary(CORRUPT_RUN)), "status": "success", "kind": "years"}),
    ),
    "summary-every-field-nested": (
        CORRUPT_RUN,
        "summary.json",
        _json({**{k: {"a": [{}]} for k in _summary(CORRUPT_RUN)}, "status": "success", "kind": "years"}),
    ),
}


def _runs_dir(tmp_path: Path, case: str) -> tuple[Path, Path]:
    """runs/ with one good complete run and, newer, the corrupt directory of `case`; the corrupt dir."""
    runs = tmp_path / "runs"
    good = runs / GOOD_RUN
    good.mkdir(parents=True)
    (good / "summary.json").write_text(json.dumps(_summary(GOOD_RUN)))
    name, file, write = CORRUPT[case]
    corrupt = runs / name
    corrupt.mkdir()
    write(corrupt / file)
    return runs, corrupt


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_runs_and_report_survive_a_sweep_json_with_mixed_type_years(tmp_path: Path) -> None:
    """The reported case, as a user runs it: `runs` crashed and bare `report` crashed with it."""
    runs, corrupt = _runs_dir(tmp_path, "sweep-years-mixed")
    before = _digests(runs)
    listed = planalign("runs", str(runs), cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert GOOD_RUN in listed.stdout and corrupt.name in listed.stdout
    assert "years is not a list of years" in listed.stdout
    config = write_config(tmp_path / "c.yaml", {"run": {"runs_dir": str(runs)}})
    out = tmp_path / "report.html"
    reported = planalign("report", "--config", str(config), "--out", str(out), cwd=tmp_path, timeout=120)
    assert reported.returncode == 0, reported.stderr
    assert GOOD_RUN in reported.stderr and out.is_file()
    assert _digests(runs) == before


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_one_corrupt_directory_never_hides_the_other_runs(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, corrupt = _runs_dir(tmp_path, case)
    before = _digests(runs)

    assert main(["runs", str(runs)]) == 0
    listing = capsys.readouterr().out
    rows = {line.split()[0]: line for line in listing.splitlines() if line.startswith("2026")}
    assert set(rows) == {GOOD_RUN, corrupt.name}, listing
    assert "complete" in rows[GOOD_RUN]
    # ... and the run `report` takes is the one it can read
    assert f"`planalign report` reports: {GOOD_RUN}" in listing
    assert main(["runs", str(runs), "--json"]) == 0
    assert {e["name"] for e in json.loads(capsys.readouterr().out)} == {GOOD_RUN, corrupt.name}

    # Bare `report` takes the newest complete full run it can read: the good one.
    config = write_config(tmp_path / "c.yaml", {"run": {"runs_dir": str(runs)}})
    out = tmp_path / "report.html"
    assert main(["report", "--config", str(config), "--out", str(out)]) == 0
    assert f"reporting the newest complete full run under {runs}: {GOOD_RUN}" in capsys.readouterr().err
    assert out.is_file()

    # Named, the corrupt directory is exit 2 naming the file that cannot be read.
    assert main(["report", str(corrupt), "--out", str(tmp_path / "bad.html")]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(corrupt) in err
    assert not (tmp_path / "bad.html").exists()
    assert _digests(runs) == before


def test_the_progress_history_skips_a_summary_nested_too_deep_for_the_parser(tmp_path: Path) -> None:
    """`simulate`'s ETA reads the latest run's step times; a summary.json the JSON parser cannot descend
    (RecursionError, which no reader caught) is skipped for the run before it."""
    from planalign.simulation.run_history import recorded_step_durations as load_history

    runs = tmp_path / "runs"
    older = runs / GOOD_RUN
    older.mkdir(parents=True)
    stages = [{"year": None, "stage": "initialization", "wall_time_s": 1.5}]
    (older / "summary.json").write_text(json.dumps(_summary(GOOD_RUN, stages=stages)))
    newer = runs / CORRUPT_RUN
    newer.mkdir()
    (newer / "summary.json").write_text(DEEP)
    assert load_history(runs).setup == {"initialization": 1.5}


@pytest.mark.parametrize("case", sorted(k for k in CORRUPT if k.startswith("sweep-")))
def test_scenarios_compare_refuses_a_corrupt_sweep_json_naming_it(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, corrupt = _runs_dir(tmp_path, case)
    assert main(["scenarios", "compare", str(corrupt)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "sweep.json" in err and "Traceback" not in err


def test_runs_prints_no_terminal_escape_sequences(tmp_path: Path) -> None:
    """A run directory's name and fields reach the terminal only escaped: no cursor moves, no cleared
    screen, no forged rows."""
    runs = tmp_path / "runs"
    hostile = "\x1b[2J\x1b[H\r\x07\x9b31m\u202e"
    good = runs / f"20261201T100000000000Z-{hostile}"
    good.mkdir(parents=True)
    (good / "summary.json").write_text(
        json.dumps(_summary(good.name, database_path=f"/data/{hostile}.duckdb"))
    )
    failed = runs / "20261201T110000000000Z-abcdef12"
    failed.mkdir()
    (failed / "summary.json").write_text(
        json.dumps(_summary(failed.name, status="failed", error=f"boom{hostile}", config_digest=hostile))
    )
    stage = runs / "20261201T120000000000Z-abcdef12"
    stage.mkdir()
    (stage / "summary.json").write_text(
        json.dumps(_summary(stage.name, kind="stage", stage=hostile, started_at=hostile))
    )

    result = planalign("runs", str(runs), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    for char in "\x1b\r\x07\x9b\u202e":
        assert char not in result.stdout + result.stderr, repr(char)
    assert "\\x1b[2J" in result.stdout and "\\u202e" in result.stdout
    # headings, three rows, the note; a row's name and detail are on an indented line under it (issue #22)
    unindented = [line for line in result.stdout.strip().splitlines() if line and not line.startswith(" ")]
    assert len(unindented) == 1 + 3 + 1
    as_json = planalign_here("runs", str(runs), "--json", cwd=tmp_path)
    assert "\x1b" not in as_json.stdout and {e["name"] for e in json.loads(as_json.stdout)} >= {good.name}

    config = write_config(tmp_path / "c.yaml", {"run": {"runs_dir": str(runs)}})
    reported = planalign_here(
        "report", "--config", str(config), "--out", str(tmp_path / "r.html"), cwd=tmp_path
    )
    assert reported.returncode == 0, reported.stderr
    assert "\x1b" not in reported.stderr and "\\x1b[2J" in reported.stderr
    # Named on the command line, its problem is printed escaped too (the message quotes the path).
    (good / "summary.json").write_text("{")
    refused = planalign_here("report", str(good), cwd=tmp_path)
    assert refused.returncode == ExitStatus.USAGE
    assert "\x1b" not in refused.stderr and "\\x1b[2J" in refused.stderr


# ----------------------------------------------------------------------------------------------------
# Items 6 and 7: retry from a run_results.json that was edited
# ----------------------------------------------------------------------------------------------------


def _project(root: Path) -> Path:
    project = root / "proj"
    (project / "profiles").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: proj\nprofile: proj\n")
    return project


def _run_results(project: Path, results: Any = None, **args: Any) -> dict[str, Any]:
    """run_results.json as `planalign run --vars ...` writes it, its results and args changed as given."""
    parsed = build_parser().parse_args(
        [
            "run",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project / "profiles"),
            "--vars",
            "{a: 1}",
        ]
    )
    # `planalign run` fills in the batch size the user left out before it records its flags
    parsed.models_per_invocation = default_models_per_invocation("duckdb")
    recorded = {**_artifact_args(parsed, parse_vars(parsed.vars)), **args}
    if results is None:
        results = [
            {"unique_id": "model.proj.ok", "status": "success"},
            {"unique_id": "model.proj.broken", "status": "error"},
        ]
    return {"results": results, "args": recorded}


def _broken(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"unique_id": "model.proj.ok", "status": "success"}, row]


#: (what run_results.json holds, what the message must say about it).
EDITED: dict[str, tuple[Callable[[Path, Path], object], str]] = {
    "not-json": (lambda p, _: p.write_text('{"results": [,'), "is not valid JSON"),
    "not-utf8": (lambda p, _: p.write_bytes(b"\xff\xfe\x00"), "is not valid JSON"),
    "too-deep": (lambda p, _: p.write_text(DEEP), "nested too deeply"),
    "a-folder": (lambda p, _: _folder(p), "is a directory"),
    "a-list": (lambda p, _: p.write_text("[]"), "must hold a JSON object"),
    "results-an-object": (
        lambda p, proj: _json(_run_results(proj, results={"model.proj.broken": "error"}))(p),
        "'results' must be a list",
    ),
    "result-a-text": (
        lambda p, proj: _json(_run_results(proj, results=["model.proj.broken"]))(p),
        "results[0] must be an object",
    ),
    "result-without-unique-id": (
        lambda p, proj: _json(_run_results(proj, results=_broken({"status": "error"})))(p),
        "results[1] has no unique_id",
    ),
    "unique-id-a-number": (
        lambda p, proj: _json(_run_results(proj, results=_broken({"unique_id": 7, "status": "error"})))(p),
        "results[1] has no unique_id",
    ),
    "result-without-status": (
        lambda p, proj: _json(_run_results(proj, results=_broken({"unique_id": "model.proj.b"})))(p),
        "has status None",
    ),
    "status-unknown": (
        lambda p, proj: _json(
            _run_results(proj, results=_broken({"unique_id": "model.proj.b", "status": "exploded"}))
        )(p),
        "has status 'exploded', which dbt does not write",
    ),
    "status-a-list": (
        lambda p, proj: _json(
            _run_results(proj, results=_broken({"unique_id": "model.proj.b", "status": ["error"]}))
        )(p),
        "has status ['error'], which dbt does not write",
    ),
    "threads-a-text": (
        lambda p, proj: _json(_run_results(proj, threads="four"))(p),
        "args.threads must be a whole number",
    ),
    "vars-a-list": (
        lambda p, proj: _json(_run_results(proj, vars=["a", 1]))(p),
        "args.vars must be an object",
    ),
    "models-per-invocation-null": (
        lambda p, proj: _json(_run_results(proj, models_per_invocation=None))(p),
        "args.models_per_invocation must be a whole number",
    ),
}


@pytest.mark.parametrize("case", sorted(EDITED))
def test_retry_refuses_an_edited_run_results_naming_the_file_and_the_problem(
    tmp_path: Path,
    case: str,
    recorded_runs: list[argparse.Namespace],
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path)
    (project / "target").mkdir()
    path = project / "target" / "run_results.json"
    write, problem = EDITED[case]
    write(path, project)
    before = _digests(project)
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") or err.startswith(f"error: cannot read {path}"), err
    assert problem in err
    assert recorded_runs == []
    assert _digests(project) == before


@pytest.mark.parametrize(
    "name", ["+m020", "m020+", "tag:nightly", "@m020", "m*", "a,b", "a b", "-x", "m020 --full-refresh", "a/b"]
)
def test_retry_never_passes_a_selector_planted_in_a_unique_id(
    tmp_path: Path, name: str, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    (project / "target").mkdir()
    planted = {"unique_id": f"model.proj.{name}", "status": "error"}
    _json(_run_results(project, results=_broken(planted)))(project / "target" / "run_results.json")
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "is not a model's" in err and "not passed on as a selector" in err
    assert recorded_runs == []


def test_retry_runs_the_project_it_is_given_not_the_one_recorded(
    tmp_path: Path, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    given = _project(tmp_path / "a")
    elsewhere = _project(tmp_path / "b")
    (given / "target").mkdir()
    _json(_run_results(elsewhere))(given / "target" / "run_results.json")
    assert main(["retry", "--project-dir", str(given)]) == ExitStatus.OK
    [rerun] = recorded_runs
    assert rerun.project_dir == given.resolve()
    assert rerun.select == ["broken"]
    assert f"written for the project at {elsewhere.resolve()}" in capsys.readouterr().out


def test_retry_still_retries_versioned_and_plain_models(
    tmp_path: Path, recorded_runs: list[argparse.Namespace]
) -> None:
    project = _project(tmp_path)
    (project / "target").mkdir()
    results = [
        {"unique_id": "model.proj.orders.v2", "status": "error"},
        {"unique_id": "model.proj.stg_orders", "status": "skipped"},
        {"unique_id": "test.proj.not_null_orders_id.abc", "status": "fail"},
        {"unique_id": "operation.proj.proj-on-run-start-0", "status": "error"},
    ]
    _json(_run_results(project, results=results))(project / "target" / "run_results.json")
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK
    [rerun] = recorded_runs
    assert rerun.select == ["orders.v2", "stg_orders"]


# ----------------------------------------------------------------------------------------------------
# Item 7: validate after a stage run names the incomplete years
# ----------------------------------------------------------------------------------------------------


def test_validate_names_the_years_a_stage_run_left_incomplete(tmp_path: Path, small_census: Path) -> None:
    """A database holding 2025–2027 whose year status lists only 2025 complete: what a stage run of 2026 on
    a complete run leaves (it deletes the status rows of 2026 and later, keeping their data). validate must
    say so and how to finish them; it writes nothing."""
    database = tmp_path / "sim.duckdb"
    con = duckdb.connect(str(database))
    con.execute(
        "create table main.fct_yearly_events as select range::integer as simulation_year "
        "from range(2025, 2028)"
    )
    con.execute("create table main.fct_workforce_snapshot as select 2025 as simulation_year")
    con.execute("create schema planalign")
    con.execute(
        "create table planalign.year_status (simulation_year integer primary key, status varchar not null, "
        "run_id varchar not null, config_hash varchar not null, completed_at varchar not null)"
    )
    con.execute("insert into planalign.year_status values (2025, 'complete', 'r', 'h', 't')")
    con.close()
    before = file_digest(database)
    config = write_config(tmp_path / "c.yaml", base_settings(small_census, database, end_year=2027))
    result = planalign_here("validate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "complete years: 2025" in result.stdout
    assert "holds rows of 2026–2027 that are not complete" in result.stdout
    assert "planalign simulate --resume" in result.stdout
    assert file_digest(database) == before
