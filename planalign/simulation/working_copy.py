"""The run's private copy of the simulation database, and the only way results reach the user's file.

A simulation never writes the user's database file (the *target*) in place. Every run builds into a working
copy beside it, `<dir>/.<name>.planalign/<name>` — the same file name, so DuckDB gives it the same catalog
name and the parsed manifest's relation names stay valid — and the target changes only by `os.replace` of
a checkpointed copy, which is atomic on POSIX file systems: a reader, a crash, a SIGKILL or a full disk
sees the old file or the new one, never a mix. Which moments may replace the target is the orchestrator's
decision (after every completed year when a run only adds years; once, at the end, when it rebuilds years
the target already holds); this module only makes each replacement safe:

- `open()` takes an exclusive lock (a `flock` on `<dir>/.<name>.planalign/lock`, so a second planalign
  process on the same target is refused at once), removes what a killed run left behind, checkpoints the
  target (DuckDB folds its write-ahead log into the file) and copies it.
- `promote()` checkpoints the working copy, refuses if the target was changed by another program since it
  was copied (that program's writes would otherwise be lost), writes a copy next to the target's directory
  entry, `fsync`s it and renames it over the target.
- `close()` deletes the working copy and releases the lock; the target keeps its last promoted state.

The hidden directory and its lock file stay after a run: deleting a lock file another process may be about
to open is a race, and the directory is a few bytes. The copies inside it are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from planalign.errors import DatabaseChangedError, DatabaseFileError, DatabaseLockedError
from planalign.simulation.state import open_database

#: DuckDB's storage header: a checksum (8 bytes), then the magic bytes "DUCK".
_MAGIC_OFFSET, _MAGIC = 8, b"DUCK"


def check_database_file(path: Path) -> None:
    """Refuse, before any work, a database path that is neither absent nor a DuckDB database file.

    DuckDB opens a CSV or Parquet file named as a database as an *in-memory* database: a run would succeed
    and save nothing. An empty file is refused too (it is not a database, and may be something the user
    just created by mistake).
    """
    if not path.exists():
        if path.is_symlink():
            raise DatabaseFileError(
                f"the database path {path} is a broken symbolic link; remove it or choose another --database"
            )
        return
    if path.is_dir():
        raise DatabaseFileError(
            f"the database path {path} is a directory; give a file path such as {path / 'simulation.duckdb'}"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(_MAGIC_OFFSET + len(_MAGIC))
    except OSError as exc:
        raise DatabaseFileError(
            f"the database {path} cannot be read ({exc.strerror or exc}); check its permissions or choose "
            "another --database"
        ) from exc
    if head[_MAGIC_OFFSET:] != _MAGIC:
        what = "is empty" if not head else "is not a DuckDB database (it looks like a different kind of file)"
        raise DatabaseFileError(
            f"the database {path} {what}; planalign writes simulation results into a DuckDB file. Point "
            "--database (simulation.database_path) at a new path or an existing .duckdb file, and give a "
            "census with --census"
        )


def lock_is_held(target: Path) -> bool:
    """Whether a planalign run holds `target`'s working-copy lock now (for `planalign runs`, to tell a run
    killed with SIGKILL — whose lock the system released — from a running one). Never creates the lock.

    It asks for a shared lock without waiting and lets go at once: held exclusively means a run holds it.
    A run starting in that same instant would be refused as if another run held the database, so callers
    ask only when they cannot tell otherwise (`planalign.cli.runs` asks the recorded process first)."""
    lock_path = WorkingCopy(target).directory / "lock"
    try:
        handle = lock_path.open("r")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


@dataclass(frozen=True)
class _Signature:
    """Enough of a file's identity to notice that another program replaced or wrote it."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> _Signature | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


class WorkingCopy:
    """A locked, private copy of `target` that a run writes instead of the target itself.

    Not thread-safe: one run (one task) uses it at a time. Use as a context manager, or call `open()` and,
    always, `close()`.
    """

    def __init__(self, target: Path) -> None:
        self.target = Path(os.path.abspath(target))
        self.directory = self.target.parent / f".{self.target.name}.planalign"
        self.path = self.directory / self.target.name
        self._staged = self.directory / f"{self.target.name}.promote"
        self._lock: IO[str] | None = None
        self._target_signature: _Signature | None = None
        self.promotions = 0

    @property
    def is_open(self) -> bool:
        return self._lock is not None

    def __enter__(self) -> WorkingCopy:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Lock the target, clear leftovers of a killed run, and copy the (checkpointed) target."""
        if self._lock is not None:
            raise RuntimeError("the working copy is already open")
        self.directory.mkdir(exist_ok=True)
        lock = (self.directory / "lock").open("a")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DatabaseLockedError(
                f"the database {self.target} is in use by another planalign run (it holds "
                f"{self.directory / 'lock'}). Wait for it to finish, or choose another file with --database."
            ) from None
        self._lock = lock
        try:
            self._remove_copies()
            if self.target.exists():
                _checkpoint(self.target)
                _refuse_wal(self.target)
                shutil.copyfile(self.target, self.path)
            self._target_signature = _Signature.of(self.target)
        except BaseException:
            self.close()
            raise

    def promote(self) -> None:
        """Make the target what the working copy holds now, atomically.

        The caller must have closed every connection to the working copy (dbt-duckdb keeps its database
        open between invocations). Raises `DatabaseChangedError`, leaving the target as it is, when another
        program wrote the target since it was copied.
        """
        if self._lock is None:
            raise RuntimeError("promote() needs an open working copy")
        if _Signature.of(self.target) != self._target_signature:
            raise DatabaseChangedError(
                f"the database {self.target} was changed by another program while the simulation ran; "
                "the new results were not saved so as not to overwrite that program's changes. Close the "
                "other program and run the simulation again."
            )
        _checkpoint(self.path)
        _refuse_wal(self.path)
        shutil.copyfile(self.path, self._staged)
        _fsync_file(self._staged)
        os.replace(self._staged, self.target)
        _fsync_directory(self.target.parent)
        self._target_signature = _Signature.of(self.target)
        self.promotions += 1

    def close(self) -> None:
        """Delete the working copy and release the lock. Safe to call more than once."""
        if self._lock is None:
            return
        try:
            self._remove_copies()
        finally:
            lock, self._lock = self._lock, None
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()

    def _remove_copies(self) -> None:
        for path in (self.path, Path(f"{self.path}.wal"), self._staged):
            path.unlink(missing_ok=True)


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so that the file alone is the whole database."""
    con = open_database(path)
    try:
        con.execute("checkpoint")
    finally:
        con.close()


def _refuse_wal(path: Path) -> None:
    wal = Path(f"{path}.wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise DatabaseLockedError(
            f"the database {path} still has a write-ahead log ({wal}) after a checkpoint, so another "
            "process is writing it; close that program and run again."
        )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
