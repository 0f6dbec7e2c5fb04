# One command surface: make run | test | lint | fmt. Needs only Python >= 3.11 and make.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: run test lint fmt bench fuzz clean js-deps

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# The environment is rebuilt from uv.lock (never re-resolved) whenever the lock changes.
$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $(STAMP)

# The JS SDK tests' packages (tests/js/package-lock.json), installed again when the lock changes.
# Without npm nothing is installed and tests/js skips, except where CI is set: there it fails.
JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed

$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd $(JS) && npm ci && touch node_modules/.installed; \
	else echo "npm not found: the JS SDK tests (tests/js) will be skipped"; fi

js-deps: $(JS_STAMP)

run: $(STAMP)
	$(VENV)/bin/patron serve

test: $(STAMP) $(JS_STAMP)
	$(VENV)/bin/pytest -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy src tests bench
	$(VENV)/bin/lint-imports

# Patron against the limit server on 1,000,000 customers (wrk when installed); see bench/README.md.
bench: $(STAMP)
	$(VENV)/bin/python -m bench.http_bench

# Schemathesis against Patron's OpenAPI document, 10 minutes per database (`make test` runs 25 s).
fuzz: $(STAMP)
	PATRON_FUZZ_SECONDS=$${PATRON_FUZZ_SECONDS:-600} PATRON_FUZZ_EXAMPLES=$${PATRON_FUZZ_EXAMPLES:-300} \
		$(VENV)/bin/pytest tests/openapi/test_fuzz.py -v

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(TOOLS) $(JS)/node_modules
