"""What a project run is asked to do (`RunRequest`) and what it records about it (`RunRecord`).

A `RunRequest` is `planalign run`'s command line as data: the CLI builds one from its arguments, `planalign
retry` from the flags a run recorded, a Python caller directly (`planalign.run_project`). Its checks are the
ones that need no parse, so bad input fails before the ~seconds of dbt's parse; their messages name the
command-line flags, as the CLI is the common way in.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.errors import PlanalignUsageError
from planalign.project_run.flags import DbtFlags

if TYPE_CHECKING:
    from planalign.engine.nodes import ProjectManifest

EXECUTION_CLASS_CHOICES = ("parallel_safe", "sequential", "conditional")


class RunUsageError(PlanalignUsageError):
    """Bad arguments to a project run (missing project, malformed --vars, a bad count)."""


@dataclass(frozen=True)
class RunRequest:
    """One run of a dbt project's models (`planalign run`'s flags, by their dbt names where dbt has one).

    `workers` None: the profile's threads (dbt's rule); `models_per_invocation` None: chosen by where the SQL
    runs (`planalign.dbt.workers`); `default_class` None: see `prepare.build_classifier`. `which` and
    `log_format` are recorded in the results files only (`planalign retry` reads them back);
    `invocation_command` likewise (default: this process's command line, as dbt records it)."""

    project_dir: Path
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    workers: int | None = None
    target: str | None = None
    profile: str | None = None
    profiles_dir: Path | None = None
    fail_fast: bool = False
    full_refresh: bool = False
    models_per_invocation: int | None = None
    default_class: str | None = None
    max_retries: int = 2
    flags: DbtFlags = field(default_factory=DbtFlags)
    which: str = "run"
    log_format: str = "default"
    invocation_command: str | None = None

    def check(self) -> None:
        """`RunUsageError` (or the flags' own) for what is wrong without parsing anything."""
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise RunUsageError(f"{self.project_dir} is not a dbt project (no dbt_project.yml)")
        if self.workers is not None and self.workers < 1:
            raise RunUsageError(f"--workers/--threads must be at least 1, got {self.workers}")
        if self.models_per_invocation is not None and self.models_per_invocation < 1:
            raise RunUsageError(
                f"--models-per-invocation must be at least 1, got {self.models_per_invocation}"
            )
        if self.max_retries < 0:
            raise RunUsageError(f"--max-retries must be 0 or more, got {self.max_retries}")
        if self.default_class is not None and self.default_class not in EXECUTION_CLASS_CHOICES:
            raise RunUsageError(
                f"default_class must be one of {', '.join(EXECUTION_CLASS_CHOICES)}, "
                f"got {self.default_class!r}"
            )
        self.flags.check(self.project_dir)

    @property
    def dbt_target(self) -> dict[str, Any]:
        """The keyword arguments naming the profile, target and vars: every dbt call of a run and the parents
        check use the one profile."""
        return {
            "profiles_dir": self.profiles_dir,
            "target": self.target,
            "vars": dict(self.vars),
            "profile": self.profile,
        }

    @property
    def command(self) -> str:
        return self.invocation_command or "planalign " + " ".join(sys.argv[1:])


def target_dir(project_dir: Path, target_path: str | None = None) -> Path:
    """dbt's target-path (`--target-path`, else dbt_project.yml `target-path`, default `target`; relative to
    the project, as dbt joins it), where artifacts go."""
    import yaml

    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    configured = target_path or (config.get("target-path") if isinstance(config, Mapping) else None)
    path = Path(str(configured)) if configured else Path("target")
    return path if path.is_absolute() else project_dir / path


def artifact_args(request: RunRequest) -> dict[str, Any]:
    """The flags `planalign retry` reads back from a run: dbt's `args` of run_results.json (`which` to
    `profile`) merged with planalign's own from planalign_run_results.json (`RunRecord.planalign_args`), so
    that it runs the failed models again exactly as this run ran them — with the same `--vars`, which
    `dbt retry` gets wrong (dbt-labs/dbt-core#9112). The fallback when dbt does not report its own."""
    return {
        "which": request.which,
        "invocation_command": request.command,
        "project_dir": str(request.project_dir),
        "select": list(request.select),
        "exclude": list(request.exclude),
        # the effective count: `--threads`, else dbt's default of 1 (the profile is not read here)
        "threads": request.workers if request.workers is not None else 1,
        "full_refresh": request.full_refresh,
        "fail_fast": request.fail_fast,
        "vars": dict(request.vars),
        "target": request.target,
        "profile": request.profile,
        "profiles_dir": str(request.profiles_dir) if request.profiles_dir is not None else None,
        "log_format": request.log_format,
        "models_per_invocation": request.models_per_invocation,
        "default_class": request.default_class,
        "max_retries": request.max_retries,
        "dbt_flags": request.flags.retried(),
    }


@dataclass(frozen=True)
class RunRecord:
    """What a run records about its request: dbt's `args` in run_results.json (`dbt_args`, the dict dbt
    writes for the equivalent `dbt run`), and planalign's own in planalign_run_results.json
    (`planalign_args`, what `planalign retry` needs to run again as this run ran). `request` carries the
    batch size the run chose; `workers` is the effective count."""

    request: RunRequest
    workers: int
    #: The run's id in both results files (retry checks they are of one run).
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def dbt_argv(self) -> list[str]:
        """The `dbt run` command line equivalent to this run, without `run`, the selection and
        `--warn-error` (`planalign.dbt.run_results.dbt_args` adds those)."""
        import json

        from planalign.dbt.manifest import default_profiles_dir

        req = self.request
        argv = ["--project-dir", str(req.project_dir)]
        profiles = default_profiles_dir(req.project_dir, req.profiles_dir)
        if profiles is not None:
            argv += ["--profiles-dir", str(profiles)]
        if req.profile:
            argv += ["--profile", req.profile]
        if req.target:
            argv += ["--target", req.target]
        if req.vars:
            argv += ["--vars", json.dumps(dict(req.vars), default=str)]
        if req.workers is not None:
            argv += ["--threads", str(req.workers)]
        if req.full_refresh:
            argv.append("--full-refresh")
        if req.fail_fast:
            argv.append("--fail-fast")
        if req.log_format in ("text", "json"):
            argv += ["--log-format", req.log_format]
        return [*argv, *(a for a in req.flags.run_args() if a != "--warn-error")]

    def dbt_args(self, manifest: ProjectManifest) -> tuple[dict[str, Any], str | None]:
        """run_results.json's `args`: dbt's for the equivalent `dbt run`; if dbt does not say, planalign's
        record of the same flags, with a warning saying so (the second item)."""
        from planalign.dbt.run_results import ArtifactArgsError, dbt_args

        req = self.request
        warning = None
        try:
            recorded = dbt_args(
                manifest,
                self.dbt_argv(),
                select=list(req.select),
                exclude=list(req.exclude),
                warn_error=req.flags.warn_error,
                invocation_command=req.command,
            )
        except ArtifactArgsError as exc:
            warning = f"run_results.json's args are planalign's, not dbt's: {exc}"
            recorded = artifact_args(req)
        recorded["which"] = req.which
        return recorded, warning

    def planalign_args(self) -> dict[str, Any]:
        """The flags `planalign retry` reads (`planalign.cli.retry`), which dbt's `args` do not hold."""
        req = self.request
        return {
            "project_dir": str(req.project_dir),
            "profiles_dir": str(req.profiles_dir) if req.profiles_dir is not None else None,
            "threads": self.workers,
            "models_per_invocation": req.models_per_invocation,
            "default_class": req.default_class,
            "max_retries": req.max_retries,
            "log_format": req.log_format,
            "dbt_flags": req.flags.retried(),
            "invocation_id": self.invocation_id,
        }
