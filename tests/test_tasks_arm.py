"""The embedded runtime's full arm (robot_model=arm): built from the twin, kinematics against pybullet, batched
outputs of the four tasks, the Cartesian impedance (tracking, Hooke's law, torque limits), link inertias and
collisions."""

from __future__ import annotations

import warnings

import mujoco
import numpy as np
import pytest
import torch
from tasks_support import TASKS, build_twin

# isort: split
import splattwin_tasks
from splattwin_tasks.embedded.arm import ARM_CARTESIAN_KP, hull_inertia, read_panda_chain
from splattwin_tasks.robots.franka import ARM_JOINTS, GRASP_OFFSET_M
from splattwin_tasks.robots.franka import urdf_path as panda_urdf_path

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
    shard = env.shards[0]
    m, d = env.model, env.data
    mujoco.mj_forward(m, d)
    scene = env.twin_scene
    for world in range(3):
        base = d.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"panda_link0_{world}")]
        # Each world's arm stands at the twin's robot base: the object's offset from it is the twin's.
        obj = d.qpos[shard.obj_q[world, :3]]
        np.testing.assert_allclose(obj[:2] - base[:2], (scene.object_position - scene.robot_base)[:2], atol=0.03)
        np.testing.assert_allclose(base, shard.origins[world], atol=1e-12)
    # 7 hinges per world with the URDF's limits (panda_joint4: [-3.1416, 0], panda_joint6: [-0.0873, 3.8223]).
    joint4 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "panda_joint4_0")
    joint6 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "panda_joint6_0")
    np.testing.assert_allclose(m.jnt_range[joint4], [-3.1416, 0.0], atol=1e-6)
    np.testing.assert_allclose(m.jnt_range[joint6], [-0.0873, 3.8223], atol=1e-6)
    assert shard.arm_q.shape == (3, len(ARM_JOINTS))


def test_forward_kinematics_matches_pybullet(twin: str) -> None:
    import pybullet as pb

    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1)
    shard = env.shards[0]
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
        configs += [rng.uniform(shard.arm_range[:, 0], shard.arm_range[:, 1]) for _ in range(3)]
        for q in configs:
            for name, value in zip(ARM_JOINTS, q, strict=True):
                pb.resetJointState(robot, joints[name], value, physicsClientId=client)
            pos, quat_xyzw = pb.getLinkState(robot, link, computeForwardKinematics=True, physicsClientId=client)[4:6]
            d.qpos[shard.arm_q[0]] = q
            mujoco.mj_kinematics(m, d)
            np.testing.assert_allclose(d.xpos[hand] - shard.origins[0], pos, atol=1e-4)
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
    shard = env.shards[0]
    env.reset()
    d = env.data
    site = shard.ee_site
    start = d.site_xpos[site] - shard.origins
    obj = d.qpos[shard.obj_q[:, :3]] - shard.origins
    away = (start - obj)[:, :2] / np.linalg.norm((start - obj)[:, :2], axis=1, keepdims=True)
    target = start[:, :2] + 0.05 * away  # 5 cm further from the object: free space
    for _ in range(40):
        error = target - (d.site_xpos[site] - shard.origins)[:, :2]
        env.step(torch.as_tensor(np.clip(error / env.cfg.move_step_m, -1, 1), dtype=torch.float32))
    reached = d.site_xpos[site] - shard.origins
    assert np.linalg.norm(reached[:, :2] - target, axis=1).max() < 3e-3
    # Held at the push height, raised so that the 22.5 mm pads stay 1 mm clear of the table; hand straight down.
    height = max(env.cfg.push_height_m, 0.0225 + 0.001)
    assert np.abs(reached[:, 2] - (env.table_z + height)).max() < 2e-3
    z_axes = d.site_xmat[site].reshape(-1, 3, 3)[:, :, 2]
    assert np.degrees(np.arccos(np.clip(z_axes[:, 2], -1, 1))).max() < 1.0


