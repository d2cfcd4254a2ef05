"""Cutting a sweep into shards: every design (and sensitivity member) × a block of seeds.

A shard keeps every member of its seeds, so each paired comparison — two designs with the same seed, which
draw the same random numbers — is simulated inside one pass (common random numbers, docs/scenarios.md).
Each shard is an ordinary sweep pass over its members (`planalign.scenarios.sweep.run_pass`) into its own
database; `planalign.scenarios.sharded` runs them and merges their tables.

How many shards, unless the user says (`--shards N`): as few as fit memory. The measured figure is issue
#21's: a 50-seed ensemble of 10,000 employees × 5 years peaked at 2.4 GB in one pass, i.e. about 960 bytes
per member × employee × simulated year (`BYTES_PER_MEMBER_EMPLOYEE_YEAR`); a shard may use half the memory
available (`MEMORY_SHARE`: dbt's own process, DuckDB's buffers beyond the data and the machine's other
programs need the rest). Members per shard = that budget ÷ the bytes per member, rounded down to a whole
number of seeds (at least one seed: a seed's members are never split). docs/scaling.md states the rule.

How large the merged sweep database would be when it keeps every member's tables (`--keep tables`, the
default): `DATABASE_BYTES_PER_MEMBER_EMPLOYEE_YEAR` per member × employee × simulated year, measured by
`make bench-sharding` (the merged database's file size). When the working copy and staged save of that size
(`planalign.simulation.working_copy.space_needed`) do not fit the free disk, the sweep is refused before it
runs and `--keep summaries` is suggested (`check_merged_size`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from planalign.errors import PlanalignUsageError
from planalign.scenarios.expansion import Member
from planalign.scenarios.scenario_file import MAX_MEMBERS

#: Peak memory of one pass per member × employee × simulated year: 2.4 GB ÷ (50 × 10,000 × 5) (issue #21).
BYTES_PER_MEMBER_EMPLOYEE_YEAR = 2.4e9 / (50 * 10_000 * 5)
#: The share of the available memory one shard may use.
MEMORY_SHARE = 0.5
#: The merged sweep database's size per member × employee × simulated year with every member's tables
#: (benchmarks/results/2026-12-07-sharding-2000.json: 47.0 MB merged from 16 members × 2,000 × 3 years).
DATABASE_BYTES_PER_MEMBER_EMPLOYEE_YEAR = 513.5


class ShardingError(PlanalignUsageError):
    """The shards asked for cannot be made (fewer than one, more than there are seeds)."""


class MergedDatabaseTooLargeError(PlanalignUsageError):
    """Every member's tables, merged, would not fit the free disk beside the sweep database."""


def merged_database_bytes(*, members: int, employees: int, years: int) -> int:
    """The projected size of a sweep database holding every member's tables (see the module docstring)."""
    return int(DATABASE_BYTES_PER_MEMBER_EMPLOYEE_YEAR * members * max(1, employees) * max(1, years))


def check_merged_size(*, projected: int, needed: int, free: int, where: Path) -> None:
    """Refuse a full-table sweep whose merged database (`projected` bytes; `needed` with the working copy
    and the staged save) cannot fit the `free` bytes of `where`'s file system, suggesting summaries."""
    if needed <= free:
        return
    gb = 1e9
    raise MergedDatabaseTooLargeError(
        f"every member's tables, merged, would make a sweep database of about {projected / gb:,.1f} GB "
        f"(with its working copy and staged save {needed / gb:,.1f} GB), but the file system of {where} has "
        f"{free / gb:,.1f} GB free. Keep only the yearly figures the comparison reads with --keep summaries "
        "(the same comparison.json; no member tables to export), or give --keep tables to try anyway, or "
        "put the database (the scenario file's `database:`) on a larger disk. docs/scaling.md"
    )


@dataclass(frozen=True)
class Shard:
    """One pass of a sharded sweep: every member whose seed is one of `seeds`, in the sweep's order."""

    index: int
    seeds: tuple[int, ...]
    members: tuple[Member, ...]

    def describe(self) -> str:
        """`shard 2 (seeds 7, 9: 4 members)`, for progress lines and failure messages."""
        seeds = ", ".join(str(s) for s in self.seeds)
        plural = "s" if len(self.seeds) != 1 else ""
        return f"shard {self.index + 1} (seed{plural} {seeds}: {self.member_ids})"

    @property
    def member_ids(self) -> str:
        return ", ".join(m.scenario_id for m in self.members)


def member_bytes(employees: int, years: int) -> float:
    """The measured peak memory of one member of a pass (see the module docstring)."""
    return BYTES_PER_MEMBER_EMPLOYEE_YEAR * max(1, employees) * max(1, years)


def shards_for_memory(
    *, seeds: int, members_per_seed: int, employees: int, years: int, available_bytes: int
) -> int:
    """The fewest shards whose passes each fit `MEMORY_SHARE` of `available_bytes` (the memory rule)."""
    if seeds < 1:
        return 1
    budget = available_bytes * MEMORY_SHARE
    per_seed = member_bytes(employees, years) * max(1, members_per_seed)
    seeds_per_shard = max(1, math.floor(budget / per_seed))
    return min(seeds, math.ceil(seeds / seeds_per_shard))


def check_shard_count(shards: int, seeds: int) -> None:
    """`--shards` must be between 1 and the number of seeds (a shard holds at least one whole seed)."""
    if shards < 1:
        raise ShardingError(f"--shards must be at least 1 (got {shards})")
    if shards > seeds:
        raise ShardingError(
            f"--shards {shards} is more than the scenario file's {seeds} seed{'s' if seeds != 1 else ''}: a "
            "shard holds every design of at least one seed (common random numbers); give at most "
            f"--shards {seeds}"
        )


def fewest_shards(seeds: int, members_per_seed: int) -> int:
    """The fewest shards whose passes hold at most `MAX_MEMBERS` members each (the one-pass sweep's limit,
    `planalign.scenarios.scenario_file`), or `ShardingError` when one seed's members exceed it."""
    if members_per_seed > MAX_MEMBERS:
        raise ShardingError(
            f"one seed has {members_per_seed} members (designs and sensitivity variants), more than the "
            f"{MAX_MEMBERS} one pass may hold; split the designs over several scenario files"
        )
    return math.ceil(seeds / (MAX_MEMBERS // members_per_seed))


def check_shard_size(shards: int, seeds: int, members_per_seed: int) -> None:
    """`--shards N` must cut the sweep into passes of at most `MAX_MEMBERS` members."""
    least = fewest_shards(seeds, members_per_seed)
    if shards < least:
        largest = math.ceil(seeds / shards) * members_per_seed
        raise ShardingError(
            f"--shards {shards} makes passes of up to {largest} members; one pass holds at most "
            f"{MAX_MEMBERS} (its memory grows with its members): give at least --shards {least}"
        )


def plan_shards(members: Sequence[Member], seeds: Sequence[int], shards: int) -> list[Shard]:
    """`shards` blocks of consecutive seeds, as even as can be (sizes differ by at most one), each with
    every member of its seeds in the sweep's member order."""
    check_shard_count(shards, len(seeds))
    size, extra = divmod(len(seeds), shards)
    out: list[Shard] = []
    start = 0
    for index in range(shards):
        block = tuple(seeds[start : start + size + (1 if index < extra else 0)])
        start += len(block)
        chosen = set(block)
        out.append(Shard(index, block, tuple(m for m in members if m.random_seed in chosen)))
    return out
