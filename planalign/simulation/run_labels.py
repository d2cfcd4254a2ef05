"""The words a person puts on a run or a report: the run's name, the report's title, the client it is for and
who prepared it.

They come from the command line (`simulate --name/--title/--client/--prepared-by`, `report --title ...`) and
from a scenario file (`title:`, `client:`, `prepared_by:`), and end up in a report a plan sponsor reads and in
`planalign runs` on a terminal — so each is checked where it enters: one line of printable text, at most
`MAX_LABEL_LENGTH` characters, not blank. (The HTML escapes them as it escapes everything; the check is so
that a label that would not read as a label — a pasted paragraph, a control sequence that repaints the
terminal — is refused with a message instead of shown.)

A run's labels are stored beside its summary in `labels.json` (`LABELS_FILE`), written by the command once
the run directory exists; a run directory without the file simply has no labels. The file is read back with
the same checks, since a run directory may come from anywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from planalign.errors import PlanalignUsageError

LABELS_FILE = "labels.json"
MAX_LABEL_LENGTH = 120

#: What each label is called on the command line and in a scenario file, for messages.
LABEL_FLAGS = {"name": "--name", "title": "--title", "client": "--client", "prepared_by": "--prepared-by"}


class LabelError(PlanalignUsageError):
    """A run name, report title, client or preparer that is not one short line of printable text."""


def label_problem(value: Any) -> str | None:
    """What is wrong with `value` as a label, as a phrase to follow its name ("must not be empty; ..."), or
    None when it is one line of printable text of 1–`MAX_LABEL_LENGTH` characters (once stripped)."""
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    text = value.strip()
    if not text:
        return 'must not be empty; give a few words, e.g. "Acme Corp"'
    if len(text) > MAX_LABEL_LENGTH:
        return f"is {len(text)} characters long; at most {MAX_LABEL_LENGTH} fit on a report's title line"
    bad = next((c for c in text if not c.isprintable()), None)
    if bad is not None:
        return (
            f"contains the control character {bad!r}; give one line of plain text (no newlines or "
            "terminal escapes)"
        )
    return None


def check_label(what: str, value: Any) -> str:
    """`value` stripped, when it is a label (`label_problem`); `LabelError` naming `what` (e.g. "--title")
    and the fix otherwise."""
    problem = label_problem(value)
    if problem is not None:
        raise LabelError(f"{what} {problem}")
    return str(value).strip()


@dataclass(frozen=True)
class ReportLabels:
    """A run's name and a report's title, client and preparer; None = not given."""

    name: str | None = None
    title: str | None = None
    client: str | None = None
    prepared_by: str | None = None

    @classmethod
    def checked(cls, **values: str | None) -> ReportLabels:
        """Labels from user input, each checked (`check_label`, named by its flag); None values are unset."""
        return cls(**{k: None if v is None else check_label(LABEL_FLAGS[k], v) for k, v in values.items()})

    def over(self, base: ReportLabels) -> ReportLabels:
        """These labels where set, else `base`'s (the command line over the stored file)."""
        return replace(base, **{f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None})

    def to_dict(self) -> dict[str, str]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @property
    def empty(self) -> bool:
        return not self.to_dict()


def read_labels(run_dir: Path) -> ReportLabels:
    """The labels stored in `run_dir` (none when it has no labels file). `LabelError` naming the file for a
    file that is not a JSON object of the four labels, each checked as on input."""
    path = Path(run_dir) / LABELS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ReportLabels()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelError(
            f"{path}: not JSON ({exc}); delete it or write it again with `simulate --name`"
        ) from exc
    if not isinstance(data, Mapping) or not set(data) <= set(LABEL_FLAGS):
        raise LabelError(f"{path}: must be an object with only the keys {', '.join(LABEL_FLAGS)}")
    try:
        return ReportLabels.checked(**{k: data[k] for k in LABEL_FLAGS if data.get(k) is not None})
    except LabelError as exc:
        raise LabelError(f"{path}: {exc}") from exc


def write_labels(run_dir: Path, labels: ReportLabels) -> Path | None:
    """Store `labels` in `run_dir` (atomically: a temporary sibling, then a rename); nothing when empty."""
    if labels.empty:
        return None
    path = Path(run_dir) / LABELS_FILE
    tmp = path.with_name(f".{LABELS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(labels.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
