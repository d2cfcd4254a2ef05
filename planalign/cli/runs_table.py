"""`planalign runs`' table: the listing fitted to the terminal (100 columns when its width is unknown).

Apart from the reading of run directories (`planalign.cli.runs`), so the layout can be tested on its own
with any width (tests/test_terminal_output.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from planalign.cli._common import printable


class RunEntry(Protocol):
    """A listed run as the table reads it (`planalign.simulation.run_listing.RunEntry`)."""

    @property
    def run_name(self) -> str: ...

    @property
    def detail(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


#: The listing's columns. The run id already says when the run started (its UTC timestamp) and its config
#: digest (its suffix), so those two are only in `--json`; the database shows as its file name.
_COLUMNS = ("name", "kind", "status", "years", "database")
_HEADINGS = ("RUN", "KIND", "STATUS", "YEARS", "DATABASE")
#: The width the listing is made to fit when the terminal's is not known (a pipe, a file).
DEFAULT_WIDTH = 100


def format_table(entries: Sequence[RunEntry], width: int | None = None) -> str:
    """The listing as aligned columns, every cell `printable`, no line wider than `width` (default: the
    terminal's, else `DEFAULT_WIDTH`). A run's name and detail go on an indented line under it, cut with
    "…" where the width ends — a long error message never pushes the columns off the screen."""
    import shutil

    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    width = max(width, 40)

    def cells(e: RunEntry) -> tuple[str, ...]:
        d = e.to_dict()
        return tuple(printable(Path(d[c]).name if c == "database" and d[c] else str(d[c])) for c in _COLUMNS)

    materialised = [_HEADINGS, *(cells(e) for e in entries)]
    widths = [max(len(r[i]) for r in materialised) for i in range(len(_COLUMNS))]
    # The database (last) column gives way: a run id is never cut, since it is what a user copies.
    room = width - sum(widths[:-1]) - 2 * (len(_COLUMNS) - 1)
    widths[-1] = max(min(widths[-1], room), len(_HEADINGS[-1]))
    lines: list[str] = []
    for index, row in enumerate(materialised):
        row = (*row[:-1], _cut(row[-1], widths[-1]))
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            continue
        entry = entries[index - 1]
        words = [f"“{printable(entry.run_name)}”"] if entry.run_name else []
        words += [printable(entry.detail)] if entry.detail else []
        if words:
            lines.append(_cut("    " + " · ".join(words), width))
    return "\n".join(lines)


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
