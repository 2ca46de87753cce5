# crmkit — two commands do all set-up on a fresh machine:
#   make demo   create .venv, install, build + publish the demo warehouse
#   make test   create/update .venv, install test needs, run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
CUSTOMERS ?= 20000
SEED      ?= 42
PORT      ?= 8866
PREHEAT   ?= 1
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
# Where the shared demo (the tests' and the notebooks' data, crmkit.notebook.shared_demo) and
# jieba's dictionary are cached: built once, reused until the code that builds them changes.
export CRMKIT_CACHE_DIR ?= $(CURDIR)/.cache/crmkit

# A Python >= 3.12: on PATH first, then pyenv's installed versions (3.12 preferred: the whole
# stack is checked together on it). Stops with a clear message when there is none.
define FIND_PYTHON
ok() { "$$1" -c 'import sys; sys.exit(not (3, 12) <= sys.version_info < (4,))' >/dev/null 2>&1; }; \
for c in python3.12 python3.13 python3.14 python3 python; do \
  p=$$(command -v $$c 2>/dev/null) && ok "$$p" && { echo "$$p"; exit 0; }; \
done; \
root=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv"); \
for p in $$(ls -d "$$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V); do \
  ok "$$p" && { echo "$$p"; exit 0; }; \
done; exit 1
endef

.PHONY: help venv demo publish serve test test-fast shared-demo browser-deps lint format bench clean
help:
	@echo "make demo    build the demo warehouse (CUSTOMERS=$(CUSTOMERS)), publish it, serve the dashboards"
	@echo "make serve   serve the dashboards over the published snapshot (PORT=$(PORT))"
	@echo "make test    run every test (installs what the tests need)"
	@echo "make lint    ruff format --check + ruff check"
	@echo "make bench   run the benchmarks (not part of CI)"

$(STAMP): pyproject.toml
	@py=$$( $(FIND_PYTHON) ) || { \
	  echo "crmkit needs Python >= 3.12 and found none on PATH or in pyenv."; \
	  echo "Install one (e.g. 'pyenv install 3.12'), or create $(VENV) yourself with it."; exit 1; }; \
	if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "creating $(VENV) with $$py"; rm -rf $(VENV); "$$py" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

# PySpark (~400 MB) for the Spark parity test and polars for the benchmark-agreement test:
# `make demo` needs neither.
SPARK_STAMP := $(VENV)/.spark-installed
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,bench]'
	@touch $@

demo: $(STAMP)
	$(BIN)/crmkit demo --customers $(CUSTOMERS) --seed $(SEED) --replace
	$(BIN)/crmkit publish
	$(BIN)/crmkit serve --no-browser --port $(PORT) --preheat $(PREHEAT)

serve: $(STAMP)
	$(BIN)/crmkit serve --no-browser --port $(PORT) --preheat $(PREHEAT)

publish: $(STAMP)
	$(BIN)/crmkit publish

# Browser tests drive Debian's chromium (never `playwright install`); Chinese text needs a CJK
# font. Installed with apt-get when missing (as root, or through sudo).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	  echo "installing chromium and fonts-noto-cjk with apt-get"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# The demo the tests and the notebooks share, generated and published once before pytest starts
# (the test session and every notebook kernel then open the same files; see crmkit.cache).
shared-demo: $(STAMP)
	$(BIN)/python -c "from crmkit import notebook; print(*notebook.shared_demo(), sep='\n')"

test: $(STAMP) $(SPARK_STAMP) browser-deps shared-demo
	$(BIN)/python -m pytest

test-fast: $(STAMP) shared-demo
	$(BIN)/python -m pytest -m "not slow and not browser" -n 2 --dist worksteal -x -q

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Sizes in orders (BENCH_ORDERS=1000000,10000000,50000000 for 50 M); every figure goes into
# bench/results/<date>.json (+ .png). The dashboards are timed on the largest size's snapshot.
BENCH_ORDERS ?= 1000000,10000000
BENCH_REPEAT ?= 5
BENCH_PUBLISH_REPEAT ?= 3
BENCH_LARGEST = $(lastword $(subst $(comma), ,$(BENCH_ORDERS)))
comma := ,
bench: $(STAMP) browser-deps
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.suite --orders $(BENCH_ORDERS) --repeat $(BENCH_REPEAT)
	$(BIN)/python -m bench.publish --orders $(BENCH_ORDERS) --repeat $(BENCH_PUBLISH_REPEAT)
	$(BIN)/python -m bench.dashboard_latency \
	  --published bench/.data/orders-$(BENCH_LARGEST)/published.duckdb
	$(BIN)/python -m bench --repeat $(BENCH_REPEAT)

clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal .pytest_cache $(CRMKIT_CACHE_DIR)/shared

which-python:
	@$(FIND_PYTHON)
