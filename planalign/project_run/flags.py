"""The dbt flags of a project run beyond selection and threads: what each means to dbt, and where planalign
hands it on (issue #26 item 2). The table with the reasons is docs/run.md; the command line that reads them
is `planalign.cli.run_flags`.

dbt's meaning is kept by letting dbt itself act on each flag, in the dbt call where it acts in a `dbt run`:

- selection flags (`--selector`, `--state`, `--indirect-selection`) go to the `dbt ls` that resolves the
  selection (`planalign.dbt.manifest.resolve_selection`), so the node set is dbt's own;
- parse flags (`--no-partial-parse`) go to the one parse;
- flags that change how a model is built or where files go (`--empty`, `--target-path`, `--warn-error`,
  `--warn-error-options`) go to the parse, the `ls`, every per-model invocation and the project hooks —
  each of which is a dbt invocation of the same run;
- output flags (`--log-level`, `-q/--quiet`) set what the caller prints, which stands in for dbt's console.

Refused, with exit 2 before the parse: deferral (`--defer`, `--favor-state`, `--defer-state`). dbt defers by
merging the state manifest's nodes into the run's manifest when a run starts; planalign's many invocations
share one parsed manifest across threads, so each would merge into it while others compile from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planalign.errors import PlanalignUsageError

INDIRECT_SELECTION = ("eager", "cautious", "buildable", "empty")
LOG_LEVELS = ("debug", "info", "warn", "error", "none")
#: planalign's own log records shown at each dbt log level but debug (info: warnings, as the progress lines
#: are the info of a run).
PYTHON_LOG_LEVELS = {"info": 30, "warn": 30, "error": 40, "none": 60}
#: The flags `planalign retry` runs again with (`DbtFlags.retried`): every one but the selection flags, as
#: retry selects the failed models by name and a recorded selector or state would select others.
RETRIED_FLAGS = (
    "empty",
    "log_level",
    "quiet",
    "partial_parse",
    "target_path",
    "warn_error",
    "warn_error_options",
)


class RunFlagError(PlanalignUsageError):
    """A dbt flag of `planalign run` given a value dbt would refuse (a selector not in selectors.yml)."""


class RefusedFlagError(PlanalignUsageError):
    """A dbt flag `planalign run` does not support, with why and what to do instead."""


DEFER_REFUSAL = (
    "is not supported by `planalign run`: dbt defers by merging the state manifest into the run's "
    "manifest as the run starts, and planalign's parallel invocations share one parsed manifest, so each "
    "would rewrite it while the others compile from it. Instead build the parents the selection reads first "
    "(`planalign run -s +<model>`), or use `dbt run --defer --state <path>` for a deferred run"
)


@dataclass(frozen=True)
class DbtFlags:
    """The flags of this module as given (None/False: not given), split by the dbt calls they go to."""

    selector: str | None = None
    state: str | None = None
    indirect_selection: str | None = None
    empty: bool = False
    log_level: str | None = None
    quiet: bool = False
    partial_parse: bool | None = None
    target_path: str | None = None
    warn_error: bool = False
    warn_error_options: str | None = None

    @property
    def _everywhere(self) -> list[str]:
        """Flags of every dbt call of the run: where files go, and which warnings are errors."""
        args: list[str] = []
        if self.target_path:
            args += ["--target-path", self.target_path]
        if self.warn_error:
            args.append("--warn-error")
        if self.warn_error_options:
            args += ["--warn-error-options", self.warn_error_options]
        return args

    def parse_args(self) -> list[str]:
        """For the parse."""
        return [*self._everywhere, *self._partial_parse]

    @property
    def _partial_parse(self) -> list[str]:
        if self.partial_parse is None:
            return []
        return ["--partial-parse" if self.partial_parse else "--no-partial-parse"]

    def selection_args(self) -> list[str]:
        """For the `dbt ls` that resolves the selection."""
        args = self._everywhere
        if self.selector:
            args += ["--selector", self.selector]
        if self.state:
            args += ["--state", self.state]
        if self.indirect_selection:
            args += ["--indirect-selection", self.indirect_selection]
        return args

    def model_args(self) -> list[str]:
        """For every per-model invocation."""
        return [*self._everywhere, *(["--empty"] if self.empty else [])]

    def hook_args(self) -> list[str]:
        """For the project hooks' invocations."""
        return self._everywhere

    def run_args(self) -> list[str]:
        """All of them, as they would be given to one `dbt run` (for the artifact's `args`)."""
        args = [*self.selection_args(), *self.model_args()[len(self._everywhere) :]]
        args += self._partial_parse
        if self.log_level:
            args += ["--log-level", self.log_level]
        if self.quiet:
            args.append("--quiet")
        return args

    def check(self, project_dir: Path) -> None:
        """Refuse, before the parse, what dbt would refuse after it: the selector is defined in
        selectors.yml, the state directory exists."""
        if self.selector:
            path = project_dir / "selectors.yml"
            names = _selector_names(path)
            if self.selector not in names:
                where = (
                    f"defined in {path}: {', '.join(sorted(names))}" if names else f"no selectors in {path}"
                )
                raise RunFlagError(
                    f"--selector {self.selector!r} is not a selector of this project ({where}); "
                    "define it in selectors.yml or use --select"
                )
        if self.state:
            state = Path(self.state)
            state = state if state.is_absolute() else Path.cwd() / state
            if not (state / "manifest.json").is_file():
                raise RunFlagError(
                    f"--state {self.state}: no manifest.json there; point it at the target directory of the "
                    "run to compare with (e.g. a copy of its target/)"
                )

    def retried(self) -> dict[str, Any]:
        """The flags a run records for `planalign retry` (`RETRIED_FLAGS`), by their field names."""
        return {name: getattr(self, name) for name in RETRIED_FLAGS}

    @property
    def level(self) -> str:
        """What to print, in dbt's log levels: `--quiet` is dbt's errors-only."""
        if self.quiet:
            return "error"
        return self.log_level or "info"


def _selector_names(path: Path) -> set[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return set()
    except (OSError, yaml.YAMLError) as exc:
        raise RunFlagError(f"cannot read {path}: {exc}") from exc
    entries = data.get("selectors") if isinstance(data, dict) else None
    return {str(e["name"]) for e in entries or () if isinstance(e, dict) and "name" in e}


def profile_threads(
    project_dir: Path,
    *,
    profiles_dir: Path | None,
    target: str | None,
    vars: Mapping[str, Any],
    profile: str | None,
) -> int:
    """The default of `--threads`, as dbt takes it: `DBT_THREADS`, else the target's `threads` in the
    profile, else 1 (dbt's default when the profile has none)."""
    from planalign.dbt.isolation import render_target_output
    from planalign.dbt.manifest import default_profiles_dir

    env = os.environ.get("DBT_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise RunFlagError(f"DBT_THREADS must be a whole number, got {env!r}") from None
    _, output = render_target_output(
        project_dir, default_profiles_dir(project_dir, profiles_dir), target, dict(vars), profile=profile
    )
    try:
        return max(1, int(output.get("threads") or 1))
    except (TypeError, ValueError):
        raise RunFlagError(
            f"the profile's threads must be a whole number, got {output.get('threads')!r}"
        ) from None
