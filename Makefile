# Two commands for a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := PORTAL_ENV=development

.PHONY: run test install install-dev serve migrate demo clean help

help:
	@echo "make run    install, migrate the local SQLite database, load the demo data and serve on http://127.0.0.1:5000"
	@echo "make test   install with dev extras and run the test suite (PORTAL_TEST_DATABASE_URL adds PostgreSQL)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: $(VENV)/.installed
	$(DEV_ENV) $(BIN)/flask --app portal db upgrade

demo: migrate
	$(DEV_ENV) $(BIN)/flask --app portal demo --users

run: demo
	@echo
	@echo "Serving the portal on http://127.0.0.1:5000  (sign in with a demo account above; Ctrl+C stops)"
	@echo
	$(DEV_ENV) $(BIN)/flask --app portal run --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
