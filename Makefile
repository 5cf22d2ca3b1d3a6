# Set-up is part of every target: the first run creates .venv and installs the project (a few minutes),
# later runs reuse it until source/splattwin/pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH_VERSION ?= 2.13.0

.PHONY: demo test lint bench clean

$(STAMP): source/splattwin/pyproject.toml tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, as the CPU wheel: a plain `torch` requirement would pull several GB of CUDA packages.
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e "source/splattwin[usd,robots,sim,dev]"
	# The task package after the core (tasks -> core); torch is already there, so rsl-rl-lib pulls no other build.
	$(BIN)/python -m pip install --quiet -e tasks
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/splattwin demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/bench_ply_to_usd.py
	$(BIN)/python bench/bench_tasks.py steps

clean:
	rm -rf $(VENV) out bench/.cache
