"""Each verb imports only what it uses: import-splat and inspect never load mesh code (trimesh, scipy), and
inspect of a missing file answers before OpenUSD loads. Checked in a fresh interpreter (sys.modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import random_gaussians

from splattwin.io import write_gaussians

HEAVY = ("trimesh", "scipy", "torch", "warp", "matplotlib", "hydra")

_PROBE = """
import json, sys
from splattwin.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if "." not in m)}))
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


def test_import_splat_and_inspect_load_no_mesh_or_numerics_stack(tmp_path: Path) -> None:
    write_gaussians(tmp_path / "s.ply", random_gaussians(50, degree=1))
    stage = str(tmp_path / "twin.usda")
    code, modules = _loaded("import-splat", str(tmp_path / "s.ply"), "--stage", stage, "--prim", "/World/S")
    assert code == 0 and "pxr" in modules  # it did author USD
    assert not modules & set(HEAVY), modules & set(HEAVY)
    code, modules = _loaded("inspect", stage)
    assert code == 0
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_inspect_of_a_missing_file_loads_no_openusd(tmp_path: Path) -> None:
    code, modules = _loaded("inspect", str(tmp_path / "nope.usda"))
    assert code == 2
    assert "pxr" not in modules and not modules & set(HEAVY)


def test_help_loads_no_pipeline() -> None:
    code, modules = _loaded("--version")
    assert code == 0 and "pxr" not in modules and not modules & set(HEAVY)
