"""`planalign census`: write a synthetic census (CSV or Parquet by extension) or check an existing one."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from planalign.errors import CensusError


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "census",
        help="generate a synthetic census, or check one",
        description=(
            "Generate a synthetic census with realistic distributions (deterministic in --seed), "
            "or with --check report how many rows of an existing census the simulation would reject."
        ),
    )
    parser.add_argument("--employees", type=int, default=5000, help="number of employees (default 5000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, help="output path ending in .csv or .parquet")
    parser.add_argument(
        "--effective-date",
        type=_iso_date,
        default=date(2024, 12, 31),
        help="census as-of date (default 2024-12-31)",
    )
    parser.add_argument(
        "--bad-rows",
        type=int,
        default=0,
        help="append this many defective rows of mixed kinds (for testing data-quality handling)",
    )
    parser.add_argument(
        "--distribution",
        choices=("bls", "legacy"),
        default="bls",
        help="bls (default): age, tenure and level from published workforce tables (docs/methodology.md); "
        "legacy: the generator before issue #20, to reproduce an older census exactly",
    )
    parser.add_argument(
        "--opening-balances",
        action="store_true",
        help="add the optional opening_balance column (401(k) balances by age, How America Saves 2025)",
    )
    parser.add_argument("--check", type=Path, metavar="PATH", help="check an existing census instead")
    parser.add_argument(
        "--max-reject-share",
        type=float,
        default=0.01,
        help="with --check: largest acceptable share of rejected rows, 0 to 1 (default 0.01)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate (exit 0) or check: exit 0 when a run would accept the census, 2 (bad input, like the run
    itself) when it would refuse it, with every reason, its field and the first rows it applies to."""
    from planalign.simulation.census import check_census, generate_census, write_census

    if not 0.0 <= args.max_reject_share <= 1.0:
        raise CensusError(
            f"--max-reject-share must be a share from 0 to 1, e.g. 0.01 for 1%, got {args.max_reject_share}"
        )
    if args.check is not None:
        result = check_census(
            args.check, effective_date=args.effective_date, max_reject_share=args.max_reject_share
        )
        if not result.ok:
            raise CensusError(result.describe())
        print(result.describe())
        return 0
    if args.out is None:
        raise CensusError("give --out PATH (.csv or .parquet) to generate a census, or --check PATH")
    table = generate_census(
        args.employees,
        args.seed,
        args.effective_date,
        bad_rows=args.bad_rows,
        distribution=args.distribution,
        opening_balances=args.opening_balances,
    )
    path = write_census(table, args.out)
    print(f"wrote {table.num_rows} census rows to {path}")
    return 0
