import subprocess
import sys

import pytest

from planalign.cli import ExitStatus, main


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "planalign" in capsys.readouterr().out


def test_unknown_command_is_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == ExitStatus.USAGE


def test_module_entry_point_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "planalign", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "usage: planalign" in proc.stdout


def test_run_takes_dbts_models_alias_and_no_abbreviated_options(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #26.2: `--models customers` was taken as an abbreviation of `--models-per-invocation` and failed
    with "invalid int value"; dbt's CLI matches no prefixes, and -m/--models is its alias of --select."""
    from planalign.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", "--models", "customers"]).select == ["customers"]
    assert parser.parse_args(["run", "-m", "a", "b", "-s", "c"]).select == ["a", "b", "c"]
    assert parser.parse_args(["run", "--models-per-invocation", "3"]).models_per_invocation == 3
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["run", "--models-per", "3"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --models-per" in capsys.readouterr().err
