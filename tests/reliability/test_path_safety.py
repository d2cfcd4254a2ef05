"""Where a run writes (issue #19, items 4, 6 and 8): symbolic links, planted working-copy paths, database
names DuckDB and dbt cannot agree on, a full disk, and census headers in upper case.

- A database reached through a symbolic link is saved into the real file (the link stays a link), and a
  run through the link and one through the real path take the same lock.
- A `.<name>.planalign` beside the database that planalign did not make (a symbolic link, a regular file,
  a linked `lock`) is refused, and nothing is written where it points.
- File names whose catalog name is reserved by DuckDB or holds a quote are refused before the parse (no run
  directory, no dbt artifacts); a dot in the stem works.
- Too little free space for the working copy and the staged save is refused up front, saying how much is
  needed; a full disk while copying or saving is an error that says so and leaves the database intact.
- A census whose headers are in upper case is read like the same census in lower case.

Most cases drive `WorkingCopy` directly (it alone decides where the copy, the lock and the save go); one
real simulation through the command line covers the link and the dotted name end to end.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from planalign.errors import CensusError, DatabaseLockedError
from planalign.simulation.census import check_census, generate_census, write_census
from planalign.simulation.orchestrator import create_orchestrator
from planalign.simulation.stages import SimulationStage
from planalign.simulation.working_copy import (
    DatabaseSaveError,
    InsufficientSpaceError,
    WorkingCopy,
    WorkingCopyPathError,
    space_needed,
)
from tests.product.simulation_helpers import make_config
from tests.product.test_working_copy import make_db, read_value
from tests.reliability.helpers import (
    base_settings,
    complete_years,
    copy_project,
    file_digest,
    fingerprint,
    planalign_here,
    write_config,
)

# ---------------------------------------------------------------------- item 4: symbolic links


def test_a_save_through_a_symlink_replaces_the_real_file_and_keeps_the_link(tmp_path: Path) -> None:
    real = make_db(tmp_path / "real.duckdb", 1)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real.name)
    with WorkingCopy(link) as copy:
        assert copy.path.name == link.name, "the working copy must keep the name the project was parsed for"
        make_db(copy.path, 2)
        copy.promote()
    assert link.is_symlink() and os.readlink(link) == real.name, "the link was replaced by a file"
    assert read_value(real) == 2, "the real database did not get the results"


def test_runs_through_a_link_and_through_the_real_path_take_the_same_lock(tmp_path: Path) -> None:
    real = make_db(tmp_path / "real.duckdb", 1)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    digest = file_digest(real)
    with WorkingCopy(link), pytest.raises(DatabaseLockedError, match="another planalign run"):
        WorkingCopy(real).open()
    with WorkingCopy(real), pytest.raises(DatabaseLockedError, match="another planalign run") as caught:
        WorkingCopy(link).open()
    assert f"{link} (through a symbolic link, {real})" in str(caught.value)
    assert file_digest(real) == digest


def test_a_killed_run_through_a_link_leaves_no_copy_behind_for_the_next_run(tmp_path: Path) -> None:
    """A run through `link.duckdb` keeps its working copy under the link's name beside the real file; when
    it is killed, the next run — through the real path — removes that copy, which would otherwise hold a
    database's worth of disk for good."""
    real = make_db(tmp_path / "real.duckdb", 1)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real.name)
    killed = WorkingCopy(link)
    killed.directory.mkdir()
    (killed.directory / "lock").touch()  # what a SIGKILL leaves: the files, and a lock nobody holds
    leftovers = [
        make_db(killed.path, 2),
        Path(f"{killed.path}.wal"),
        killed.directory / "real.duckdb.promote",
    ]
    leftovers[1].write_bytes(b"wal")
    leftovers[2].write_bytes(b"half a save")
    with WorkingCopy(real) as copy:
        assert copy.directory == killed.directory and killed.path.name == "link.duckdb"
        assert [p for p in leftovers if p.exists()] == []
        assert sorted(p.name for p in copy.directory.iterdir()) == sorted(["lock", real.name])


def _plant_link(copy: WorkingCopy, elsewhere: Path) -> None:
    copy.directory.symlink_to(elsewhere, target_is_directory=True)


def _plant_file(copy: WorkingCopy, elsewhere: Path) -> None:
    copy.directory.write_text("not planalign's\n")


def _plant_lock_link(copy: WorkingCopy, elsewhere: Path) -> None:
    copy.directory.mkdir()
    (copy.directory / "lock").symlink_to(elsewhere / "lock")


