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
to open is a race, and the directory is a few bytes. The copies inside it are removed (`open()` removes
every file a killed run left there, whatever name that run was given).

A target reached through a symbolic link (`link.duckdb -> real.duckdb`, or a linked folder) is resolved
first: the lock, the working copy and the staged save live beside the *real* file and the rename replaces
the real file, so the link stays a link, the real database gets the results, and runs through the link and
through the real path take the same lock. The working copy keeps the file name the run was *given*: DuckDB
derives the catalog name from it, and the project was parsed for that name (`planalign.dbt.catalog`). A
`.<name>.planalign` that is not a directory we can own — a symbolic link, a regular file — or a `lock` in
it that is a symbolic link is refused, not followed: following it would put the copy and the lock
wherever it points.

Disk space: `open()` refuses, before copying, when the target's file system has less free space than
`space_needed(size)` — the working copy and the staged save, each as large as the database, plus room for
the run to grow it (a quarter of its size and 64 MiB). `promote()` checks again with the working copy's
real size before it writes the staged save. A full disk (ENOSPC, EDQUOT) while copying is reported as such,
the partial file is removed and the target is left as it was.

Why it is long: it is the one place a run's results reach the user's file, so every way that file can be
unsafe — another run, another program, a symbolic link, a planted folder, a full disk — is checked here,
beside the copy and the rename it guards, rather than by callers that could forget one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from planalign.errors import (
    DatabaseChangedError,
    DatabaseFileError,
    DatabaseLockedError,
    PlanalignError,
    PlanalignUsageError,
)
from planalign.simulation.state import open_database

#: DuckDB's storage header: a checksum (8 bytes), then the magic bytes "DUCK".
_MAGIC_OFFSET, _MAGIC = 8, b"DUCK"

#: Room for a run to grow the database, on top of a quarter of its size (see `space_needed`).
GROWTH_MARGIN_BYTES = 64 * 1024 * 1024

#: The errors of a file system without room for a write: no space left, disk quota exceeded.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class WorkingCopyPathError(PlanalignUsageError):
    """The working-copy directory beside the database (`.<name>.planalign`) or its lock is something planalign
    did not make — a symbolic link, a regular file — and is not followed; the message says what to remove."""


class InsufficientSpaceError(PlanalignUsageError):
    """The database's file system has too little free space for the working copy and the staged save; the
    message says how much is needed and how much is free. Nothing was written."""


class DatabaseSaveError(PlanalignError):
    """The run's results could not be saved over the database (its file system is full); the database is
    as it was before the save."""


