"""Running the real CLI in a subprocess and comparing database files, for the reliability tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment without PLANALIGN_* settings, so a developer's shell cannot change what a test sees."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PLANALIGN_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def planalign(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m planalign ARGS` in `cwd`, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "planalign", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def base_settings(census: Path, database: Path, *, end_year: int = 2025, **sections: Any) -> dict[str, Any]:
    """A small valid configuration; `sections` replace or add top-level sections."""
    settings: dict[str, Any] = {
        "simulation": {
            "start_year": 2025,
            "end_year": end_year,
            "census_path": str(census),
            "database_path": str(database),
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": str(database.parent / "runs")},
    }
    settings.update(sections)
    return settings


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_project(dest: Path) -> Path:
    """A private copy of the real dbt project (without build output), for tests that alter or build it."""
    shutil.copytree(REPO / "dbt_project", dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    return dest
