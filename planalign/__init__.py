"""planalign: a multi-year workforce and retirement-plan simulation on dbt + DuckDB, with a parallel
in-process dbt scheduler."""

__version__ = "0.1.0"
