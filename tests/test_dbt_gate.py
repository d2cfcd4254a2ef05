"""The isolation gate, without running dbt: on the pinned versions everything installs; any of the four
packages outside its series, or any patched internal missing, fails the gate with a reason naming it; a
skipped speed-up or batch stop is a WARNING with its reason; the caches are bounded; an invocation's
exception keeps its traceback; extra run flags separate invocation slots."""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from planalign.dbt import isolation as dbt_isolation
from planalign.dbt.isolation import gate, nodes, speedups
from planalign.dbt.isolation._base import LRUCache, PerObjectCache, current_installation

REAL_VERSIONS = gate.detect_versions()


@pytest.fixture(autouse=True)
def fresh_gate() -> Iterator[None]:
    """Each test decides the gate from scratch; the process is left as it was found."""
    was_installed = gate._status is not None
    dbt_isolation.uninstall()
    yield
    dbt_isolation.uninstall()
    if was_installed:
        assert dbt_isolation.install().available


def test_everything_installs_on_the_pinned_versions() -> None:
    status = dbt_isolation.install()
    assert status.available, status.reason
    assert status.batch_stop and status.batch_stop_reason == ""
    assert status.speedups == tuple(s.name for s in speedups.SPEEDUPS)
    assert status.skipped_speedups == ()
    assert (status.dbt_version, status.dbt_duckdb_version) == (
        REAL_VERSIONS.dbt_core,
        REAL_VERSIONS.dbt_duckdb,
    )
    assert (status.dbt_adapters_version, status.dbt_common_version) == (
        REAL_VERSIONS.dbt_adapters,
        REAL_VERSIONS.dbt_common,
    )


def test_the_pins_match_the_supported_series() -> None:
    """requirements.lock pins one version of each package, inside the series the gate accepts."""
    lock = (Path(__file__).parents[1] / "requirements.lock").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lock if "==" in line)
    for package, series in gate.SUPPORTED_SERIES.items():
        assert ".".join(pins[package].split(".")[:2]) in series, package
    assert gate.version_problems(REAL_VERSIONS) == []


