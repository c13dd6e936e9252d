# Two commands on a fresh machine: `make run` (service on 127.0.0.1:8000) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/recovery: pyproject.toml
	@command -v $(PY) >/dev/null || { echo "needs Python 3.11 ($(PY)); set PY=..."; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/recovery

run: install
	$(BIN)/recovery ingest knowledge/demo/history.jsonl
	@# Every /v1 request needs an API key: make one on the first run (kept in var/local-key).
	@test -s var/local-key || { mkdir -p var && $(BIN)/recovery keys create --tenant default \
	  --name local > var/local-key && chmod 600 var/local-key; }
	@echo "API key (tenant default): $$(cat var/local-key)  -- paste it into the page's API key field"
	$(BIN)/recovery serve

# Test-only system packages (Debian): a PostgreSQL server for the store tests, Chromium for
# the browser tests. Installed when
# missing and we are root (as in CI); otherwise say what to install and let those tests skip.
system:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (Debian)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (sudo apt-get install$$missing); their tests skip"; fi; \
	fi

test: install system
	$(BIN)/ruff check .
	$(BIN)/mypy
	@# The eval gate on our own labelled set, offline engine, in a throwaway data folder.
	@tmp=$$(mktemp -d); RECOVERY_ENGINE=offline RECOVERY_DATA_DIR=$$tmp $(BIN)/recovery eval \
	  evals/data/recovery-v1.jsonl --as-of 2026-11-23 --json out/eval-offline.json --report out/eval-offline.md; \
	  status=$$?; rm -rf $$tmp; exit $$status
	$(BIN)/pytest -q

.PHONY: install run test system
