"""One check for "`planalign validate` refuses this configuration": exit 2, no traceback, nothing written.

Shared by the tests of settings the law or the model refuses (test_statutory_limits, test_plan_types,
test_forfeiture_and_testing_method), which then check that the message names what their case is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign import cli


def listing(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: equal before and after means nothing was written."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refused_by_validate(root: Path, capsys: pytest.CaptureFixture[str], config: str = "plan.yaml") -> str:
    """Run `planalign validate --config <config>` in `root`; assert it exits 2 without a traceback and
    leaves every file under `root` as it was; return what it printed on stderr."""
    before = listing(root)
    assert cli.main(["validate", "--config", config]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert listing(root) == before, "nothing written"
    return err
