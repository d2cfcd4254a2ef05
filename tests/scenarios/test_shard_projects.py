"""The shard's unpacked dbt project shared per bundle content (`planalign.scenarios.shard_projects`): the
same bundle reuses one directory, a different or tampered bundle never uses another's, a half-unpacked
directory is never used, and the cache is bounded. The real-dbt proof that a second shard's parse then hits
dbt's parse cache is in test_sharding (`test_a_sharded_sweep_equals_the_one_pass_sweep_member_by_member`,
local executor). Pure file operations: no dbt."""

from __future__ import annotations

import fcntl
import io
import os
import tarfile
from pathlib import Path
from typing import Any

from planalign.dbt.parse_vars import stand_in_leaks
from planalign.scenarios import shard_projects
from planalign.scenarios.scenario_file import load_scenario_file
from planalign.scenarios.shard_projects import bundle_digest, prune, shared_project
from planalign.scenarios.shard_task import make_bundle
from planalign.scenarios.sweep import plan_sweep

from .conftest import ScenarioWriter


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"project/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


PROJECT = {"dbt_project.yml": "name: p\n", "models/a.sql": "select 1 as x\n"}


def test_one_bundle_is_unpacked_once_and_shared(tmp_path: Path) -> None:
    root, tar = tmp_path / "cache", _tar(PROJECT)
    with shared_project(tar, tmp_path / "private1", root) as first:
        assert first == root / bundle_digest(tar)
        inode = (first / "project" / "models" / "a.sql").stat().st_ino
        # A second shard while the first still runs: the same directory, not unpacked again.
        with shared_project(tar, tmp_path / "private2", root) as second:
            assert second == first
            assert (second / "project" / "models" / "a.sql").stat().st_ino == inode
    assert (first / "project" / "dbt_project.yml").read_text() == "name: p\n"
    assert not (tmp_path / "private1").exists() and not (tmp_path / "private2").exists()
    assert [p.name for p in root.iterdir()] == [first.name]  # no staging directory left behind


