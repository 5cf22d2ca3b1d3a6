#!/usr/bin/env bash
# Creates .venv-isaaclab/: Isaac Lab 3.0 (kitless, Newton on the CPU) with its own pins, beside the project's .venv
# (whose newer Warp/Newton stay as they are), and installs the project's core and tasks into it.
# Called by `make isaaclab`; prints which Python it used.
#
# The dependencies (about 5 minutes and 2 GB to install) are kept outside the checkout, in
# ${SPLATTWIN_CACHE:-~/.cache/splattwin}/venv-isaaclab-<key>, the key a hash of this script, both pyproject files and
# the Python used: a fresh clone (CI's) reuses them, and $VENV becomes a link to that folder. Only the project itself
# is installed anew each time (editable, --no-deps: seconds), so the link's venv runs this checkout's code.
# SPLATTWIN_ISAACLAB_NO_CACHE=1 builds $VENV in place instead.
set -euo pipefail
VENV=${1:-.venv-isaaclab}

# Isaac Lab 3.0.0 declares Python >=3.12,<3.13. A pyenv shim on PATH answers `command -v` but may refuse to run,
# so each candidate is asked for its version.
candidates=(python3.12)
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
for p in "$pyenv_root"/versions/3.12*/bin/python3.12; do candidates+=("$p"); done
PY=""
for c in "${candidates[@]}"; do
  if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then PY=$c; break; fi
done
PIP_EXTRA=()
if [ -z "$PY" ]; then
  # No 3.12: 3.11 with Isaac Lab's requires-python overridden (works for the kitless path, not declared upstream).
  for c in python3.11 "$pyenv_root"/versions/3.11*/bin/python3.11 python3; do
    if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then PY=$c; break; fi
  done
  [ -n "$PY" ] || { echo "error: make isaaclab: needs Python 3.12 (or 3.11); none found" >&2; exit 2; }
  PIP_EXTRA=(--ignore-requires-python)
fi
echo "make isaaclab: $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')${PIP_EXTRA:+ (requires-python overridden)}"

TARGET=$VENV
if [ "${SPLATTWIN_ISAACLAB_NO_CACHE:-0}" != 1 ]; then
  key=$(cat "$0" source/splattwin/pyproject.toml tasks/pyproject.toml <("$PY" -c 'import sys; print(sys.version)') \
    | sha256sum | cut -c1-16)
  TARGET=${SPLATTWIN_CACHE:-$HOME/.cache/splattwin}/venv-isaaclab-$key
fi
PIP=("$TARGET/bin/python" -m pip install --quiet "${PIP_EXTRA[@]}")
if [ -f "$TARGET/.dependencies-complete" ]; then
  echo "make isaaclab: reusing the dependencies in $TARGET"
else
  rm -rf "$TARGET"
  mkdir -p "$(dirname "$TARGET")"
  "$PY" -m venv "$TARGET"
  "$TARGET/bin/python" -m pip install --quiet --upgrade pip
  # Isaac Lab 3.0.0 pins torch==2.11.0 (so the CPU wheel the main venv takes, 2.13.0, does not fit), warp-lang
  # 1.17.0, newton[sim] 1.6.1, usd-exchange 3.0.1 and rsl-rl-lib 5.5.1. newton[sim] pulls no usd-core (which would
  # break usd-exchange's pxr); never add newton[importers] here.
  "${PIP[@]}" "isaaclab==3.0.0"
  # The core without its `sim` extra (newton>=1.8 would fight Isaac Lab's 1.6.1 pin) nor `robots`/`dev` (pybullet
  # has no Python 3.12 wheel: pip would compile it for tens of minutes; the twins the tests use are built with
  # .venv), then the tasks, with their dependencies.
  "${PIP[@]}" -e "source/splattwin[usd]" -e tasks pytest hypothesis
  touch "$TARGET/.dependencies-complete"
fi
# This checkout's code, over whichever clone installed it last.
"${PIP[@]}" --no-deps -e "source/splattwin[usd]" -e tasks
if [ "$TARGET" != "$VENV" ]; then
  rm -rf "$VENV"
  ln -s "$TARGET" "$VENV"
fi
"$VENV/bin/python" -c "import isaaclab, newton, warp, torch, pxr, splattwin_tasks; print('isaaclab', isaaclab.__version__ if hasattr(isaaclab, '__version__') else '?', 'newton', newton.__version__, 'warp', warp.__version__, 'torch', torch.__version__)"
