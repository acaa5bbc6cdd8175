# Pyxis: the two commands of the README.
#   make run   - set up this Debian 12 host and run a single-node Pyxis in the foreground
#   make test  - set up the same and run the whole test suite (all tiers)

ROOT ?= /
NODE ?= $(shell hostname -s)
LISTEN ?= 0.0.0.0:8006
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test setup host-deps venv ui e2e lint typecheck unit functional system bench clean

run: setup ui
	-$(VENV)/bin/pyxis network setup-default --root $(ROOT)
	$(VENV)/bin/pyxisd --root $(ROOT) --node $(NODE) --listen $(LISTEN)

test: setup ui
	scripts/run-tests

setup: host-deps venv

host-deps:
	scripts/setup-host

# the web UI in ui/dist (npm ci + vite build), cached outside the clone by input hash
ui: host-deps
	ui/build-cached.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

unit functional system e2e: venv
	$(VENV)/bin/pytest -q tests/$@

bench: venv
	for b in bench/*.py; do $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