@pytest.mark.parametrize(
    ("plant", "fragment"),
    [
        (_plant_link, "is a symbolic link"),
        (_plant_file, "is not a directory"),
        (_plant_lock_link, "is a symbolic link"),
    ],
    ids=["directory_is_a_symlink", "directory_is_a_file", "lock_is_a_symlink"],
)
def test_a_planted_working_copy_path_is_refused_and_nothing_is_written_elsewhere(
    tmp_path: Path, plant: Callable[[WorkingCopy, Path], None], fragment: str
) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = WorkingCopy(target)
    plant(copy, elsewhere)
    planted = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and not p.is_symlink()}
    digest = file_digest(target)
    with pytest.raises(WorkingCopyPathError, match=fragment) as caught:
        copy.open()
    assert str(copy.directory) in str(caught.value) and "remove" in str(caught.value).lower()
    assert list(elsewhere.iterdir()) == [], "the planted path redirected the working copy or the lock"
    assert file_digest(target) == digest
    assert {
        p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and not p.is_symlink()
    } == planted
    assert not copy.is_open


def test_a_database_named_like_the_lock_is_refused(tmp_path: Path) -> None:
    """`.lock.planalign/lock` would be both the lock and the working copy: opening it removed the lock file
    it had just locked, so a concurrent run would take a new one and proceed."""
    copy = WorkingCopy(tmp_path / "lock")
    with pytest.raises(WorkingCopyPathError, match="a name planalign uses for its own files"):
        copy.open()
    assert not copy.is_open and not copy.path.exists()


# ---------------------------------------------------------------------- item 6: disk space


class _Usage:
    def __init__(self, free: int) -> None:
        self.total, self.used, self.free = 10 * free + 1, 9 * free, free


def test_too_little_space_for_the_copy_and_the_save_is_refused_before_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    size = target.stat().st_size
    digest = file_digest(target)
    needed = space_needed(size)
    assert needed >= 2 * size, "the rule must leave room for the working copy and the staged save"
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: _Usage(needed - 1))
    copy = WorkingCopy(target)
    with pytest.raises(InsufficientSpaceError) as caught:
        copy.open()
    message = str(caught.value)
    assert f"{(needed - 1) / 2**20:,.1f} MiB free" in message, message
    assert f"needs about {needed / 2**20:,.1f} MiB" in message, message
    assert "--database" in message
    assert not copy.path.exists() and not copy.is_open
    assert file_digest(target) == digest
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: _Usage(needed))
    with WorkingCopy(target):
        pass  # exactly enough is enough, and the lock was released


def _copy_then_disk_full(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make the next `shutil.copyfile` in working_copy write half the file and fail as a full disk does."""
    written: list[Path] = []

    def copyfile(src: Path, dst: Path) -> Path:
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 2])
        written.append(Path(dst))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(shutil, "copyfile", copyfile)
    return written


def test_a_full_disk_while_copying_is_a_clear_error_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    digest = file_digest(target)
    written = _copy_then_disk_full(monkeypatch)
    copy = WorkingCopy(target)
    with pytest.raises(InsufficientSpaceError, match="no space left") as caught:
        copy.open()
    assert str(target) in str(caught.value)
    assert written and not any(p.exists() for p in written), "the partial working copy was left behind"
    assert file_digest(target) == digest and not copy.is_open


def test_a_full_disk_at_the_final_save_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    digest = file_digest(target)
    with WorkingCopy(target) as copy:
        make_db(copy.path, 2)
        written = _copy_then_disk_full(monkeypatch)
        with pytest.raises(DatabaseSaveError, match="not saved") as caught:
            copy.promote()
        assert "no space left" in str(caught.value) and "as it was before" in str(caught.value)
        assert written and not any(p.exists() for p in written), "the partial staged save was left behind"
    assert file_digest(target) == digest


def test_too_little_space_for_the_final_save_is_refused_before_writing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    digest = file_digest(target)
    with WorkingCopy(target) as copy:
        make_db(copy.path, 2)
        size = copy.path.stat().st_size
        monkeypatch.setattr(shutil, "disk_usage", lambda _path: _Usage(size - 1))
        with pytest.raises(DatabaseSaveError, match=f"needs {size / 2**20:,.1f} MiB"):
            copy.promote()
        assert copy.promotions == 0
    assert file_digest(target) == digest


# ---------------------------------------------------------------------- item 8: database names


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the dbt project, so that any dbt artifact a run made would be seen in it."""
    return copy_project(tmp_path_factory.mktemp("path_safety_project") / "dbt_project")


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("system.duckdb", ["reserves the catalog name 'system'", "system_simulation.duckdb"]),
        ("Temp.v1.duckdb", ["reserves the catalog name 'Temp'", "Temp_simulation.duckdb"]),
        ('x"y.duckdb', ["contains '\"'", "x_y.duckdb"]),
        ("x'y.duckdb", ['contains "\'"', "x_y.duckdb"]),
    ],
    ids=["reserved", "reserved_any_case_with_a_dot", "double_quote", "single_quote"],
)
def test_a_database_name_dbt_cannot_use_is_refused_before_the_parse(
    tmp_path: Path, small_census: Path, project: Path, name: str, fragments: list[str]
) -> None:
    database = tmp_path / name
    write_config(
        tmp_path / "simulation_config.yaml",
        base_settings(small_census, database, dbt={"project_dir": str(project)}),
    )
    result = planalign_here("simulate", cwd=tmp_path)
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    for fragment in ["simulation.database_path", str(database), *fragments]:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert not database.exists()
    assert not (tmp_path / "runs").exists(), "a refused run wrote a run directory"
    made = sorted(p.name for p in project.iterdir() if p.name in {"target", "logs"})
    assert made == [], f"the project was parsed before the refusal: {made}"