def test_unknown_robot_model_is_a_clear_error(twin: str) -> None:
    with pytest.raises(InputError, match="robot_model"):
        _make("SplatTwin-Push-Franka-v0", twin, num_envs=1, robot_model="arms")


def test_impedance_obeys_hookes_law_at_the_hand(twin: str) -> None:
    """A steady 6 N push on the hand displaces it by F / k along the push (gravity is compensated)."""
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1)
    shard = env.shards[0]
    env.reset()
    m, d = env.model, env.data
    site = shard.ee_site[0]
    start = d.site_xpos[site].copy()
    grasp = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "grasp0")
    force = np.array([0.0, 6.0, 0.0])
    # Applied at the grasp body's centre of mass; the site sits at its origin, close enough for a pure force.
    d.xfrc_applied[grasp, :3] = force
    d.ctrl[shard.ctrl_cartesian[0]] = start - shard.origins[0]
    mujoco.mj_step(m, d, nstep=1500)  # 3 s: settled
    displacement = d.site_xpos[site] - start
    expected = force[1] / ARM_CARTESIAN_KP  # 3 mm
    assert abs(displacement[1] - expected) < 0.15 * expected
    assert np.abs(displacement[[0, 2]]).max() < 0.2 * expected
    assert np.abs(d.qvel[shard.arm_v[0]]).max() < 1e-3


def test_joint_torques_stay_within_the_urdf_effort_limits(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1)
    shard = env.shards[0]
    env.reset()
    m, d = env.model, env.data
    efforts = np.array([link.effort for link in read_panda_chain() if link.effort is not None])
    np.testing.assert_allclose(efforts, [87, 87, 87, 87, 12, 12, 12])
    np.testing.assert_allclose(m.jnt_actfrcrange[m.dof_jntid[shard.arm_v[0]]][:, 1], efforts)
    # A target 1 m away asks the impedance for its full 60 N; the wrist joints would need more than 12 N m.
    d.ctrl[shard.ctrl_cartesian[0]] = d.site_xpos[shard.ee_site[0]] - shard.origins[0] + [0.0, 0.0, 1.0]
    d.ctrl[shard.ctrl_rotation[0]] = [1.5, 0.0, 0.0]
    peak = np.zeros(7)
    for _ in range(50):
        mujoco.mj_step(m, d)
        peak = np.maximum(peak, np.abs(d.qfrc_actuator[shard.arm_v[0]]))
    assert (peak <= efforts + 1e-6).all()
    assert np.isclose(peak[4:], 12.0).any()  # the limit was reached, not just respected


def test_hull_inertia_of_a_box_matches_the_closed_form(tmp_path) -> None:
    import trimesh

    size = np.array([0.1, 0.2, 0.4])
    mesh = trimesh.creation.box(extents=size)
    path = tmp_path / "box.obj"
    mesh.export(path)
    mass = 2.0
    a, b, c = size**2
    about_centre = mass / 12 * np.diag([b + c, a + c, a + b])
    np.testing.assert_allclose(hull_inertia(path, mass, np.zeros(3)), about_centre, atol=1e-12)
    shift = np.array([0.0, 0.0, 0.05])  # parallel axes: + m d^2 about x and y
    np.testing.assert_allclose(
        hull_inertia(path, mass, shift), about_centre + mass * 0.05**2 * np.diag([1.0, 1.0, 0.0]), atol=1e-12
    )


def test_links_collide_with_the_object_but_not_with_each_other(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1)
    shard = env.shards[0]
    env.reset()
    m, d = env.model, env.data
    link7 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "panda_link7_0")
    obj = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "object0")
    d.qpos[shard.obj_q[0, :3]] = d.geom_xpos[link7]  # the block inside the last link
    mujoco.mj_forward(m, d)
    pairs = {tuple(sorted((int(c.geom1), int(c.geom2)))) for c in d.contact[: d.ncon]}
    assert tuple(sorted((link7, obj))) in pairs
    links = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"panda_link{k}_0") for k in range(1, 8)]
    hand = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, name) for name in ("palm0", "pad1_0", "pad2_0")]
    table = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "table0")

    def filtered_in(a: int, b: int) -> bool:  # MuJoCo's contype/conaffinity rule
        return bool(m.geom_contype[a] & m.geom_conaffinity[b] or m.geom_contype[b] & m.geom_conaffinity[a])

    robot = links + hand
    assert all(filtered_in(g, obj) and filtered_in(g, table) for g in robot)
    assert not any(filtered_in(a, b) for a in links for b in robot if a != b)


