"""``remove`` of part of a robot (refused, or with ``--force`` consistent), ``inspect`` of a broken robot, and what
``remove`` and ``import-splat --replace`` do to Gaussians a body claimed (each Gaussian drawn exactly once).

The robot is a small branching tree built here, so the expected dependents are read off its URDF by hand:

    base --j1 (revolute)--> arm --j2 (revolute)--> forearm --tip (fixed)--> tool
                             |--slide (prismatic)--> finger_a
                             `--follow (prismatic, mimics slide)--> finger_b
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splattwin.cli import main
from splattwin.usd import open_twin

TREE_URDF = """<?xml version="1.0"?>
<robot name="tree">
  <link name="base"><visual><geometry><box size="0.2 0.2 0.1"/></geometry></visual></link>
  <link name="arm"><visual><geometry><box size="0.05 0.05 0.3"/></geometry></visual></link>
  <link name="forearm"><visual><geometry><box size="0.04 0.04 0.2"/></geometry></visual></link>
  <link name="tool"><visual><geometry><sphere radius="0.02"/></geometry></visual></link>
  <link name="finger_a"><visual><geometry><box size="0.01 0.02 0.04"/></geometry></visual></link>
  <link name="finger_b"><visual><geometry><box size="0.01 0.02 0.04"/></geometry></visual></link>
  <joint name="j1" type="revolute"><parent link="base"/><child link="arm"/><origin xyz="0 0 0.05"/>
    <axis xyz="0 0 1"/><limit lower="-2" upper="2" effort="10" velocity="2"/></joint>
  <joint name="j2" type="revolute"><parent link="arm"/><child link="forearm"/><origin xyz="0 0 0.3"/>
    <axis xyz="0 1 0"/><limit lower="-2" upper="2" effort="10" velocity="2"/></joint>
  <joint name="tip" type="fixed"><parent link="forearm"/><child link="tool"/><origin xyz="0 0 0.2"/></joint>
  <joint name="slide" type="prismatic"><parent link="arm"/><child link="finger_a"/><origin xyz="0.03 0 0.1"/>
    <axis xyz="1 0 0"/><limit lower="0" upper="0.04" effort="10" velocity="0.2"/></joint>
  <joint name="follow" type="prismatic"><parent link="arm"/><child link="finger_b"/><origin xyz="-0.03 0 0.1"/>
    <axis xyz="-1 0 0"/><limit lower="0" upper="0.04" effort="10" velocity="0.2"/>
    <mimic joint="slide" multiplier="1" offset="0"/></joint>
