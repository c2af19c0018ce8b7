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

flow-schema:  # docs/flow.schema.json from the flow models (a test checks it is current)
	$(BIN)/python -c 'import json, routecore.flow as f; print(json.dumps(f.json_schema(), indent=2, ensure_ascii=False, sort_keys=True))' > docs/flow.schema.json

bench:  # each suite in a process of its own, so one suite's heap never slows another's figures
	rm -f .benchmarks/run-*.json
	for suite in bench/test_bench_*.py; do \
		$(BIN)/python -m pytest $$suite --benchmark-only -q \
			--benchmark-json=.benchmarks/run-$$(basename $$suite .py).json || exit 1; \
	done
	$(BIN)/python bench/report.py .benchmarks/run-*.json