def test_a_different_bundle_gets_its_own_directory(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    other = _tar({**PROJECT, "models/a.sql": "select 2 as x\n"})
    with (
        shared_project(_tar(PROJECT), tmp_path / "p1", root) as one,
        shared_project(other, tmp_path / "p2", root) as two,
    ):
        assert one != two
        assert (two / "project" / "models" / "a.sql").read_text() == "select 2 as x\n"
        assert (one / "project" / "models" / "a.sql").read_text() == "select 1 as x\n"


def test_a_tampered_directory_is_never_used_and_is_replaced(tmp_path: Path) -> None:
    root, tar = tmp_path / "cache", _tar(PROJECT)
    with shared_project(tar, tmp_path / "p1", root) as directory:
        pass
    (directory / "project" / "models" / "a.sql").write_text("select 666 as x\n")  # changed on disk
    with shared_project(tar, tmp_path / "p2", root) as again:
        assert (again / "project" / "models" / "a.sql").read_text() == "select 1 as x\n"
    assert again == directory  # the bad one removed (nobody used it) and unpacked afresh
    (directory / "project" / "models" / "extra.sql").write_text("select 3\n")  # a file added
    with shared_project(tar, tmp_path / "p3", root) as third:
        assert not (third / "project" / "models" / "extra.sql").exists()


def test_a_tampered_directory_in_use_is_left_alone_and_the_shard_unpacks_privately(tmp_path: Path) -> None:
    root, tar = tmp_path / "cache", _tar(PROJECT)
    with shared_project(tar, tmp_path / "p1", root) as directory:
        (directory / "project" / "models" / "a.sql").write_text("select 666 as x\n")
        with shared_project(tar, tmp_path / "p2", root) as mine:
            assert mine == tmp_path / "p2"
            assert (mine / "project" / "models" / "a.sql").read_text() == "select 1 as x\n"
        assert directory.exists()  # the other shard still holds it


def test_a_half_unpacked_directory_is_never_used_and_is_pruned(tmp_path: Path, monkeypatch: Any) -> None:
    root, tar = tmp_path / "cache", _tar(PROJECT)
    # A shard killed mid-unpack leaves its staging directory (lock free) — and a directory with the final
    # name but no listing (not ours): neither is used.
    staging = root / ".unpacking-abc"
    (staging / "project").mkdir(parents=True)
    (staging / ".planalign-project.lock").touch()
    half = root / bundle_digest(tar)
    (half / "project").mkdir(parents=True)
    (half / ".planalign-project.lock").touch()
    with shared_project(tar, tmp_path / "p1", root) as directory:
        assert directory == half
        assert (directory / "project" / "dbt_project.yml").is_file()
    assert not staging.exists()  # pruned after the unpack


def test_an_unpack_in_progress_is_not_pruned(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    staging = root / ".unpacking-live"
    staging.mkdir(parents=True)
    with (staging / ".planalign-project.lock").open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        assert prune(root) == []
    assert staging.exists()


def test_the_cache_keeps_the_most_recently_used_projects_and_none_in_use(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    tars = [_tar({**PROJECT, "n.txt": str(n)}) for n in range(4)]
    with shared_project(tars[0], tmp_path / "p0", root) as in_use:
        for number, tar in enumerate(tars[1:], start=1):
            with shared_project(tar, tmp_path / f"p{number}", root):
                pass
            os.utime(root / bundle_digest(tar), ns=(number * 10**9, number * 10**9))
        os.utime(in_use, ns=(0, 0))  # the oldest, but held by a running shard
        removed = prune(root, keep=2)
    assert sorted(p.name for p in removed) == [bundle_digest(tars[1])]
    assert sorted(p.name for p in root.iterdir()) == sorted(
        bundle_digest(t) for t in (tars[0], tars[2], tars[3])
    )


def test_an_unwritable_cache_falls_back_to_a_private_unpack(tmp_path: Path, monkeypatch: Any) -> None:
    root = tmp_path / "cache"
    root.write_text("not a directory")
    with shared_project(_tar(PROJECT), tmp_path / "private", root) as directory:
        assert directory == tmp_path / "private"
        assert (directory / "project" / "dbt_project.yml").is_file()
    assert shard_projects.KEEP >= 2


class _Node:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def to_dict(self, omit_none: bool = True) -> dict[str, Any]:
        return self.state


class _Manifest:
    def __init__(self, nodes: dict[str, _Node]) -> None:
        self.nodes = nodes
        self.sources: dict[str, _Node] = {}


def test_a_parse_that_keeps_another_shards_member_is_a_leak() -> None:
    """A shard parses with the first shard's `scenarios` var: a parse whose kept state (not its raw SQL)
    names one of those other members is not this shard's parse, and is done again with its own vars."""
    manifest = _Manifest(
        {
            "model.p.a": _Node({"raw_code": "{{ var('scenarios') }} baseline__s42", "config": {}}),
            "model.p.b": _Node({"config": {"meta": {"ids": ["baseline__s42"]}}}),
        }
    )
    assert stand_in_leaks(manifest, ("baseline__s42",)) == ["model.p.b"]
    assert stand_in_leaks(manifest, ("baseline__s7",)) == []


def test_one_project_gives_one_bundle_whenever_it_is_made(
    write_scenarios: ScenarioWriter, monkeypatch: Any
) -> None:
    """The bundle's bytes depend on the project only (not on the clock gzip would stamp), so sweeps made at
    different times share the unpacked directory, and with it the cached parse."""
    import time

    plan = plan_sweep(load_scenario_file(write_scenarios("name: s\nscenarios: {}\nseeds: [1, 2]\n")))
    first = make_bundle(plan.config)
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert make_bundle(plan.config).project_tar == first.project_tar
    with tarfile.open(fileobj=io.BytesIO(first.project_tar), mode="r:gz") as tar:
        assert "project/dbt_project.yml" in tar.getnames()