</robot>
"""
LINKS = {"base", "arm", "forearm", "tool", "finger_a", "finger_b"}
JOINTS = {"j1", "j2", "tip", "slide", "follow"}


@pytest.fixture
def robot_twin(tmp_path: Path) -> Path:
    urdf = tmp_path / "tree.urdf"
    urdf.write_text(TREE_URDF)
    stage = tmp_path / "twin.usda"
    from splattwin.pipelines.robot import ImportRobotConfig, import_robot

    import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=20))
    csv = tmp_path / "wave.csv"
    csv.write_text("time,j1,j2,slide\n0,0,0,0\n0.1,0.1,0.2,0.01\n0.2,0.2,0.3,0.02\n")
    assert main(["trajectory", "import", str(csv), "--stage", str(stage), "--robot", "/World/Robot"]) == 0
    return stage


def robot_parts(stage: Path) -> tuple[set[str], set[str]]:
    twin = open_twin(stage)  # held: its stage must outlive the prims read from it
    robot = twin.stage.GetPrimAtPath("/World/Robot")
    links = {child.GetName() for child in robot.GetChildren() if child.GetName() != "joints"}
    joints = {child.GetName() for child in robot.GetChild("joints").GetChildren()}
    return links, joints


def test_removing_a_robot_link_is_refused_without_force(robot_twin: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in [robot_twin, *sorted((robot_twin.parent / "twin_layers").iterdir())]}
    for prim in ("/World/Robot/forearm", "/World/Robot/joints/j2", "/World/Robot/joints"):
        capsys.readouterr()
        assert main(["remove", "--stage", str(robot_twin), "--prim", prim]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --prim: {prim} is part of the robot /World/Robot")
        assert "--force" in err[0]
    assert {p: p.read_bytes() for p in before} == before  # nothing written
    # A link's own Gaussians or meshes are not part of the articulation: removed like any prim.
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/tool/Gaussians"]) == 0
    assert robot_parts(robot_twin) == (LINKS, JOINTS)


def test_force_removes_a_link_with_its_subtree_and_the_robot_stays_readable(robot_twin: Path, capsys) -> None:
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/forearm", "--force"]) == 0
    out = capsys.readouterr().out
    assert "dropped the keyed values of joints j2" in out
    # By hand: forearm goes with j2 (into it), tip (out of it) and tool (below tip); the rest stays.
    assert robot_parts(robot_twin) == (LINKS - {"forearm", "tool"}, JOINTS - {"j2", "tip"})
    twin = open_twin(robot_twin)
    assert not twin.stage.GetPrimAtPath("/World/Robot").GetAttribute(
        "splattwin:joint:j2"
    )  # its keyed values went with it
    assert main(["inspect", str(robot_twin), "--json"]) == 0
    assert main(["trajectory", "check", "--stage", str(robot_twin), "--robot", "/World/Robot"]) == 0
    view = ["--view", "1,-1,0.8", "0,0,0.2", "--size", "32x24"]
    assert main(["render", "--stage", str(robot_twin), *view, "--out", str(robot_twin.parent / "v.png")]) == 0


def test_force_removing_a_mimicked_joint_takes_its_mimic_and_both_fingers(robot_twin: Path) -> None:
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/joints/slide", "--force"]) == 0
    assert robot_parts(robot_twin) == (LINKS - {"finger_a", "finger_b"}, JOINTS - {"slide", "follow"})
    assert main(["inspect", str(robot_twin)]) == 0


def test_force_removing_the_root_link_removes_the_robot(robot_twin: Path) -> None:
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/base", "--force"]) == 0
    assert not open_twin(robot_twin).stage.GetPrimAtPath("/World/Robot")


def test_inspect_describes_a_broken_robot_prim_by_prim(robot_twin: Path, capsys) -> None:
    import json

    from pxr import Sdf

    # Break it as an older splattwin (or a hand edit) could: the link goes, its joints stay.
    layer = Sdf.Layer.FindOrOpen(str(robot_twin.parent / "twin_layers" / "robot.usdc"))
    edit = Sdf.BatchNamespaceEdit()
    edit.Add(Sdf.NamespaceEdit.Remove(Sdf.Path("/World/Robot/forearm")))
    assert layer.Apply(edit) and layer.Save()
    capsys.readouterr()
    assert main(["inspect", str(robot_twin), "--json"]) == 1
    described = json.loads(capsys.readouterr().out)
    (robot,) = described["robots"]
    problems = {(p["prim"], p["problem"]) for p in robot["problems"]}
    assert problems == {
        ("/World/Robot/joints/j2", "body1 targets /World/Robot/forearm, no prim"),
        ("/World/Robot/joints/tip", "body0 targets /World/Robot/forearm, no prim"),
    }
    assert {link["name"] for link in robot["links"]} == LINKS - {"forearm"}
    assert described["splats"]  # the rest of the twin is described as usual
    assert main(["inspect", str(robot_twin)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "robot /World/Robot is broken" in out
    # remove --force of the dangling joints repairs it.
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/joints/tip", "--force"]) == 0
    assert main(["remove", "--stage", str(robot_twin), "--prim", "/World/Robot/joints/j2", "--force"]) == 0
    assert main(["inspect", str(robot_twin)]) == 0
    assert robot_parts(robot_twin) == (LINKS - {"forearm", "tool"}, JOINTS - {"j2", "tip"})


# --- Claimed Gaussians: each drawn exactly once after --replace of the scene splat and after remove of the body ---


def scene_with(inside: np.ndarray, outside: np.ndarray, seed: int):
    from conftest import random_gaussians

    scene = random_gaussians(len(inside) + len(outside), degree=1, seed=seed)
    scene.means[:] = np.vstack([inside, outside])
    return scene


def drawn_means(stage: Path) -> tuple[np.ndarray, dict[str, int]]:
    """World means of every Gaussian the renderer would draw, and how many each prim holds."""
    from splattwin.scene import gather_gaussians

    twin = open_twin(stage)
    scene = gather_gaussians(twin.stage)
    counts = {path: int((scene.prim_index == i).sum()) for i, path in enumerate(scene.prim_paths)}
    return scene.gaussians.means.astype(np.float64), counts


def assert_same_points(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal as multisets: every expected point drawn once, nothing else."""
    assert len(actual) == len(expected)
    order = np.lexsort(actual.T[::-1])
    expected_order = np.lexsort(expected.T[::-1])
    np.testing.assert_allclose(actual[order], expected[expected_order], atol=1e-5)


