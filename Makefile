# Two commands: `make up` starts the local stack, `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
FLEET ?= 5
STAMP := $(VENV)/.installed
ZAPIER_STAMP := zapier/node_modules/.installed
CONSOLE_STAMP := api/console/npm/node_modules/.installed

.PHONY: up test bench bench-full lint typecheck clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || (echo "creating virtual environment in $(VENV)" && $(PYTHON) -m venv $(VENV))
	@echo "installing closecall and its test tools into $(VENV) (first run takes a minute)"
	@$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[test]'
	@touch $(STAMP)

# The Zapier app's platform: zapier-platform-core/-cli and Node 22 (the CLI refuses older) from npm.
$(ZAPIER_STAMP): zapier/package.json zapier/package-lock.json
	@echo "installing the Zapier app's platform into zapier/node_modules (Node 22; first run takes a minute)"
	@cd zapier && npm ci --no-audit --no-fund --loglevel=error
	@touch $(ZAPIER_STAMP)

# The console's chart library as npm publishes it, to check the copy it serves (vendor/) is that pin.
$(CONSOLE_STAMP): api/console/npm/package.json api/console/npm/package-lock.json
	@cd api/console/npm && npm ci --no-audit --no-fund --loglevel=error
	@touch $(CONSOLE_STAMP)

up: $(STAMP)
	@$(VENV)/bin/closecall up --fleet $(FLEET)

# prints its own time at the end, pass or fail (the budget on CI's 2 cores: 35 minutes)
test: $(STAMP) $(ZAPIER_STAMP) $(CONSOLE_STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint typecheck && ./scripts/ensure-debian-packages && $(VENV)/bin/pytest; \
	status=$$?; took=$$(( $$(date +%s) - start )); \
	echo "make test: $$((took / 60)) min $$((took % 60)) s (lint, types, every test; the budget is 35 min)"; \
	exit $$status

bench: $(STAMP)
	@./scripts/ensure-debian-packages
	@$(VENV)/bin/python -m bench

bench-full: $(STAMP)
	@./scripts/ensure-debian-packages
	@$(VENV)/bin/python -m bench --full

lint: $(STAMP)
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	@$(VENV)/bin/mypy core ingest streams api schemas deploy bench tests

clean:
	rm -rf .closecall
