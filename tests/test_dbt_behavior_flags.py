"""The `behavior-flags-copy` speed-up (`planalign.dbt.isolation.speedups`): creating an adapter no longer
grows dbt-adapters' module-wide `DEFAULT_BASE_BEHAVIOR_FLAGS`, which made the n-th adapter of a process
render n flags (each with an `inspect.stack()`): quadratic with planalign's adapter per invocation on
PostgreSQL, whose adapter has a flag of its own. No dbt run."""

from __future__ import annotations

import types

import pytest


@pytest.fixture
def flags_list() -> types.ModuleType:
    from planalign.dbt.isolation import isolation_status

    assert "behavior-flags-copy" in isolation_status().speedups
    import dbt.adapters.base.impl as impl

    return impl


def _adapter_like() -> types.SimpleNamespace:
    """What the setter reads of an adapter: its own flags and its config (None: no project overrides)."""
    own = [{"name": "planalign_test_flag", "default": False, "docs_url": "https://example.invalid"}]
    return types.SimpleNamespace(_behavior_flags=own, config=None)


def test_setting_an_adapters_behavior_leaves_the_default_flags_alone(flags_list: types.ModuleType) -> None:
    defaults = flags_list.DEFAULT_BASE_BEHAVIOR_FLAGS
    before = list(defaults)
    setter = flags_list.BaseAdapter.__dict__["behavior"].fset
    for _ in range(3):  # three adapters
        adapter = _adapter_like()
        setter(adapter, defaults)
        names = [flag.name for flag in adapter._behavior._flags]
        assert names == [*(f["name"] for f in before), "planalign_test_flag"]
    assert defaults == before


def test_dbts_own_setter_grows_the_defaults(flags_list: types.ModuleType) -> None:
    """The defect the speed-up works around, shown on dbt's unpatched setter (on a copy of the list)."""
    from planalign.dbt.isolation._base import current_installation

    inst = current_installation()
    assert inst is not None
    original = next(v for owner, name, v in inst.patches if name == "behavior")
    shared = list(flags_list.DEFAULT_BASE_BEHAVIOR_FLAGS)
    for _ in range(3):
        original.fset(_adapter_like(), shared)
    assert len(shared) == len(flags_list.DEFAULT_BASE_BEHAVIOR_FLAGS) + 3
