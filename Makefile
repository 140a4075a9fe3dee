# The two set-up commands of the README: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

CONSOLE_DIST := src/orderloom/console/dist/index.html
CONSOLE_DEPS := console/node_modules/.installed
CONSOLE_SRC := $(shell find console/src console/index.html console/vite.config.ts -type f 2>/dev/null)

.PHONY: run test lint typecheck unit bench clean console console-test e2e browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

run: $(STAMP) $(CONSOLE_DIST)
	$(BIN)/orderloom serve --demo

# The web console: built with the machine's Node.js and npm when its sources are newer than the build.
$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_DIST): $(CONSOLE_DEPS) $(CONSOLE_SRC)
	cd console && npm run build --silent

console: $(CONSOLE_DIST)

# Headless Chromium and CJK fonts from Debian for the browser tests (Playwright drives the system browser).
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

console-test: $(CONSOLE_DEPS)
	cd console && npx tsc --noEmit && npx vitest run

e2e: $(STAMP) $(CONSOLE_DIST) browser
	cd console && node e2e/run.mjs

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

test: lint typecheck console-test e2e
	$(BIN)/pytest -q

bench: $(DEVSTAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/chain_read.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