def space_needed(size: int) -> int:
    """Free bytes a run on a database of `size` bytes needs beside it: the working copy and the staged save,
    each as large as the database, and room for the run to grow it (a quarter of its size plus
    `GROWTH_MARGIN_BYTES`). An estimate — a run that adds many years may grow it more — so `promote()`
    checks again with the working copy's real size."""
    return 2 * size + size // 4 + GROWTH_MARGIN_BYTES


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MiB"


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
        #: The path the run was given (a symbolic link, maybe), for messages.
        self.given = Path(os.path.abspath(target))
        #: The file the results replace: the given path with every symbolic link resolved.
        self.target = self.given.resolve()
        self.directory = self.target.parent / f".{self.target.name}.planalign"
        # The given name, not the real one: the catalog name comes from it, and the parse used it.
        self.path = self.directory / self.given.name
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
        lock = self._open_lock()
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DatabaseLockedError(
                f"the database {self._described} is in use by another planalign run (it holds "
                f"{self.directory / 'lock'}). Wait for it to finish, or choose another file with --database."
            ) from None
        self._lock = lock
        try:
            self._remove_leftovers()
            if self.target.exists():
                _checkpoint(self.target)
                _refuse_wal(self.target)
            self._refuse_short_space(space_needed(_size(self.target)), "the working copy and the staged save")
            if self.target.exists():
                try:
                    shutil.copyfile(self.target, self.path)
                except OSError as exc:
                    if exc.errno not in _NO_SPACE:
                        raise
                    self._remove_copies()
                    raise InsufficientSpaceError(
                        f"no space left in {self.directory} while copying the database {self._described} "
                        f"({_mib(_size(self.target))}) to its working copy; nothing was changed. "
                        f"{self._space_advice}"
                    ) from exc
            self._target_signature = _Signature.of(self.target)
        except BaseException:
            self.close()
            raise

    @property
    def _described(self) -> str:
        """The target as the user named it, and the real file when that was a symbolic link."""
        if self.given == self.target:
            return str(self.target)
        return f"{self.given} (through a symbolic link, {self.target})"

    @property
    def _space_advice(self) -> str:
        return (
            f"Free space on the file system of {self.target.parent}, or give --database "
            "(simulation.database_path) a file on another disk."
        )

    def _refuse_short_space(self, needed: int, what: str) -> None:
        """Raise `InsufficientSpaceError` when the target's file system has less than `needed` bytes free."""
        free = shutil.disk_usage(self.directory).free
        if free < needed:
            raise InsufficientSpaceError(
                f"the file system of {self.target.parent} has {_mib(free)} free, and a run on the database "
                f"{self._described} ({_mib(_size(self.target))}) needs about {_mib(needed)} for {what} "
                f"(twice the database's size, plus a quarter of it and {_mib(GROWTH_MARGIN_BYTES)} for the "
                f"years the run adds); nothing was changed. {self._space_advice}"
            )

    def _open_lock(self) -> IO[str]:
        """Make the working-copy directory and open its lock file, following no symbolic link: a planted
        `.<name>.planalign` link (or a file in its place, or a linked `lock`) would otherwise move the
        working copy and the lock elsewhere."""
        fix = "remove it (planalign makes that directory itself) or choose another --database"
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.directory)
        mode = os.lstat(self.directory).st_mode
        if stat.S_ISLNK(mode):
            raise WorkingCopyPathError(
                f"{self.directory} is a symbolic link; planalign keeps the working copy and the lock of "
                f"{self._described} in that directory and does not follow links there: {fix}"
            )
        if not stat.S_ISDIR(mode):
            raise WorkingCopyPathError(
                f"{self.directory} is not a directory; planalign keeps the working copy and the lock of "
                f"{self._described} in a directory of that name: {fix}"
            )
        lock_path = self.directory / "lock"
        if self.path in (lock_path, self._staged):
            raise WorkingCopyPathError(
                f"the database file name {self.given.name!r} is a name planalign uses for its own files in "
                f"{self.directory}; choose another --database, such as {self.given.name}.duckdb"
            )
        try:
            fd = os.open(
                lock_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR):
                raise
            what = "a symbolic link" if exc.errno == errno.ELOOP else "a directory"
            raise WorkingCopyPathError(
                f"{lock_path}, the lock of {self._described}, is {what}; planalign does not follow it. "
                f"Remove {lock_path} (planalign never makes it a link) or choose another --database"
            ) from exc
        return os.fdopen(fd, "a")

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
                f"the database {self._described} was changed by another program while the simulation ran; "
                "the new results were not saved so as not to overwrite that program's changes. Close the "
                "other program and run the simulation again."
            )
        _checkpoint(self.path)
        _refuse_wal(self.path)
        size = _size(self.path)
        free = shutil.disk_usage(self.directory).free
        if free < size:
            raise DatabaseSaveError(
                f"the results were not saved: the file system of {self.target.parent} has {_mib(free)} free "
                f"and saving needs {_mib(size)} (a copy of the results, renamed over the database). The "
                f"database {self._described} is as it was before. {self._space_advice}"
            )
        try:
            shutil.copyfile(self.path, self._staged)
            _fsync_file(self._staged)
        except OSError as exc:
            self._staged.unlink(missing_ok=True)
            if exc.errno not in _NO_SPACE:
                raise
            raise DatabaseSaveError(
                f"the results were not saved: no space left in {self.directory} while writing the "
                f"{_mib(size)} staged save. The database {self._described} is as it was before. "
                f"{self._space_advice}"
            ) from exc
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

    def _remove_leftovers(self) -> None:
        """Remove what killed runs left in the directory: every file but the lock, whichever name they ran
        under (a run through a link keeps the link's name), so a killed run's copies do not fill the disk.
        Only called with the lock held, so no other planalign run is using any of them."""
        for entry in self.directory.iterdir():
            if entry.name != "lock" and (entry.is_symlink() or not entry.is_dir()):
                entry.unlink(missing_ok=True)


def _size(path: Path) -> int:
    """The size of `path` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


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
