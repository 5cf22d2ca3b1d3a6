"""Shared by the tests of tasks/: the package on the path, and small twins built with the demo pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import splattwin_tasks  # noqa: F401
except ImportError:  # not pip-installed: use the checkout's tasks/ (as `make` installs it)
    sys.path.insert(0, str(ROOT / "tasks"))

from splattwin_tasks.robots.franka import BASE_LINK, REQUIRED_LINKS  # noqa: E402

PANDA_LINKS = (BASE_LINK, *REQUIRED_LINKS)
TASKS = (
    "SplatTwin-Push-Franka-v0",
    "SplatTwin-Push-Franka-NoMass-v0",
    "SplatTwin-Lift-Franka-v0",
    "SplatTwin-Lift-Franka-NoMass-v0",
)
"""The four registered task ids, each tested under random actions."""


def build_twin(out: Path, *, robot_links: tuple[str, ...] | None = PANDA_LINKS, keep_object: bool = True) -> Path:
    """The demo twin (``splattwin demo``), plus a robot root where ``import-robot`` would put the Panda.

    The robot is an articulation root with the Panda's link prims (what the tasks read of it: its base pose and
    link names); ``robot_links=None`` leaves the robot out, ``keep_object=False`` removes the object.
    """
    from pxr import UsdGeom, UsdPhysics

    from splattwin.cli import main
    from splattwin.usd import edit_twin

    # The demo's own robot and identification are left out: these twins hold a stand-in robot and the prior mass,
    # which the tests change as they need (tests/test_tasks_embedded.py reads an identified mass it writes).
    assert main(["demo", "--out", str(out), "previews=false", "identify=false", "robot.enabled=false"]) == 0
    path = out / "twin.usda"
    with edit_twin(path) as twin:
        if robot_links is not None:
            with twin.edit_layer("robot") as stage:
                root = UsdGeom.Xform.Define(stage, "/World/Robot/panda")
                UsdPhysics.ArticulationRootAPI.Apply(root.GetPrim())
                for link in robot_links:
                    UsdGeom.Xform.Define(stage, f"/World/Robot/panda/{link}")
        if not keep_object:
            with twin.edit_layer("objects") as stage:
                stage.RemovePrim("/World/Objects/Block")
    return path
