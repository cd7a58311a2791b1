# Every target bootstraps .venv by itself (pinned by constraints.txt) and is quick once it exists.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-slow lint format demo serve bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	SAM2_BUILD_CUDA=0 $(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation --no-deps sam2==1.1.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

demo: $(STAMP)
	$(BIN)/segr1 demo $(DEMO_ARGS)

# The web app on http://127.0.0.1:7860 (SERVE_ARGS="--model DIR --segmenter NAME --port P").
serve: $(STAMP)
	$(BIN)/segr1 serve $(SERVE_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/reward_path.py
	$(BIN)/python benchmarks/metrics.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
