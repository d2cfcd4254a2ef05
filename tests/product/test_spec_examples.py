"""The specification's usage examples, run as written (package name `planalign_orchestrator` → `planalign`).

The code blocks are read from the specification itself (docs/spec, a copy of ../shared/spec), in order, in one
namespace — later blocks use the `runner` and `models` of earlier ones, as the document does. The only setup
is the environment a reader would have: a `config/simulation_config.yaml` (and `./simulation_config.yaml`
for `DbtRunner()`, which reads the working directory's config) pointing at a small generated census.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
import yaml

if TYPE_CHECKING:
    from planalign.simulation.spec_api import DbtRunner, ParallelRunResult

REPO = Path(__file__).resolve().parents[2]
SPEC_NAME = "S067-02-model-level-parallelization.md"
VENDORED = REPO / "docs" / "spec" / SPEC_NAME
SHARED = REPO.parent / "shared" / "spec" / SPEC_NAME


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_vendored_spec_matches_the_shared_one() -> None:
    if not SHARED.exists():
        pytest.skip("../shared/spec is not beside this checkout")
    assert VENDORED.read_text() == SHARED.read_text()


@pytest.mark.slow
def test_spec_examples_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_census: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = [b.replace("planalign_orchestrator", "planalign") for b in _python_blocks(VENDORED.read_text())]
    assert len(blocks) == 4, "the specification's examples changed; review this test"
    config = {
        "simulation": {
            "start_year": 2025,
            "end_year": 2027,
            "census_path": str(small_census),
            "database_path": str(tmp_path / "spec.duckdb"),
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": str(tmp_path / "runs")},
        "orchestrator": {"threading": {"model_parallelization": {"enabled": True, "max_workers": 4}}},
    }
    (tmp_path / "config").mkdir()
    for path in (tmp_path / "config" / "simulation_config.yaml", tmp_path / "simulation_config.yaml"):
        path.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)

    namespace: dict[str, object] = {"json": __import__("json")}
    for block in blocks:
        exec(compile(block, SPEC_NAME, "exec"), namespace)
    out = capsys.readouterr().out

    assert "Simulation completed: 3 years" in out
    assert re.search(r"Parallelism achieved: \d+x", out)
    assert re.search(r"Execution time: \d+\.\d+s", out)
    assert re.search(r"Parallel-safe models: \d+/\d+", out)
    assert re.search(r"Max theoretical speedup: \d+\.\dx", out)
    assert "Parallelization validation:" in out
    # The spec's validation example runs after a full simulation, so every parent of the two hazard models
    # exists in the database: the stage is parallelizable and both of its `if` lines print.
    assert re.search(r"Stage can achieve \d+\.\dx speedup", out), out
    assert "Recommendations: [" in out
    validation = namespace["validation"]
    assert isinstance(validation, dict) and validation["parallelizable"] is True, validation
    assert validation["safety_issues"] == []
    result = cast("ParallelRunResult", namespace["result"])  # what the examples bind, by the spec
    assert result.success is True
    assert result.models_executed == 3
    # The hazard models are rebuilt whole each year: the simulation stays complete. A year-partitioned model
    # rebuilt in place makes its year and the later ones incomplete, for `validate` and `--resume` to see.
    from planalign.simulation.state import SimulationState

    state = SimulationState(tmp_path / "spec.duckdb")
    assert [c.simulation_year for c in state.completed_years()] == [2025, 2026, 2027]
    runner = cast("DbtRunner", namespace["runner"])
    rerun = runner.run_models_with_smart_parallelization(["rpt_yearly_summary"], "reporting", 2026)
    assert rerun.success
    assert [c.simulation_year for c in state.completed_years()] == [2025]
    info = namespace["info"]
    assert isinstance(info, dict) and info["available"] is True
    assert info["isolation"]["batch_stop"] is True and info["models_per_invocation"] == 64
