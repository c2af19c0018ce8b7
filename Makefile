# The two commands of the README: `make install` (everything for development) and `make test`
# (every gate). `make bench` runs the benchmarks. Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PYO3_PYTHON := $(abspath $(BIN)/python)

.PHONY: install test bench lint rust-test py-test flow-schema

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -e '.[dev]'

test: lint rust-test py-test

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	$(BIN)/ruff check routecore tests bench
	$(BIN)/ruff format --check routecore tests bench
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest routecore._native --allowlist .stubtest-allowlist

rust-test:
	cargo test --quiet

py-test:
	$(BIN)/python -m pytest tests -q

bench:
	$(BIN)/python -m pytest bench --benchmark-only -q --benchmark-json=.benchmarks/latest.json
	$(BIN)/python bench/report.py .benchmarks/latest.json


flow-schema:  # regenerate the committed JSON Schema of the flow format
	$(BIN)/python -c 'import json, routecore.flow as f; print(json.dumps(f.json_schema(), indent=2, ensure_ascii=False, sort_keys=True))' > docs/flow.schema.json