@pytest.mark.parametrize(
    ("field", "package"),
    [
        ("dbt_core", "dbt-core"),
        ("dbt_duckdb", "dbt-duckdb"),
        ("dbt_adapters", "dbt-adapters"),
        ("dbt_common", "dbt-common"),
    ],
)
def test_a_package_outside_its_series_fails_the_gate(
    field: str, package: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    other = dataclasses.replace(REAL_VERSIONS, **{field: "9.98.0"})
    monkeypatch.setattr(gate, "detect_versions", lambda: other)
    with caplog.at_level(logging.WARNING, logger="planalign.dbt.isolation"):
        status = dbt_isolation.install()
    assert not status.available
    supported = ", ".join(f"{s}.x" for s in sorted(gate.SUPPORTED_SERIES[package]))
    assert status.reason == f"{package} 9.98.0 is not a supported version ({supported})"
    assert any("unavailable" in r.getMessage() and package in r.getMessage() for r in caplog.records)
    assert current_installation() is None  # nothing patched


def test_a_missing_adapter_internal_fails_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    from dbt.task.runnable import GraphRunnableTask

    monkeypatch.delattr(GraphRunnableTask, "_pool_thread_initializer")
    status = dbt_isolation.install()
    assert not status.available
    assert "GraphRunnableTask._pool_thread_initializer is missing" in status.reason


def test_a_missing_duckdb_internal_fails_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    monkeypatch.delattr(DuckDBConnectionManager, "close_all_connections")
    status = dbt_isolation.install()
    assert not status.available
    assert "DuckDBConnectionManager.close_all_connections is missing" in status.reason


def test_a_renamed_node_field_fails_the_gate_and_refuses_to_reset_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The "wrong tables, no error" case: a compiler field renamed upstream would no longer be reset."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.contracts.graph.nodes import CompiledNode

    fields = {k: v for k, v in CompiledNode.__dataclass_fields__.items() if k != "extra_ctes_injected"}
    monkeypatch.setattr(CompiledNode, "__dataclass_fields__", fields)
    status = dbt_isolation.install()
    assert not status.available
    assert "CompiledNode has no field 'extra_ctes_injected'" in status.reason
    # Serialized invocations reuse the manifest too: they must not run on a reset that no longer resets.
    with (
        pytest.raises(RuntimeError, match="extra_ctes_injected"),
        dbt_isolation.exclusive_nodes(Manifest(), "model.x.y"),
    ):
        pass


def test_a_compiler_that_no_longer_writes_the_reset_state_fails_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt.compilation import Compiler

    monkeypatch.setattr(Compiler, "_recursively_prepend_ctes", lambda self, model, manifest, extra: model)
    status = dbt_isolation.install()
    assert not status.available
    assert "Compiler._recursively_prepend_ctes no longer sets 'extra_ctes_injected'" in status.reason


def test_a_skipped_speedup_is_a_warning_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dbt.compilation import Compiler

    def compile(self: object, manifest: object) -> object:  # a dbt whose compile takes other arguments
        raise AssertionError("not called")

    monkeypatch.setattr(Compiler, "compile", compile)
    with caplog.at_level(logging.WARNING, logger="planalign.dbt.isolation"):
        status = dbt_isolation.install()
    assert status.available
    assert "graph-cache" not in status.speedups
    (skipped,) = status.skipped_speedups
    assert skipped[0] == "graph-cache" and "Compiler.compile no longer takes 'write'" in skipped[1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "graph-cache" in r.getMessage()]
    assert warnings and "no longer takes 'write'" in warnings[0].getMessage()
    described = status.describe()["speedups"]["graph-cache"]
    assert described["installed"] is False and "write" in described["reason"]


def test_without_the_batch_stop_it_is_a_warning_and_one_model_per_invocation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dbt.task.base import BaseRunner

    from planalign.dbt.invoker import batch_limit

    monkeypatch.setattr(BaseRunner, "do_skip", lambda self: None)
    with caplog.at_level(logging.WARNING, logger="planalign.dbt.isolation"):
        status = dbt_isolation.install()
    assert status.available and not status.batch_stop
    assert "BaseRunner.do_skip no longer takes 'cause'" in status.batch_stop_reason
    assert any("batch stop not installed" in r.getMessage() for r in caplog.records)
    assert batch_limit(status) == 1


def test_uninstall_restores_dbt() -> None:
    import dbt.adapters.factory as factory_mod
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.task.runnable import GraphRunnableTask

    before = (
        type(factory_mod.FACTORY),
        DuckDBConnectionManager.__dict__["open"],
        GraphRunnableTask.call_runner,
    )
    assert dbt_isolation.install().available
    assert type(factory_mod.FACTORY) is not before[0]
    dbt_isolation.uninstall()
    after = (
        type(factory_mod.FACTORY),
        DuckDBConnectionManager.__dict__["open"],
        GraphRunnableTask.call_runner,
    )
    assert after == before


def test_the_status_as_info_shows_versions_batch_stop_and_each_speedup() -> None:
    described = dbt_isolation.install().describe()
    assert described["available"] is True and described["batch_stop"] is True
    assert described["versions"] == REAL_VERSIONS.by_package()
    assert set(described["speedups"]) == {s.name for s in speedups.SPEEDUPS}
    assert all(s == {"installed": True, "reason": None} for s in described["speedups"].values())


# ------------------------------------------------------------------------------------------ bounded caches


class Thing:
    """Stands for a dbt `Manifest`: weak-referenceable, compared by identity."""

    def __init__(self) -> None:
        self.nodes: dict[str, object] = {}


def test_lru_cache_keeps_only_the_most_recently_used() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache["c"] = 3
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_per_object_cache_drops_an_entry_with_its_object_and_is_bounded() -> None:
    cache: PerObjectCache[str] = PerObjectCache(maxsize=2)
    first, second, third = Thing(), Thing(), Thing()
    assert cache.setdefault(first, lambda: "1") == "1"
    assert cache.setdefault(first, lambda: "other") == "1"
    cache.setdefault(second, lambda: "2")
    del first
    gc.collect()
    assert len(cache) == 1 and cache.get(second) == "2"
    cache.setdefault(third, lambda: "3")
    cache.setdefault(Thing(), lambda: "4")  # over the bound: the least recently used (second) goes
    assert cache.get(second) is None and cache.get(third) == "3"


def test_the_installations_caches_are_bounded() -> None:
    assert dbt_isolation.install().available
    inst = current_installation()
    assert inst is not None
    assert inst.graphs.maxsize is not None and inst.known_schemas.maxsize and inst.applied_to.maxsize


def test_node_locks_live_as_long_as_their_manifest() -> None:
    gc.collect()
    before = nodes.locked_manifest_count()
    manifests = [Thing() for _ in range(5)]
    for manifest in manifests:
        with dbt_isolation.exclusive_nodes(manifest, ["model.p.a", "model.p.b"]):
            pass
    assert nodes.locked_manifest_count() == before + 5
    del manifests, manifest
    gc.collect()
    assert nodes.locked_manifest_count() == before


# ---------------------------------------------------------------------------------------------- invoker


def _invoker(tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from dbt.contracts.graph.manifest import Manifest

    from planalign.dbt.invoker import DbtInvoker
    from planalign.engine.nodes import ProjectManifest

    manifest = ProjectManifest(project_dir=tmp_path, nodes={}, dbt_manifest=Manifest())
    return DbtInvoker(tmp_path, None, None, manifest, **kwargs)  # type: ignore[arg-type]


def test_extra_run_flags_are_part_of_the_slot_key(tmp_path: Path) -> None:
    from planalign.dbt.invoker import FAST_RUN_FLAGS

    fast = _invoker(tmp_path)
    cached = _invoker(tmp_path, extra_run_flags=[f for f in FAST_RUN_FLAGS if f != "--no-populate-cache"])
    assert fast._slot_key("run") == _invoker(tmp_path)._slot_key("run")
    assert fast._slot_key("run") != cached._slot_key("run")


def test_an_invocation_that_raises_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from planalign.dbt.invoker import TRACEBACK_LOGGER
    from planalign.engine.invocation import OutcomeStatus
    from planalign.engine.nodes import ManifestNode

    invoker = _invoker(tmp_path)

    def exploding_invoke(*args: object, **kwargs: object) -> object:
        raise KeyError("deep inside dbt")

    monkeypatch.setattr(invoker, "_invoke", exploding_invoke)
    node = ManifestNode(unique_id="model.p.a", name="a", resource_type="model", package_name="p")
    with caplog.at_level(logging.DEBUG, logger=TRACEBACK_LOGGER):
        outcome = invoker.run_model(node, vars={})
    assert outcome.status is OutcomeStatus.ERROR
    assert outcome.message == "dbt invocation raised: KeyError('deep inside dbt')"
    assert outcome.traceback is not None
    assert "exploding_invoke" in outcome.traceback and "KeyError: 'deep inside dbt'" in outcome.traceback
    assert any("exploding_invoke" in r.getMessage() for r in caplog.records if r.name == TRACEBACK_LOGGER)
