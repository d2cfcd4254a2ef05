"""Exception types shared across planalign.

`PlanalignUsageError` and its subclasses mean "the user gave us something wrong": the CLI prints the message
(without a traceback unless `--debug`) and exits 2, and nothing has been written.
"""

from __future__ import annotations


class PlanalignError(Exception):
    """Base of every planalign-specific error."""


class PlanalignUsageError(PlanalignError):
    """Bad input (usage, configuration, census, selection). Exit status 2; user data untouched."""


class ConfigError(PlanalignUsageError):
    """The simulation configuration is invalid; the message names the key (and file) and how to fix it."""


class CensusError(PlanalignUsageError):
    """The census file is missing, unreadable or has too many bad rows."""


class SelectionError(PlanalignUsageError):
    """A model selection names something that does not exist in the project."""


class DependencyCycleError(PlanalignUsageError):
    """The dbt project's model graph has a cycle; the message names it."""


class DatabaseLockedError(PlanalignUsageError):
    """The DuckDB file is held by another process."""


class DatabaseFileError(PlanalignUsageError):
    """The database path names something that is not a DuckDB database (a CSV or Parquet file, a folder)."""


class YearRangeError(PlanalignUsageError):
    """The years asked for would delete or mix the years the database already holds; the message names the
    flag that does it deliberately."""


class DatabaseHoldsOtherResultError(PlanalignUsageError):
    """The database holds another kind of result (a simulation, another sweep) that the run would replace;
    the message says what it holds, what would be lost and the flag that replaces it deliberately."""


class TableColumnsChangedError(PlanalignUsageError):
    """A table the database holds has other columns than this version's dbt project declares for it (a
    database built by an earlier version): dbt would stop mid-run; the message names the table and the fix."""


class DatabaseChangedError(PlanalignError):
    """Another program wrote the database during a run, so the run's results were not saved over it."""


class ClassificationError(PlanalignUsageError):
    """A model declares an execution class (meta `planalign.execution`) that does not exist."""


class ExecutionSafetyError(PlanalignUsageError):
    """Safety validation of a model selection failed and the settings say to abort rather than fall back
    to sequential execution; the message lists every issue found."""


class RunDirectoryError(PlanalignUsageError):
    """A run directory is missing, or its `summary.json` / `engine_runs.json` cannot be read as a run."""


class SimulationYearError(PlanalignUsageError):
    """A year was asked for that lies outside the configured simulation years."""


class ProjectParseError(PlanalignUsageError):
    """The dbt project (or its profile) does not parse; the message carries dbt's own."""


class ManifestDatabaseMismatchError(PlanalignUsageError):
    """A manifest parsed for one database is used to write another (dbt fixes relation databases at parse)."""


class ReportOutputError(PlanalignUsageError):
    """The HTML report cannot be written where it was asked to go (missing permission, a file in the way)."""
