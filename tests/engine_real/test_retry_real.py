"""`planalign retry` against real dbt: a model fails because its input file is missing, its dependent is
skipped; once the file exists, retry builds both with the first run's `--vars` (the database path and
`salt` come only from there — retry takes no vars), as `dbt retry` does not (dbt-labs/dbt-core#9112)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from planalign.cli import ExitStatus, main

pytestmark = pytest.mark.slow

PROFILE = """\
retryproj:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ var('database_path', 'default.duckdb') }}"
      threads: 1
"""

MODELS = {
    "salted": "select {{ var('salt', 0) }} as salt",
    "from_file": 'select * from read_csv_auto(\'{{ var("input", "missing.csv") }}\')',
    "combined": "select f.*, s.salt, {{ var('salt', 0) }} as salt_var from {{ ref('from_file') }} f "
    "cross join {{ ref('salted') }} s",
}


def test_retry_builds_the_failed_and_skipped_models_with_the_first_runs_vars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "retryproj"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: retryproj\nversion: '1.0'\nprofile: retryproj\n"
        "models:\n  retryproj:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(PROFILE)
    for name, sql in MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql)
    database, data = tmp_path / "sim.duckdb", tmp_path / "input.csv"
    dbt_vars = json.dumps({"database_path": str(database), "input": str(data), "salt": 7})

    first = main(["run", "--project-dir", str(project), "--vars", dbt_vars, "--max-retries", "0"])
    assert first == ExitStatus.FAILURE, capsys.readouterr().out
    statuses = {
        r["unique_id"]: r["status"]
        for r in json.loads((project / "target" / "run_results.json").read_text())["results"]
    }
    assert statuses == {
        "model.retryproj.salted": "success",
        "model.retryproj.from_file": "error",
        "model.retryproj.combined": "skipped",
    }
    capsys.readouterr()

    data.write_text("id,amount\n1,10\n2,20\n")
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "Retrying 2 models: combined from_file" in out
    document = json.loads((project / "target" / "run_results.json").read_text())
    assert {r["unique_id"]: r["status"] for r in document["results"]} == {
        "model.retryproj.from_file": "success",
        "model.retryproj.combined": "success",
    }
    assert document["args"]["vars"] == json.loads(dbt_vars)
    with duckdb.connect(str(database)) as con:  # dbt-duckdb in this process still holds it open
        assert con.execute("select count(*), min(salt), min(salt_var) from combined").fetchone() == (2, 7, 7)
    assert not (project / "default.duckdb").exists()  # no invocation fell back to the profile's default
