# The real messages below are kept as dbt printed them, even where a line runs long.
# ruff: noqa: E501
"""Which failures the engine retries: the invoker's classifier over messages as dbt 1.11 / dbt-duckdb 1.11 /
DuckDB 2.0 really return them (collected from real runs; the real-dbt tests in
tests/engine_real/test_invoker.py check the conversion and binder errors end to end)."""

from __future__ import annotations

import pytest

from planalign.dbt.invoker import (
    DETERMINISTIC_DUCKDB_ERRORS,
    TRANSIENT_DUCKDB_ERRORS,
    is_transient,
    timed_out_message,
)
from planalign.engine.invocation import MODEL_TIMEOUT_SETTING

DETERMINISTIC = {
    "conversion": (
        "Runtime Error in model conv (models/conv.sql)\n  Conversion Error: Could not convert string 'x' to INT32"
        "\n  \n  LINE 10:       select cast('x' as integer) as x\n                        ^^^^^^^^^^^^^^^^^^^^"
    ),
    "binder": (
        'Runtime Error in model binder (models/binder.sql)\n  Binder Error: Referenced column "nope" not found '
        'in FROM clause!\n  Candidate bindings: "a"\n  \n  LINE 10:       select nope from (select 1 as a)\n'
        "                        ^^^^"
    ),
    "parser": (
        'Runtime Error in model parser (models/parser.sql)\n  Parser Error: syntax error at or near "selec"\n'
        "  \n  LINE 10:       selec 1\n                 ^^^^^"
    ),
    "catalog": (
        "Runtime Error in model catalog (models/catalog.sql)\n  Catalog Error: Table with name no_such_table "
        'does not exist!\n  Did you mean "duckdb_tables"?\n  \n  LINE 10:       select * from main.no_such_table'
    ),
    "constraint": (
        "Runtime Error in model constr (models/constr.sql)\n  Constraint Error: NOT NULL constraint failed: "
        "constr__dbt_tmp.id"
    ),
    "out of range": (
        "Runtime Error in model range (models/range.sql)\n  Out of Range Error: Overflow in addition of INT32 "
        "(2147483647 + 1)!"
    ),
    "dbt compilation": (
        "Compilation Error in model comp (models/comp.sql)\n  'no_such_macro' is undefined. This can happen "
        'when calling a macro that does not exist. Check for typos and/or install package dependencies with "dbt '
        'deps".'
    ),
    "dbt compilation, missing var": (
        "Compilation Error in model compile_error (models/compile_error.sql)\n  Required var 'no_such_var' not "
        "found in config:\n  Vars supplied to compile_error = {}"
    ),
    "dbt parsing": "Parsing Error\n  Invalid models config given in models/schema.yml",
}

TRANSIENT = {
    # dbtRunner's result.exception when another process holds the database file.
    "file lock": (
        'IO Error: Could not set lock on file "/tmp/samples/s.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 10859). See also https://duckdb.org/docs/current/connect/concurrency"
    ),
    "file lock, raised": (
        'dbt invocation raised: IOException(\'IO Error: Could not set lock on file "/tmp/s.duckdb": '
        "Conflicting lock is held')"
    ),
    "out of memory": (
        "Runtime Error in model big (models/big.sql)\n  Out of Memory Error: failed to allocate data of size "
        "16.0 MiB (16.1 MiB/19.0 MiB used)\n\nPossible solutions:\n* Reducing the number of threads (SET "
        "threads=X)"
    ),
    "write-write conflict": "Runtime Error in model t (models/t.sql)\n  TransactionContext Error: Conflict on update!",
    "interrupt": "Runtime Error in model slow (models/slow.sql)\n  INTERRUPT Error: Interrupted!",
    # Errors of dbt's own machinery under concurrency carry no DuckDB class: worth another attempt.
    "dbt internals": "Cache inconsistency detected: in rename, new key main.x already in cache",
    "dbt did not run it": "dbt did not run the model: skipped by dbt",
}


@pytest.mark.parametrize("message", DETERMINISTIC.values(), ids=DETERMINISTIC.keys())
def test_deterministic_failures_are_not_retried(message: str) -> None:
    assert not is_transient(message)


@pytest.mark.parametrize("message", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_failures_are_retried(message: str) -> None:
    assert is_transient(message)


def test_a_transient_class_wins_over_a_deterministic_one_in_the_same_message() -> None:
    assert is_transient("Catalog Error: table t is being written\nIO Error: could not read block 7")


def test_a_class_name_inside_a_word_or_without_the_colon_is_not_a_class() -> None:
    assert not is_transient("Runtime Error in model x\n  Binder Error: no column named NIO Error")
    assert is_transient("Runtime Error in model x: the Binder Error column was empty")  # no DuckDB class


def test_the_two_lists_do_not_overlap() -> None:
    assert not DETERMINISTIC_DUCKDB_ERRORS & TRANSIENT_DUCKDB_ERRORS


def test_the_timeout_message_names_the_limit_and_the_setting() -> None:
    message = timed_out_message("fct_x", 1800.0)
    assert message.startswith("fct_x timed out after 1800 s")
    assert MODEL_TIMEOUT_SETTING in message
    assert (
        MODEL_TIMEOUT_SETTING == "orchestrator.threading.model_parallelization.safety.model_timeout_seconds"
    )
