"""MDP terms of splattwin_tasks against hand-computed values, and the mass events against their distributions."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats
from tasks_support import ROOT  # noqa: F401  (puts tasks/ on the path)

# isort: split
from splattwin_tasks import mdp
from splattwin_tasks._compat import isaaclab_quat_order
from splattwin_tasks.mdp._scene import SceneEntityCfg
from splattwin_tasks.quaternions import convert_quat_order


class _Scene(dict):
    """``env.scene``: entities by name plus ``env_origins``."""

    env_origins: torch.Tensor


class _MassView:
    def __init__(self, masses: list[float], inertias: torch.Tensor) -> None:
        self.masses = torch.tensor(masses).reshape(-1, 1)
        self.inertias = inertias

    def get_masses(self) -> torch.Tensor:
        return self.masses.clone()

    def get_inertias(self) -> torch.Tensor:
        return self.inertias.clone()

    def set_masses(self, masses: torch.Tensor, indices: torch.Tensor) -> None:
        self.masses[indices] = masses[indices]

    def set_inertias(self, inertias: torch.Tensor, indices: torch.Tensor) -> None:
        self.inertias[indices] = inertias[indices]


class _Commands(dict):
    """``env.command_manager``: commands by name."""

    def get_command(self, name: str) -> torch.Tensor:
        return self[name]


def _env(**overrides) -> SimpleNamespace:
    """Two envs with hand-picked state; origins (10, 0, 0) and (0, 10, 0)."""
    origins = torch.tensor([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    obj = SimpleNamespace(
        data=SimpleNamespace(
            root_pos_w=origins + torch.tensor([[0.3, 0.0, 0.025], [0.2, 0.4, 0.055]]),
            root_quat_w=torch.tensor([[1.0, 0.0, 0.0, 0.0], [-0.8, 0.0, 0.0, 0.6]]),
            root_lin_vel_w=torch.tensor([[0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]),
            default_root_state=torch.zeros(2, 13),
        ),
        root_physx_view=_MassView([0.2, 0.36], torch.eye(3).reshape(1, 9).repeat(2, 1) * 1e-4),
    )
    robot = SimpleNamespace(
        data=SimpleNamespace(
            joint_pos=torch.tensor([[0.03, 0.03], [0.01, 0.02]]),
            applied_torque=torch.tensor([[-4.0, -6.0], [-1.0, -1.0]]),
        )
    )
    ee = SimpleNamespace(
        data=SimpleNamespace(target_pos_w=(origins + torch.tensor([[0.2, 0.0, 0.025], [0.2, 0.4, 0.0]]))[:, None])
    )
    env = SimpleNamespace(
        num_envs=2,
        device=torch.device("cpu"),
        quat_order="wxyz",
        scene=_Scene(object=obj, robot=robot, ee_frame=ee),
        episode_length_buf=torch.tensor([5, 10]),
        max_episode_length=10,
        action_manager=SimpleNamespace(
            action=torch.tensor([[0.5, -0.5], [0.0, 0.0]]), prev_action=torch.tensor([[0.1, 0.1], [0.0, 0.0]])
        ),
        command_manager=_Commands(push_target=torch.tensor([[0.3, 0.015, 0.025], [0.7, 0.4, 0.055]])),
    )
    env.scene.env_origins = origins
    env.__dict__.update(overrides)
    return env


def test_positions_are_in_the_env_frame() -> None:
    env = _env()
    np.testing.assert_allclose(mdp.object_position(env), [[0.3, 0.0, 0.025], [0.2, 0.4, 0.055]], atol=1e-6)
    np.testing.assert_allclose(mdp.ee_position(env), [[0.2, 0.0, 0.025], [0.2, 0.4, 0.0]], atol=1e-6)
    np.testing.assert_allclose(mdp.push_target_offset(env), [[0.0, 0.015], [0.5, 0.0]], atol=1e-6)


def test_object_quaternion_is_wxyz_with_positive_w_in_either_isaac_lab_order() -> None:
    env = _env()
    np.testing.assert_allclose(mdp.object_quat_wxyz(env)[1], [0.8, 0.0, 0.0, -0.6], atol=1e-7)
    xyzw = _env(quat_order="xyzw")
    xyzw.scene["object"].data.root_quat_w = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.6, -0.8]])
    np.testing.assert_allclose(mdp.object_quat_wxyz(xyzw), [[1, 0, 0, 0], [0.8, 0.0, 0.0, -0.6]], atol=1e-7)


def test_convert_quat_order_and_isaac_lab_versions() -> None:
    q = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert convert_quat_order(q, "wxyz", "xyzw").tolist() == [[2.0, 3.0, 4.0, 1.0]]
    assert convert_quat_order(q, "xyzw", "wxyz").tolist() == [[4.0, 1.0, 2.0, 3.0]]
    assert convert_quat_order(q, "wxyz", "wxyz") is q
    assert isaaclab_quat_order("2.3.1") == "wxyz" and isaaclab_quat_order("3.0.0") == "xyzw"
    with pytest.raises(ValueError, match="quaternion order"):
        convert_quat_order(q, "xyz", "wxyz")


def test_gripper_and_mass_observations() -> None:
    env = _env()
    fingers = SceneEntityCfg("robot", joint_ids=[0, 1])
    np.testing.assert_allclose(mdp.gripper_opening(env, fingers), [[0.03, 0.03], [0.01, 0.02]])
    np.testing.assert_allclose(mdp.grip_force(env, fingers), [5.0, 1.0])
    observed = mdp.object_mass_observation(env, nominal_mass_kg=0.18, relative_uncertainty=0.3)
    np.testing.assert_allclose(observed, [[math.log(0.2 / 0.18), 0.3], [math.log(2.0), 0.3]], rtol=1e-6)
    np.testing.assert_allclose(mdp.last_action(env), [[0.5, -0.5], [0.0, 0.0]])


def test_rewards_by_hand() -> None:
    env = _env()
    # ee to object: 0.1 m and 0.055 m; 1 - tanh(d / 0.1).
    np.testing.assert_allclose(
        mdp.ee_object_proximity(env, std_m=0.1), [1 - math.tanh(1.0), 1 - math.tanh(0.55)], rtol=2e-5
    )
    # object to target in the plane: 0.015 m and 0.5 m.
    np.testing.assert_allclose(
        mdp.object_target_proximity(env, std_m=0.25), [1 - math.tanh(0.06), 1 - math.tanh(2.0)], rtol=1e-5
    )
    # heights 0.025 and 0.055 above a rest of 0.025 with a 0.06 goal: 0 and 0.5.
    np.testing.assert_allclose(mdp.object_lift_progress(env, 0.025, 0.06), [0.0, 0.5], atol=1e-6)
    # 0.2 kg, mu 0.5, ratio 3: 3 * 0.2 * 9.81 / 1.0 = 5.886 N.
    assert float(mdp.grip_force_ceiling(torch.tensor(0.2), 0.5, 3.0)) == pytest.approx(5.886, rel=1e-6)
    fingers = SceneEntityCfg("robot", joint_ids=[0, 1])
    # forces 5 N (ceiling 5.886 N at 0.2 kg) and 1 N (ceiling 10.59 N at 0.36 kg): neither over; at ratio 0.5 the
    # ceilings are 0.981 and 1.766 N: the 5 N grip is over, the 1 N one is not.
    assert mdp.grip_over_ceiling(env, 0.5, 3.0, finger_cfg=fingers).tolist() == [0.0, 0.0]
    assert mdp.grip_over_ceiling(env, 0.5, 0.5, finger_cfg=fingers).tolist() == [1.0, 0.0]
    np.testing.assert_allclose(mdp.action_rate_l2(env), [0.16 + 0.36, 0.0], rtol=1e-6)
    # Holding needs h = m g / (2 mu): 1.962 N at 0.2 kg, 3.532 N at 0.36 kg. Window centre sqrt(3) h, half-width
    # log(3) / 2 = 0.5493: 5 N at 0.2 kg is log(5 / 3.398) / 0.5493 = 0.7030 half-widths off; 1 N at 0.36 kg is
    # log(1 / 6.117) / 0.5493 = -3.2970.
    np.testing.assert_allclose(
        mdp.grip_within_window(env, 0.5, 3.0, finger_cfg=fingers),
        [math.exp(-(0.7030**2)), math.exp(-(3.2970**2))],
        rtol=2e-3,
    )
    # At the window's edges the value is exp(-1): a 1.962 N grip on the 0.2 kg object.
    env.scene["robot"].data.applied_torque = torch.tensor([[-1.962, -1.962], [-3.532 * 3, -3.532 * 3]])
    np.testing.assert_allclose(mdp.grip_within_window(env, 0.5, 3.0, finger_cfg=fingers), [math.exp(-1)] * 2, rtol=2e-3)


def test_terminations_by_hand() -> None:
    env = _env()
    fingers = SceneEntityCfg("robot", joint_ids=[0, 1])
    assert mdp.time_out(env).tolist() == [False, True]
    assert mdp.push_success(env, tolerance_m=0.02).tolist() == [True, False]
    assert mdp.object_off_table(env, table_height_m=0.04, margin_m=0.01).tolist() == [True, False]
    # env 1 is 0.03 m up: success at a 0.03 m goal with a gentle grip; env 0 sits at rest.
    assert mdp.lift_success(env, 0.025, 0.03, 0.5, 3.0, finger_cfg=fingers).tolist() == [False, True]
    assert mdp.object_crushed(env, 0.5, 0.5, finger_cfg=fingers).tolist() == [True, False]


def test_mass_event_scales_inertia_and_touches_only_the_reset_envs() -> None:
    env = _env()
    view = env.scene["object"].root_physx_view
    mdp.randomize_object_mass(env, torch.tensor([1]), distribution="fixed", fixed_mass_kg=0.9)
    assert view.masses[:, 0].tolist() == pytest.approx([0.2, 0.9])
    np.testing.assert_allclose(view.inertias[1].reshape(3, 3), np.eye(3) * 1e-4 * 0.9 / 0.36, rtol=1e-6)
    np.testing.assert_allclose(view.inertias[0].reshape(3, 3), np.eye(3) * 1e-4, rtol=1e-6)
    with pytest.raises(ValueError, match="lognormal, loguniform or fixed"):
        mdp.randomize_object_mass(env, None, distribution="gaussian")


def test_lognormal_mass_has_the_identified_median_and_relative_spread() -> None:
    generator = torch.Generator().manual_seed(0)
    masses = mdp.lognormal_mass(200_000, 0.18, 0.3, generator=generator).double().numpy()
    # Median m0; relative standard deviation u (the log-normal's sqrt(exp(s^2) - 1) with s^2 = log(1 + u^2)).
    assert np.median(masses) == pytest.approx(0.18, rel=0.005)
    assert masses.std() / masses.mean() == pytest.approx(0.3, rel=0.02)
    # The whole distribution: log m ~ N(log m0, log(1 + u^2)); at u = 1 a sigma of u itself would fail this.
    wide = mdp.lognormal_mass(20_000, 0.18, 1.0, generator=torch.Generator().manual_seed(1)).double().numpy()
    result = stats.kstest(np.log(wide), "norm", args=(math.log(0.18), math.sqrt(math.log(2.0))))
    assert result.pvalue > 0.01


def test_loguniform_mass_covers_the_training_range_uniformly_in_log() -> None:
    masses = mdp.loguniform_mass(20_000, 0.18, 4.0, generator=torch.Generator().manual_seed(2)).double().numpy()
    assert masses.min() >= 0.18 / 4 and masses.max() <= 0.18 * 4
    low = math.log(0.18 / 4)
    assert stats.kstest(np.log(masses), "uniform", args=(low, 2 * math.log(4.0))).pvalue > 0.01
    # Not uniform in mass itself.
    assert stats.kstest(masses, "uniform", args=(0.18 / 4, 0.18 * 4 - 0.18 / 4)).pvalue < 1e-6


def test_push_target_is_at_the_sampled_distance_from_the_object() -> None:
    env = _env()
    torch.manual_seed(3)
    command = mdp.PushTargetCommand(mdp.PushTargetCommandCfg(distance_range_m=(0.06, 0.12)), env)
    command.resample(torch.tensor([0, 1]))
    env.command_manager["push_target"] = command.command
    offset = mdp.push_target_offset(env)
    distance = torch.linalg.vector_norm(offset, dim=1)
    assert ((distance >= 0.06 - 1e-6) & (distance <= 0.12 + 1e-6)).all()
    np.testing.assert_allclose(command.command[:, 2], [0.025, 0.055], atol=1e-6)


def test_end_effector_target_by_hand() -> None:
    ee = torch.tensor([[0.5, 0.0, 0.10], [0.84, 0.0, 0.03], [0.3, 0.2, 0.03]], dtype=torch.float64)
    actions = torch.tensor([[1.0, -0.5, 1.0, 0.7], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0]], dtype=torch.float64)
    lift = mdp.end_effector_target(ee, actions, 0.02, min_height_m=0.0235, max_height_m=0.5)
    # x, y, z move by 2 cm x action; the grip column is ignored.
    np.testing.assert_allclose(lift[0].numpy(), [0.52, -0.01, 0.12])
    # 0.86 m from the base is pulled back onto the 0.85 m sphere along its ray.
    np.testing.assert_allclose(lift[1].numpy(), np.array([0.86, 0.0, 0.03]) * 0.85 / np.hypot(0.86, 0.03))
    # 1 cm above the table is below the pads' clearance: held at 2.35 cm.
    np.testing.assert_allclose(lift[2].numpy(), [0.3, 0.2, 0.0235])
    push = mdp.end_effector_target(ee, actions, 0.02, min_height_m=0.0235, max_height_m=0.5, hold_height_m=0.03)
    # Planar: z is the held height whatever z the hand has or the third column asks.
    np.testing.assert_allclose(push[0].numpy(), [0.52, -0.01, 0.03])
    np.testing.assert_allclose(push[2].numpy(), [0.3, 0.2, 0.03])


@pytest.mark.parametrize("closing_yaw_deg", [0.0, 30.0, 90.0, 200.0])
def test_hand_down_quaternion_points_the_fingers_down_and_closes_along_the_yaw(closing_yaw_deg: float) -> None:
    from scipy.spatial.transform import Rotation
    from splattwin_tasks.robots.franka import hand_down_quat_wxyz

    w, x, y, z = hand_down_quat_wxyz(np.radians(closing_yaw_deg))
    rotation = Rotation.from_quat([x, y, z, w]).as_matrix()
    np.testing.assert_allclose(rotation[:, 2], [0.0, 0.0, -1.0], atol=1e-12)  # fingers (hand z) down
    closing = np.array([np.cos(np.radians(closing_yaw_deg)), np.sin(np.radians(closing_yaw_deg)), 0.0])
    assert abs(rotation[:, 1] @ closing) == pytest.approx(1.0)  # hand y along the closing line
