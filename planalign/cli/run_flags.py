"""The dbt flags of `planalign run` beyond selection and threads: what each means to dbt, and where planalign
hands it on (issue #26 item 2). The table with the reasons is docs/run.md.

dbt's meaning is kept by letting dbt itself act on each flag, in the dbt call where it acts in a `dbt run`:

- selection flags (`--selector`, `--state`, `--indirect-selection`) go to the `dbt ls` that resolves the
  selection (`planalign.dbt.manifest.resolve_selection`), so the node set is dbt's own;
- parse flags (`--no-partial-parse`) go to the one parse;
- flags that change how a model is built or where files go (`--empty`, `--target-path`, `--warn-error`,
  `--warn-error-options`) go to the parse, the `ls`, every per-model invocation and the project hooks —
  each of which is a dbt invocation of the same run;
- output flags (`--log-level`, `-q/--quiet`) set what planalign prints, which stands in for dbt's console log.

Refused, with exit 2 before the parse: deferral (`--defer`, `--favor-state`, `--defer-state`). dbt defers by
merging the state manifest's nodes into the run's manifest when a run starts; planalign's many invocations
share one parsed manifest across threads, so each would merge into it while others compile from it.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.engine.nodes import ProjectManifest

INDIRECT_SELECTION = ("eager", "cautious", "buildable", "empty")
LOG_LEVELS = ("debug", "info", "warn", "error", "none")
#: planalign's own log records shown at each dbt log level but debug (info: warnings, as the progress lines
#: are the info of a run).
PYTHON_LOG_LEVELS = {"info": 30, "warn": 30, "error": 40, "none": 60}


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """dbt's flags of this module (see the module docstring), with dbt's names and values."""
    parser.add_argument("--selector", help="a selector defined in selectors.yml (dbt's --selector)")
    parser.add_argument(
        "--state", help="a directory holding the manifest.json to compare with, for state: selectors"
    )
    parser.add_argument(
        "--indirect-selection",
        choices=INDIRECT_SELECTION,
        help="dbt's rule for selecting tests of selected models (a run selects models only)",
    )
    parser.add_argument(
        "--empty", action="store_true", help="build the models with every ref and source limited to 0 rows"
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="what to print: info (default) everything, warn warnings and errors, error errors only, none",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors only (dbt's --quiet; as --log-level error)"
    )
    parser.add_argument(
        "--partial-parse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse dbt's saved parse (default, as dbt) or parse everything again (--no-partial-parse)",
    )
    parser.add_argument(
        "--target-path",
        help="where dbt writes compiled SQL and artifacts (default: the project's target-path)",
    )
    parser.add_argument("--warn-error", action="store_true", help="treat dbt's warnings as errors")
    parser.add_argument("--warn-error-options", help="dbt's warn-error include/exclude options (YAML)")
    for flag in ("--defer", "--favor-state"):
        parser.add_argument(flag, action="store_true", help=f"refused: see docs/run.md ({flag})")
    parser.add_argument("--defer-state", help="refused: see docs/run.md")


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

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DbtFlags:
        """Read the flags; `RefusedFlagError` for a deferral flag (before anything is parsed or run)."""
        for name, flag in (
            ("defer", "--defer"),
            ("favor_state", "--favor-state"),
            ("defer_state", "--defer-state"),
        ):
            if getattr(args, name, None):
                raise RefusedFlagError(f"{flag} {DEFER_REFUSAL}")
        return cls(
            **{field: getattr(args, field, None) or default for field, default in _DEFAULTS.items()},
            partial_parse=getattr(args, "partial_parse", None),
        )

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
        """Refuse, before the parse, what dbt would refuse after it (`_check`)."""
        _check(self, project_dir)

    @property
    def level(self) -> str:
        """What planalign prints, in dbt's log levels: `--quiet` is dbt's errors-only."""
        if self.quiet:
            return "error"
        return self.log_level or "info"


_DEFAULTS: dict[str, Any] = {
    "selector": None,
    "state": None,
    "indirect_selection": None,
    "empty": False,
    "log_level": None,
    "quiet": False,
    "target_path": None,
    "warn_error": False,
    "warn_error_options": None,
}


def _check(flags: DbtFlags, project_dir: Path) -> None:
    """What can be checked before the parse: the selector is defined in selectors.yml, the state directory
    exists (dbt would fail on either after its parse)."""
    if flags.selector:
        path = project_dir / "selectors.yml"
        names = _selector_names(path)
        if flags.selector not in names:
            where = f"defined in {path}: {', '.join(sorted(names))}" if names else f"no selectors in {path}"
            raise RunFlagError(
                f"--selector {flags.selector!r} is not a selector of this project ({where}); "
                "define it in selectors.yml or use --select"
            )
    if flags.state:
        state = Path(flags.state)
        state = state if state.is_absolute() else Path.cwd() / state
        if not (state / "manifest.json").is_file():
            raise RunFlagError(
                f"--state {flags.state}: no manifest.json there; point it at the target directory of the run "
                "to compare with (e.g. a copy of its target/)"
            )


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


@dataclass(frozen=True)
class RunRecord:
    """What a run records about its command line: dbt's `args` in run_results.json (`dbt_args`, the dict dbt
    writes for the equivalent `dbt run`), and planalign's own in planalign_run_results.json
    (`planalign_args`, what `planalign retry` needs to run again as this run ran)."""

    args: argparse.Namespace
    flags: DbtFlags
    project_dir: Path
    profiles_dir: Path | None
    vars: Mapping[str, Any]
    workers: int
    #: The run's id in both results files (retry checks they are of one run).
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def dbt_argv(self) -> list[str]:
        """The `dbt run` command line equivalent to this run, without `run`, the selection and
        `--warn-error` (`planalign.dbt.run_results.dbt_args` adds those)."""
        import json

        from planalign.dbt.manifest import default_profiles_dir

        args = self.args
        argv = ["--project-dir", str(self.project_dir)]
        profiles = default_profiles_dir(self.project_dir, self.profiles_dir)
        if profiles is not None:
            argv += ["--profiles-dir", str(profiles)]
        if getattr(args, "profile", None):
            argv += ["--profile", args.profile]
        if args.target:
            argv += ["--target", args.target]
        if self.vars:
            argv += ["--vars", json.dumps(dict(self.vars), default=str)]
        if args.workers is not None:
            argv += ["--threads", str(args.workers)]
        if args.full_refresh:
            argv.append("--full-refresh")
        if args.fail_fast:
            argv.append("--fail-fast")
        if args.log_format in ("text", "json"):
            argv += ["--log-format", args.log_format]
        return [*argv, *(a for a in self.flags.run_args() if a != "--warn-error")]

    def dbt_args(self, manifest: ProjectManifest) -> dict[str, Any]:
        """run_results.json's `args`: dbt's for the equivalent `dbt run`; if dbt does not say, planalign's
        record of the same flags (and a warning saying so)."""
        from planalign.dbt.run_results import ArtifactArgsError, dbt_args

        command = "planalign " + " ".join(sys.argv[1:])
        try:
            recorded = dbt_args(
                manifest,
                self.dbt_argv(),
                select=self.args.select,
                exclude=self.args.exclude,
                warn_error=self.flags.warn_error,
                invocation_command=command,
            )
        except ArtifactArgsError as exc:
            print(f"warning: run_results.json's args are planalign's, not dbt's: {exc}", file=sys.stderr)
            from planalign.cli.run import _artifact_args

            recorded = _artifact_args(self.args, self.vars)
        recorded["which"] = getattr(self.args, "which", "run")
        return recorded

    def planalign_args(self) -> dict[str, Any]:
        """The flags `planalign retry` reads (`planalign.cli.retry`), which dbt's `args` do not hold."""
        args = self.args
        return {
            "project_dir": str(self.project_dir),
            "profiles_dir": str(self.profiles_dir) if self.profiles_dir is not None else None,
            "threads": self.workers,
            "models_per_invocation": args.models_per_invocation,
            "default_class": args.default_class,
            "max_retries": args.max_retries,
            "log_format": args.log_format,
            "invocation_id": self.invocation_id,
        }


NOTHING_TO_DO = "Nothing to do. Try checking your model configs and model specification args"


def nothing_to_do(
    manifest: ProjectManifest,
    record: RunRecord,
    target_dir: Path,
    started_at: datetime,
    *,
    warn_error: bool,
    out: TextIO,
) -> int:
    """A selection of no models, as `dbt run` ends it: dbt's warning, an empty run_results.json (no hooks run,
    elapsed 0), exit 0 — with `--warn-error`, dbt's warning is its error (exit 2, nothing written)."""
    from planalign.dbt.run_results import build_document, write
    from planalign.engine.results import RUN_RESULTS_FILENAME, write_run_results

    if warn_error:
        raise RunFlagError(f"{NOTHING_TO_DO} (a warning, made an error by --warn-error)")
    if record.flags.level in ("debug", "info", "warn"):
        print(NOTHING_TO_DO, file=out)
    document = build_document(
        manifest,
        result=None,
        started_at=started_at,
        elapsed_s=0.0,
        args=record.dbt_args(manifest),
        invocation_id=record.invocation_id,
    )
    write(target_dir, document)
    write_run_results(target_dir / RUN_RESULTS_FILENAME, [], args=record.planalign_args())
    return 0
