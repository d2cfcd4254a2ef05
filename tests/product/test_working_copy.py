"""The working copy: the only way a run's results reach the user's database file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from planalign.errors import DatabaseChangedError, DatabaseFileError, DatabaseLockedError
from planalign.simulation.working_copy import WorkingCopy, check_database_file


def make_db(path: Path, value: int) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create or replace table t as select ? as v", [value])
    con.close()
    return path


def read_value(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("select v from t").fetchone()
        assert row is not None
        return int(row[0])
    finally:
        con.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"employee_id,hire_date\n1,2020-01-01\n", "is not a DuckDB database"),
        (b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00", "is not a DuckDB database"),
        (b"", "is empty"),
    ],
    ids=["csv", "parquet", "empty"],
)
def test_a_file_that_is_not_a_duckdb_database_is_refused_and_left_as_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(DatabaseFileError, match=message):
        check_database_file(path)
    assert path.read_bytes() == content


def test_a_real_parquet_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "census.parquet"
    con = duckdb.connect()
    con.execute(f"copy (select 1 as a) to '{path}' (format parquet)")
    con.close()
    with pytest.raises(DatabaseFileError, match="not a DuckDB database"):
        check_database_file(path)


def test_a_directory_is_refused_and_an_absent_file_or_a_database_is_fine(tmp_path: Path) -> None:
    with pytest.raises(DatabaseFileError, match="is a directory"):
        check_database_file(tmp_path)
    check_database_file(tmp_path / "new.duckdb")
    check_database_file(make_db(tmp_path / "db.duckdb", 1))


def test_the_target_changes_only_on_promote(tmp_path: Path) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    with WorkingCopy(target) as copy:
        assert copy.path.name == target.name and copy.path != target
        make_db(copy.path, 2)
        assert read_value(target) == 1, "the target changed before promotion"
        copy.promote()
        assert read_value(target) == 2
        make_db(copy.path, 3)
    assert read_value(target) == 2, "closing without promoting must not change the target"
    assert not copy.path.exists(), "the working copy was left behind"


def test_a_new_target_is_created_only_by_promotion(tmp_path: Path) -> None:
    target = tmp_path / "sim.duckdb"
    with WorkingCopy(target) as copy:
        make_db(copy.path, 5)
    assert not target.exists()
    with WorkingCopy(target) as copy:
        make_db(copy.path, 6)
        copy.promote()
    assert read_value(target) == 6


def test_a_second_run_on_the_same_target_is_refused_even_from_another_process(tmp_path: Path) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    with WorkingCopy(target):
        with pytest.raises(DatabaseLockedError, match="another planalign run"):
            WorkingCopy(target).open()
        script = (
            "import sys; from pathlib import Path\n"
            "from planalign.simulation.working_copy import WorkingCopy\n"
            "try:\n    WorkingCopy(Path(sys.argv[1])).open()\n"
            "except Exception as e:\n    print(type(e).__name__)"
        )
        out = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True)
        assert out.stdout.strip() == "DatabaseLockedError", out.stderr
    with WorkingCopy(target):
        pass  # released


def test_a_target_written_by_another_program_during_the_run_is_not_overwritten(tmp_path: Path) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    with WorkingCopy(target) as copy:
        make_db(copy.path, 2)
        make_db(target, 9)  # a notebook wrote the database meanwhile
        with pytest.raises(DatabaseChangedError, match="changed by another program"):
            copy.promote()
    assert read_value(target) == 9


def test_leftovers_of_a_killed_run_are_cleared(tmp_path: Path) -> None:
    target = make_db(tmp_path / "sim.duckdb", 1)
    copy = WorkingCopy(target)
    copy.directory.mkdir()
    make_db(copy.path, 7)
    Path(f"{copy.path}.wal").write_bytes(b"garbage")
    with copy:
        assert read_value(copy.path) == 1, "the working copy must start from the target, not a leftover"
        assert not Path(f"{copy.path}.wal").exists()
