# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The French State design system, served from node_modules/ (never committed). Without npm
# the pages are served unstyled.
DSFR := node_modules/@gouvfr/dsfr/dist/dsfr.min.css

.PHONY: run test lint install assets bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DSFR): package.json package-lock.json .dsfr.yml
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-audit --no-fund && touch $(DSFR) \
	    || echo "npm install failed: pages will be served without the DSFR"; \
	else \
	  echo "npm not found: pages will be served without the State design system (DSFR)"; \
	fi

assets: $(DSFR)

install: $(STAMP) assets

run: $(STAMP) assets
	$(PY) run.py migrate
	$(PY) run.py load-campaigns
	$(PY) run.py demo
	@# Development mode, asked for here only: a key kept in instance/secret_key, /dev/outbox.
	POSTES_PARTAGES_ENV=development $(PY) run.py serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint assets
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/core.py
	$(PY) bench/mail.py
	$(PY) bench/rush.py
	$(PY) bench/exports.py
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) instance .pytest_cache
