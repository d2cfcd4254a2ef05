"""Reading sweep directories: sweep.json checked field by field (`load_sweep`), and the newest complete
sweep under a runs directory. Written by `planalign.scenarios.sweep`, which re-exports these names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from planalign.errors import PlanalignUsageError
from planalign.simulation.run_listing import SWEEP_FILE as SWEEP_FILE

SWEEP_SCHEMA_VERSION = 1

#: What a sweep database keeps of each member: its dbt tables (the default), or only the yearly figures
#: the comparison reads (`--keep summaries`, a sharded sweep too large to merge; docs/scaling.md).
Keep = Literal["tables", "summaries"]
KEEP_CHOICES: tuple[Keep, ...] = ("tables", "summaries")


class SweepDirectoryError(PlanalignUsageError):
    """A sweep directory is missing, is not one, or its sweep.json cannot be read."""


def load_sweep(directory: Path) -> dict[str, Any]:
    """sweep.json of `directory`, checked to be a sweep of a schema this version reads, with every field its
    readers use (`scenarios compare`, `export`) of the type `sweep_document` writes: a copied or edited file
    is refused with `SweepDirectoryError` naming the field, never a traceback in a reader."""
    from planalign.simulation.run_directory import RunFileError, read_json_object

    path = directory / SWEEP_FILE
    if not directory.is_dir():
        raise SweepDirectoryError(f"{directory} is not a directory; give a sweep directory under runs/")
    if not path.exists():
        raise SweepDirectoryError(
            f"{directory} is not a sweep directory (it has no {SWEEP_FILE}); `planalign scenarios run FILE` "
            "writes one"
        )
    try:
        document = dict(read_json_object(path))
    except RunFileError as exc:
        raise SweepDirectoryError(f"{path} cannot be read: {exc.problem}") from None
    if document.get("kind") != "sweep":
        raise SweepDirectoryError(f"{path} is not a sweep record (its kind is not 'sweep')")
    version = document.get("schema_version")
    if version != SWEEP_SCHEMA_VERSION:
        raise SweepDirectoryError(
            f"{path} has schema_version {version!r}; this planalign reads version {SWEEP_SCHEMA_VERSION}. "
            "Use the planalign that wrote it, or run the sweep again."
        )
    for key, (expected, valid) in _SWEEP_FIELDS.items():
        if not valid(document.get(key)):
            raise SweepDirectoryError(
                f"{path}: {key} must be {expected}, got {document.get(key)!r}"[:300]
                + f". {SWEEP_FILE} is written by `planalign scenarios run`; run the sweep again or restore it"
            )
    return document


def kept_summaries(sweep: dict[str, Any]) -> bool:
    """Whether the sweep of this sweep.json kept only per-member summaries (no member tables). A sweep.json
    without `keep` (written before it existed) kept the tables."""
    return sweep.get("keep") == "summaries"


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_member(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _is_text(value.get("scenario_id"))
        and _is_text(value.get("scenario_name"))
        and _is_int(value.get("random_seed"))
    )


#: The fields of sweep.json its readers use, and what each must be.
_SWEEP_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "status": ("one of complete, failed, running", lambda v: v in ("complete", "failed", "running")),
    "years": (
        "a non-empty list of four-digit years",
        lambda v: isinstance(v, list) and bool(v) and all(_is_int(y) and 1000 <= y <= 9999 for y in v),
    ),
    "seeds": ("a list of whole numbers", lambda v: isinstance(v, list) and all(map(_is_int, v))),
    "members": (
        "a list of {scenario_id, scenario_name, random_seed}",
        lambda v: isinstance(v, list) and all(map(_is_member, v)),
    ),
    "scenarios": (
        "a list of designs, each with a name",
        lambda v: isinstance(v, list) and all(isinstance(d, dict) and _is_text(d.get("name")) for d in v),
    ),
    "baseline": ("a scenario name", _is_text),
    "keep": ("tables or summaries (or absent: tables)", lambda v: v is None or v in KEEP_CHOICES),
    "database": ("a file path", lambda v: _is_text(v) and bool(v)),
    "config_digest": ("a text", _is_text),
    "scenarios_file": ("a file path", _is_text),
    "discount_rate": (
        "a rate between 0 and 1",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1,
    ),
}


def latest_complete_sweep(runs_dir: Path) -> Path:
    """The newest sweep directory under `runs_dir` whose sweep is complete (directories sort by time)."""
    if runs_dir.is_dir():
        for directory in sorted((p for p in runs_dir.iterdir() if p.is_dir()), reverse=True):
            if "-sweep-" not in directory.name or not (directory / SWEEP_FILE).is_file():
                continue
            try:
                if load_sweep(directory).get("status") == "complete":
                    return directory
            except SweepDirectoryError:
                continue
    raise SweepDirectoryError(
        f"no complete sweep under {runs_dir}; run one with `planalign scenarios run scenarios.yaml`, or name "
        "the sweep directory"
    )
