"""Every command the README shows runs as written (issue #22 item 6).

The README's ```bash blocks are read here, line by line (comments dropped). Three examples once failed as
written: bare `python -m planalign` without the virtual environment, `export <sweep> --format xlsx` on the
shipped sweep, and `simulate --end-year 2027` right after `make simulate` (it would delete years of the
database `make simulate` wrote, and was refused). So:

- `test_every_readme_command_is_one_a_clean_clone_knows` (fast) checks every command without running it:
  a `make` target exists (`make -n`), a `planalign` command parses with planalign's own parser (flags and
  all), `planalign` is only called after the README activated the environment (or as `.venv/bin/planalign`),
  and no example calls a bare `python`.
- `test_the_readme_runs_as_written_on_a_copy_of_a_clean_clone` (slow, real dbt) runs every block, in order,
  in one bash shell, in a copy of the repository's files (what `git clone` gives: tracked and new files, no
  runs/, no database), with the repository's `.venv` linked in (installing it again is what `make venv`
  does; it is not what is under test). What it changes, and why:
  * `make test` runs as `make -n test`: it is this test suite.
  * The simulations are made small by the environment, which every command reads as a user's would
    (`PLANALIGN_*` variables): a 300-employee census (`PLANALIGN_SIMULATION__CENSUS_PATH`), one year, 2027
    (`PLANALIGN_SIMULATION__START_YEAR` and `__END_YEAR`: the README names no start year, and its one
    `--end-year 2027` still wins for its run, which so simulates one year too; a year costs ~15 s of CPU
    per run, so this is most of the test's time), and for `make scenarios` the shipped scenario file with
    2 seeds instead of 20 (`SCENARIOS=`, the Makefile's variable, pointing at a copy named scenarios.yaml
    so the sweep directory is named as the README says).
  Every other command runs exactly as the README prints it, and must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

#: Commands the slow test runs in another form, and why (see the module docstring).
REPLACED = {"make test": "make -n test"}

#: The one year every simulation of the slow test runs (the README's `--end-year 2027` names it).
YEAR = 2027


def readme_blocks(text: str | None = None) -> list[list[str]]:
    """The README's ```bash blocks, each as its command lines (comments and blank lines dropped)."""
    text = README.read_text() if text is None else text
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    return [[c for line in block.splitlines() if (c := _command(line))] for block in blocks]


def _command(line: str) -> str:
    """A line without its comment: from a `#` that starts the line or follows whitespace, outside quotes."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


def test_the_readme_is_short_and_has_commands() -> None:
    assert len(README.read_text().splitlines()) <= 300
    commands = [c for block in readme_blocks() for c in block]
    assert "make simulate" in commands and "make test" in commands and "make scenarios" in commands


def test_comments_are_dropped_but_not_inside_quotes() -> None:
    assert (
        _command('planalign simulate --name "a #1 run"   # comment') == 'planalign simulate --name "a #1 run"'
    )
    assert _command("# only a comment") == ""


def readme_extra_blocks(text: str | None = None) -> list[list[str]]:
    """The README's ```sh blocks: commands that need an extra package or a server (a cluster, a warehouse),
    parsed by the fast test but not run by the slow one (tests/scenarios/test_sharding.py and
    tests/engine_real/test_postgres.py run them for real)."""
    text = README.read_text() if text is None else text
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    return [[c for line in block.splitlines() if (c := _command(line))] for block in blocks]


def test_commands_needing_a_cluster_or_server_parse_as_written() -> None:
    from planalign.cli import build_parser

    commands = [c for block in readme_extra_blocks() for c in block]
    assert any("--executor ray" in c for c in commands) and any("planalign run" in c for c in commands)
    for command in commands:
        argv = shlex.split(command)
        if argv[:3] == [".venv/bin/pip", "install"] or argv[:2] == [".venv/bin/pip", "install"]:
            extra = re.fullmatch(r"planalign\[(\w+)\]", argv[2])
            assert extra, command
            pyproject = (REPO / "pyproject.toml").read_text()
            assert re.search(rf"^{extra.group(1)} = \[", pyproject, flags=re.M), f"no extra: {command}"
        elif argv[:1] == ["planalign"]:
            _parses(build_parser(), argv[1:], command)
        else:
            pytest.fail(f"the README shows a command no test checks: {command}")


def test_every_readme_command_is_one_a_clean_clone_knows() -> None:
    from planalign.cli import build_parser

    activated = False
    for command in (c for block in readme_blocks() for c in block):
        argv = shlex.split(re.sub(r'"\$\([^)]*\)"', "runs/placeholder", command))
        if argv[:1] == ["source"]:
            assert argv == ["source", ".venv/bin/activate"], command
            activated = True
        elif argv[:1] == ["make"]:
            dry = subprocess.run(["make", "-n", *argv[1:]], cwd=REPO, capture_output=True, text=True)
            assert dry.returncode == 0, f"{command}: {dry.stderr}"
        elif argv[:1] in (["planalign"], [".venv/bin/planalign"]):
            assert activated or argv[0] == ".venv/bin/planalign", (
                f"{command}: shown before the venv is active"
            )
            _parses(build_parser(), argv[1:], command)
        else:
            pytest.fail(f"the README shows a command no test checks: {command}")


def _parses(parser: object, argv: list[str], command: str) -> None:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    try:
        parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0; a wrong flag exits 2
        assert exc.code == 0, f"`{command}` does not parse (exit {exc.code})"


def _copy_of_a_clean_clone(dest: Path) -> Path:
    """The files a clone of this working tree has: tracked and new (not ignored) files; no runs, no db."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = REPO / raw.decode()
        if source.is_file():
            target = dest / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (dest / ".venv").symlink_to(REPO / ".venv")
    for pinned in (
        "pyproject.toml",
        "requirements.lock",
    ):  # older than the venv's stamp: make installs nothing
        os.utime(dest / pinned, (0, 0))
    return dest


