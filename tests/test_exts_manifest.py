"""The Kit extension, checked without Kit: the root extension.toml's fields, module paths, dependencies, icon and
changelog; every module under exts/ that imports no omni imports here; the viewport camera conversion agrees with
SplatTwin's own look-at camera."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = tomllib.loads((REPO / "extension.toml").read_text())
KIT_ONLY = ("omni", "carb", "isaacsim", "isaaclab", "pxr.UsdUtils")


def test_manifest_fields_and_files_exist() -> None:
    package = MANIFEST["package"]
    for key in ("version", "title", "description", "category", "keywords", "readme", "icon", "changelog"):
        assert package.get(key), key
    for key in ("readme", "icon", "changelog", "preview_image"):
        if key in package:
            assert (REPO / package[key]).is_file(), package[key]
    assert set(MANIFEST["dependencies"]) >= {"omni.kit.uiapp", "omni.usd", "omni.ui", "omni.kit.commands"}
    assert all(isinstance(name, str) and name.count(".") >= 1 for name in MANIFEST["dependencies"])
    modules = MANIFEST["python"]["module"]
    assert {m["name"] for m in modules} >= {"splattwin", "splattwin_ext"}
    for module in modules:
        folder = REPO / module.get("path", ".") / module["name"].replace(".", "/")
        assert (folder / "__init__.py").is_file(), folder
    tests = MANIFEST["test"]
    assert tests and "omni.kit.test" in tests[0]["dependencies"]
    settings = MANIFEST["settings"]["exts"]["splattwin_ext"]
    assert settings["overlay_backend"] in ("cpu", "auto", "gsplat") and "train_command" in settings


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


EXT_ROOT = REPO / "exts" / "splattwin_ext"
EXT_MODULES = sorted(p for p in (EXT_ROOT / "splattwin_ext").rglob("*.py"))


def test_kit_imports_stay_in_the_kit_modules() -> None:
    kit_free = [p for p in EXT_MODULES if not any(n.split(".")[0] in KIT_ONLY for n in _imports(p))]
    assert EXT_ROOT / "splattwin_ext" / "viewport_math.py" in kit_free
    assert any(p.name == "extension.py" for p in EXT_MODULES if p not in kit_free)  # the IExt does import omni
    # the core never imports Kit
    for path in (REPO / "source" / "splattwin" / "splattwin").rglob("*.py"):
        assert not any(n.split(".")[0] in KIT_ONLY[:4] for n in _imports(path)), path


@pytest.mark.parametrize("path", [p for p in EXT_MODULES if p.name != "__init__.py"], ids=lambda p: p.name)
def test_every_kit_free_ext_module_imports(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if any(n.split(".")[0] in KIT_ONLY for n in _imports(path)):
        pytest.skip("imports omni: runs under Kit (omni.kit.test)")
    monkeypatch.syspath_prepend(str(EXT_ROOT))
    name = ".".join(path.relative_to(EXT_ROOT).with_suffix("").parts)
    sys.modules.pop(name, None)
    # the package __init__ imports the IExt (omni); load the module file on its own
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__


def _load_viewport_math():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("viewport_math", EXT_ROOT / "splattwin_ext" / "viewport_math.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_viewport_camera_matches_splattwins_look_at_camera() -> None:
    pytest.importorskip("pxr")
    from pxr import Gf

    from splattwin.render import look_at_camera

    eye, target, width, height, fov = (2.0, -1.5, 0.9), (0.35, 0.25, -0.2), 64, 48, 50.0
    view = Gf.Matrix4d().SetLookAt(Gf.Vec3d(*eye), Gf.Vec3d(*target), Gf.Vec3d(0, 0, 1))
    frustum = Gf.Frustum()
    frustum.SetPerspective(fov, width / height, 0.01, 100.0)  # vertical fov, aspect
    projection = frustum.ComputeProjectionMatrix()
    ours = _load_viewport_math().camera_from_viewport_matrices(view, projection, width, height)
    reference = look_at_camera(eye, target, width=width, height=height, vertical_fov_deg=fov)

    points = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 3)) + np.asarray(target)

    def pixels(camera) -> np.ndarray:  # noqa: ANN001
        cam = (camera.viewmat @ np.c_[points, np.ones(len(points))].T)[:3]
        uv = camera.K @ cam
        return (uv[:2] / uv[2]).T

    np.testing.assert_allclose(pixels(ours), pixels(reference), atol=1e-6)
    np.testing.assert_allclose(ours.position, eye, atol=1e-9)


def test_rgba_bytes() -> None:
    to_rgba8 = _load_viewport_math().to_rgba8
    out = to_rgba8(np.array([[[0.0, 0.5, 1.0], [2.0, -1.0, 0.25]]]))
    assert out.dtype == np.uint8 and out.shape == (1, 2, 4)
    assert out.tolist() == [[[0, 128, 255, 255], [255, 0, 64, 255]]]


def test_kit_pip_requirements_name_every_runtime_dependency_but_the_ones_isaac_sim_ships() -> None:
    """Inside Kit the core's dependencies come from [python.pipapi]: a dependency added to pyproject.toml and
    forgotten there would be an ImportError in Isaac Sim only. torch and warp are Isaac Sim's own builds."""
    import re

    project = tomllib.loads((REPO / "source" / "splattwin" / "pyproject.toml").read_text())["project"]
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    wanted = {name.match(dep).group(0).lower() for dep in project["dependencies"]} - {"torch", "warp-lang"}
    given = {name.match(dep).group(0).lower() for dep in MANIFEST["python"]["pipapi"]["requirements"]}
    assert wanted <= given, f"missing from extension.toml [python.pipapi]: {sorted(wanted - given)}"
    assert not given & {"usd-core", "usd-exchange", "torch", "warp-lang"}
