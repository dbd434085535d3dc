# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages the tests drive for real: Chromium for the pages, ffmpeg for the recordings,
# sipp and baresip as the SIP phones and carrier of the embedded PBX.
APT_TEST_PACKAGES := chromium ffmpeg sip-tester baresip

.PHONY: run test lint bench install install-test apt-test services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(VENV)/.installed-test apt-test

## make run: install into .venv, migrate the database, create the first admin, start the daemon.
run: $(STAMP)
	$(BIN)/cti db upgrade
	$(BIN)/cti users ensure-admin
	exec $(BIN)/cti serve

## apt-test: as root on Debian/Ubuntu, install the system packages the tests use (skipped otherwise).
apt-test:
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages:$$missing"; \
		(apt-get install -y -qq $$missing >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq $$missing >/dev/null)); \
	else echo "note: not root on Debian; tests needing$$missing will say what is missing"; fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .
	$(BIN)/lint-imports

## make test: lint, the import contract, then every test (SQLite and PostgreSQL).
test: install-test lint
	$(BIN)/python -m pytest -q

## make bench: print the benchmark figures (no assertions on speed).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
