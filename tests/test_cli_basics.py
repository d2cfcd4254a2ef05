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
