# Humanoid stack: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TASK ?= put the red cube in the tray

.PHONY: setup build test test-e2e lint typecheck pytest demo clean help

help:
	@echo "make demo   - set up, launch the simulated stack and run a task (TASK=\"...\")"
	@echo "make test   - set up, lint, type-check and run the whole test suite"
	@echo "make setup  - idempotent install: apt packages, .venv, colcon build"

setup:
	@bash scripts/setup.sh

build: setup

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	bash scripts/run_tests.sh

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	bash scripts/run_tests.sh

# Only the whole-stack physical tests (system tasks with a real pick-and-place, fault injection
# on the running stack); they are part of `make test` too.
test-e2e: setup
	bash scripts/run_tests.sh -m e2e

demo: setup
	$(VENV)/bin/humanoid demo --task "$(TASK)"

clean:
	rm -rf build install log
