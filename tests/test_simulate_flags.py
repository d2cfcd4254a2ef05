"""`planalign simulate --target/--profiles-dir`: dbt's flags, mapped onto the config's dbt section (the
orchestrator hands `dbt.target` and `dbt.profiles_dir` to every parse and invocation)."""

from __future__ import annotations

from pathlib import Path

from planalign.cli import build_parser
from planalign.cli.simulate import _overrides
from planalign.simulation.config_loading import load_simulation_config


def test_target_and_profiles_dir_override_the_dbt_section(tmp_path: Path) -> None:
    args = build_parser().parse_args(["simulate", "--target", "ci", "--profiles-dir", str(tmp_path)])
    config = load_simulation_config(None, overrides=_overrides(args), check_files=False)
    assert config.dbt.target == "ci"
    assert Path(config.dbt.profiles_dir) == tmp_path


def test_without_the_flags_the_config_decides() -> None:
    args = build_parser().parse_args(["simulate"])
    default = load_simulation_config(None, check_files=False)
    config = load_simulation_config(None, overrides=_overrides(args), check_files=False)
    assert (config.dbt.target, config.dbt.profiles_dir) == (default.dbt.target, default.dbt.profiles_dir)
