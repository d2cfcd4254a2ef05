"""`planalign validate`: check the configuration, the census, the database file and each stage's
parallelization safety, without running or writing anything. Exit 0 when all pass, 2 otherwise.

It also says what the database holds: its complete years, and the years it holds rows for that are not
complete — a stage run (`simulate --stage S --year Y`) rebuilds year Y in place and marks Y and every later
year incomplete (docs/reliability.md, "Stage mode is safe"), so those years are named with how to finish
them (`simulate --resume`). That is a note, not a failure: the database is still usable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from planalign.cli._common import ExitStatus, add_config_argument, add_logging_arguments, load_config


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate", help="check config, census, database and stage safety without running"
    )
    add_config_argument(parser)
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config(args)
    from planalign.simulation.config_review import review_config
    from planalign.simulation.orchestrator import create_orchestrator

    findings = review_config(config)
    errors = [f for f in findings if f.severity == "error"]
    mark = "✘" if errors else "✔"
    print(f"{mark} configuration: simulation {config.simulation.start_year}–{config.simulation.end_year}")
    for finding in findings:
        print(f"    {finding}")
    if errors:
        return ExitStatus.USAGE
    from planalign.simulation.preflight import check_output_paths
    from planalign.simulation.stages import ModelScope, SimulationStage

    check_output_paths(config)  # the same check `simulate` makes before its parse
    orchestrator = create_orchestrator(config)
    orchestrator.check_inputs()
    print(f"✔ census: {config.simulation.census_path}")
    print(f"✔ database: {config.simulation.database_path} is available")
    prepared = orchestrator.describe()
    for line in database_years_lines(
        Path(config.simulation.database_path), prepared.year_partitioned_relations
    ):
        print(line)
    from planalign.simulation.run_history import recorded_durations

    mp = config.model_parallelization
    durations = recorded_durations(Path(config.run.runs_dir))  # as a run of this configuration plans
    built = set(prepared.stages.all_models(ModelScope.SIMULATION))
    problems = 0
    for stage in SimulationStage:
        models = prepared.stages.models(stage, ModelScope.YEAR)
        if not models:
            continue
        report = prepared.analyzer.validate_safety(
            models,
            already_built=built,
            enable_conditional_parallelization=mp.enable_conditional_parallelization,
        )
        plan = prepared.plan(models, config, durations=durations)
        mark = "✔" if report.safe else "✘"
        print(f"{mark} stage {stage}: {len(models)} models, estimated speedup {plan.estimated_speedup:.1f}x")
        for issue in report.issues:
            print(f"    {issue.severity}: {issue.message}")
        problems += len(report.errors)
        built.update(models)
    return ExitStatus.OK if problems == 0 else ExitStatus.USAGE


def _year_span(years: list[int]) -> str:
    """`2025`, `2025–2027`, or `2025, 2027` when the years are not consecutive."""
    if len(years) > 1 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


def database_years(database: Path, relations: Iterable[str]) -> tuple[list[int], list[int]]:
    """(complete years, years holding rows that are not complete) of `database`, read-only: the complete
    years are the year-status table's; the others are the years found in the year-partitioned `relations`
    (the parsed names; matched by schema and table, as the catalog is the file's) that it does not list."""
    import duckdb

    from planalign.simulation.state import STATUS_SCHEMA, STATUS_TABLE

    if not database.is_file():
        return [], []
    con = duckdb.connect(str(database), read_only=True)
    try:
        found = {
            (str(s).lower(), str(t).lower())
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.columns "
                "where lower(column_name) = 'simulation_year'"
            ).fetchall()
        }
        present: set[int] = set()
        for relation in relations:
            schema, table = (part.strip('"').lower() for part in relation.split(".")[-2:])
            if (schema, table) in found:
                rows = con.execute(f'select distinct simulation_year from "{schema}"."{table}"').fetchall()
                present.update(int(r[0]) for r in rows if r[0] is not None)
        complete: list[int] = []
        if (STATUS_SCHEMA, "year_status") in {
            (str(s).lower(), str(t).lower())
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }:
            complete = [
                int(r[0])
                for r in con.execute(
                    f"select simulation_year from {STATUS_TABLE} where status = 'complete' order by 1"
                ).fetchall()
            ]
    finally:
        con.close()
    return complete, sorted(present - set(complete))


def database_years_lines(database: Path, relations: Iterable[str]) -> list[str]:
    """What `validate` prints about the database's years (nothing for a new database)."""
    complete, incomplete = database_years(database, relations)
    lines: list[str] = []
    if complete:
        lines.append(f"    complete years: {_year_span(complete)}")
    if incomplete:
        lines.append(
            f"! database: {database} holds rows of {_year_span(incomplete)} that are not complete (a stage "
            "run rebuilt a year in place, which marks it and every later year incomplete); finish them with "
            "`planalign simulate --resume`"
        )
    return lines
