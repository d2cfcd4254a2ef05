"""The `macro-namespace-flatten` speed-up: copy a context's macros into it with one dict merge per package
level, not one generator-driven search per macro.

Every Jinja context dbt builds for a node (two per model run: compile and execute; one per test) ends in
dbt-core's `dbt.context.manifest.ManifestContext.to_dict`, which copies the context's `MacroNamespace` (every
macro of the project, its packages and dbt's own, ~580 for the shipped project) into the context dict with
`dct.update(self.namespace)`. `MacroNamespace` is a `Mapping`, not a dict, so that update looks each key up
through `MacroNamespace.__getitem__`, which restarts the generator `_search_order()` (local package, root
package, packages, `{"dbt": dbt's macros}`, the internal packages) and tests the key against each level in
turn: ~580 generator walks per context, ~300,000 per two simulated years of a 300-employee simulation —
measured (issue #25, docs/benchmarks.md "Per model run on small data"), about a tenth of dbt's CPU per
model run.

The replacement gives the context the same entries: it merges the levels of `_search_order()` into one dict
from the last level to the first (so, as in `__getitem__`, the first level holding a key wins) and then
copies `{key: merged[key]}` in the namespace's own iteration order (`__iter__`, the keys of all levels), so
the context dict gets the same keys, values and insertion order as before. Only for a namespace of exactly
`MacroNamespace` (a subclass may search differently); dbt's `TestMacroNamespace` branch and anything else are
left as dbt-core wrote them. Relies on `MacroNamespace.__getitem__` searching `_search_order()` and
`__iter__` iterating `_keys()` (the union of the same levels), both verified by `check()` by the names
their code uses.
"""

from __future__ import annotations

from typing import Any

from planalign.dbt.isolation._base import Installation, missing_assignments, missing_attrs


def check() -> list[str]:
    from dbt.context import manifest
    from dbt.context.macros import MacroNamespace

    problems = missing_attrs(manifest.ManifestContext, ("to_dict",), own=True)
    problems += missing_attrs(manifest, ("TestMacroNamespace",))
    problems += missing_attrs(MacroNamespace, ("_search_order", "_keys", "__getitem__", "__iter__"), own=True)
    if problems:
        return problems
    problems += missing_assignments(
        MacroNamespace.__getitem__, ("_search_order",), where="MacroNamespace.__getitem__"
    )
    problems += missing_assignments(MacroNamespace.__iter__, ("_keys",), where="MacroNamespace.__iter__")
    problems += missing_assignments(MacroNamespace._keys, ("_search_order",), where="MacroNamespace._keys")
    problems += missing_assignments(
        manifest.ManifestContext.to_dict, ("namespace", "update", "TestMacroNamespace"), where="to_dict"
    )
    return problems


def flattened(namespace: Any) -> dict[str, Any]:
    """`{key: namespace[key] for key in namespace}` of a `MacroNamespace`, in one merge per search level."""
    merged: dict[str, Any] = {}
    for level in reversed(list(namespace._search_order())):
        merged.update(level)
    return {key: merged[key] for key in namespace}


def install(inst: Installation) -> None:
    from dbt.context import manifest
    from dbt.context.macros import MacroNamespace

    context_class = manifest.ManifestContext
    original = context_class.__dict__["to_dict"]

    def to_dict(self: Any) -> Any:
        if type(self.namespace) is not MacroNamespace:
            return original(self)
        dct = super(context_class, self).to_dict()
        dct.update(flattened(self.namespace))
        return dct

    inst.patch(context_class, "to_dict", to_dict)
