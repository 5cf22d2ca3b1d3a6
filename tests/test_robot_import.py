"""import-robot: the three pybullet robots import with the layout the API promises; bad URDFs are refused with
one line naming the file, exit 2, and the stage left untouched (byte for byte)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pybullet_data = pytest.importorskip("pybullet_data")

from splattwin.cli import main  # noqa: E402

DATA = Path(pybullet_data.getDataPath())
PANDA = DATA / "franka_panda" / "panda.urdf"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "urdf", [PANDA, DATA / "xarm" / "xarm6_robot.urdf", DATA / "kuka_iiwa" / "model.urdf"], ids=lambda p: p.parent.name
)
def test_import_layout(tmp_path: Path, urdf: Path) -> None:
    from pxr import Usd, UsdGeom, UsdPhysics

    from splattwin.robot.urdf import parse_urdf
    from splattwin.usd import open_twin

    stage = tmp_path / "twin.usda"
    assert (
        main(["import-robot", str(urdf), "--stage", str(stage), "--prim", "/World/Robot", "--base", "1,2,0.5,90"]) == 0
    )
    twin = open_twin(stage)
    parsed = parse_urdf(urdf)
    robot_prim = twin.stage.GetPrimAtPath("/World/Robot")
    assert robot_prim.HasAPI(UsdPhysics.ArticulationRootAPI)
    assert twin.layer_of("/World/Robot") == "robot"
    # the base: yaw 90 deg then (1, 2, 0.5)
    base = np.array(UsdGeom.Xformable(robot_prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    np.testing.assert_allclose(base[:3, 3], [1, 2, 0.5], atol=1e-12)
    np.testing.assert_allclose(base[:3, 0], [0, 1, 0], atol=1e-12)
    for name, link in parsed.links.items():
        prim = twin.stage.GetPrimAtPath(f"/World/Robot/{name}")
        assert prim and prim.GetTypeName() == "Xform", name
        assert len(prim.GetPrimAtPath("visuals").GetChildren() if prim.GetPrimAtPath("visuals") else []) == len(
            link.visuals
        )
        collisions = prim.GetPrimAtPath("collisions")
        for child in collisions.GetChildren() if collisions else []:
            assert child.HasAPI(UsdPhysics.CollisionAPI) and child.HasAPI(UsdPhysics.MeshCollisionAPI)
        if link.visuals or link.collisions:
            assert prim.GetPrimAtPath("Gaussians"), name  # every robot gets an appearance
    for joint in parsed.joints:
        prim = twin.stage.GetPrimAtPath(f"/World/Robot/joints/{joint.name}")
        assert prim, joint.name
        if joint.type == "revolute":
            usd = UsdPhysics.RevoluteJoint(prim)
            assert abs(usd.GetLowerLimitAttr().Get() - np.degrees(joint.lower)) < 1e-3
            assert abs(usd.GetUpperLimitAttr().Get() - np.degrees(joint.upper)) < 1e-3
            assert UsdPhysics.DriveAPI.Get(prim, "angular").GetMaxForceAttr().Get() == pytest.approx(joint.effort)
        elif joint.type == "prismatic":
            assert UsdPhysics.DriveAPI.Get(prim, "linear")
    # import writes only the robot layer (+ the new twin's skeleton); the mesh files are resolved, not copied
    assert not any(p.suffix in (".obj", ".stl") for p in tmp_path.rglob("*"))


def _write_bad(tmp_path: Path, case: str) -> Path:
    """A copy of the Panda URDF (meshes beside it) broken in one way."""
    folder = tmp_path / "bad"
    shutil.copytree(PANDA.parent, folder)
    text = (folder / "panda.urdf").read_text()
    if case == "missing mesh":
        text = text.replace("meshes/visual/link3.obj", "meshes/visual/no_such_link.obj")
    elif case == "joint type":
        text = text.replace('name="panda_joint3" type="revolute"', 'name="panda_joint3" type="helical"')
    elif case == "loop":
        # a second joint making panda_link2 a child again: a closed chain
        text = text.replace(
            "</robot>",
            '<joint name="loop" type="fixed"><parent link="panda_link5"/><child link="panda_link2"/></joint></robot>',
        )
    elif case == "no geometry":
        text = text.replace('<mesh filename="package://meshes/visual/link2.obj"/>', "")
    elif case == "xml":
        text = text[: len(text) // 2]
    (folder / "panda.urdf").write_text(text)
    return folder / "panda.urdf"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing mesh", "no_such_link.obj' not found"),
        ("joint type", "unsupported type 'helical'"),
        ("loop", "kinematic loop"),
        ("no geometry", "without a geometry shape"),
        ("xml", "not readable URDF XML"),
    ],
)
def test_bad_urdf_exit_2_stage_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str, message: str
) -> None:
    stage = tmp_path / "twin.usda"
    # an existing twin with a robot already: the failed import must leave every file as it was
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/First"]) == 0
    bad = _write_bad(tmp_path, case)
    before = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith("bad")}
    capsys.readouterr()
    assert main(["import-robot", str(bad), "--stage", str(stage), "--prim", "/World/Second"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and str(bad) in err and message in err, err
    after = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith("bad")}
    assert after == before


def test_existing_prim_and_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stage = tmp_path / "twin.usda"
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/Robot"]) == 0
    capsys.readouterr()
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/Robot"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/R2", "--fit-base"]) == 2
    assert "--fit-base" in capsys.readouterr().err
    assert main(["import-robot", str(tmp_path / "none.urdf"), "--stage", str(stage), "--prim", "/World/R3"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_align_robot_puts_origin_at_base_and_x_along_base(tmp_path: Path) -> None:
    """align --robot: the base becomes the origin, its x axis +x; the robot is moved rigidly, and --invert undoes it."""
    import torch
    from pxr import Usd, UsdGeom

    from splattwin.robot import load_robot
    from splattwin.usd import open_twin

    stage = tmp_path / "twin.usda"
    assert (
        main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/Robot", "--base", "0.5,-0.2,0.1,35"])
        == 0
    )
    before = load_robot(stage, "/World/Robot").link_poses(torch.zeros(1, 8, dtype=torch.float64))[0].numpy()
    assert main(["align", "--stage", str(stage), "--robot", "/World/Robot"]) == 0
    robot = load_robot(stage, "/World/Robot")
    np.testing.assert_allclose(robot.base_world.numpy(), np.eye(4), atol=1e-9)
    after = robot.link_poses(torch.zeros(1, 8, dtype=torch.float64))[0].numpy()
    # the same rigid motion for every link: yaw -35 deg about z, then the base to the origin
    yaw = np.radians(-35.0)
    turn = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    expected = turn @ (before[:, :3, 3] - np.array([0.5, -0.2, 0.1])).T
    np.testing.assert_allclose(after[:, :3, 3], expected.T, atol=1e-9)
    twin = open_twin(stage)
    record = twin.stage.GetPrimAtPath("/World").GetCustomDataByKey("splattwin:alignment")
    assert record is not None
    assert main(["align", "--stage", str(stage), "--invert"]) == 0
    reopened = open_twin(stage)
    prim = reopened.stage.GetPrimAtPath("/World/Robot")
    base = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    np.testing.assert_allclose(base[:3, 3], [0.5, -0.2, 0.1], atol=1e-9)


def test_inspect_lists_robot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from splattwin.robot.urdf import parse_urdf

    stage = tmp_path / "twin.usda"
    assert main(["import-robot", str(PANDA), "--stage", str(stage), "--prim", "/World/Robot"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(stage), "--json"]) == 0
    robots = json.loads(capsys.readouterr().out)["robots"]
    assert [r["prim"] for r in robots] == ["/World/Robot"]
    parsed = parse_urdf(PANDA)
    assert sorted(link["name"] for link in robots[0]["links"]) == sorted(parsed.links)
    by_name = {j["name"]: j for j in robots[0]["joints"]}
    for joint in parsed.joints:
        assert by_name[joint.name]["type"] == joint.type
        if joint.type in ("revolute", "prismatic"):
            assert by_name[joint.name]["lower"] == pytest.approx(joint.lower, abs=1e-6)
            assert by_name[joint.name]["upper"] == pytest.approx(joint.upper, abs=1e-6)
    assert by_name["panda_finger_joint2"]["mimic"] == "panda_finger_joint1"
    with_geometry = [n for n, link in parsed.links.items() if link.visuals or link.collisions]
    counts = {link["name"]: link["gaussians"] for link in robots[0]["links"]}
    assert all(counts[name] > 0 for name in with_geometry)
    assert robots[0]["bound_gaussians"] == sum(counts.values())
