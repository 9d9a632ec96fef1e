# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The French State design system, served from node_modules/ (never committed). Without npm
# the pages are served unstyled.
DSFR := node_modules/@gouvfr/dsfr/dist/dsfr.min.css

.PHONY: run test lint install assets pdf-libs bench clean

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

# WeasyPrint (decision letters, procès-verbaux) needs Debian's pango and offline fonts.
pdf-libs:
	@if ! ldconfig -p 2>/dev/null | grep libpangoft2-1.0 >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
	      libharfbuzz0b fontconfig fonts-dejavu-core >/dev/null; \
	  else \
	    echo "pango not found: install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core for the PDF letters"; \
	  fi; \
	fi

install: $(STAMP) assets pdf-libs

run: $(STAMP) assets pdf-libs
	$(PY) run.py migrate
	$(PY) run.py load-campaigns
	$(PY) run.py demo
	@# Development mode, asked for here only: a key kept in instance/secret_key, /dev/outbox.
	POSTES_PARTAGES_ENV=development $(PY) run.py serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint assets pdf-libs
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/core.py
	$(PY) bench/mail.py
	$(PY) bench/rush.py
	$(PY) bench/exports.py
	$(PY) bench/dashboard.py
	$(PY) bench/figures.py

clean:
	rm -rf $(VENV) instance .pytest_cache
