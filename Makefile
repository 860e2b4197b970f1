# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
DEMO_BRIEF ?= a red circle to the left of a blue square, yellow background

.PHONY: demo test studio bench eval-critic clean-venv

$(BIN)/sculpt: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: a bare "torch" requirement would pull gigabytes of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[dev,studio,ray]'
	@touch $@

# Exit code 3 (stopped on budget without an all-pass image) is still a finished demo.
demo: $(BIN)/sculpt
	$(BIN)/sculpt run "$(DEMO_BRIEF)" --out runs || test $$? -eq 3

test: $(BIN)/sculpt
	$(BIN)/python -m pytest -q

# The chat in a browser on http://127.0.0.1:7860 (sculpt studio --help for host, port, auth).
studio: $(BIN)/sculpt
	$(BIN)/sculpt studio --out runs

# Benchmarks, not tests: engine timings (ratios within one process), then ShapesBench.
bench: $(BIN)/sculpt
	$(BIN)/python -m evals.engine_timing
	$(BIN)/sculpt bench --briefs 50 --difficulty 2 --budget 8 --out bench-out

clean-venv:
	rm -rf $(VENV)
