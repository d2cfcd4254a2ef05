"""Stand-ins for dbt's Jinja context when SQLFluff lints the project with its jinja templater (.sqlfluff):
`var` reads the defaults of dbt_project.yml's `vars:` (so a model renders as it would for the first
simulated year), `modules.re` is Python's `re` as in dbt, and `adapter` / `exceptions` are the submodules
of this package. Only for linting: dbt never imports this folder (it is no model, macro or seed path)."""

import re as _re
from pathlib import Path as _Path
from types import SimpleNamespace as _Namespace

import yaml as _yaml

modules = _Namespace(re=_re)

_VARS = _yaml.safe_load((_Path(__file__).resolve().parents[1] / "dbt_project.yml").read_text())["vars"]


def var(name, default=None):
    """dbt's `var`: the project default, else `default`."""
    value = _VARS.get(name)
    return default if value is None else value
