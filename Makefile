# Set-up is part of every target: the first run creates .venv and installs the project (a few minutes),
# later runs reuse it until source/splattwin/pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH_VERSION ?= 2.13.0

.PHONY: demo test lint bench clean isaaclab test-isaaclab

$(STAMP): source/splattwin/pyproject.toml tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, as the CPU wheel: a plain `torch` requirement would pull several GB of CUDA packages.
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e "source/splattwin[usd,robots,sim,surfaces,decompose,view,onnx,dev]"
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

# Isaac Lab 3.0 kitless (Newton on the CPU) in a venv of its own: Python 3.12 where present (else 3.11 with
# Isaac Lab's requires-python overridden), isaaclab==3.0.0 and its pins, the project's core and tasks (docs/tasks.md).
ISAACLAB_VENV := .venv-isaaclab
ISAACLAB_STAMP := $(ISAACLAB_VENV)/.installed-stamp

$(ISAACLAB_STAMP): source/splattwin/pyproject.toml tasks/pyproject.toml tasks/scripts/make_isaaclab_venv.sh
	rm -rf $(ISAACLAB_VENV)
	tasks/scripts/make_isaaclab_venv.sh $(ISAACLAB_VENV)
	touch $(ISAACLAB_STAMP)

isaaclab: $(ISAACLAB_STAMP)

# The twin the Isaac Lab tests run on: the demo twin with its imported Panda, built once with .venv (pybullet ships
# the Panda's URDF and has no Python 3.12 wheel).
ISAACLAB_TWIN := .cache/isaaclab-twin/twin.usda

$(ISAACLAB_TWIN): $(STAMP)
	rm -rf .cache/isaaclab-twin
	$(BIN)/splattwin demo --out .cache/isaaclab-twin previews=false identify=false

# The Isaac Lab tests, executed (not skipped: a missing Isaac Lab fails) in that venv. Warp's kernel cache lives
# outside the checkout, so CI's fresh clones share it (the first compile takes minutes, later runs load it), as do
# the venv's dependencies (make_isaaclab_venv.sh); PYTHONPATH puts this checkout's code first, whichever clone
# installed itself into the shared venv last.
WARP_CACHE ?= $(HOME)/.cache/splattwin/warp-isaaclab

test-isaaclab: $(ISAACLAB_STAMP) $(ISAACLAB_TWIN)
	WARP_CACHE_PATH=$(WARP_CACHE) SPLATTWIN_ISAACLAB_TWIN=$(CURDIR)/$(ISAACLAB_TWIN) \
		PYTHONPATH=$(CURDIR)/source/splattwin:$(CURDIR)/tasks \
		SPLATTWIN_REQUIRE_ISAACLAB=1 $(ISAACLAB_VENV)/bin/python -m pytest -p no:cacheprovider tests/test_tasks_isaaclab.py

clean:
	rm -rf $(VENV) $(ISAACLAB_VENV) out bench/.cache .cache