@pytest.mark.slow
def test_play_records_the_arm_joints_on_the_twins_robot(tmp_path) -> None:
    """An arm rollout keyed on the demo twin's imported Panda: the twin's own FK of the keyed joints puts the grasp
    point where the simulated end-effector was keyed (two kinematics, one from pybullet's URDF in MuJoCo, one from
    the twin's USD robot)."""
    from splattwin.cli import main
    from splattwin.robot import load_robot
    from splattwin.robot.trajectories import check_trajectory, joint_channels, read_joint_trajectory
    from splattwin.usd import open_twin

    assert main(["demo", "--out", str(tmp_path / "demo"), "previews=false", "identify=false"]) == 0
    twin = tmp_path / "demo" / "twin.usda"
    common = [f"twin={twin}", "task=SplatTwin-Push-Franka-v0", "env.robot_model=arm", "num_envs=2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(["train", *common, "max_iterations=1", f"log_dir={tmp_path / 'run'}", "progress=false"]) == 0
        assert main(["play", *common, f"checkpoint={tmp_path / 'run'}", "episodes=1", "record=true"]) == 0
    stage = open_twin(twin).stage
    trajectory = read_joint_trajectory(stage, "/World/Robot")
    assert [f"panda_joint{k}" for k in range(1, 8)] == trajectory.joint_names[:7]
    assert len(trajectory.times) > 10
    # Within the twin robot's joint limits (MuJoCo's soft limits let a shut finger sit past its stop).
    channels = joint_channels(stage, "/World/Robot")
    limits = [i for i in check_trajectory(trajectory, channels) if i.kind == "limit"]
    assert not limits, limits
    ee = stage.GetPrimAtPath("/World/Trajectories/SplatTwin_Push_Franka_v0/ee").GetAttribute("xformOp:translate")
    rate = stage.GetTimeCodesPerSecond()
    robot = load_robot(stage, "/World/Robot", gaussians=False)
    q = torch.zeros(len(trajectory.times), robot.dof, dtype=torch.float64)
    for column, name in enumerate(trajectory.joint_names):
        q[:, robot.joint_names.index(name)] = torch.as_tensor(trajectory.positions[:, column])
    hand = robot.link_poses(q)[:, robot.link_names.index("panda_hand")].numpy()
    grasp = hand[:, :3, 3] + GRASP_OFFSET_M * hand[:, :3, 2]
    keyed = np.array([ee.Get(t * rate) for t in trajectory.times])
    assert np.linalg.norm(grasp - keyed, axis=1).max() < 2e-3


def test_the_arm_holds_the_hand_as_the_isaac_lab_action_asks(twin: str) -> None:
    """The embedded arm's hand orientation after a reset and after moving is the pose Isaac Lab's
    CartesianTargetAction targets (franka.hand_down_quat_wxyz of the object's closing direction)."""
    from splattwin_tasks.robots.franka import closing_yaw as grasp_yaw
    from splattwin_tasks.robots.franka import hand_down_quat_wxyz

    env = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=2)
    env.reset()
    expected = np.array(hand_down_quat_wxyz(grasp_yaw(env.twin_scene)[0]))
    hand = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "panda_hand_0")
    assert abs(env.data.xquat[hand] @ expected) == pytest.approx(1.0, abs=1e-6)  # q and -q are one rotation
    for _ in range(10):
        env.step(torch.tensor([[0.5, -0.5, 1.0, -1.0]] * 2))
    assert abs(env.data.xquat[hand] @ expected) > np.cos(np.radians(2.0) / 2)  # within 2 degrees at full speed
