# Quick start: `make demo` runs the built-in demo, `make test` runs lint, types and tests.
# Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean report-png

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

# A long campaign: fuzzing, the differential test, the model-based test and the properties, each
# with IMAGEFAM_FUZZ_EXAMPLES examples (default here 2000; the normal test run uses 40-200).
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	IMAGEFAM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider --hypothesis-show-statistics \
		tests/test_fuzz.py tests/test_fuzz_outputs.py tests/test_differential.py tests/test_model_based.py \
		tests/test_resolver_properties.py tests/test_preflight_properties.py

# docs/images/report.png (and its thumbnail) from the browser test's screenshot of the demo report.
report-png: $(STAMP)
	IMAGEFAM_REPORT_PNG=docs/images/report.png IMAGEFAM_REQUIRE_BROWSER=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_browser.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
