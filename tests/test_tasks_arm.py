"""The embedded runtime's full-arm option (robot_model=arm): built from the twin, kinematics against pybullet,
batched outputs of the four tasks, Cartesian tracking through the differential IK."""

from __future__ import annotations

import warnings

import mujoco
import numpy as np
import pytest
import torch
from tasks_support import TASKS, build_twin

# isort: split
import splattwin_tasks
from splattwin_tasks.embedded.arm import ARM_JOINTS, panda_urdf_path

from splattwin.errors import InputError


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> str:
    return str(build_twin(tmp_path_factory.mktemp("twin")))


def _make(task: str, twin: str, num_envs: int = 3, **overrides):
    overrides = {"robot_model": "arm", **overrides}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return splattwin_tasks.make(task, num_envs=num_envs, runtime="embedded", twin=twin, **overrides)


def test_arm_model_is_built_from_the_twin_and_the_urdf(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin)
    m, d = env.model, env.data
    mujoco.mj_forward(m, d)
    scene = env.twin_scene
    for world in range(3):
        base = d.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"panda_link0_{world}")]
        # Each world's arm stands at the twin's robot base: the object's offset from it is the twin's.
        obj = d.qpos[env._obj_q[world, :3]]
        np.testing.assert_allclose(obj[:2] - base[:2], (scene.object_position - scene.robot_base)[:2], atol=0.03)
        np.testing.assert_allclose(base, env._origins_np[world], atol=1e-12)
    # 7 hinges per world with the URDF's limits (panda_joint4: [-3.1416, 0], panda_joint6: [-0.0873, 3.8223]).
    joint4 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "panda_joint4_0")
    joint6 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "panda_joint6_0")
    np.testing.assert_allclose(m.jnt_range[joint4], [-3.1416, 0.0], atol=1e-6)
    np.testing.assert_allclose(m.jnt_range[joint6], [-0.0873, 3.8223], atol=1e-6)
    assert env._arm_q.shape == (3, len(ARM_JOINTS))


def test_forward_kinematics_matches_pybullet(twin: str) -> None:
    import pybullet as pb

    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1)
    m, d = env.model, env.data
    hand = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "panda_hand_0")
    client = pb.connect(pb.DIRECT)
    try:
        robot = pb.loadURDF(str(panda_urdf_path()), useFixedBase=True, physicsClientId=client)
        infos = [pb.getJointInfo(robot, j, physicsClientId=client) for j in range(pb.getNumJoints(robot, client))]
        link = {info[12].decode(): j for j, info in enumerate(infos)}["panda_hand"]
        joints = {info[1].decode(): j for j, info in enumerate(infos)}
        rng = np.random.default_rng(3)
        configs = [np.zeros(7), np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785])]
        configs += [rng.uniform(env._arm_range[:, 0], env._arm_range[:, 1]) for _ in range(3)]
        for q in configs:
            for name, value in zip(ARM_JOINTS, q, strict=True):
                pb.resetJointState(robot, joints[name], value, physicsClientId=client)
            pos, quat_xyzw = pb.getLinkState(robot, link, computeForwardKinematics=True, physicsClientId=client)[4:6]
            d.qpos[env._arm_q[0]] = q
            mujoco.mj_kinematics(m, d)
            np.testing.assert_allclose(d.xpos[hand] - env._origins_np[0], pos, atol=1e-4)
            expected = np.array(pb.getMatrixFromQuaternion(quat_xyzw)).reshape(3, 3)
            np.testing.assert_allclose(d.xmat[hand].reshape(3, 3), expected, atol=1e-4)
    finally:
        pb.disconnect(client)


@pytest.mark.parametrize("task", TASKS)
def test_random_actions_give_finite_batched_outputs_with_the_arm(task: str, twin: str) -> None:
    env = _make(task, twin, num_envs=3)
    obs, _ = env.reset()
    generator = torch.Generator().manual_seed(1)
    for _ in range(40):
        actions = torch.rand(env.action_space.shape, generator=generator) * 2 - 1
        obs, reward, terminated, truncated, _ = env.step(actions)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
        assert obs["policy"].shape == (3, env.observation_space["policy"].shape[1])
        assert reward.shape == (3,) and terminated.dtype == torch.bool and truncated.shape == (3,)
    env.close()


def test_arm_and_hand_share_the_interface(twin: str) -> None:
    arm = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        hand = splattwin_tasks.make("SplatTwin-Lift-Franka-v0", num_envs=2, runtime="embedded", twin=twin)
    assert arm.action_space.shape == hand.action_space.shape
    assert arm.observation_space["policy"].shape == hand.observation_space["policy"].shape


def test_end_effector_tracks_a_cartesian_target(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=2)
    env.reset()
    d = env.data
    site = env._ee_site
    start = d.site_xpos[site] - env._origins_np
    obj = d.qpos[env._obj_q[:, :3]] - env._origins_np
    away = (start - obj)[:, :2] / np.linalg.norm((start - obj)[:, :2], axis=1, keepdims=True)
    target = start[:, :2] + 0.05 * away  # 5 cm further from the object: free space
    for _ in range(40):
        error = target - (d.site_xpos[site] - env._origins_np)[:, :2]
        env.step(torch.as_tensor(np.clip(error / env.cfg.move_step_m, -1, 1), dtype=torch.float32))
    reached = d.site_xpos[site] - env._origins_np
    assert np.linalg.norm(reached[:, :2] - target, axis=1).max() < 3e-3
    # Held at the push height, raised so that the 22.5 mm pads stay 1 mm clear of the table; hand straight down.
    height = max(env.cfg.push_height_m, 0.0225 + 0.001)
    assert np.abs(reached[:, 2] - (env._table_z + height)).max() < 2e-3
    z_axes = d.site_xmat[site].reshape(-1, 3, 3)[:, :, 2]
    assert np.degrees(np.arccos(np.clip(z_axes[:, 2], -1, 1))).max() < 1.0


def test_unknown_robot_model_is_a_clear_error(twin: str) -> None:
    with pytest.raises(InputError, match="robot_model"):
        _make("SplatTwin-Push-Franka-v0", twin, num_envs=1, robot_model="arms")
