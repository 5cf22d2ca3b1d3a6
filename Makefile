# Set-up is part of every target: the first run creates .venv and installs the project (a few minutes),
# later runs reuse it until source/splattwin/pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): source/splattwin/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e "source/splattwin[usd,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/splattwin demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/bench_ply_to_usd.py

clean:
	rm -rf $(VENV) out bench/.cache
