# Every target bootstraps .venv by itself (pinned by constraints.txt) and is quick once it exists.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv browser-deps test test-slow lint format demo serve bench gpu-wheels gpu-check clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	SAM2_BUILD_CUDA=0 $(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation --no-deps sam2==1.1.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The browser test (tests/test_serve.py, marker `browser`) drives Debian's chromium through
# chromium-driver: installed here with apt when missing and root or sudo is at hand (CI runs as
# root); otherwise the test is skipped locally, and fails under CI=true.
BROWSER_PKGS := chromium chromium-driver
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; then \
		S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq --no-install-recommends \
			$(BROWSER_PKGS) >/dev/null; \
	else echo "note: no chromium here: the browser test is skipped (apt-get install $(BROWSER_PKGS))"; fi

test: $(STAMP) browser-deps
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
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/segr1 demo $(DEMO_ARGS)

# The web app on http://127.0.0.1:7860 (SERVE_ARGS="--model DIR --segmenter NAME --port P").
serve: $(STAMP)
	$(BIN)/segr1 serve $(SERVE_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/reward_path.py
	$(BIN)/python benchmarks/embed_batch.py --threads 1
	$(BIN)/python benchmarks/eval_throughput.py --scale tiny --device cpu --threads 1
	$(BIN)/python benchmarks/metrics.py

# The first GPU segr1 meets (Python 3.12, its own torch / transformers, no network):
#   here:        make gpu-wheels       (downloads .whl/, at most 64 MiB; copy the tree over)
#   on the GPU:  make gpu-check        (installs trl, datasets, pycocotools from .whl/ offline,
#                                       runs from src/, prints a table, writes gpu_check.json)
#   any CPU:     make gpu-check SCALE=tiny DEVICE=cpu GPU_PY=.venv/bin/python   (script check)
GPU_PY ?= python3
SCALE ?= gpu
DEVICE ?= cuda
GPU_OUT ?= gpu_check.json
WHEELS := .whl
WHEEL_MAX := 67108864
WHEEL_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64 --platform any

gpu-wheels:
	mkdir -p $(WHEELS)
	$(PY) -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 \
		--implementation cp --abi cp312 $(WHEEL_PLATFORMS) -d $(WHEELS) -r gpu-wheels.txt
	@total=$$(cat $(WHEELS)/*.whl | wc -c); echo "$(WHEELS): $$total bytes"; \
		test $$total -le $(WHEEL_MAX) || { echo "over 64 MiB"; exit 1; }

gpu-check:
	$(GPU_PY) -c "import trl, datasets, pycocotools" 2>/dev/null || \
		$(GPU_PY) -m pip install --no-index --find-links $(WHEELS) \
		$$(grep -E '^(trl|datasets|pycocotools)==' gpu-wheels.txt)
	PYTHONPATH=src $(GPU_PY) benchmarks/gpu_check.py --scale $(SCALE) --device $(DEVICE) \
		--out $(GPU_OUT)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
