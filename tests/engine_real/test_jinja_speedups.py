"""The `jinja-compile-cache` and `macro-namespace-flatten` speed-ups (issue #25, session 6) against the real
dbt-common and dbt-core: the same templates, output and context entries as dbt's own code, with fewer
compiles. No dbt build: both act on Jinja and dbt's context classes directly, which is where they could go
wrong (a shared compiled template leaking state, a macro of the wrong package winning). The simulation's
tables with both installed were compared with the tables without them (docs/benchmarks.md, "Per model run on
small data": every table identical).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jinja2
import pytest

from planalign.dbt import isolation
from planalign.dbt.isolation import _base, jinja_cache, namespace_flatten


@pytest.fixture(scope="module")
def installed() -> isolation.IsolationStatus:
    status = isolation.install()
    assert status.available, status.reason
    return status


def _original(owner: Any, name: str) -> Any:
    """The attribute the installation replaced (its `patches` keep each original)."""
    inst = _base.current_installation()
    assert inst is not None
    for patched_owner, patched_name, value in inst.patches:
        if patched_owner is owner and patched_name == name:
            return value
    raise AssertionError(f"{name} was not patched")


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every source dbt's Jinja environments compile, in order."""
    seen: list[str] = []
    real = jinja2.Environment.compile

    def counting(self: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(source))
        return real(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    yield seen


def test_both_speedups_are_installed(installed: isolation.IsolationStatus) -> None:
    assert {"jinja-compile-cache", "macro-namespace-flatten"} <= set(installed.speedups)
    assert not installed.skipped_speedups


TEMPLATES = [
    ("{{ x + 1 }}", {"x": 1}),
    ("{% set rows = [] %}{% for i in range(x) %}{% do rows.append(i) %}{% endfor %}{{ rows }}", {"x": 3}),
    ("{% for c in x %}{{ loop.index }}:{{ c | upper }}{{ ';' if not loop.last }}{% endfor %}", {"x": "ab"}),
    ("select {{ cols | join(', ') }} from t {% if w %}where {{ w }}{% endif %}", {"cols": ["a"], "w": "b"}),
]


@pytest.mark.parametrize(("source", "ctx"), TEMPLATES)
def test_cached_templates_render_as_dbt_renders_them(
    installed: isolation.IsolationStatus, source: str, ctx: dict[str, Any]
) -> None:
    import dbt_common.clients.jinja as cj

    for native in (False, True):
        expected = cj.get_environment(None, False, native=native).from_string(source, globals=ctx).render({})
        for _ in range(2):  # a miss, then a hit
            assert cj.get_template(source, ctx, native=native).render({}) == expected


def test_a_source_is_compiled_once_and_its_templates_share_nothing(
    installed: isolation.IsolationStatus, compiles: list[str]
) -> None:
    import dbt.clients.jinja as dbt_jinja
    import dbt_common.clients.jinja as cj

    source = "{% set seen = [] %}{% do seen.append(x) %}{{ seen }} {{ x * 2 }} once-only-source"
    first = cj.get_template(source, {"x": 1})
    second = vars(dbt_jinja)["get_template"](source, {"x": 5})  # dbt-core's own import of the function
    assert compiles.count(source) == 1
    assert first.render({}) == "[1] 2 once-only-source"
    assert second.render({}) == "[5] 10 once-only-source"
    assert first.render({}) == "[1] 2 once-only-source"  # each template keeps its own globals and state
    assert first is not second and first.environment is not second.environment


def test_a_source_that_fails_to_compile_fails_every_time(
    installed: isolation.IsolationStatus, compiles: list[str]
) -> None:
    import dbt_common.clients.jinja as cj
    from dbt_common.exceptions import CompilationError

    source = "{% if x %}never closed"
    for _ in range(2):
        with pytest.raises(CompilationError, match="endif"):
            cj.get_template(source, {})
    assert compiles.count(source) == 2


def test_parse_time_and_debugging_calls_are_not_cached(
    installed: isolation.IsolationStatus, compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dbt_common.clients.jinja as cj

    source = "{{ y }} capture-macros-source"
    for _ in range(2):
        cj.get_template(source, {"y": 1}, capture_macros=True)
    assert compiles.count(source) == 2

    monkeypatch.setattr(cj, "MACRO_DEBUGGING", "yes")
    source = "{{ y }} macro-debugging-source"
    for _ in range(2):
        assert cj.get_template(source, {"y": 2}).render({}) == "2 macro-debugging-source"
    assert compiles.count(source) == 2


def test_the_key_names_what_compilation_reads(installed: isolation.IsolationStatus) -> None:
    import dbt_common.clients.jinja as cj

    text, native = cj.get_environment(), cj.get_environment(native=True)
    assert jinja_cache.compile_key(text, "s") == jinja_cache.compile_key(cj.get_environment(), "s")
    assert jinja_cache.compile_key(text, "s") != jinja_cache.compile_key(native, "s")
    assert jinja_cache.compile_key(text, "s") != jinja_cache.compile_key(text, "t")
    other_filter = cj.get_environment()
    other_filter.filters["upper"] = lambda value: value
    assert jinja_cache.compile_key(text, "s") != jinja_cache.compile_key(other_filter, "s")
    trimmed = cj.get_environment()
    trimmed.trim_blocks = True
    assert jinja_cache.compile_key(text, "s") != jinja_cache.compile_key(trimmed, "s")


# ------------------------------------------------------------------------------------ namespace flatten


def _namespace() -> Any:
    """A `MacroNamespace` whose levels overlap: each key's winner is the first level in dbt's search order
    (local package, root package, packages, {"dbt": ...}, internal packages) that holds it."""
    from dbt.context.macros import MacroNamespace

    levels: dict[str, Any] = {  # strings stand in for the MacroGenerators
        "global_namespace": {"shared": "root", "root_only": "root", "both": "root"},
        "local_namespace": {"shared": "local", "local_only": "local"},
        "global_project_namespace": {"shared": "internal", "both": "internal", "internal_only": "internal"},
        "packages": {"pkg": {"m": "pkg.m"}, "dbt": {"m": "shadowed"}},
    }
    return MacroNamespace(**levels)


def test_flattened_gives_what_the_mapping_gives_in_its_order() -> None:
    namespace = _namespace()
    expected: dict[str, Any] = {}
    expected.update(namespace)  # dbt-core's own copy: one __getitem__ per key
    flat = namespace_flatten.flattened(namespace)
    assert list(flat.items()) == list(expected.items())
    assert flat["shared"] == "local" and flat["both"] == "root" and flat["internal_only"] == "internal"
    assert flat["dbt"] is namespace.packages["dbt"]  # the packages level comes before {"dbt": ...}


def _context(namespace: Any) -> Any:
    from dbt.context.manifest import ManifestContext

    context = object.__new__(ManifestContext)  # only what to_dict reads
    context._ctx = {"before": 1}
    context.namespace = namespace
    setattr(context, "generate_builtins", lambda: {"builtin": 2, "shared": "builtin"})  # noqa: B010
    return context


def test_to_dict_gives_the_context_dbt_gives(installed: isolation.IsolationStatus) -> None:
    from dbt.context.macros import MacroNamespace
    from dbt.context.manifest import ManifestContext

    original = _original(ManifestContext, "to_dict")
    assert ManifestContext.to_dict is not original
    ours, theirs = _context(_namespace()), _context(_namespace())
    ours_dict, theirs_dict = ours.to_dict(), original(theirs)
    assert list(ours_dict) == list(theirs_dict)
    assert all(ours_dict[k] == theirs_dict[k] for k in ours_dict if k not in ("context",))
    assert ours_dict["context"] is ours_dict and ours_dict["shared"] == "local"

    class Searching(MacroNamespace):  # a subclass may search otherwise: left to dbt-core's code
        def __getitem__(self, key: str) -> Any:
            return "subclass"

    plain = _namespace()
    special = Searching(
        plain.global_namespace, plain.local_namespace, plain.global_project_namespace, plain.packages
    )
    assert _context(special).to_dict()["shared"] == "subclass"
