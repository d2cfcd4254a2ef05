"""Where a shard's dbt project is unpacked: one directory per bundle content per machine, shared read-only by
the shards that run there, so that dbt's parse cache — keyed on the project's path among other things
(`planalign.dbt.files`) — hits for the second and later shards instead of every shard paying a full parse
from a fresh temporary directory.

The directory is `<cache_root>/shard-projects/<sha256 of the project tar>` and is never modified once it
has its name:

- **Never half-unpacked.** A shard unpacks into a staging directory beside it (`.unpacking-*`, whose lock it
  holds while it writes), records the digest of every file in a listing, and renames the whole directory
  into place (`os.rename`, atomic; when another shard got there first, the rename fails and that shard's
  directory is used). A staging directory left by a killed shard has a free lock and is removed by the next
  prune.
- **Never another bundle's.** The name is the digest of the tar's bytes; before use, the listing's digest
  must be that name and every file must still have its recorded content (a hostile or accidental change
  to the directory is noticed). A directory that fails the check is not used: this shard unpacks into its
  own private directory (the behaviour before this cache), and the bad directory is removed when no shard
  is using it.
- **Read-only while used.** A shard holds a shared lock on the directory's lock file from the check to its
  end; dbt's target and logs go to the process's private directory (`planalign.dbt.files`), census,
  database and run records to the shard's own temporary directory. A change to the project directory would
  be caught by the next shard's check.
- **Bounded.** After each unpack, all but the `KEEP` most recently used directories are removed, each only
  when no shard holds its lock (it is renamed away under an exclusive lock first, so a shard that opened it
  meanwhile sees it gone and unpacks again).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from planalign.dbt.files import cache_root

#: How many unpacked projects a machine keeps (one per project version a sweep was sharded with).
KEEP = 8

_LOCK = ".planalign-project.lock"
_LISTING = ".planalign-project.json"
_STAGING = ".unpacking-"
_REMOVING = ".removing-"


def projects_root() -> Path:
    """The directory holding the unpacked projects: `<cache_root>/shard-projects`."""
    return cache_root() / "shard-projects"


def bundle_digest(project_tar: bytes) -> str:
    """The name of the directory `project_tar` unpacks to."""
    return hashlib.sha256(project_tar).hexdigest()


@contextlib.contextmanager
def shared_project(project_tar: bytes, private: Path, root: Path | None = None) -> Iterator[Path]:
    """The directory holding `project_tar` unpacked (its `project/` and maybe `profiles/`), held for the
    block. The shared directory when it can be used (see the module docstring); else the tar is unpacked
    into `private` (the shard's own temporary directory) and that is yielded."""
    root = projects_root() if root is None else root
    digest = bundle_digest(project_tar)
    directory = root / digest
    fd: int | None = None
    try:
        for _ in range(3):  # a directory pruned between its unpack and our lock: unpack again
            fd = _use(directory, digest)
            if fd is not None or directory.exists():
                break  # usable; or unusable and in use by another shard: this one unpacks privately
            _unpack_shared(project_tar, digest, root)
    except OSError:
        fd = None  # an unwritable cache: the private directory, as without the cache
    if fd is None:
        _extract(project_tar, private)
        yield private
        return
    try:
        yield directory
    finally:
        os.close(fd)


def _use(directory: Path, digest: str) -> int | None:
    """A descriptor of `directory`'s lock file holding a shared lock, when the directory is complete and
    unchanged; else None (a bad directory is removed when nobody uses it)."""
    try:
        fd = os.open(directory / _LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        here = os.stat(directory / _LOCK, follow_symlinks=False)
        mine = os.fstat(fd)
        if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino) and _unchanged(directory, digest):
            os.utime(directory)  # recently used: kept by the prune
            return fd
    except (OSError, ValueError):  # a file gone or unreadable, a listing that is not JSON
        pass
    os.close(fd)
    if directory.exists():
        _remove_if_unused(directory)
    return None


def _unchanged(directory: Path, digest: str) -> bool:
    """Whether `directory` holds exactly the files its listing records, with their contents, for `digest`."""
    listing = json.loads((directory / _LISTING).read_text(encoding="utf-8"))
    return bool(listing.get("bundle") == digest and listing.get("files") == _digests(directory))


def _digests(directory: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if name in (_LOCK, _LISTING) or path.is_dir():
            continue
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a file"
    return out


def _unpack_shared(project_tar: bytes, digest: str, root: Path) -> None:
    """Unpack into a staging directory and rename it to `root/digest` (when another shard renamed its copy
    first, the rename fails and that copy stays), then prune."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=root))
    try:
        with (staging / _LOCK).open("w") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # a staging directory whose lock is free was abandoned
            _extract(project_tar, staging)
            listing = {"bundle": digest, "files": _digests(staging)}
            (staging / _LISTING).write_text(json.dumps(listing), encoding="utf-8")
            with contextlib.suppress(OSError):
                os.rename(staging, root / digest)
        prune(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(project_tar: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(project_tar), mode="r:gz") as tar:
        tar.extractall(into, filter="data")


def _remove_if_unused(directory: Path) -> bool:
    """Rename `directory` away and remove it when no shard holds its lock; False when one does."""
    try:
        fd = os.open(directory / _LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        fd = None  # no lock file: not one of ours in use
    except OSError:
        return False
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        gone = directory.with_name(f"{_REMOVING}{directory.name}-{os.getpid()}")
        try:
            os.rename(directory, gone)
        except OSError:
            return False
    finally:
        if fd is not None:
            os.close(fd)
    shutil.rmtree(gone, ignore_errors=True)
    return True


def prune(root: Path, keep: int = KEEP) -> list[Path]:
    """Remove abandoned staging directories and all but the `keep` most recently used projects that no
    shard is using. Returns what was removed."""
    removed: list[Path] = []
    entries: list[tuple[int, Path]] = []
    for path in root.iterdir() if root.is_dir() else ():
        if path.name.startswith(_STAGING) and path.is_dir():
            if (path / _LOCK).exists() and _remove_if_unused(path):
                removed.append(path)
        elif path.is_dir() and not path.is_symlink() and not path.name.startswith(_REMOVING):
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[keep:]:
        if _remove_if_unused(path):
            removed.append(path)
    return removed
