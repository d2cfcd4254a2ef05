"""The `jinja-compile-cache` speed-up: compile each Jinja source text once per process, not once per use.

dbt renders every node's SQL, every config value with Jinja in it and every macro through dbt-common's
`dbt_common.clients.jinja.get_template(string, ctx, node, capture_macros, native)`, which builds a new
environment (`get_environment`) and calls its `from_string(string, globals=ctx)`: Jinja lexes, parses,
generates Python source and byte-compiles the text every time. dbt-common caches macro templates
(`template_cache`), but not the rest: a simulation renders the same ~50 model bodies every year and the same
one-line generic-test body (`{{ test_not_null(**_dbt_generic_test_kwargs) }}`) for dozens of tests, each
compiled anew — measured (issue #25, docs/benchmarks.md "Per model run on small data"), template compiles
were about a sixth of dbt's CPU per model run.

The replacement does what `get_template` does — the same `get_environment(node, capture_macros, native)`,
the same `catch_jinja(node)` around it, and `from_string`'s own three steps (`make_globals(ctx)`,
`compile(source)`, `template_class.from_code(env, code, globals, None)`, verified to be what
`jinja2.Environment.from_string` calls) — but takes the code object of `compile(source)` from a cache keyed
by the source text and everything of the environment that compilation reads: its class (the native
environment has its own code generator), parser and code-generator classes, extensions, filters and tests
(Jinja resolves them by name at compile time), lexer settings and `undefined` class. A code object is what
Jinja's own bytecode cache stores and re-executes: `from_code` runs it in a fresh namespace for each
template, so templates built from one code object share nothing mutable. A source that fails to compile
raises as before and is not cached. Not used with `capture_macros` (the parse's static analysis, whose
environments each get an `undefined` class of their own) nor when dbt-common's `MACRO_DEBUGGING` is on
(that path writes each compiled source to linecache or disk). The cache holds at most `JINJA_CACHE_SIZE`
code objects.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from planalign.dbt.isolation._base import (
    Installation,
    LRUCache,
    missing_assignments,
    missing_attrs,
    missing_parameters,
)

#: How many compiled sources the cache keeps (a project's model bodies, test bodies and config strings: the
#: shipped project uses about 700; a long-lived process may serve several projects).
JINJA_CACHE_SIZE = 8192

#: The modules that call dbt-common's `get_template` by a name of their own (each is patched).
GET_TEMPLATE_USERS: tuple[str, ...] = ("dbt_common.clients.jinja", "dbt.clients.jinja")

#: Environment settings the lexer, parser and code generator read (all set in `jinja2.Environment.__init__`).
_ENV_SETTINGS: tuple[str, ...] = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "autoescape",
    "is_async",
    "undefined",
)


def check() -> list[str]:
    import importlib

    import dbt_common.clients.jinja as common_jinja
    import jinja2

    problems = missing_attrs(common_jinja, ("get_environment", "catch_jinja", "MACRO_DEBUGGING"))
    for module in GET_TEMPLATE_USERS:
        mod = importlib.import_module(module)
        problems += missing_attrs(mod, ("get_template",), own=True)
        if not problems and vars(mod)["get_template"] is not vars(common_jinja)["get_template"]:
            problems.append(f"{module}.get_template is not dbt-common's get_template")
    if problems:
        return problems
    problems += missing_parameters(
        common_jinja.get_template,
        ("string", "ctx", "node", "capture_macros", "native"),
        where="dbt_common.clients.jinja.get_template",
    )
    problems += missing_assignments(
        common_jinja.get_template, ("get_environment", "catch_jinja", "from_string"), where="get_template"
    )
    problems += missing_attrs(jinja2.Environment, ("from_string", "compile", "make_globals"))
    problems += missing_assignments(
        jinja2.Environment.from_string,
        ("make_globals", "compile", "from_code", "template_class"),
        where="jinja2.Environment.from_string",
    )
    problems += missing_attrs(jinja2.Template, ("from_code",))
    probe = common_jinja.get_environment()
    for name in ("extensions", "filters", "tests", "code_generator_class", "_parse", *_ENV_SETTINGS):
        if not hasattr(probe, name):
            problems.append(f"a dbt Jinja environment has no {name!r}")
    return problems


def compile_key(env: Any, source: str) -> Hashable:
    """What a compiled `source` depends on, of `env`: see the module docstring. Filters and tests by name and
    identity (a different function under the same name may compile differently: Jinja reads how it takes its
    arguments)."""
    return (
        source,
        type(env),
        env.code_generator_class,
        tuple((name, type(ext)) for name, ext in sorted(env.extensions.items())),
        tuple((name, id(f)) for name, f in env.filters.items()),
        tuple((name, id(t)) for name, t in env.tests.items()),
        tuple(_setting(env, name) for name in _ENV_SETTINGS),
    )


def _setting(env: Any, name: str) -> Hashable:
    value = getattr(env, name)
    return value if isinstance(value, Hashable) else id(value)


def install(inst: Installation) -> None:
    import importlib

    import dbt_common.clients.jinja as common_jinja

    original = vars(common_jinja)["get_template"]
    cache: LRUCache[Hashable, Any] = LRUCache(JINJA_CACHE_SIZE)
    lock = threading.Lock()

    def get_template(
        string: Any, ctx: Any, node: Any = None, capture_macros: bool = False, native: bool = False
    ) -> Any:
        if capture_macros or common_jinja.MACRO_DEBUGGING:
            # capture_macros (dbt's parse) gives each call an `undefined` class of its own: nothing to share.
            return original(string, ctx, node=node, capture_macros=capture_macros, native=native)
        with common_jinja.catch_jinja(node):
            env = common_jinja.get_environment(node, capture_macros, native=native)
            source = str(string)
            key = compile_key(env, source)
            with lock:
                code = cache.get(key)
            if code is None:
                code = env.compile(source)
                with lock:
                    cache[key] = code
            return env.template_class.from_code(env, code, env.make_globals(ctx), None)

    for module in GET_TEMPLATE_USERS:
        inst.patch(importlib.import_module(module), "get_template", get_template)
