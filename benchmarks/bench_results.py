"""Turning benchmark runs into the result files: `benchmarks/results/<date>-<size>.json` and `.md`.

The JSON has exactly the shape the issue asks for — `{"configs": {"A": {"median_s", "min_s", "max_s",
"peak_rss_mb"}, ...}, "identical_results", "census", "years", "machine"}` — plus extra keys (ratios, dbt
overhead per model run, parallelism, checksums, every repetition, what each configuration runs, target
verdicts) so that a result file explains itself without the script that wrote it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_checksum import TableChecksum, checksums_equal, describe_difference

CONFIG_ORDER: tuple[str, ...] = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class RunRecord:
    """One whole-process run of one configuration.

    `wall_s` is the wall time of the configuration's processes (for E: of its SQL phase only); `peak_rss_mb`
    the largest resident set of any of its processes (see run_benchmarks.measure for why that is the tree's
    peak).
    """

    config: str
    repetition: int
    wall_s: float
    peak_rss_mb: float
    checksums: Mapping[str, TableChecksum] | None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.checksums is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "repetition": self.repetition,
            "wall_s": round(self.wall_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "error": self.error,
            "checksums": {t: c.to_dict() for t, c in self.checksums.items()} if self.checksums else None,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Verdict:
    """Whether all runs agree; `message` explains the first disagreement when they do not."""

    identical: bool
    message: str


def compare_checksums(records: Sequence[RunRecord]) -> Verdict:
    """All runs of all configurations must carry the same checksums; a failed run makes the answer False."""
    failed = [r for r in records if not r.ok]
    if failed:
        names = ", ".join(f"{r.config}#{r.repetition}" for r in failed)
        return Verdict(False, f"no result to compare for failed run(s) {names}")
    if not records:
        return Verdict(False, "no runs")
    reference = records[0]
    assert reference.checksums is not None
    for record in records[1:]:
        assert record.checksums is not None
        if not checksums_equal(dict(reference.checksums), dict(record.checksums)):
            diff = describe_difference(
                f"{reference.config}#{reference.repetition}",
                dict(reference.checksums),
                f"{record.config}#{record.repetition}",
                dict(record.checksums),
            )
            return Verdict(
                False,
                f"results differ between {reference.config}#{reference.repetition} and "
                f"{record.config}#{record.repetition}: {diff}",
            )
    configs = sorted({r.config for r in records})
    return Verdict(True, f"all {len(records)} runs ({', '.join(configs)}) produced identical results")


def _config_summary(records: Sequence[RunRecord]) -> dict[str, Any]:
    times = [r.wall_s for r in records if r.error is None]
    if not times:
        return {"median_s": None, "min_s": None, "max_s": None, "peak_rss_mb": None, "runs": len(records)}
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "peak_rss_mb": round(max(r.peak_rss_mb for r in records if r.error is None), 1),
        "runs": len(times),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


#: The issue's targets: (census size, description, check on the summarized configs).
def _targets(census: int, configs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    def median(name: str) -> float | None:
        value = configs.get(name, {}).get("median_s")
        return float(value) if value is not None else None

    def rss(name: str) -> float | None:
        value = configs.get(name, {}).get("peak_rss_mb")
        return float(value) if value is not None else None

    checks: list[tuple[str, float | None, float, str]] = []  # (label, value, bound, "<=" or ">=")
    if census == 10_000:
        checks += [
            ("C/A >= 4 (A at least 4x faster than C)", _ratio(median("C"), median("A")), 4.0, ">="),
            ("D/A >= 1.5 (A at least 1.5x faster than D)", _ratio(median("D"), median("A")), 1.5, ">="),
            ("B/A >= 1.25 (A at least 1.25x faster than B)", _ratio(median("B"), median("A")), 1.25, ">="),
            ("A/E <= 1.5 (A within 1.5x of the SQL floor)", _ratio(median("A"), median("E")), 1.5, "<="),
        ]
    if census == 100_000:
        checks.append(
            ("A/E <= 1.2 (A within 1.2x of the SQL floor)", _ratio(median("A"), median("E")), 1.2, "<=")
        )
    checks.append(("RSS A/D <= 1.3 (peak RSS of A at most 1.3x D's)", _ratio(rss("A"), rss("D")), 1.3, "<="))
    result: dict[str, dict[str, Any]] = {}
    for label, value, bound, op in checks:
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        result[label] = {"value": value, "met": met}
    return result


def summarize(
    records: Sequence[RunRecord],
    *,
    census: int,
    years: Sequence[int],
    machine: Mapping[str, Any],
    descriptions: Mapping[str, str],
    model_runs: int | None,
    parallelism: Mapping[str, Any] | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result document (see the module docstring for its shape)."""
    configs = {
        name: _config_summary([r for r in records if r.config == name])
        for name in CONFIG_ORDER
        if any(r.config == name for r in records)
    }
    if "E" in configs:
        configs["E"]["timed_phase"] = "sql_execution_only (compilation excluded)"
    verdict = compare_checksums(records)
    a = configs.get("A", {}).get("median_s")
    e = configs.get("E", {}).get("median_s")
    overhead = None
    if a is not None and e is not None and model_runs:
        overhead = round((a - e) / model_runs, 4)
    document: dict[str, Any] = {
        "configs": configs,
        "identical_results": verdict.identical,
        "census": census,
        "years": list(years),
        "machine": dict(machine),
        "identical_results_detail": verdict.message,
        "ratios": {f"A/{n}": _ratio(a, configs[n]["median_s"]) for n in configs if n != "A"} if a else {},
        "model_runs": model_runs,
        "dbt_overhead_per_model_run_s": overhead,
        "parallelism": dict(parallelism) if parallelism else None,
        "targets": _targets(census, configs),
        "descriptions": {n: descriptions[n] for n in configs if n in descriptions},
        "runs": [r.to_dict() for r in records],
    }
    a_model_runs = (parallelism or {}).get("model_runs")
    if model_runs is not None and a_model_runs is not None and int(a_model_runs) != model_runs:
        document["work_mismatch"] = (
            f"A ran {a_model_runs} models but E ran {model_runs}: the configurations did not do the same work"
        )
    if extra:
        document.update(extra)
    return document


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_markdown(document: Mapping[str, Any]) -> str:
    """A markdown table of the document, for the terminal, the results directory and the README."""
    configs: Mapping[str, Mapping[str, Any]] = document["configs"]
    a = configs.get("A", {}).get("median_s")
    years = document["years"]
    span = f"{years[0]}–{years[-1]}" if years else "no years"
    lines = [
        f"Census {document['census']:,} employees, years {span}, "
        f"median of {document.get('repetitions', '?')} repetition(s); {document.get('date', '')}".rstrip(
            "; "
        ),
        "",
        "| config | what runs | median s | min s | max s | peak RSS MB | A ÷ config |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    descriptions = document.get("descriptions", {})
    for name, summary in configs.items():
        ratio = _ratio(a, summary.get("median_s")) if a is not None else None
        lines.append(
            f"| {name} | {descriptions.get(name, '')} | {_fmt(summary.get('median_s'))} | "
            f"{_fmt(summary.get('min_s'))} | {_fmt(summary.get('max_s'))} | "
            f"{_fmt(summary.get('peak_rss_mb'), 0)} | {_fmt(ratio)} |"
        )
    lines.append("")
    if document.get("work_mismatch"):
        lines.append(f"- **Warning**: {document['work_mismatch']}")
    identical = "yes" if document["identical_results"] else "**NO**"
    lines.append(f"- Identical `fct_yearly_events` and `fct_workforce_snapshot` in every run: {identical}")
    lines.append(f"  ({document.get('identical_results_detail', '')})")
    overhead = document.get("dbt_overhead_per_model_run_s")
    if overhead is not None:
        lines.append(
            f"- dbt overhead per model run, (A − E) ÷ {document['model_runs']} model runs: "
            f"{overhead * 1000:.0f} ms"
        )
    parallelism = document.get("parallelism")
    if parallelism:
        busy = parallelism.get("busy_ratio")
        lines.append(
            f"- Parallelism achieved by A: mean {_fmt(parallelism.get('mean'))} models in flight "
            f"while stages ran, peak {_fmt(parallelism.get('max'))}"
            + (f"; summed model time ÷ engine wall time {_fmt(busy)}" if busy is not None else "")
        )
    targets = document.get("targets", {})
    if targets:
        lines.append("- Targets:")
        for label, verdict in targets.items():
            met = {True: "met", False: "**missed**", None: "not measured"}[verdict["met"]]
            lines.append(f"  - {label}: {_fmt(verdict['value'])} — {met}")
    machine = document.get("machine", {})
    if machine:
        lines.append(
            f"- Machine: {machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}), "
            f"{_fmt(machine.get('memory_gb'), 1)} GiB, Python {machine.get('python')}, "
            f"dbt-core {machine.get('dbt_core')}, dbt-duckdb {machine.get('dbt_duckdb')}, "
            f"duckdb {machine.get('duckdb')}"
        )
    load_start, load_end = machine.get("load_average_at_start"), document.get("load_average_at_end")
    if load_start or load_end:
        lines.append(f"- Load average (1, 5, 15 min) at start {load_start}, at end {load_end}")
    return "\n".join(lines) + "\n"


def write_results(document: Mapping[str, Any], out_dir: Path, *, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.json` and `<stem>.md` under `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    md_path.write_text(render_markdown(document))
    return json_path, md_path


DOCS_BEGIN = "<!-- benchmark-results:begin -->"
DOCS_END = "<!-- benchmark-results:end -->"


def update_marked_block(path: Path, markdown: str, *, begin: str = DOCS_BEGIN, end: str = DOCS_END) -> bool:
    """Replace the text between the `begin` and `end` markers in `path`; False without markers."""
    if not path.exists():
        return False
    text = path.read_text()
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        return False
    path.write_text(text[: start + len(begin)] + "\n" + markdown + text[stop:])
    return True
