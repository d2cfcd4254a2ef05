"""Text cells no spreadsheet runs: the one rule every CSV and Excel writer of planalign follows.

A spreadsheet program opening a CSV file evaluates a cell beginning with `=`, `+`, `-` or `@` (and, in some
programs, a tab or carriage return before one) as a formula — `=HYPERLINK(...)` sends a click elsewhere,
`=cmd|' /C calc'!A0` asks to run a program. Text from the data (employee ids from the census, scenario
names from a scenario file) must never become one:

- CSV (`csv_text`, `csv_select_list`): a text cell beginning with one of `FORMULA_PREFIXES` gets a single
  quote in front, as OWASP's CSV-injection guidance says — the cell then reads as text (`'=1+1`). Numbers,
  dates and booleans are written as they are (a negative number is a number, not a formula). The quote is a
  visible change to the value: a script reading the CSV strips one leading `'` from such a cell to get it
  back; Parquet files keep every value exactly.
- Excel (`xlsx_text_cell`): a text cell is written as a string cell, always — openpyxl would otherwise store
  text beginning with `=` as a formula (and `#N/A` as an error). The text itself is unchanged.

The inputs refuse such values too (the census rule `formula_employee_id`, scenario names), so this is the
second line: a database written before those checks, or by another tool, is exported safely all the same.
"""

from __future__ import annotations

import re
from typing import Any

#: The characters a spreadsheet may read as the start of a formula (OWASP: = + - @ tab carriage-return).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Column types whose CSV text is a number, a date, a time or a boolean: never a formula, left as written.
_PLAIN_TYPES = re.compile(
    r"(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?|BOOLEAN|DATE"
    r"|TIME( WITH TIME ZONE)?|TIMESTAMP.*|INTERVAL|UUID)",
    re.IGNORECASE,
)


#: Characters an Excel cell cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE), in Python and in DuckDB SQL.
EXCEL_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
EXCEL_ILLEGAL_SQL = "'[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]'"


def starts_like_a_formula(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def csv_text(value: Any) -> Any:
    """`value` as a CSV writer should write it: text starting like a formula quoted, anything else as is."""
    if isinstance(value, str) and starts_like_a_formula(value):
        return "'" + value
    return value


def text_columns(columns: list[tuple[str, str]]) -> list[str]:
    """The (name, type) columns whose values are text (not of `_PLAIN_TYPES`), each as
    `cast("name" as varchar)`."""
    return [
        f"cast({_quoted(name)} as varchar)"
        for name, column_type in columns
        if not _PLAIN_TYPES.fullmatch(column_type.strip())
    ]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_select_list(columns: list[tuple[str, str]]) -> str:
    """A DuckDB select list over (name, type) columns that writes every text column through `csv_text`'s
    rule (in SQL, so COPY still streams the table); columns of `_PLAIN_TYPES` are selected unchanged."""
    prefixes = sql_formula_prefixes()
    items = []
    for name, column_type in columns:
        quoted = _quoted(name)
        if _PLAIN_TYPES.fullmatch(column_type.strip()):
            items.append(quoted)
            continue
        text = f"cast({quoted} as varchar)"
        items.append(
            f"case when left({text}, 1) in ({prefixes}) then '''' || {text} else {text} end as {quoted}"
        )
    return ", ".join(items)


def sql_formula_prefixes() -> str:
    """`FORMULA_PREFIXES` as a SQL list (`'=', '+', ..., chr(9), chr(13)`); the census rule
    `formula_employee_id` (dbt_project/macros/census_rules.sql) spells the same list."""
    return ", ".join(_sql_text(p) for p in FORMULA_PREFIXES)


def _sql_text(character: str) -> str:
    """A one-character SQL string literal; control characters as `chr(n)`."""
    if character.isprintable():
        return "'" + character.replace("'", "''") + "'"
    return f"chr({ord(character)})"


def xlsx_text_cell(sheet: Any, value: str) -> Any:
    """A write-only worksheet cell holding `value` as a string, never as a formula or an error value."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
