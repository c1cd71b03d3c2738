# Chengnuo: `make run` to serve the demo, `make test` to run every test.
# Both set up what they need first (.venv, system packages, translations, database).

VENV := .venv
PYTHON := $(VENV)/bin/python
MANAGE := $(PYTHON) manage.py
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x -k pledge"`.
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv sysdeps sysdeps-test setup setup-test run test lint bench

help:
	@echo "make run    set up, then serve http://127.0.0.1:8000 with a Celery worker and beat"
	@echo "make test   set up for tests, then run the whole test suite"
	@echo "make setup  .venv, system packages, translations, migrations, demo data"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make bench  run the benchmarks (bench/run.py; BENCH=\"print sign\" for some)"

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

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	$(PYTHON) bench/run.py $(BENCH)
