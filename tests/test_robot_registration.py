"""--fit-base: the base pose of a Panda recovered from a clean splat of it after a 5 cm / 10 degree perturbation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pybullet_data = pytest.importorskip("pybullet_data")

from splattwin.io import write_gaussians  # noqa: E402
from splattwin.pipelines.robot import ImportRobotConfig, base_matrix, import_robot  # noqa: E402
from splattwin.robot import load_robot  # noqa: E402
from splattwin.robot.synthetic import robot_splat_from_meshes  # noqa: E402
from splattwin.robot.usd_robot import link_meshes  # noqa: E402
from splattwin.usd import open_twin  # noqa: E402

PANDA = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
JOINTS = {"panda_joint2": -0.4, "panda_joint4": -2.0, "panda_joint6": 1.6, "panda_joint7": 0.7, "panda_joint1": 0.3}


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@pytest.fixture(scope="module")
def panda(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The Panda's kinematics, its link meshes and the capture configuration."""
    bare = tmp_path_factory.mktemp("bare") / "bare.usda"
    import_robot(ImportRobotConfig(urdf=PANDA, stage=bare, prim="/World/Robot", gaussians_per_link=5))
    robot = load_robot(bare, "/World/Robot")
    meshes = [link_meshes(open_twin(bare).stage, p) for p in robot.link_paths]
    return robot, meshes, robot.check_joint_values(JOINTS, "test")


@pytest.mark.slow
def test_fit_base_recovers_perturbed_pose(tmp_path: Path, panda: tuple) -> None:
    robot, meshes, q = panda
    truth = base_matrix((0.42, -0.31, 0.75, 35.0))
    splat, _ = robot_splat_from_meshes(robot, meshes, q, count=30_000, seed=5, base_world=truth)
    splat_path, joints_path = tmp_path / "robot.ply", tmp_path / "joints.json"
    write_gaussians(splat_path, splat)
    joints_path.write_text(json.dumps(JOINTS))

    # the guess: 5 cm off along a skew direction, turned 10 degrees about z (a base on a table is off in yaw)
    rng = np.random.default_rng(0)
    offset = rng.normal(size=3)
    offset *= 0.05 / np.linalg.norm(offset)
    guess_xyz = truth[:3, 3] + offset
    result = import_robot(
        ImportRobotConfig(
            urdf=PANDA,
            stage=tmp_path / "fit.usda",
            prim="/World/Robot",
            base=(*guess_xyz, 35.0 + 10.0),
            splat=splat_path,
            splat_joints=joints_path,
            fit_base=True,
        )
    )
    fitted = np.array(result.base_world)
    position_error = np.linalg.norm(fitted[:3, 3] - truth[:3, 3])
    relative = fitted[:3, :3].T @ truth[:3, :3]
    angle_error = np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1)))
    assert position_error < 0.002, position_error
    assert angle_error < 0.2, angle_error
    assert result.fit_rmse_m < 0.001
    assert result.unbound == 0
    # the stage holds the fitted base
    stage_robot = load_robot(tmp_path / "fit.usda", "/World/Robot")
    np.testing.assert_allclose(stage_robot.base_world.numpy(), fitted, atol=1e-9)


@pytest.mark.slow
def test_fit_base_tilted_guess(panda: tuple) -> None:
    """The same recovery when the guess is also tilted: 10 degrees about a skew axis, from the ICP core directly."""
    from splattwin.robot.registration import fit_base_pose, surface_samples

    robot, meshes, q = panda
    truth = base_matrix((-0.2, 0.5, 0.1, -60.0))
    splat, _ = robot_splat_from_meshes(robot, meshes, q, count=30_000, seed=8, base_world=truth)
    local = robot.link_poses(torch.tensor(q[None]), base_world=torch.eye(4, dtype=torch.float64))[0].numpy()
    points, normals = surface_samples(meshes, local, 150_000, np.random.default_rng(1))
    guess = truth.copy()
    guess[:3, :3] = _rotation_about(np.array([0.3, -0.5, 0.8]), np.radians(10.0)) @ truth[:3, :3]
    guess[:3, 3] += (0.03, -0.03, 0.028)
    fit = fit_base_pose(splat.means.astype(np.float64), points, normals, guess)
    assert np.linalg.norm(fit.base_world[:3, 3] - truth[:3, 3]) < 0.002
    relative = fit.base_world[:3, :3].T @ truth[:3, :3]
    assert np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1))) < 0.2
