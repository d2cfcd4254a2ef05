"""Scenario sweeps: many plan designs and seeds simulated in one database, then compared.

The data flow, module by module: `file` (the scenario file: schema, validation, each design's validated
configuration) → `expansion` (designs × seeds into members and the dbt var `scenarios`) → `sweep` (one
simulation of every member through the orchestrator, and the sweep directory) → `comparison` (per-member
metrics from the sweep database, percentiles across seeds, paired deltas vs the baseline, `stats`) and
`export` (a run's or sweep's tables as CSV, Parquet or Excel files). See docs/scenarios.md.
"""
