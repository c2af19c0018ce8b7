# The two commands of the README: `make install` (everything for development) and `make test`
# (every gate). `make bench` runs the benchmarks. Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PYO3_PYTHON := $(abspath $(BIN)/python)

.PHONY: install test test-pbx bench lint rust-test py-test flow-schema run

# Debian packages the tests need: redis-server (the shared state across hosts), postgresql (the
# stores of many hosts: the tests make their own cluster with its initdb), iproute2 (network
# namespaces for the many-hosts test), gettext (the portal's translations compiled), chromium
# and fonts-noto-cjk (the portal's browser tests, Chinese rendered); installed when missing.
DEBS := redis-server postgresql iproute2 gettext chromium fonts-noto-cjk

install:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi; \
		echo "installing Debian packages:$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	$(BIN)/pip install --quiet --config-settings editable_mode=compat \
		-e adapters/asterisk -e adapters/freeswitch -e portal
	cd portal/routecore_portal && ../../$(BIN)/django-admin compilemessages \
		--settings=routecore_portal.settings -v 0

test: lint rust-test py-test

lint:
	cargo fmt --all --check
	cargo clippy -p routecore-core --all-targets -- -D warnings
	cargo clippy -p routecore-py --all-targets --features pyo3/extension-module -- -D warnings
	$(BIN)/ruff check routecore tests bench adapters portal
	$(BIN)/ruff format --check routecore tests bench adapters portal
	$(BIN)/mypy
	$(BIN)/mypy --strict adapters/asterisk/routecore_asterisk adapters/freeswitch/routecore_freeswitch
	$(BIN)/mypy --config-file portal/mypy.ini portal/routecore_portal
	$(BIN)/python -m mypy.stubtest routecore._native --allowlist .stubtest-allowlist

rust-test:
	cargo test --workspace --quiet

py-test:
	$(BIN)/python -m pytest -q

# Real calls through a real Asterisk 22 and FreeSWITCH 1.10 built outside the checkout
# (README: building the PBXs; ASTERISK_PREFIX, FREESWITCH_PREFIX, ROUTECORE_PBX_HARNESS).
test-pbx:
	ROUTECORE_PBX_TESTS=1 $(BIN)/python -m pytest -q adapters/pbx -ra

flow-schema:  # docs/flow.schema.json from the flow models (a test checks it is current)
	$(BIN)/python -c 'import json, routecore.flow as f; print(json.dumps(f.json_schema(), indent=2, ensure_ascii=False, sort_keys=True))' > docs/flow.schema.json

bench:  # each suite in a process of its own, so one suite's heap never slows another's figures
	rm -f .benchmarks/run-*.json
	for suite in bench/test_bench_*.py; do \
		$(BIN)/python -m pytest $$suite --benchmark-only -q \
			--benchmark-json=.benchmarks/run-$$(basename $$suite .py).json || exit 1; \
	done
	$(BIN)/python bench/report.py .benchmarks/run-*.json

# The main job on embedded defaults: the examples published through the review workflow into a
# local store and image (run/, once), then the PBX adapter's server on loopback: the FastAGI
# server (PBX=asterisk, 127.0.0.1:4573) or the ESL outbound server (PBX=freeswitch, :8084).
PBX ?= asterisk
RUN := run
run:
	@mkdir -p $(RUN)/prompts $(RUN)/recordings
	@if [ ! -f $(RUN)/routes.img ]; then \
		for f in examples/*.yaml; do n=$$(basename $$f .yaml); \
			$(BIN)/routecore --store $(RUN)/routecore.db draft $$f --author demo-author >/dev/null && \
			$(BIN)/routecore --store $(RUN)/routecore.db submit $$n 1 --by demo-author >/dev/null && \
			$(BIN)/routecore --store $(RUN)/routecore.db approve $$n 1 --by demo-reviewer >/dev/null && \
			$(BIN)/routecore --store $(RUN)/routecore.db publish $$n 1 --by demo-publisher \
				--image $(RUN)/routes.img || exit 1; \
		done; \
	fi
	@ROUTECORE_RUN=$(RUN) ROUTECORE_STORE=$(RUN)/routecore.db ROUTECORE_CALLS=$(RUN)/calls.db \
		ROUTECORE_IMAGE=$(RUN)/routes.img ROUTECORE_RECORDINGS=$(RUN)/recordings \
		ROUTECORE_PROMPTS=$(RUN)/prompts $(BIN)/routecore-portal serve & \
		sleep 2
	exec $(BIN)/routecore-$(PBX) serve --image $(RUN)/routes.img --calls $(RUN)/calls.db \
		--prompts $(RUN)/prompts --recordings $(RUN)/recordings
