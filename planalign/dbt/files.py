"""Where dbt writes its files for planalign's in-process calls: never into the dbt project.

By default dbt writes `target/` (manifest.json, partial_parse.msgpack, the compiled SQL of every model it
runs) and `logs/dbt.log` into the project directory. Two simulations in two processes on one project (an
async service next to a terminal, or many terminals) would then write the same files at once — among them
the partial-parse file the next parse reads. With `DbtFiles` every dbt call of a simulation gets
`--target-path` and `--log-path` in a directory private to this process (`private_dir()`, removed when the
process exits), so the project directory is only read at run time.

Partial parsing (dbt re-reads only what changed since the last parse: it halves the parse, 5.7-8 s of CPU
to 2.7-4.3 s for the shipped project) is kept across processes through a cache outside the project
(`cache_root()`): a parse starts from a private copy of the cached `partial_parse.msgpack` of the same
project and arguments, placed in its private target where dbt reads and writes its saved parse; when dbt
wrote a new one, it is published into the cache with `os.replace` — atomic, so a reader sees a whole
previous file or a whole new one, and no two processes ever write the same file. The cache file is keyed
by the project and every argument dbt's partial-parse check compares (vars, profile, target), because dbt
discards a saved parse whose vars differ: one file per key lets two configurations used by turns both keep
theirs. A simulation's census and database paths reach the parse as stand-ins (`planalign.dbt.parse_vars`),
so runs on other files share a key.

`planalign run`, the drop-in for `dbt run`, does not use this: its users expect dbt's own `target/` in the
project (run_results.json, which `planalign retry` reads), exactly as `dbt run` leaves it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: dbt's name for its saved parse inside a target directory.
PARTIAL_PARSE_FILE = "partial_parse.msgpack"

#: The log record of a parse that started from a cached parse and kept it (dbt found nothing changed).
PARSE_CACHE_HIT = "dbt's parse reused the cached parse %s"

#: How many cached parses are kept per project; the least recently written beyond it are removed.
CACHE_FILES_PER_PROJECT = 16

#: How many projects keep cached parses; the least recently written beyond it are removed whole. Every
#: directory a project is parsed from is a project here (a shard's or a test's unpacked copy too), so
#: without a bound the cache would grow by a directory for each of them.
CACHE_PROJECTS = 32

_private_lock = threading.Lock()
_private: Path | None = None


def cache_root() -> Path:
    """The user's cache directory for planalign: `$XDG_CACHE_HOME/planalign`, else `~/.cache/planalign`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "planalign"


def private_dir() -> Path:
    """This process's own directory for dbt's target and logs, created on first use and removed at exit.

    One per process (not per run): the in-process invocations of concurrent runs share dbt's process-global
    flags, the target path among them (`planalign.dbt.isolation.slots`), so a per-run path would make the
    runs of one process wait for each other."""
    global _private
    with _private_lock:
        if _private is None or not _private.is_dir():
            _private = Path(tempfile.mkdtemp(prefix=f"planalign-dbt-{os.getpid()}-"))
            atexit.register(shutil.rmtree, _private, ignore_errors=True)
        return _private


@dataclass(frozen=True)
class DbtFiles:
    """The target and log paths of a set of dbt calls, and the partial-parse cache their parse uses.

    `partial_parse_cache` None: no cache (each parse in a new process parses everything)."""

    target_path: Path
    log_path: Path
    partial_parse_cache: Path | None = None

    @classmethod
    def private(cls, *, cache: bool = True) -> DbtFiles:
        """This process's private target and logs (`private_dir`), with the user's parse cache."""
        root = private_dir()
        return cls(
            target_path=root / "target",
            log_path=root / "logs",
            partial_parse_cache=cache_root() / "dbt-partial-parse" if cache else None,
        )

    def args(self) -> list[str]:
        """The dbt flags that send every file of a call here."""
        return ["--target-path", str(self.target_path), "--log-path", str(self.log_path)]

    def cache_file(self, project_dir: Path, common_args: Sequence[str]) -> Path | None:
        """The cached parse for this project and these arguments (vars, profile, target), or None."""
        if self.partial_parse_cache is None:
            return None
        digest = hashlib.sha256("\0".join(common_args).encode()).hexdigest()[:32]
        project = hashlib.sha256(str(project_dir.resolve()).encode()).hexdigest()[:16]
        return self.partial_parse_cache / project / f"{digest}.msgpack"

    def start_parse(self, cached: Path | None) -> Stamp:
        """Put the cached parse (if any) where dbt looks for it, the private target's
        `partial_parse.msgpack`, replacing what an earlier parse in this process left there (maybe of other
        vars); returns that file's stamp, for `publish_parse` to see whether dbt wrote a new one. A private
        copy, so that another process replacing or pruning the cache cannot pull it from under dbt. Call
        it under the parse lock."""
        saved = self.target_path / PARTIAL_PARSE_FILE
        saved.unlink(missing_ok=True)
        if cached is not None:
            try:
                self.target_path.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(cached, saved)
            except FileNotFoundError:
                pass  # nothing cached yet: a full parse
            except OSError as exc:
                logger.warning("dbt's cached parse %s not read (a full parse follows): %s", cached, exc)
                saved.unlink(missing_ok=True)
        return _stamp(saved)

    def publish_parse(self, cached: Path | None, before: Stamp) -> None:
        """Copy the parse dbt just wrote into the cache, atomically (see the module docstring); nothing when
        dbt wrote none (it started from the cached parse and nothing had changed).

        A cache that cannot be written (read-only home, full disk) costs the next process a full parse, not
        the run: it is logged, not raised."""
        written = self.target_path / PARTIAL_PARSE_FILE
        if cached is not None and before is not None and _stamp(written) == before:
            logger.info(PARSE_CACHE_HIT, cached)
        if cached is None or _stamp(written) in (None, before):
            return
        staged: Path | None = None
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=".tmp-", delete=False) as tmp:
                staged = Path(tmp.name)
                with written.open("rb") as source:
                    shutil.copyfileobj(source, tmp)
            os.replace(staged, cached)
            staged = None
            _prune(cached.parent, keep=CACHE_FILES_PER_PROJECT)
            _prune_projects(cached.parent.parent, keep=CACHE_PROJECTS)
        except OSError as exc:
            logger.warning("dbt's parse not cached in %s (the next run parses in full): %s", cached, exc)
        finally:
            if staged is not None:
                with contextlib.suppress(OSError):
                    staged.unlink(missing_ok=True)


#: What tells one version of a file from another: (inode, size, mtime in ns); None when it does not exist.
Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _prune(directory: Path, *, keep: int) -> None:
    """Remove all but the `keep` most recently written cached parses (another process may prune too)."""
    entries = []
    for path in directory.glob("*.msgpack"):
        with contextlib.suppress(OSError):
            entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _prune_projects(root: Path, *, keep: int) -> None:
    """Remove the cached parses of all but the `keep` most recently written projects (directory mtime; a
    parse that only reads its cached file leaves it as it was). A process reading or writing one removed
    meanwhile parses in full or caches nothing (handled as a missing or an unwritable cache)."""
    try:
        children = list(root.iterdir())
    except OSError:
        return
    entries = []
    for path in children:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[keep:]:
        shutil.rmtree(path, ignore_errors=True)
