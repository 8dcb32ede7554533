# Set-up is part of every command: a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PATH := $(abspath $(BIN)):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1

.PHONY: install repro test test-assets lint clean

install: $(STAMP)

# torch first, pinned: a looser requirement would pull a multi-GB CUDA build. Where pip is pointed
# at local wheels (PIP_FIND_LINKS: this machine's CPU build of torch), uv takes torch from there;
# elsewhere pip does, with its own configuration. The rest by uv, compiled to bytecode at install
# as pip does: the same pinned packages in under a minute rather than three.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.9
ifdef PIP_FIND_LINKS
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode \
		$(addprefix --find-links ,$(PIP_FIND_LINKS)) torch==2.13.0
else
	$(BIN)/python -m pip install --quiet torch==2.13.0
endif
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e ".[dev]"
	touch $@

repro: install
	dvc repro

lint: install
	ruff check .

# One worker per core (tests/conftest.py schedules them: longest first, and the tests sharing the
# reproduced micro project on one worker).
# PYTHONDONTWRITEBYTECODE emptied: the hundred-odd processes the tests start reuse src/'s bytecode.
test: lint
	PYTHONDONTWRITEBYTECODE= pytest -n auto

# Rebuild the committed small trained space the science tests use, and check it (tests/spaces.py).
test-assets: install
	python tests/spaces.py

clean:
	rm -rf $(VENV) mlflow.db mlartifacts
