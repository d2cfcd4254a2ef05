"""The `adapter-reuse` pool's rules without a server (planalign.dbt.isolation.adapter_reuse): what is parked,
what is dropped, that a parked adapter has left its invocation's registry and goes to one taker only, and
that the gate check names a changed dbt internal. The real-dbt behaviour is in
tests/engine_real/test_adapter_reuse.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from planalign.dbt.isolation import adapter_reuse, hooks
from planalign.dbt.isolation._base import Installation
from planalign.engine.invocation import InvocationScope, use_scope


@dataclass
class FakeAdapter:
    kind: str = "postgres"
    key: str = "k"
    connections: Any = field(
        default_factory=lambda: SimpleNamespace(lock=threading.Lock(), thread_connections={})
    )
    config: Any = None
    cache: Any = field(default_factory=lambda: SimpleNamespace(clear=lambda: None))

    def __post_init__(self) -> None:
        self.config = SimpleNamespace(credentials=SimpleNamespace(type=self.kind), key=self.key)


class Context:
    """Stands in for dbt's InvocationContext (a weak-referenceable registry key)."""


@pytest.fixture
def inst(monkeypatch: pytest.MonkeyPatch) -> Installation:
    installation = Installation()
    monkeypatch.setattr(adapter_reuse, "_INSTALLED", {installation})
    monkeypatch.setattr(adapter_reuse, "_key", lambda config: config.key)
    return installation


def _register(inst: Installation, *adapters: FakeAdapter) -> Context:
    context = Context()
    inst.registry[context] = {a.kind: a for a in adapters}
    return context


def test_a_clean_invocation_parks_its_server_adapter_after_leaving_its_registry(inst: Installation) -> None:
    scope = InvocationScope(label="t")
    pg, duck = FakeAdapter(), FakeAdapter(kind="duckdb")
    context = _register(inst, pg, duck)
    with use_scope(scope):
        assert adapter_reuse.finish_invocation(inst, context, clean=True) == 1
        assert inst.registry[context] == {"duckdb": duck}  # DuckDB's is never pooled
        assert adapter_reuse.parked_adapters(scope) == 1
        taken = adapter_reuse._take(SimpleNamespace(credentials=SimpleNamespace(type="postgres"), key="k"))
        assert taken is pg
        assert (
            adapter_reuse._take(SimpleNamespace(credentials=SimpleNamespace(type="postgres"), key="k"))
            is None
        )


@pytest.mark.parametrize(
    "case", ["unclean", "connection left", "scope stopped", "outside a run", "other key"]
)
def test_anything_unusual_drops_the_adapter(inst: Installation, case: str) -> None:
    scope = InvocationScope(label="t")
    adapter = FakeAdapter()
    if case == "connection left":
        adapter.connections.thread_connections[1] = object()
    context = _register(inst, adapter)
    if case == "scope stopped":
        scope.stop()
    if case == "outside a run":
        assert adapter_reuse.finish_invocation(inst, context, clean=True) == 0
        return
    with use_scope(scope):
        parked = adapter_reuse.finish_invocation(inst, context, clean=case != "unclean")
        assert inst.registry[context] == {}  # gone from the registry either way: a late stop reaches nothing
        config = SimpleNamespace(credentials=SimpleNamespace(type="postgres"), key="other")
        if case == "other key":
            assert parked == 1 and adapter_reuse._take(config) is None
        else:
            assert parked == 0 and adapter_reuse.parked_adapters(scope) == 0


def test_the_gate_check_names_a_changed_hook_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    assert adapter_reuse.check() == []

    def safe_run_hooks(self: Any, adapter: Any, hook_type: Any, extra_context: Any) -> None:
        """dbt no longer clearing the transaction here: skipping the phase would no longer be equivalent."""

    monkeypatch.setattr(hooks, "dbt_safe_run_hooks", lambda: safe_run_hooks)
    assert any("clear_transaction" in p for p in adapter_reuse.check())
