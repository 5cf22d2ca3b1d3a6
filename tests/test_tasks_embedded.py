"""The embedded MuJoCo runtime: built from the twin, batched interface, physics of the grasp, bad input."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import mujoco
import numpy as np
import pytest
import torch
from tasks_support import PANDA_LINKS, ROOT, TASKS, build_twin

# isort: split
import splattwin_tasks
from splattwin_tasks.mdp import grip_force_ceiling, grip_force_from_level
from splattwin_tasks.twin_scene import read_object_mass, read_twin_scene

from splattwin.errors import InputError, StageError


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> str:
    return str(build_twin(tmp_path_factory.mktemp("twin")))


def _make(task: str, twin: str, num_envs: int = 4, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the demo twin's mass is a prior: warned about elsewhere
        return splattwin_tasks.make(task, num_envs=num_envs, runtime="embedded", twin=twin, **overrides)


def test_importing_registers_the_four_tasks_without_isaac_lab() -> None:
    code = "import gymnasium as gym, splattwin_tasks; print(sorted(e for e in gym.registry if 'SplatTwin' in e))"
    env = {"PYTHONPATH": f"{ROOT / 'source' / 'splattwin'}:{ROOT / 'tasks'}", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(sorted(TASKS))
    spec = __import__("gymnasium").registry["SplatTwin-Lift-Franka-v0"]
    assert spec.kwargs["env_cfg_entry_point"].endswith("lift_env_cfg:LiftEnvCfg")
    assert spec.kwargs["rsl_rl_cfg_entry_point"].endswith("rsl_rl_ppo_cfg:LiftPPORunnerCfg")


@pytest.mark.parametrize("task", TASKS)
def test_random_actions_give_finite_batched_outputs(task: str, twin: str) -> None:
    env = _make(task, twin, num_envs=4)
    obs, extras = env.reset()
    assert obs["policy"].shape == (4, env.observation_space["policy"].shape[1])
    generator = torch.Generator().manual_seed(0)
    for _ in range(60):
        actions = torch.rand(env.action_space.shape, generator=generator) * 2 - 1
        obs, reward, terminated, truncated, extras = env.step(actions)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
        assert reward.shape == (4,) and terminated.dtype == torch.bool and truncated.shape == (4,)
    assert env.num_envs == 4
    env.close()


def test_nomass_variant_hides_exactly_the_mass_observation(twin: str) -> None:
    with_mass = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=2, mass_distribution="fixed", fixed_mass_kg=0.36)
    without = _make("SplatTwin-Lift-Franka-NoMass-v0", twin, num_envs=2, mass_distribution="fixed", fixed_mass_kg=0.36)
    a, b = with_mass.reset()[0]["policy"], without.reset()[0]["policy"]
    assert a.shape[1] == b.shape[1] + 2
    # The mass observation: log(m / m_twin) and the twin's relative uncertainty (the prior's 30 %).
    m_twin = with_mass.twin_scene.mass.mass_kg
    assert any(
        np.allclose(a[0, i : i + 2].numpy(), [math.log(0.36 / m_twin), 0.3], atol=1e-5) for i in range(a.shape[1] - 1)
    )


@pytest.mark.parametrize("task", ["SplatTwin-Push-Franka-v0", "SplatTwin-Lift-Franka-v0"])
def test_worlds_split_over_several_models_step_as_in_one(task: str, twin: str, monkeypatch) -> None:
    """8 worlds in models of 3, 3 and 2 (stepped in threads) against the same 8 in one model: same episodes."""
    from splattwin_tasks.embedded import env as embedded_env

    runs = []
    for per_model in (3, 16):
        monkeypatch.setattr(embedded_env, "WORLDS_PER_MODEL", per_model)
        env = _make(task, twin, num_envs=8, seed=5)
        assert len(env.shards) == (3 if per_model == 3 else 1)
        generator = torch.Generator().manual_seed(2)
        trace = [env.reset()[0]["policy"]]
        for _ in range(30):
            obs, reward, terminated, _, _ = env.step(torch.rand(env.action_space.shape, generator=generator) * 2 - 1)
            trace += [obs["policy"], reward[:, None], terminated[:, None].float()]
        runs.append(torch.cat(trace, 1))
        env.close()
    # One constraint solve over more worlds converges a little differently; a world mix-up would be centimetres.
    torch.testing.assert_close(runs[0], runs[1], atol=2e-4, rtol=1e-3)


def test_model_is_built_from_the_twin(twin: str) -> None:
    from pxr import Usd, UsdGeom, UsdPhysics

    from splattwin.usd import open_twin

    env = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=3, mass_distribution="fixed", fixed_mass_kg=0.25)
    shard = env.shards[0]
    stage = open_twin(twin).stage
    block = stage.GetPrimAtPath("/World/Objects/Block")
    mesh = UsdGeom.Mesh(block.GetChild("collision"))
    to_world = np.array(UsdGeom.Xformable(mesh).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    usd_vertices = np.asarray(mesh.GetPointsAttr().Get(), dtype=float) @ to_world[:3, :3].T + to_world[:3, 3]
    m, d = env.model, env.data
    mujoco.mj_forward(m, d)
    for world in range(3):
        geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"object{world}")
        mesh_id = m.geom_dataid[geom]
        start, count = m.mesh_vertadr[mesh_id], m.mesh_vertnum[mesh_id]
        local = m.mesh_vert[start : start + count]
        ours = local @ d.geom_xmat[geom].reshape(3, 3).T + d.geom_xpos[geom] - shard.origins[world]
        # Same convex block (MuJoCo keeps the hull's vertices): each twin vertex has a match within 0.1 mm.
        gaps = np.linalg.norm(usd_vertices[:, None] - ours[None], axis=2).min(1)
        assert gaps.max() < 1e-4
        # The mass the event set; the inertia of the twin's (stored) tensor scaled by 0.25 / m_twin.
        body = shard.object_body[world]
        assert m.body_mass[body] == pytest.approx(0.25)
        stored = np.sort(np.asarray(UsdPhysics.MassAPI(block).GetDiagonalInertiaAttr().Get(), dtype=float))
        m_twin = UsdPhysics.MassAPI(block).GetMassAttr().Get()
        np.testing.assert_allclose(np.sort(m.body_inertia[body]), stored * 0.25 / m_twin, rtol=1e-4)
        # The table top at the twin's table height (the demo's table is level with the robot base, z = 0).
        table = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"table{world}")
        assert m.geom_pos[table][2] + m.geom_size[table][2] == pytest.approx(0.0, abs=2e-3)


def test_runtime_mass_change_matches_mujocos_own_recompute(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=2, mass_distribution="fixed", fixed_mass_kg=0.5)
    shard = env.shards[0]
    reference = mujoco.MjModel.from_xml_string(
        __import__("splattwin_tasks.embedded.mjcf", fromlist=["build_mjcf"]).build_mjcf(
            env.twin_scene, 2, sim_dt=env.cfg.sim_dt, hand_start=env._hand_start, robot_model=env.cfg.robot_model
        )
    )
    reference.body_mass[shard.object_body] = env.model.body_mass[shard.object_body]
    reference.body_inertia[shard.object_body] = env.model.body_inertia[shard.object_body]
    mujoco.mj_setConst(reference, mujoco.MjData(reference))
    bodies, dofs = shard.object_body, shard.obj_v
    np.testing.assert_allclose(env.model.body_invweight0[bodies], reference.body_invweight0[bodies], rtol=1e-3)
    np.testing.assert_allclose(env.model.dof_invweight0[dofs], reference.dof_invweight0[dofs], rtol=1e-3)


def _lift_rollout(env, grip_force_n: float, steps: int = 40) -> tuple[float, bool]:
    """Close at a constant force, then raise the hand; returns the object's rise [m] and whether it succeeded."""
    low, high = env.cfg.grip_force_range_n
    grip = 2 * (math.log(grip_force_n) - math.log(low)) / (math.log(high) - math.log(low)) - 1
    env.reset()
    shard = env.shards[0]
    rest = env.data.qpos[shard.obj_q[0, 2]]
    succeeded, rise = False, 0.0
    for step in range(steps):
        action = torch.tensor([[0.0, 0.0, 1.0 if step >= 8 else 0.0, grip]], dtype=torch.float32)
        _, _, terminated, _, _ = env.step(action)
        if terminated[0]:
            succeeded = bool(env.termination_manager.get_term("success")[0])
            break
        rise = float(env.data.qpos[shard.obj_q[0, 2]] - rest)
    return rise, succeeded


