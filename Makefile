# One command surface: make run | test | lint | fmt (`make help` lists them all).
# Needs only Python >= 3.11 and make.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Two environments from one lock: what serving needs (`make run`), and that plus the dev group
# (tests, linters). A dev sync covers the runtime set; a runtime sync removes the dev tools, so it
# drops the dev stamp and the next `make test` or `make lint` installs them again.
RUNTIME_STAMP := $(VENV)/.synced-runtime
STAMP := $(VENV)/.synced
# `make run PORT=8080`; unset, `patron serve` takes its default (8000).
PORT ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt bench fuzz clean js-deps

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-8s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# The environment is rebuilt from uv.lock (never re-resolved) whenever the lock changes.
$(RUNTIME_STAMP): $(UV) uv.lock pyproject.toml
	rm -f $(STAMP)
	$(UV) sync --frozen --no-dev --python $(PYTHON)
	touch $(RUNTIME_STAMP)

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $(STAMP) $(RUNTIME_STAMP)

# The JS SDK tests' packages (tests/js/package-lock.json), installed again when the lock changes.
# Without npm nothing is installed and tests/js skips, except where CI is set: there it fails.
JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed

$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd $(JS) && npm ci && touch node_modules/.installed; \
	else echo "npm not found: the JS SDK tests (tests/js) will be skipped"; fi

js-deps: $(JS_STAMP) ## install the JS SDK tests' packages (tests/js; needs npm)

run: $(RUNTIME_STAMP) ## serve the API (PORT=8000) on the embedded PostgreSQL in ./.patron
	$(VENV)/bin/patron serve$(if $(PORT), --port $(PORT))

test: $(STAMP) $(JS_STAMP) ## the whole suite, 2 workers (about 7 minutes on the embedded PostgreSQL, 15 with CI's second database, on 2 cores)
	$(VENV)/bin/pytest -n 2

lint: $(STAMP) ## ruff, ruff format --check, mypy --strict, import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy src tests bench
	$(VENV)/bin/lint-imports

# Patron against the limit server on 1,000,000 customers (wrk when installed); see bench/README.md.
bench: $(STAMP) ## Patron against the limit server (bench/README.md)
	$(VENV)/bin/python -m bench.http_bench

# Schemathesis against Patron's OpenAPI document, 10 minutes per database (`make test` runs 25 s).
fuzz: $(STAMP) ## schemathesis against the API, 10 minutes per database
	PATRON_FUZZ_SECONDS=$${PATRON_FUZZ_SECONDS:-600} PATRON_FUZZ_EXAMPLES=$${PATRON_FUZZ_EXAMPLES:-300} \
		$(VENV)/bin/pytest tests/openapi/test_fuzz.py -v

fmt: $(STAMP) ## fix what ruff can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## remove the environments (.venv, .tools, tests/js/node_modules), not the data
	rm -rf $(VENV) $(TOOLS) $(JS)/node_modules