@pytest.fixture
def claimed_twin(tmp_path: Path, box_obj: Path) -> tuple[Path, np.ndarray]:
    from splattwin.io import write_gaussians

    rng = np.random.default_rng(5)
    # The box spans (0.25..0.35, 0.17..0.23, 0..0.05): 30 Gaussians well inside it, 50 far from it.
    on_box = rng.uniform([0.26, 0.18, 0.01], [0.34, 0.22, 0.04], (30, 3))
    far = rng.uniform([1.0, 1.0, 0.0], [2.0, 2.0, 0.5], (50, 3))
    write_gaussians(tmp_path / "scene.ply", scene_with(on_box, far, seed=1))
    stage = tmp_path / "twin.usda"
    assert (
        main(["import-splat", str(tmp_path / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    )
    args = ["import-mesh", str(box_obj), "--stage", str(stage), "--prim", "/World/Objects/Box", "--dynamic"]
    assert main(args) == 0
    claim = ["claim", "--stage", str(stage), "--splat", "/World/Scene/Splat", "--body", "/World/Objects/Box"]
    assert main(claim) == 0
    return stage, np.vstack([on_box, far])


def test_replacing_the_scene_splat_keeps_the_claims(claimed_twin, tmp_path: Path, capsys) -> None:
    from splattwin.io import write_gaussians

    stage, first = claimed_twin
    means, counts = drawn_means(stage)
    assert_same_points(means, first)
    assert counts == {"/World/Scene/Splat": 50, "/World/Objects/Box/Gaussians": 30}
    # A new reconstruction of the same scene: 40 Gaussians on the box, 60 elsewhere.
    rng = np.random.default_rng(9)
    on_box = rng.uniform([0.26, 0.18, 0.01], [0.34, 0.22, 0.04], (40, 3))
    far = rng.uniform([1.0, -2.0, 0.0], [2.0, -1.0, 0.5], (60, 3))
    write_gaussians(tmp_path / "better.ply", scene_with(on_box, far, seed=2))
    capsys.readouterr()
    replace = ["import-splat", str(tmp_path / "better.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]
    assert main([*replace, "--replace"]) == 0
    out = capsys.readouterr().out
    means, counts = drawn_means(stage)
    assert_same_points(means, np.vstack([on_box, far]))  # each of the new splat's Gaussians drawn exactly once
    assert counts == {"/World/Scene/Splat": 60, "/World/Objects/Box/Gaussians": 40}
    assert "re-applied the claim of /World/Objects/Box" in out

    # Removing the body takes its Gaussians with it: the box is no longer drawn on the table.
    assert main(["remove", "--stage", str(stage), "--prim", "/World/Objects/Box"]) == 0
    assert "40 Gaussians /World/Objects/Box had claimed from /World/Scene/Splat went with it" in capsys.readouterr().out
    means, counts = drawn_means(stage)
    assert_same_points(means, far)
    assert counts == {"/World/Scene/Splat": 60}


def test_a_new_scene_splat_after_remove_is_claimed_too(claimed_twin, tmp_path: Path) -> None:
    stage, first = claimed_twin
    assert main(["remove", "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    means, _ = drawn_means(stage)
    assert len(means) == 30  # only the box's own Gaussians remain
    assert (
        main(["import-splat", str(tmp_path / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    )
    means, counts = drawn_means(stage)
    assert_same_points(means, first)
    assert counts == {"/World/Scene/Splat": 50, "/World/Objects/Box/Gaussians": 30}


def test_a_new_splat_with_nothing_on_the_body_leaves_its_gaussians(claimed_twin, tmp_path: Path, capsys) -> None:
    from splattwin.io import write_gaussians

    stage, first = claimed_twin
    far = np.random.default_rng(4).uniform([1.0, 1.0, 0.0], [2.0, 2.0, 0.5], (20, 3))
    write_gaussians(tmp_path / "elsewhere.ply", scene_with(far[:0], far, seed=3))
    capsys.readouterr()
    args = ["import-splat", str(tmp_path / "elsewhere.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat"]
    assert main([*args, "--replace"]) == 0
    assert "has no Gaussians on /World/Objects/Box" in capsys.readouterr().err
    means, counts = drawn_means(stage)
    assert_same_points(means, np.vstack([first[:30], far]))
    assert counts == {"/World/Scene/Splat": 20, "/World/Objects/Box/Gaussians": 30}


def test_replacing_a_body_says_its_claimed_gaussians_go(claimed_twin, box_obj: Path, capsys) -> None:
    stage, first = claimed_twin
    capsys.readouterr()
    args = ["import-mesh", str(box_obj), "--stage", str(stage), "--prim", "/World/Objects/Box", "--dynamic"]
    assert main([*args, "--replace"]) == 0
    err = capsys.readouterr().err
    assert "--replace /World/Objects/Box: the 30 Gaussians /World/Objects/Box had claimed from" in err
    means, counts = drawn_means(stage)
    assert_same_points(means, first[30:])  # drawn nowhere twice; the scene splat still has only its own
    assert counts == {"/World/Scene/Splat": 50}
