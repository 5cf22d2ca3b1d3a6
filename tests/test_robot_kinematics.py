"""Forward kinematics built from the stage against pybullet (an independent engine) on three real URDFs, and
autograd gradients against central finite differences; the MDH chain against the Panda's documented table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pybullet = pytest.importorskip("pybullet")
pybullet_data = pytest.importorskip("pybullet_data")

from splattwin.pipelines.robot import ImportRobotConfig, base_matrix, import_robot  # noqa: E402
from splattwin.robot import find_robots, load_robot  # noqa: E402
from splattwin.robot.kinematics import spec_link_poses  # noqa: E402
from splattwin.usd import open_twin  # noqa: E402

DATA = Path(pybullet_data.getDataPath())
ROBOTS = {
    "panda": DATA / "franka_panda" / "panda.urdf",
    "xarm6": DATA / "xarm" / "xarm6_robot.urdf",
    "iiwa": DATA / "kuka_iiwa" / "model.urdf",
}
BASE = (0.3, -0.2, 0.75, 35.0)


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, urdf in ROBOTS.items():
        stage = tmp_path_factory.mktemp(name) / "twin.usda"
        import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", base=BASE, gaussians_per_link=20))
        out[name] = stage
    return out


def _pybullet_link_frames(urdf: Path, robot, q: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """World pose (position, rotation matrix) of every URDF link frame per pybullet at q (mimic joints set)."""
    client = pybullet.connect(pybullet.DIRECT)
    try:
        base = base_matrix(BASE)
        quat_xyzw = pybullet.getQuaternionFromEuler((0, 0, np.radians(BASE[3])))
        body = pybullet.loadURDF(
            str(urdf),
            basePosition=base[:3, 3].tolist(),
            baseOrientation=quat_xyzw,
            useFixedBase=True,
            physicsClientId=client,
        )
        values = dict(zip(robot.joint_names, q, strict=True))
        for joint in robot.spec.joints:
            if joint.mimic is not None:
                values[joint.name] = joint.mimic[1] * values[joint.mimic[0]] + joint.mimic[2]
        frames = {}
        for j in range(pybullet.getNumJoints(body, physicsClientId=client)):
            info = pybullet.getJointInfo(body, j, physicsClientId=client)
            name = info[1].decode()
            if name in values:
                pybullet.resetJointState(body, j, values[name], physicsClientId=client)
        for j in range(pybullet.getNumJoints(body, physicsClientId=client)):
            info = pybullet.getJointInfo(body, j, physicsClientId=client)
            state = pybullet.getLinkState(body, j, computeForwardKinematics=1, physicsClientId=client)
            # Indices 4, 5: worldLinkFramePosition / Orientation, the URDF link frame (0, 1 are the inertial frame).
            rot = np.array(pybullet.getMatrixFromQuaternion(state[5])).reshape(3, 3)
            frames[info[12].decode()] = (np.array(state[4]), rot)
        return frames
    finally:
        pybullet.disconnect(client)


def _random_q(robot, rng: np.random.Generator, count: int) -> np.ndarray:
    limits = robot.joint_limits.numpy().clip(-np.pi, np.pi)
    return rng.uniform(limits[:, 0], limits[:, 1], size=(count, robot.dof))


@pytest.mark.parametrize("name", list(ROBOTS))
def test_link_poses_match_pybullet(stages: dict[str, Path], name: str) -> None:
    robot = load_robot(stages[name], "/World/Robot")
    rng = np.random.default_rng(7)
    qs = _random_q(robot, rng, 6)
    poses = robot.link_poses(torch.tensor(qs)).numpy()
    assert poses.shape == (6, len(robot.link_names), 4, 4)
    worst_pos = worst_rot = 0.0
    compared = 0
    for b, q in enumerate(qs):
        reference = _pybullet_link_frames(ROBOTS[name], robot, q)
        for i, link in enumerate(robot.link_names):
            if link not in reference:
                continue  # pybullet's base link has no link state
            pos, rot = reference[link]
            worst_pos = max(worst_pos, float(np.abs(poses[b, i, :3, 3] - pos).max()))
            # rotation angle of R_ours^T R_ref
            cos = (np.trace(poses[b, i, :3, :3].T @ rot) - 1) / 2
            worst_rot = max(worst_rot, float(np.arccos(np.clip(cos, -1, 1))))
            compared += 1
    assert compared >= 6 * (len(robot.link_names) - 1)
    assert worst_pos < 1e-5, worst_pos
    assert worst_rot < 1e-5, worst_rot


@pytest.mark.parametrize("name", list(ROBOTS))
def test_numpy_link_poses_match_pybullet(stages: dict[str, Path], name: str) -> None:
    """The torch-free FK (the browser viewer's) against pybullet, as the torch FK above."""
    robot = load_robot(stages[name], "/World/Robot", gaussians=False)
    for q in _random_q(robot, np.random.default_rng(11), 4):
        poses = spec_link_poses(robot.spec, dict(zip(robot.joint_names, q, strict=True)))
        reference = _pybullet_link_frames(ROBOTS[name], robot, q)
        compared = [link for link in robot.link_names if link in reference]
        assert len(compared) == len(robot.link_names) - 1
        for link in compared:
            pos, rot = reference[link]
            i = robot.link_names.index(link)
            np.testing.assert_allclose(poses[i, :3, 3], pos, atol=1e-5)
            np.testing.assert_allclose(poses[i, :3, :3], rot, atol=1e-5)


def test_joint_names_limits_and_mimic(stages: dict[str, Path]) -> None:
    robot = load_robot(stages["panda"], "/World/Robot")
    # 7 arm joints + finger 1; finger 2 mimics finger 1 and is not a degree of freedom.
    assert robot.joint_names == [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1"]
    assert robot.link_names[0] == "panda_link0" and "panda_rightfinger" in robot.link_names
    np.testing.assert_allclose(robot.joint_limits[0].numpy(), [-2.9671, 2.9671], atol=1e-6)  # URDF values
    np.testing.assert_allclose(robot.joint_limits[-1].numpy(), [0.0, 0.04], atol=1e-7)
    q = torch.zeros(1, robot.dof, dtype=torch.float64)
    q[0, -1] = 0.03
    poses = robot.link_poses(q)[0]
    left = poses[robot.link_names.index("panda_leftfinger")]
    right = poses[robot.link_names.index("panda_rightfinger")]
    # Fingers open symmetrically: 2 * 0.03 m apart along the hand's y axis.
    assert abs(float(torch.linalg.norm(left[:3, 3] - right[:3, 3])) - 0.06) < 1e-9
    twin = open_twin(stages["panda"])
    assert find_robots(twin.stage) == ["/World/Robot"]
    assert robot.link_paths[0] == "/World/Robot/panda_link0"


@pytest.mark.parametrize("name", ["panda", "xarm6"])
def test_gradients_match_central_differences(stages: dict[str, Path], name: str) -> None:
    robot = load_robot(stages[name], "/World/Robot")
    rng = np.random.default_rng(3)
    q0 = torch.tensor(_random_q(robot, rng, 2), requires_grad=True)
    weights = torch.tensor(rng.normal(size=(2, len(robot.link_names), 3, 4)))

    def loss(q: torch.Tensor) -> torch.Tensor:
        return (robot.link_poses(q)[:, :, :3, :] * weights).sum()

    loss(q0).backward()
    eps = 1e-6
    numeric = torch.zeros_like(q0)
    with torch.no_grad():
        for b in range(q0.shape[0]):
            for j in range(q0.shape[1]):
                step = torch.zeros_like(q0)
                step[b, j] = eps
                numeric[b, j] = (loss(q0 + step) - loss(q0 - step)) / (2 * eps)
    error = (q0.grad - numeric).abs().max().item()
    assert error < 1e-6 * max(1.0, numeric.abs().max().item()), error
    assert numeric.abs().max() > 1e-3  # the check is not vacuous


def test_gradcheck_float64(stages: dict[str, Path]) -> None:
    robot = load_robot(stages["iiwa"], "/World/Robot")
    q = torch.tensor(_random_q(robot, np.random.default_rng(5), 1), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: robot.link_poses(x), (q,), eps=1e-6, atol=1e-7)


def test_mdh_chain_matches_pybullet_panda(stages: dict[str, Path]) -> None:
    """Franka's published MDH table (Craig convention) against pybullet's URDF link frames."""
    from splattwin.robot.mdh import PANDA_MDH, MdhChain

    robot = load_robot(stages["panda"], "/World/Robot")
    chain = MdhChain(PANDA_MDH)
    q = _random_q(robot, np.random.default_rng(11), 3)
    base = torch.tensor(base_matrix(BASE))
    frames = chain.link_poses(torch.tensor(q[:, :7]), base_world=base).numpy()
    for b in range(3):
        reference = _pybullet_link_frames(ROBOTS["panda"], robot, q[b])
        for i in range(7):
            pos, rot = reference[f"panda_link{i + 1}"]
            np.testing.assert_allclose(frames[b, i, :3, 3], pos, atol=1e-5)
            np.testing.assert_allclose(frames[b, i, :3, :3], rot, atol=1e-5)


_ODD_URDF = """<?xml version="1.0"?>
<robot name="odd">
  <link name="base"><visual><geometry><box size="0.2 0.2 0.1"/></geometry></visual></link>
  <link name="a"><visual><origin xyz="0 0 0.1" rpy="0.1 0.2 0.3"/>
    <geometry><cylinder radius="0.03" length="0.2"/></geometry></visual></link>
  <link name="b"><collision><geometry><sphere radius="0.04"/></geometry></collision></link>
  <link name="c"><visual><geometry><box size="0.05 0.05 0.05"/></geometry></visual></link>
  <link name="d"/>
  <joint name="spin" type="continuous">
    <parent link="base"/><child link="a"/>
    <origin xyz="0.05 -0.02 0.1" rpy="0.3 -0.2 0.7"/><axis xyz="0.3 0.5 0.8"/>
  </joint>
  <joint name="slide" type="prismatic">
    <parent link="a"/><child link="b"/>
    <origin xyz="0 0.1 0.2" rpy="-0.4 0 1.1"/><axis xyz="0.6 -0.8 0"/>
    <limit lower="-0.1" upper="0.2" effort="10" velocity="1"/>
  </joint>
  <joint name="follow" type="revolute">
    <parent link="b"/><child link="c"/>
    <origin xyz="0.1 0 0" rpy="0 0.5 0"/><axis xyz="0 0 -1"/>
    <limit lower="-2" upper="2" effort="1" velocity="1"/>
    <mimic joint="spin" multiplier="-0.5" offset="0.25"/>
  </joint>
  <joint name="tip" type="fixed">
    <parent link="c"/><child link="d"/><origin xyz="0 0 0.07" rpy="0 0 0.2"/>
  </joint>
</robot>
"""


def test_continuous_skew_axes_and_mimic_with_multiplier_match_pybullet(tmp_path: Path) -> None:
    """Joint kinds the arms lack: continuous, a prismatic axis off the frame axes, a negative axis, a mimic joint
    with multiplier and offset, primitive geometry; pybullet again as the reference (mimic values set by hand).
    The skew axis is unit length: pybullet does not normalise URDF axes (the URDF spec asks for unit axes; we
    normalise them), so a non-unit one would compare two conventions, not two implementations."""
    urdf = tmp_path / "odd.urdf"
    urdf.write_text(_ODD_URDF)
    stage = tmp_path / "twin.usda"
    import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Odd", base=BASE, gaussians_per_link=10))
    robot = load_robot(stage, "/World/Odd")
    assert robot.joint_names == ["spin", "slide"]
    assert np.isinf(robot.joint_limits[0].numpy()).all()  # continuous: no limits
    rng = np.random.default_rng(2)
    qs = np.stack([rng.uniform(-6, 6, 5), rng.uniform(-0.1, 0.2, 5)], axis=1)  # spin beyond +-pi on purpose
    poses = robot.link_poses(torch.tensor(qs)).numpy()
    for b, q in enumerate(qs):
        reference = _pybullet_link_frames(urdf, robot, q)
        plain = spec_link_poses(robot.spec, dict(zip(robot.joint_names, q, strict=True)))  # the torch-free FK
        for i, link in enumerate(robot.link_names[1:], start=1):
            pos, rot = reference[link]
            np.testing.assert_allclose(poses[b, i, :3, 3], pos, atol=1e-5)
            np.testing.assert_allclose(poses[b, i, :3, :3], rot, atol=1e-5)
            np.testing.assert_allclose(plain[i, :3, 3], pos, atol=1e-5)
            np.testing.assert_allclose(plain[i, :3, :3], rot, atol=1e-5)
