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
	$(BIN)/recovery serve

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

.PHONY: install run test