def test_grip_must_beat_weight_over_friction_and_stay_under_the_ceiling(twin: str) -> None:
    mass = 0.3
    env = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=1, mass_distribution="fixed", fixed_mass_kg=mass)
    mu = env.twin_scene.friction
    holding = mass * 9.81 / (2 * mu)  # two pads, Coulomb friction: the least closing force that holds it
    ceiling = float(grip_force_ceiling(torch.tensor(mass), mu, env.cfg.grip_ceiling_ratio))
    rise, ok = _lift_rollout(env, 0.5 * holding)
    assert not ok and rise < 0.01  # slips out
    rise, ok = _lift_rollout(env, 2.0 * holding)
    assert ok  # held and lifted
    _, ok = _lift_rollout(env, 1.2 * ceiling)
    assert not ok and bool(env.termination_manager.get_term("crushed")[0])


def test_a_lift_crushed_on_the_step_it_reaches_the_goal_is_a_crush_not_a_success(twin: str) -> None:
    """Goal and crush on one step: the episode ends crushed, without the success bonus."""
    mass = 0.3
    env = _make("SplatTwin-Lift-Franka-v0", twin, num_envs=1, mass_distribution="fixed", fixed_mass_kg=mass)
    low, high = env.cfg.grip_force_range_n
    ceiling = float(grip_force_ceiling(torch.tensor(mass), env.twin_scene.friction, env.cfg.grip_ceiling_ratio))

    def level(force: float) -> float:
        return 2 * (math.log(force) - math.log(low)) / (math.log(high) - math.log(low)) - 1

    def rollout(squeeze_at: int | None) -> tuple[int, bool, bool, float]:
        env.reset(seed=0)  # the same pre-grasp jitter both times
        for step in range(60):
            # Just under the ceiling (0.93 of it); a full squeeze on one step lifts the lagged level over it.
            grip = 1.0 if step == squeeze_at else level(0.93 * ceiling)
            action = torch.tensor([[0.0, 0.0, 1.0 if step >= 8 else 0.0, grip]])
            _, reward, terminated, truncated, _ = env.step(action)
            if terminated[0] or truncated[0]:
                get = env.termination_manager.get_term
                return step, bool(get("success")[0]), bool(get("crushed")[0]), float(reward[0])
        raise AssertionError("the episode did not end")

    goal_step, success, crushed, _ = rollout(None)
    assert success and not crushed  # held under the ceiling, it reaches the goal at goal_step
    # The one-step squeeze: the force after it, from the lag (alpha = dt / (dt + tau)), is over the ceiling.
    alpha = env.step_dt / (env.step_dt + env.cfg.grip_time_constant_s)
    squeezed = level(0.93 * ceiling) + alpha * (1.0 - level(0.93 * ceiling))
    assert float(grip_force_from_level(torch.tensor(squeezed), tuple(env.cfg.grip_force_range_n))) > ceiling
    step, success, crushed, reward = rollout(goal_step)
    assert step == goal_step and crushed and not success
    assert reward < 0  # no success bonus (300 x 0.02 s = 6); the crush penalty instead


