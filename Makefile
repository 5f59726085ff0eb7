# Quick start: `make demo` runs the built-in demo, `make test` runs lint, types and tests.
# Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/imagefam demo

lint: $(STAMP)
	$(BIN)/ruff check imagefam tests $(wildcard bench)
	$(BIN)/mypy imagefam

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]' || echo "peer engines unavailable: their rows are skipped"
	$(BIN)/python bench/run.py

fuzz: $(STAMP)
	IMAGEFAM_FUZZ_EXAMPLES=5000 $(BIN)/pytest tests/test_fuzz.py -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
