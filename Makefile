# Chengnuo: `make run` to serve the demo, `make test` to run every test.
# Both set up what they need first (.venv, system packages, translations, database).

VENV := .venv
PYTHON := $(VENV)/bin/python
MANAGE := $(PYTHON) manage.py
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x -k pledge"`.
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv sysdeps sysdeps-test setup setup-test run test fuzz lint bench load

help:
	@echo "make run    set up, then serve http://127.0.0.1:8000 with a Celery worker and beat"
	@echo "make test   set up for tests, then run the whole test suite"
	@echo "make fuzz   fuzz the API against its OpenAPI schema, more cases (FUZZ_EXAMPLES=15)"
	@echo "make setup  .venv, system packages, translations, migrations, demo data"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make bench  run the benchmarks (bench/run.py; BENCH=\"print sign\" for some)"
	@echo "make load   load test of a service-hall morning (bench/load/run.py; LOAD_ARGS=...)"

# Reinstall only when pyproject.toml changed since the last install.
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@bash scripts/venv.sh

sysdeps:
	@bash scripts/sysdeps.sh run

sysdeps-test:
	@bash scripts/sysdeps.sh test

setup: venv sysdeps
	@bash scripts/compilemessages.sh
	$(MANAGE) migrate --no-input
	$(MANAGE) load_demo

setup-test: venv sysdeps-test
	@bash scripts/compilemessages.sh

run: setup
	@echo "Serving http://127.0.0.1:8000 with a Celery worker and beat; Ctrl-C stops all three."
	@bash scripts/run.sh

test: setup-test
	$(VENV)/bin/pytest tests/ $(PYTEST_ARGS)

# tests/test_fuzz.py alone with more cases per operation and identity than `make test`'s 3,
# e.g. `make fuzz FUZZ_EXAMPLES=60`; it prints how many cases ran.
FUZZ_EXAMPLES ?= 15
fuzz: setup-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/test_fuzz.py -s $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	$(PYTHON) bench/run.py $(BENCH)

# Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (databases 11 and 12);
# e.g. `make load LOAD_ARGS="--duration 30 --web-workers 2"`.
LOAD_ARGS ?=
load: venv
	$(PYTHON) bench/load/run.py $(LOAD_ARGS)
