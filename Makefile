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

# torch first, pinned and by pip, which finds the machine's CPU wheel: a looser requirement would
# pull a multi-GB CUDA build. The rest by uv: the same packages in seconds rather than minutes,
# compiled to bytecode at install, as pip does.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0 uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e ".[dev]"
	touch $@

repro: install
	dvc repro

lint: install
	ruff check .

# One worker per core (tests/conftest.py schedules them: longest first, and the tests sharing the
# reproduced micro project on one worker).
test: lint
	pytest -n auto

# Rebuild the committed small trained space the science tests use, and check it (tests/spaces.py).
test-assets: install
	python tests/spaces.py

clean:
	rm -rf $(VENV) mlflow.db mlartifacts
