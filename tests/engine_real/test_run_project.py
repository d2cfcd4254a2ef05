"""`planalign.run_project` / `run_project_async` — `planalign run` as a library (issue #24 item 5) — on a
generated project: a run that succeeds, a failing model, fail-fast, and a cancellation from another task.

One generated project (`tests.fixtures.genproject`, 24 models) for the module, its seed replaced by an inline
`range()` so that no `dbt seed` is needed; each test runs into its own database (the `database_path` var).
Two extra models are switched by vars: `boom` fails when `boom` is true (and `after_boom` reads it), `slow`
runs a query of hours when `slow` is true — it is only ever cancelled.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

import planalign
from planalign.engine.events import EngineEvent, EngineEventKind
from planalign.project_run import ProjectRunResult, RunStatus
from tests.fixtures.genproject import SEED_NAME, GeneratedProject, generate_project

pytestmark = pytest.mark.slow

N_MODELS = 24
INLINE_SEED = (
    "(select r.i::integer as id, (r.i * 37) % 10000 as amount, 's' || (r.i % 5)::varchar as label "
    "from range(0, 200) r(i))"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    generated = generate_project(tmp_path_factory.mktemp("runproj") / "p", n_models=N_MODELS, seed=2412)
    root = generated.project_dir
    (root / "seeds" / f"{SEED_NAME}.csv").unlink()
    for sql in (root / "models").rglob("*.sql"):
        sql.write_text(sql.read_text().replace(f"{{{{ ref('{SEED_NAME}') }}}}", INLINE_SEED))
    (root / "models" / "boom.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "{% if var('boom', false) %} select * from no_such_relation_anywhere\n"
        "{% else %} select 1 as id {% endif %}\n"
    )
    (root / "models" / "after_boom.sql").write_text(
        "{{ config(materialized='table') }}\nselect id from {{ ref('boom') }}\n"
    )
    (root / "models" / "slow.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "{% if var('slow', false) %}\n"
        "select sum(a.range * b.range) as s from range(300000) a, range(300000) b\n"
        "{% else %} select 1 as s {% endif %}\n"
    )
    return generated


def _vars(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {"database_path": str(tmp_path / "run.duckdb"), **extra}


def test_a_run_that_succeeds_lists_every_model_with_its_status(
    project: GeneratedProject, tmp_path: Path
) -> None:
    result = planalign.run_project(project.project_dir, vars=_vars(tmp_path), workers=2)
    assert result.status is RunStatus.SUCCESS and result.success
    names = {m.name for m in result.models}
    assert names == {*project.model_names, "boom", "after_boom", "slow"}
    assert {m.status for m in result.models} == {"success"}
    assert all(m.started_at and m.completed_at and m.attempts == 1 for m in result.models)
    # Both results files, of one run.
    document = json.loads(result.run_results_path.read_text())
    assert document["metadata"]["invocation_id"] == result.invocation_id
    assert {r["unique_id"] for r in document["results"]} == {m.unique_id for m in result.models}
    ours = json.loads(result.planalign_results_path.read_text())
    assert ours["args"]["invocation_id"] == result.invocation_id and ours["args"]["threads"] == 2


def test_a_failing_model_fails_the_run_and_skips_its_children(
    project: GeneratedProject, tmp_path: Path
) -> None:
    result = planalign.run_project(project.project_dir, vars=_vars(tmp_path, boom=True), workers=2)
    assert result.status is RunStatus.FAILED
    assert result.model("boom").status == "error"
    assert "no_such_relation_anywhere" in (result.model("boom").message or "")
    assert result.model("after_boom").status == "skipped"
    assert result.failed_fast is None and result.stop_reason is None
    others = [m for m in result.models if m.name not in {"boom", "after_boom"}]
    assert {m.status for m in others} == {"success"}


def test_fail_fast_is_a_setting_of_the_run(project: GeneratedProject, tmp_path: Path) -> None:
    result = planalign.run_project(
        project.project_dir, vars=_vars(tmp_path, boom=True), workers=2, fail_fast=True
    )
    assert result.status is RunStatus.FAILED
    assert result.failed_fast == "boom"
    assert result.stop_reason == "--fail-fast after boom failed"
    assert result.model("boom").status == "error"
    assert result.model("after_boom").status == "skipped"
    assert result.engine is not None and result.engine.failed_fast == project.unique_id("boom")


def test_cancelling_the_awaiting_task_stops_the_run_and_writes_its_results(
    project: GeneratedProject, tmp_path: Path
) -> None:
    """Another task cancels the run's scope once the hours-long `slow` query has started: the call ends (the
    query is interrupted — else this test would not finish), the cancellation is not swallowed (the code
    after the awaited call never runs), `on_finished` gets an INTERRUPTED result, and run_results.json
    says so."""
    finished: list[ProjectRunResult] = []
    after_the_call: list[bool] = []

    async def main() -> None:
        started = anyio.Event()

        def on_event(event: EngineEvent) -> None:
            if event.kind is EngineEventKind.MODEL_STARTED and event.unique_id == project.unique_id("slow"):
                started.set()

        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def run() -> None:
                with scope:
                    await planalign.run_project_async(
                        project.project_dir,
                        select=["slow", project.model_names[0]],
                        vars=_vars(tmp_path, slow=True),
                        workers=2,
                        on_event=on_event,
                        on_finished=finished.append,
                    )
                    after_the_call.append(True)

            tg.start_soon(run)
            await started.wait()
            await anyio.sleep(0.5)  # the query is running (a pause for the worker thread, not a bound)
            scope.cancel()

    anyio.run(main)
    assert after_the_call == []
    (result,) = finished
    assert result.status is RunStatus.INTERRUPTED
    assert result.stop_reason == "the run was cancelled"
    assert result.model("slow").status in {"error", "skipped"}
    document = json.loads(result.run_results_path.read_text())
    slow = next(r for r in document["results"] if r["unique_id"] == project.unique_id("slow"))
    # The engine's "interrupted: the run was cancelled", or DuckDB's own INTERRUPT error when the stopped
    # query's outcome reached the engine first (both are the run's cancellation; which wins is a race).
    message = (slow["message"] or "").lower()
    assert "cancelled" in message or "interrupt" in message, slow


def test_bad_input_raises_a_usage_error_before_anything_is_written(
    project: GeneratedProject, tmp_path: Path
) -> None:
    from planalign.errors import PlanalignUsageError

    with pytest.raises(PlanalignUsageError, match="at least 1"):
        planalign.run_project(project.project_dir, workers=0)
    with pytest.raises(PlanalignUsageError, match="not a dbt project"):
        planalign.run_project(tmp_path)
