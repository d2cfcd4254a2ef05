# planalign — every target bootstraps .venv on demand, so a fresh clone needs only `make simulate` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= simulation_config.yaml
SCENARIOS ?= scenarios.yaml
YEAR ?=
REPORT ?= reports/latest.html
PLANALIGN := $(PY) -m planalign

.PHONY: venv simulate scenarios test test-fast lint typecheck plan info validate census bench bench-scenarios bench-quick bench-engine report clean \
        initialization foundation event-generation state-accumulation validation reporting

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,ray,dask,postgres]'
	@touch $(STAMP)

## Run the default multi-year simulation (simulation_config.yaml) on embedded DuckDB.
simulate: $(STAMP)
	$(PLANALIGN) simulate --config $(CONFIG) --report $(REPORT) $(ARGS)

## Compare plan designs: the scenario file's designs × seeds in one run, then comparison.json, metrics.csv
## and comparison.html in runs/<time>-sweep-<file>/ (the shipped scenarios.yaml: 3 designs × 20 seeds).
scenarios: $(STAMP)
	$(PLANALIGN) scenarios run $(SCENARIOS) $(ARGS)

## Run every test (unit, real-dbt, reliability, browser), one test file per worker process on every core
## (pytest-xdist; the suite is mostly one busy thread at a time, so two cores take about half the time).
## PYTEST_WORKERS=0 runs it in this one process. The longest files go first (tests/schedule.py, its measured
## seconds in tests/file_seconds.json), so that the workers finish together.
PYTEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -p tests.schedule $(PYTEST_ARGS)

## Unit tests only (no real dbt): the quick loop while developing.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check planalign tests benchmarks
	$(VENV)/bin/ruff format --check planalign tests benchmarks
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models --processes 0 --disable-progress-bar

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## The HTML report of RUN (a run or sweep directory; default: the newest complete full run under runs/,
## never a one-stage or failed run — `planalign runs` lists them all).
report: $(STAMP)
	$(PLANALIGN) report $(RUN) --config $(CONFIG) --out $(REPORT)

plan: $(STAMP)
	$(PLANALIGN) plan --config $(CONFIG)

info: $(STAMP)
	$(PLANALIGN) info --config $(CONFIG)

validate: $(STAMP)
	$(PLANALIGN) validate --config $(CONFIG)

census: $(STAMP)
	$(PLANALIGN) census --employees $(or $(N),5000) --seed $(or $(SEED),42) --out $(or $(OUT),dbt_project/data/census.parquet)

## One stage of one year, e.g. `make foundation YEAR=2026`.
initialization foundation event-generation state-accumulation validation reporting: $(STAMP)
	@test -n "$(YEAR)" || { echo "usage: make $@ YEAR=2026" >&2; exit 2; }
	$(PLANALIGN) simulate --config $(CONFIG) --stage $(subst -,_,$@) --year $(YEAR)

## All benchmarks: the five ways of running one simulation, then the scenario sweeps (`bench-scenarios`).
bench: $(STAMP)
	$(PY) benchmarks/run_benchmarks.py $(ARGS)
	$(PY) benchmarks/bench_scenarios.py $(SCENARIO_ARGS)
	$(PY) benchmarks/bench_sharding.py $(SHARDING_ARGS)
	$(PY) benchmarks/bench_postgres.py --out benchmarks/results/$$(date +%F)-postgres.json
	$(PY) benchmarks/bench_workers.py --out benchmarks/results/$$(date +%F)-workers.json

## A sweep (10 designs × 1 seed) and an ensemble (1 × 50 seeds) in one pass vs sequential `simulate` runs.
bench-scenarios: $(STAMP)
	$(PY) benchmarks/bench_scenarios.py $(SCENARIO_ARGS)

bench-quick: $(STAMP)
	$(PY) benchmarks/run_benchmarks.py --quick $(ARGS)

## The engine alone on a generated ~150-model project: `planalign run --workers 4` vs `dbt run --threads 1|4`.
bench-engine: $(STAMP)
	$(PY) benchmarks/engine_vs_dbt.py --out benchmarks/results/$$(date +%F)-engine-vs-dbt.json $(ARGS)

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache .mypy_cache .ruff_cache

## One shard of a sharded sweep against its members, and the merge (docs/scaling.md's cluster model).
.PHONY: bench-sharding
bench-sharding: $(STAMP)
	$(PY) benchmarks/bench_sharding.py $(SHARDING_ARGS)
