"""Configuration errors through the real commands: exit status 2, every problem named, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign import cli

pytestmark = pytest.mark.usefixtures("clean_planalign_env")


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", ["simulate", "validate"])
def test_an_invalid_config_file_exits_2_naming_each_key_and_writes_nothing(
    config_project: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_project / "bad.yaml"
    config.write_text(
        "simulation:\n"
        "  census_path: census.parquet\n"
        "  start_year: 2027\n"
        "  end_year: 2026\n"
        "orchestrator:\n"
        "  threading:\n"
        "    model_parallelization:\n"
        "      max_workers: 0\n"
        "      memory_limit_mb: 0\n"
        "workforce:\n"
        "  total_termination_rate: 1.2\n"
        "  new_hire_termination: 0.2\n"
    )
    before = listing(config_project)
    assert cli.main([command, "--config", "bad.yaml"]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    for line in (
        "bad.yaml: simulation.end_year: must be >= simulation.start_year (2027) (got 2026)",
        "bad.yaml: orchestrator.threading.model_parallelization.max_workers: must be >= 1 (got 0)",
        "bad.yaml: orchestrator.threading.model_parallelization.memory_limit_mb: must be > 0 (got 0)",
        "bad.yaml: workforce.total_termination_rate: must be a rate between 0 and 1",
        "bad.yaml: workforce.new_hire_termination: unknown key; did you mean 'new_hire_termination_rate'?",
    ):
        assert line in err
    assert "Traceback" not in err
    assert listing(config_project) == before


def test_a_missing_census_exits_2_before_anything_is_written(
    config_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_project / "simulation_config.yaml"
    config.write_text("simulation:\n  census_path: nowhere.parquet\n")
    before = listing(config_project)
    assert cli.main(["simulate", "--config", str(config)]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "simulation.census_path: census file not found" in err
    assert str(config_project / "nowhere.parquet") in err
    assert listing(config_project) == before


def test_bad_flags_and_environment_are_named_by_their_origin(
    config_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_project / "simulation_config.yaml"
    config.write_text("simulation:\n  census_path: census.parquet\n")
    monkeypatch.setenv("PLANALIGN_SIMULATION__RANDOM_SEED", "minus one")
    before = listing(config_project)
    assert cli.main(["simulate", "--config", str(config), "--workers", "0"]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "override: orchestrator.threading.model_parallelization.max_workers: must be >= 1 (got 0)" in err
    assert "environment PLANALIGN_SIMULATION__RANDOM_SEED: simulation.random_seed: input should be" in err
    assert listing(config_project) == before
