"""Results in a notebook: a run's or a sweep's figures as pandas DataFrames (`planalign.load_run`,
`planalign.load_sweep`).

An analyst who continues in Python should not need to know the database's 60-odd relations or the run
directory's files. `load_run(path)` and `load_sweep(path)` read a run or sweep directory (the ones
`planalign runs` lists) and return an object whose methods give the few tables an analyst needs:

- `summary()`: the answer — for a run, one row per simulated year of the yearly summary; for a sweep, one
  row per design with its employer cost over the years and at present value (P5/P50/P95 and the paired
  difference to the baseline);
- `yearly()`: per year (and for a sweep per design and metric, with P5/P50/P95 and the paired deltas);
- `members()`: a sweep's per-member, per-year metrics (what metrics.csv holds), one column per metric;
- `table(name)`: any table of the database by model name (`tables()` lists them, the analyst's first).

The same promise as `planalign export`: the directory must still describe what its database holds — an
interrupted or replaced run, or a sweep database rewritten since, is refused with the reason
(`planalign.scenarios.provenance.export_source`), never answered with another run's tables — and only the
years the directory's run wrote (or built on) are returned; its `notes` say what was left out. Every read is a
read-only connection, opened and closed per call, so a notebook never holds the database a simulation
wants to write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.errors import PlanalignUsageError
from planalign.scenarios.comparison import (
    COMPARISON_FILE,
    build_comparison,
    metrics_present,
    read_member_metrics,
)
from planalign.scenarios.database import read_only
from planalign.scenarios.export import ExportSource, export_source, source_rows_sql
from planalign.scenarios.sweep import load_sweep as _load_sweep_document
from planalign.simulation.state import STATUS_SCHEMA

if TYPE_CHECKING:
    import pandas as pd

#: The tables an analyst needs, listed first by `tables()`.
ANALYST_TABLES: tuple[str, ...] = (
    "rpt_yearly_summary",
    "fct_workforce_snapshot",
    "fct_yearly_events",
    "dim_scenarios",
)


class NotebookError(PlanalignUsageError):
    """The directory is not the kind asked for, or a table does not exist."""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # a declared dependency: only a broken environment lacks it
        raise NotebookError(
            "pandas is not installed in this environment; install planalign with its dependencies "
            "(`pip install -e .` or `make venv`)"
        ) from exc
    return pandas


@dataclass(frozen=True)
class _Results:
    source: ExportSource

    @property
    def directory(self) -> Path:
        return self.source.directory

    @property
    def database(self) -> Path:
        return self.source.database

    @property
    def notes(self) -> tuple[str, ...]:
        """What the export check says about these results: years kept from an earlier run, years left out."""
        return self.source.notes

    def tables(self) -> list[str]:
        """The database's tables by model name: the analyst's tables first, then the rest sorted."""
        with read_only(self.database) as con:
            rows = con.execute(
                "select distinct table_name from information_schema.tables where table_schema <> ?",
                [STATUS_SCHEMA],
            ).fetchall()
        names = {str(r[0]) for r in rows}
        first = [n for n in ANALYST_TABLES if n in names]
        return first + sorted(names - set(first))

    def table(self, name: str) -> pd.DataFrame:
        """The table `name` (a model name, e.g. "fct_workforce_snapshot") as a DataFrame."""
        if not isinstance(name, str) or not name:
            raise NotebookError("give a table's model name, e.g. table('fct_workforce_snapshot')")
        with read_only(self.database) as con:
            # The directory's years only: rows of a later run or an unfinished stage are not its results.
            frame: pd.DataFrame = con.execute(source_rows_sql(con, name, self.source)).fetch_df()
        return frame

    def _members(self) -> pd.DataFrame:
        years = set(self.source.years)
        return _members_frame([m for m in read_member_metrics(self.database) if m.year in years])


@dataclass(frozen=True)
class RunResults(_Results):
    """A simulation run's results (see the module docstring)."""

    def summary(self) -> pd.DataFrame:
        """One row per simulated year: workforce, participation, contributions and employer cost."""
        frame = self.table("rpt_yearly_summary")
        return frame.sort_values("simulation_year").reset_index(drop=True)

    def yearly(self) -> pd.DataFrame:
        """The yearly summary, as `summary()` (a run has one design and one seed)."""
        return self.summary()

    def members(self) -> pd.DataFrame:
        """A run is one member: its per-year metrics, in the sweep's member form."""
        return self._members()


@dataclass(frozen=True)
class SweepResults(_Results):
    """A sweep's results (see the module docstring)."""

    document: dict[str, Any]

    def _comparison(self) -> dict[str, Any]:
        """comparison.json when the sweep wrote one, else computed from the database (the same function)."""
        path = self.directory / COMPARISON_FILE
        if path.is_file():
            try:
                loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return loaded
            except (OSError, ValueError):
                pass  # rewritten below from the database, which the check above vouched for
        return build_comparison(self.document, read_member_metrics(self.database))

    def summary(self) -> pd.DataFrame:
        """One row per design: employer cost over the years and at present value, P5/P50/P95, and the
        paired difference to the baseline (P50, P5, P95)."""
        pandas = _pandas()
        rows = self._comparison()["totals"]
        frame = pandas.DataFrame(rows)
        wide = frame.pivot(index="scenario", columns="metric")
        wide.columns = [f"{metric}_{stat}" for stat, metric in wide.columns]
        order = [str(s["name"]) for s in self.document["scenarios"]]
        result: pd.DataFrame = wide.reindex(order).reset_index()
        return result

    def yearly(self) -> pd.DataFrame:
        """One row per design, year and metric: n, mean, P5/P50/P95 across seeds and the paired deltas."""
        pandas = _pandas()
        frame: pd.DataFrame = pandas.DataFrame(self._comparison()["rows"])
        return frame

    def members(self) -> pd.DataFrame:
        """One row per member and year, a column per metric (metrics.csv, wide)."""
        return self._members()


def _members_frame(members: list[Any]) -> pd.DataFrame:
    pandas = _pandas()
    present = metrics_present(members)
    records = [
        {
            "scenario_id": m.scenario_id,
            "scenario_name": m.scenario_name,
            "random_seed": m.random_seed,
            "year": m.year,
            **{spec.key: m.values.get(spec.key) for spec in present},
        }
        for m in members
    ]
    frame: pd.DataFrame = pandas.DataFrame.from_records(
        records,
        columns=["scenario_id", "scenario_name", "random_seed", "year", *(s.key for s in present)],
    )
    return frame


def load_run(path: str | Path) -> RunResults:
    """A run directory's results; refused (`PlanalignUsageError`) when its database no longer holds them."""
    source = export_source(Path(path))
    if source.kind != "run":
        raise NotebookError(f"{path} is a sweep directory; use planalign.load_sweep({str(path)!r})")
    return RunResults(source)


def load_sweep(path: str | Path) -> SweepResults:
    """A sweep directory's results; refused (`PlanalignUsageError`) when it is not complete or its
    database was rewritten since."""
    source = export_source(Path(path))
    if source.kind != "sweep":
        raise NotebookError(f"{path} is a run directory; use planalign.load_run({str(path)!r})")
    return SweepResults(source, _load_sweep_document(source.directory))
