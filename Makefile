# Two commands: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit tools bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(VENV)/bin/sijil demo

tools:
	./scripts/install-tools.sh
	./scripts/fetch-test-vectors.sh
	./scripts/vendor-web.sh
	./scripts/vendor-publish.sh

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# In parallel, one xdist worker per core: each test has its own folders and its own
# SQLite file or PostgreSQL schema (tests/conftest.py). loadgroup hands tests out one
# at a time, slow ones first, and keeps each xdist_group (the demo, the near-duplicate
# set) on one worker so its shared fixture is built once. PYTEST_ARGS adds options,
# e.g. `make unit PYTEST_ARGS='-m "not slow"'`; `.venv/bin/pytest` alone runs serially.
PYTEST_WORKERS ?= auto
unit: $(DEV_STAMP) tools
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test: lint unit

# Benchmarks are not tests: each prints its figures against its reference tool.
bench: $(DEV_STAMP) tools
	$(PY) bench/envelope.py
	$(PY) bench/scrub.py
	$(PY) bench/ledger.py
	$(PY) bench/vault.py
	$(PY) bench/scale.py
	$(PY) bench/media.py
	$(PY) bench/neardup.py
	$(PY) bench/relay_lossy.py
	$(PY) bench/desk.py
	$(PY) bench/backup.py
	$(PY) bench/publish.py
	$(PY) bench/web.py

# Coverage-guided fuzzing (atheris/libFuzzer) of every parser an attacker reaches, each
# target for FUZZ_SECONDS (FUZZ_TARGETS to choose some). The corpus in fuzz/corpus/ grows
# and is kept in the repository; a crash is saved in fuzz/crashes/ and fails the run
# once every target has had its time (docs/fuzzing.md).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= $$($(PY) fuzz/run.py --list)
fuzz: $(DEV_STAMP)
	@failed=""; for t in $(FUZZ_TARGETS); do \
		$(PY) fuzz/run.py $$t --seconds $(FUZZ_SECONDS) || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (see fuzz/crashes/)"; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
