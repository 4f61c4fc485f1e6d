# Every target that needs the tool chain depends on the virtualenv, so a fresh clone
# needs nothing but `make run` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (first run, or pyproject.toml changed): installing dependencies, about a minute..."
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)
	@echo "$(VENV) is ready."

run: $(STAMP)
	$(BIN)/mopsgate serve --transport http

# Two workers, one test file each at a time (files share fixtures and servers): the suite is
# mostly waiting on fsync, subprocesses and sockets, so two cores finish it in about half.
# Bytecode is cached even where the environment says not to (container images often set
# PYTHONDONTWRITEBYTECODE): without it each worker recompiles and re-rewrites every test module
# (~6 s of CPU per worker) and every `mopsgate` process a test starts recompiles what it imports.
# Temporary state goes to the RAM disk where there is one (tempfile falls back to /tmp where
# /dev/shm is missing): the suite makes ~15,000 SQLite commits (strace of a sample), each an fsync,
# and no test asserts that a write reached a disk (the crash tests kill processes, not the
# machine), so that waiting buys nothing (1-3 ms per fsync on this disk, none on a tmpfs).
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= TMPDIR=/dev/shm $(BIN)/pytest -q -n 2 --dist loadfile

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mopsgate .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build *.egg-info