@pytest.mark.slow
def test_the_readme_runs_as_written_on_a_copy_of_a_clean_clone(tmp_path: Path) -> None:
    if not (REPO / ".venv" / ".installed").is_file():
        pytest.skip("needs the repository's .venv (make venv)")
    clone = _copy_of_a_clean_clone(tmp_path / "clone")
    census = tmp_path / "census.parquet"
    subprocess.run(
        [
            str(REPO / ".venv/bin/planalign"),
            "census",
            "--employees",
            "300",
            "--seed",
            "5",
            "--out",
            str(census),
        ],
        check=True,
        capture_output=True,
    )
    small = clone / "small-sweep" / "scenarios.yaml"
    small.parent.mkdir()
    shipped = (clone / "scenarios.yaml").read_text()
    assert re.search(r"^seeds: 20\b", shipped, flags=re.M) and re.search(r"^config: ", shipped, flags=re.M)
    shipped = re.sub(r"^seeds: 20\b", "seeds: 2", shipped, flags=re.M)
    small.write_text(re.sub(r"^config: .*$", "config: ../simulation_config.yaml", shipped, flags=re.M))

    lines = ["set -euo pipefail"]
    for block in readme_blocks():
        for command in block:
            lines.append(f"echo '$ {command}' >&2")
            lines.append(REPLACED.get(command, command))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PLANALIGN_") and key not in {"VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL"}
    }
    env.update(
        PLANALIGN_SIMULATION__CENSUS_PATH=str(census),
        PLANALIGN_SIMULATION__START_YEAR=str(YEAR),
        PLANALIGN_SIMULATION__END_YEAR=str(YEAR),
        SCENARIOS=str(small.relative_to(clone)),
        COLUMNS="100",
    )
    result = subprocess.run(
        ["bash", "-c", "\n".join(lines)], cwd=clone, env=env, capture_output=True, text=True, timeout=1500
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-6000:]}"
    out = result.stdout
    assert f"nothing to do: simulation.duckdb already holds {YEAR} complete" in out
    sweeps = sorted((clone / "runs").glob("*-sweep-scenarios"))
    assert len(sweeps) == 1 and (sweeps[0] / "comparison.html").is_file()
    assert list((sweeps[0] / "export").glob("*.xlsx")), "no workbook exported"
    assert (clone / "short.duckdb").is_file() and (clone / "reports" / "latest.html").is_file()
    report = max((clone / "runs").glob("*/report.html"), key=lambda p: p.stat().st_mtime).read_text()
    assert 'id="client">Acme Corp<' in report and str(clone) not in report