def test_push_object_moves_when_the_hand_drives_through_it(twin: str) -> None:
    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=1, mass_distribution="fixed", fixed_mass_kg=0.18)
    shard = env.shards[0]
    env.reset()
    start = env.data.qpos[shard.obj_q[0, :2]].copy()
    moved = 0.0
    for _ in range(40):
        ee = env.data.site_xpos[shard.ee_site[0], :2]
        obj = env.data.qpos[shard.obj_q[0, :2]]
        direction = (obj - ee) / np.linalg.norm(obj - ee)
        _, _, terminated, truncated, _ = env.step(torch.tensor(direction[None], dtype=torch.float32))
        if terminated[0] or truncated[0]:
            break
        moved = max(moved, float(np.linalg.norm(env.data.qpos[shard.obj_q[0, :2]] - start)))
    assert moved > 0.02


def test_mass_falls_back_to_the_prior_loudly_and_reads_an_identified_one(tmp_path) -> None:
    from pxr import UsdPhysics

    from splattwin.usd import edit_twin, open_twin

    path = build_twin(tmp_path / "t")
    with pytest.warns(UserWarning, match="MASS NOT IDENTIFIED"):
        prior = read_object_mass(open_twin(path).stage, "/World/Objects/Block")
    assert prior.source == "prior" and prior.relative_uncertainty == pytest.approx(0.3)
    with edit_twin(path) as edit, edit.edit_layer("physics") as stage:
        attr = UsdPhysics.MassAPI(stage.GetPrimAtPath("/World/Objects/Block")).GetMassAttr()
        attr.Set(0.21)
        attr.SetCustomDataByKey("splattwin:provenance", {"kind": "identified", "uncertaintyKg": 0.0105})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        identified = read_object_mass(open_twin(path).stage, "/World/Objects/Block")
    assert identified.mass_kg == pytest.approx(0.21) and identified.relative_uncertainty == pytest.approx(0.05)
    assert identified.source == "identified"