def test_a_simulation_through_a_dotted_link_survives_a_full_disk_and_saves_into_the_real_database(
    tmp_path: Path, small_census: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real dbt, one parse: `sim.v2.duckdb` (catalog `sim`: DuckDB and dbt-duckdb stop at the first dot) is a
    symbolic link to `real.duckdb`, a database holding the user's own table. The first run (a stage run of
    2025's initialization: it saves through the same `WorkingCopy.promote`, a year's models sooner) meets a
    full disk at its save: it fails saying so, and the real file is byte-identical. The second run completes:
    the link stays a link, and the real file holds the simulated year next to the user's table."""
    real = tmp_path / "real.duckdb"
    con = duckdb.connect(str(real))
    try:
        con.execute("create table main.user_notes as select 'keep me' as note")
    finally:
        con.close()
    link = tmp_path / "sim.v2.duckdb"
    link.symlink_to(real.name)
    orchestrator = create_orchestrator(
        make_config(tmp_path, small_census, "sim.v2", workers=1, end_year=2025)
    )
    digest = file_digest(real)

    copyfile = shutil.copyfile

    def full_at_the_save(src: Path, dst: Path) -> Path:
        if str(dst).endswith(".promote"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return Path(copyfile(src, dst))

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copyfile", full_at_the_save)
        # A stage run saves as a full run does (`WorkingCopy.promote`), after a few models, not a year's.
        failed = orchestrator.run_stage(2025, SimulationStage.INITIALIZATION)
    assert failed.status == "failed" and failed.error is not None and "no space left" in failed.error
    assert file_digest(real) == digest, "a save that found the disk full changed the database"
    assert link.is_symlink()

    summary = orchestrator.execute_multi_year_simulation()
    assert summary.success, summary.error
    assert link.is_symlink() and os.readlink(link) == real.name, "the run replaced the link with a file"
    assert complete_years(real) == [2025], "the real database did not get the results"
    tables = fingerprint(real)
    assert tables is not None
    assert '"main"."user_notes"' in tables and '"main"."fct_yearly_events"' in tables, sorted(tables)
    assert not (tmp_path / ".sim.v2.duckdb.planalign").exists(), "the working copy went beside the link"


# ---------------------------------------------------------------------- item 8: census headers


def _upper_case_headers(source: Path, dest: Path, rename: Callable[[str], str]) -> Path:
    if source.suffix == ".csv":
        header, _, rest = source.read_text().partition("\n")
        dest.write_text(",".join(rename(h) for h in header.split(",")) + "\n" + rest)
    else:
        table = pq.read_table(source)
        pq.write_table(table.rename_columns([rename(c) for c in table.column_names]), dest)
    return dest


@pytest.fixture(params=[".csv", ".parquet"])
def census_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    suffix: str = request.param
    lower = write_census(generate_census(50, seed=19, bad_rows=4), tmp_path / f"lower{suffix}")
    yield lower, _upper_case_headers(lower, tmp_path / f"upper{suffix}", str.upper)


def test_upper_case_census_headers_are_read_like_lower_case_ones(census_pair: tuple[Path, Path]) -> None:
    lower, upper = census_pair
    expected = check_census(lower, max_reject_share=1.0)
    assert expected.rejected_rows > 0, "the census must have bad rows, so the comparison sees the rules"
    got = check_census(upper, max_reject_share=1.0)
    assert (got.total_rows, got.rejected_rows, got.reasons, got.examples) == (
        expected.total_rows,
        expected.rejected_rows,
        expected.reasons,
        expected.examples,
    )
    mixed = _upper_case_headers(lower, lower.with_name(f"mixed{lower.suffix}"), str.title)
    assert check_census(mixed, max_reject_share=1.0).reasons == expected.reasons


def test_the_checked_census_columns_are_still_required(tmp_path: Path) -> None:
    """Case-insensitive, not lax: a header that is another name is still missing."""
    census = write_census(generate_census(5, seed=3), tmp_path / "census.csv")
    header, _, rest = census.read_text().partition("\n")
    census.write_text(header.replace("employee_id", "EMPLOYEE_NO") + "\n" + rest)
    with pytest.raises(CensusError, match="lacks the column"):
        check_census(census)