def test_bad_input_gets_one_clear_error(tmp_path, twin: str) -> None:
    with pytest.raises(InputError, match="num_envs: must be an integer >= 1, got 0"):
        _make("SplatTwin-Push-Franka-v0", twin, num_envs=0)
    with pytest.raises(InputError, match="unknown task id 'SplatTwin-Stack-Franka-v0'"):
        _make("SplatTwin-Stack-Franka-v0", twin)
    with pytest.raises(InputError, match="episode_length_s: expected a number, got 'long'"):
        _make("SplatTwin-Push-Franka-v0", twin, episode_length_s="long")
    with pytest.raises(InputError, match="runtime: must be one of"):
        splattwin_tasks.make("SplatTwin-Push-Franka-v0", runtime="gazebo", twin=twin)
    with pytest.raises(InputError, match="runtime: isaaclab needs Isaac Lab"):
        splattwin_tasks.make("SplatTwin-Push-Franka-v0", runtime="isaaclab", twin=twin)
    no_robot = build_twin(tmp_path / "no_robot", robot_links=None)
    with pytest.raises(StageError, match="has no robot"):
        read_twin_scene(no_robot)
    handless = build_twin(tmp_path / "handless", robot_links=PANDA_LINKS[:2])
    with pytest.raises(StageError, match=r"lacks the links \['panda_leftfinger', 'panda_rightfinger'\]"):
        read_twin_scene(handless)
    no_object = build_twin(tmp_path / "no_object", keep_object=False)
    with pytest.raises(StageError, match="has no rigid object at /World/Objects/Block"):
        read_twin_scene(no_object)


@pytest.mark.parametrize("robot_model", ["hand", "arm"])
def test_hand_velocity_observation_is_the_time_derivative_of_its_position(twin: str, robot_model: str) -> None:
    from splattwin_tasks import mdp
    from splattwin_tasks.mdp._scene import SceneEntityCfg

    env = _make("SplatTwin-Push-Franka-v0", twin, num_envs=3, robot_model=robot_model)
    env.reset()
    actions = torch.tensor([[1.0, 0.3], [-0.5, 1.0], [0.0, -1.0]])
    for _ in range(3):
        env.step(actions)  # moving, and accelerating less than in the first step
    shard = env.shards[0]
    hand = SceneEntityCfg("robot", body_names=["panda_hand"])
    hand.body_ids = env.scene["robot"].find_bodies(["panda_hand"])[0]
    velocity = mdp.ee_linear_velocity(env, hand).numpy()
    before = shard.data.site_xpos[shard.ee_site].copy()
    mujoco.mj_step(shard.model, shard.data)  # one 2 ms physics step
    after = shard.data.site_xpos[shard.ee_site]
    central = (after - before) / env.cfg.sim_dt
    assert np.abs(velocity).max() > 0.05  # really moving
    np.testing.assert_allclose(velocity, central, atol=0.01)
