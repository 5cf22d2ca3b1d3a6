"""The embedded runtime: a batched env with Isaac Lab's interface on MuJoCo (C, CPU), no Isaac Sim needed.

The env exposes the parts of Isaac Lab's ``ManagerBasedRLEnv`` the shared MDP terms read (``scene[...]`` with
``data.root_pos_w``/``root_quat_w``/``root_lin_vel_w``/``joint_pos``/``applied_torque``/``target_pos_w``,
``root_physx_view.get/set_masses``/``get/set_inertias``, ``write_root_pose_to_sim``, ``action_manager``,
``termination_manager``, ``episode_length_buf``), so the terms run here unchanged. What it simulates: see
:mod:`splattwin_tasks.embedded.mjcf`: by default the Panda hand on a Cartesian impedance carriage; with
``robot_model="arm"`` the full 7-joint Panda (:mod:`splattwin_tasks.embedded.arm`), whose joint servos follow a
damped-least-squares differential IK of the same Cartesian end-effector target each control step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch

from splattwin.errors import InputError
from splattwin_tasks.embedded.arm import ARM_HOME_Q, ARM_JOINTS, dls_step
from splattwin_tasks.embedded.mjcf import HandGeometry, build_mjcf, grasp_yaw, world_origins
from splattwin_tasks.manipulation.task_cfg import FINGER_JOINTS, LiftTaskCfg, ManipulationTaskCfg, TaskTerms
from splattwin_tasks.twin_scene import TwinScene

__all__ = ["EmbeddedManipulationEnv"]

_PUSH_FINGER_FORCE_N = 5.0  # keeps the fingers shut while pushing
_REACH_M = 0.85  # the Panda's reach from its base


class _MassView:
    """``root_physx_view`` stand-in: per-world mass [N, 1] and body-frame inertia [N, 9] of the object bodies."""

    def __init__(self, model: mujoco.MjModel, body_ids: np.ndarray, dof_ids: np.ndarray) -> None:
        self._model, self._ids, self._dofs = model, body_ids, dof_ids

    def _rotations(self) -> np.ndarray:
        quats = self._model.body_iquat[self._ids]
        out = np.empty((len(self._ids), 9))
        for row, quat in zip(out, quats, strict=True):
            mujoco.mju_quat2Mat(row, quat)
        return out.reshape(-1, 3, 3)

    def get_masses(self) -> torch.Tensor:
        return torch.from_numpy(self._model.body_mass[self._ids].astype(np.float32)).reshape(-1, 1)

    def set_masses(self, masses: torch.Tensor, indices: torch.Tensor) -> None:
        ids = indices.cpu().numpy()
        bodies = self._ids[ids]
        new = masses.reshape(len(self._ids), -1)[ids, 0].double().cpu().numpy()
        ratio = self._model.body_mass[bodies] / new
        self._model.body_mass[bodies] = new
        self._model.body_subtreemass[bodies] = new
        # What mj_setConst would recompute for a free body whose mass and inertia scale together (its inverse
        # weights, which set the contacts' regularisation), without its cost over every world (16 ms at 64).
        self._model.body_invweight0[bodies] *= ratio[:, None]
        self._model.dof_invweight0[self._dofs[ids]] *= ratio[:, None]

    def get_inertias(self) -> torch.Tensor:
        rot = self._rotations()
        diag = self._model.body_inertia[self._ids]
        full = rot @ (diag[:, :, None] * rot.transpose(0, 2, 1))
        return torch.from_numpy(full.reshape(-1, 9).astype(np.float32))

    def set_inertias(self, inertias: torch.Tensor, indices: torch.Tensor) -> None:
        ids = indices.cpu().numpy()
        rot = self._rotations()[ids]
        full = inertias.reshape(len(self._ids), 3, 3)[ids].double().cpu().numpy()
        # Same principal axes (the shape is unchanged), so the new moments are the diagonal in that frame.
        self._model.body_inertia[self._ids[ids]] = np.einsum("nji,njk,nki->ni", rot, full, rot)


class _Namespace:
    def __init__(self, **items: Any) -> None:
        self.__dict__.update(items)


class EmbeddedManipulationEnv:
    """N Push or Lift worlds in one MuJoCo model, stepped together; Isaac Lab's batched env interface.

    Args:
        cfg: the task cfg (validated here).
        scene: the twin's task scene.
        num_envs: number of worlds, >= 1.
        device: torch device of the returned tensors (physics runs on the CPU).
    """

    quat_order = "wxyz"

    def __init__(self, cfg: ManipulationTaskCfg, scene: TwinScene, *, num_envs: int, device: str = "cpu") -> None:
        if not isinstance(num_envs, int) or num_envs < 1:
            raise InputError("num_envs", f"must be an integer >= 1, got {num_envs!r}")
        cfg.validate()
        self.cfg = cfg
        self.twin_scene = scene
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.is_lift = isinstance(cfg, LiftTaskCfg)
        self.terms: TaskTerms = cfg.terms(scene)
        self.step_dt = cfg.step_dt
        self.max_episode_length = cfg.max_episode_length
        self.num_actions = int(cfg.action_dim)
        base = scene.robot_base
        self._table_z = scene.table_height - base[2]
        self._object_start = scene.object_position - base
        hand_start = self._object_start.copy()
        if not self.is_lift:
            hand_start[2] = self._table_z + cfg.push_height_m
        self._hand_start = hand_start
        self.is_arm = cfg.robot_model == "arm"
        # The grasp frame's world orientation the arm's IK holds: the hand model's (closing axis across the object).
        palm_yaw = grasp_yaw(scene)[0] - np.pi / 2
        self._grasp_quat = np.array([np.cos(palm_yaw / 2), 0.0, 0.0, np.sin(palm_yaw / 2)])
        self.model = mujoco.MjModel.from_xml_string(
            build_mjcf(scene, num_envs, sim_dt=cfg.sim_dt, hand_start=hand_start, robot_model=cfg.robot_model)
        )
        self.data = mujoco.MjData(self.model)
        self._index(num_envs)
        origins = world_origins(num_envs)
        self._origins_np = origins
        default_state = torch.zeros(num_envs, 13)
        default_state[:, :3] = torch.as_tensor(self._object_start)
        default_state[:, 3:7] = torch.as_tensor(scene.object_quat_wxyz)
        # Events draw from torch's global generator, as Isaac Lab's do; hand starts from this one.
        torch.manual_seed(int(cfg.seed))
        self._rng = np.random.default_rng(int(cfg.seed))
        self._grip_level = np.full(num_envs, -1.0)  # the lagged grip action (Lift); -1 is the least force
        self.scene = _Scene(self, torch.as_tensor(origins, dtype=torch.float32, device=self.device), default_state)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.action_manager = _Namespace(
            action=torch.zeros(num_envs, self.num_actions, device=self.device),
            prev_action=torch.zeros(num_envs, self.num_actions, device=self.device),
        )
        self.termination_manager = _TerminationManager(num_envs, self.device)
        self.extras: dict[str, Any] = {}
        self.common_step_counter = 0
        self._reset_envs(torch.arange(num_envs, device=self.device))
        obs = self._observations()
        self.single_observation_space = gym.spaces.Dict(
            {"policy": gym.spaces.Box(-np.inf, np.inf, shape=(obs.shape[1],), dtype=np.float32)}
        )
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.num_actions,), dtype=np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space["policy"], num_envs)
        self.observation_space = gym.spaces.Dict({"policy": self.observation_space})
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)

    # --- indices into the one model -------------------------------------------------------------------------

    def _index(self, n: int) -> None:
        m = self.model

        def ids(kind: int, names: list[str]) -> np.ndarray:
            return np.array([mujoco.mj_name2id(m, kind, name) for name in names])

        self._object_body = ids(mujoco.mjtObj.mjOBJ_BODY, [f"object{i}" for i in range(n)])
        object_joint = ids(mujoco.mjtObj.mjOBJ_JOINT, [f"object{i}" for i in range(n)])
        qadr, vadr = m.jnt_qposadr[object_joint], m.jnt_dofadr[object_joint]
        self._obj_q = qadr[:, None] + np.arange(7)
        self._obj_v = vadr[:, None] + np.arange(6)
        if self.is_arm:
            arm = np.stack([ids(mujoco.mjtObj.mjOBJ_JOINT, [f"{j}_{i}" for i in range(n)]) for j in ARM_JOINTS], 1)
            self._arm_q, self._arm_v = m.jnt_qposadr[arm], m.jnt_dofadr[arm]
            self._arm_range = m.jnt_range[arm[0]]  # [7, 2], the same in every world
            self._ctrl_arm = np.stack(
                [ids(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"{j}_{i}" for i in range(n)]) for j in ARM_JOINTS], 1
            )
        else:
            carriage = np.stack([ids(mujoco.mjtObj.mjOBJ_JOINT, [f"{a}{i}" for i in range(n)]) for a in "xyz"], 1)
            self._carriage_q = m.jnt_qposadr[carriage]
            self._carriage_v = m.jnt_dofadr[carriage]
        fingers = np.stack(
            [ids(mujoco.mjtObj.mjOBJ_JOINT, [f"{name}_{i}" for i in range(n)]) for name in FINGER_JOINTS], 1
        )
        self._finger_q = m.jnt_qposadr[fingers]
        self._finger_v = m.jnt_dofadr[fingers]
        if not self.is_arm:
            self._ctrl_carriage = np.stack(
                [ids(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"{a}{i}" for i in range(n)]) for a in "xyz"], 1
            )
        self._ctrl_fingers = np.stack(
            [ids(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"f{k}_{i}" for i in range(n)]) for k in ("1", "2")], 1
        )
        self._ee_site = ids(mujoco.mjtObj.mjOBJ_SITE, [f"ee{i}" for i in range(n)])

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device)

    # --- Isaac Lab's batched interface ----------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict[str, torch.Tensor], dict]:
        """Reset every world; returns ``({"policy": obs [N, obs_dim]}, extras)``."""
        if seed is not None:
            torch.manual_seed(int(seed))
            self._rng = np.random.default_rng(int(seed))
        self._reset_envs(torch.arange(self.num_envs, device=self.device))
        return {"policy": self._observations()}, self.extras

    def get_observations(self) -> dict[str, torch.Tensor]:
        """The current observations without stepping."""
        return {"policy": self._observations()}

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Apply ``actions`` [N, action_dim] in [-1, 1] for one policy step (``decimation`` physics steps).

        Returns:
            ``(obs, reward [N], terminated [N] bool, truncated [N] bool, extras)``; finished worlds are reset and
            their ``obs`` is already the first of the next episode (as in Isaac Lab).
        """
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        if actions.shape != (self.num_envs, self.num_actions):
            raise InputError(
                "actions", f"expected shape ({self.num_envs}, {self.num_actions}), got {tuple(actions.shape)}"
            )
        actions = torch.nan_to_num(actions).clamp(-1.0, 1.0)
        self.action_manager.prev_action = self.action_manager.action
        self.action_manager.action = actions
        self._apply_actions(actions.cpu().numpy().astype(np.float64))
        mujoco.mj_step(self.model, self.data, nstep=self.cfg.decimation)
        self.episode_length_buf += 1
        self.common_step_counter += 1
        unstable = ~torch.from_numpy(np.isfinite(self.data.qpos[self._obj_q]).all(1)).to(self.device)
        terminated, truncated = self.termination_manager.compute(self, self.terms.terminations)
        terminated = terminated | unstable
        reward = torch.zeros(self.num_envs, device=self.device)
        for term in self.terms.rewards.values():
            reward += term.weight * self.step_dt * term.func(self, **term.params).to(self.device)
        reward = torch.where(unstable, torch.zeros_like(reward), reward)
        done = terminated | truncated
        self.extras = {"time_outs": truncated, "log": {}}
        if done.any():
            finished = done.nonzero(as_tuple=False).squeeze(1)
            success = self.termination_manager.get_term(self.terms.success_term)[finished].float().mean()
            self.extras["log"]["Metrics/success_rate"] = success
            for name in self.terms.terminations:
                self.extras["log"][f"Episode_Termination/{name}"] = (
                    self.termination_manager.get_term(name)[finished].float().mean()
                )
            self._reset_envs(finished)
        return {"policy": self._observations()}, reward, terminated, truncated, self.extras

    def close(self) -> None:
        """Free the MuJoCo model and data."""
        self.model = self.data = None  # type: ignore[assignment]

    # --- internals ------------------------------------------------------------------------------------------

    def _observations(self) -> torch.Tensor:
        parts = [term.func(self, **term.params).reshape(self.num_envs, -1) for term in self.terms.observations.values()]
        return torch.cat(parts, dim=1).to(self.device)

    def grip_force_n(self, grip_action: np.ndarray) -> np.ndarray:
        """Closing force [N] per finger for grip actions in [-1, 1], log-scaled over ``grip_force_range_n``."""
        low, high = self.cfg.grip_force_range_n
        return np.exp(np.log(low) + (grip_action + 1.0) / 2.0 * (np.log(high) - np.log(low)))

    def _apply_actions(self, actions: np.ndarray) -> None:
        d = self.data
        ee = d.site_xpos[self._ee_site] - self._origins_np
        target = ee.copy()
        moved = 3 if self.is_lift else 2
        target[:, :moved] += self.cfg.move_step_m * actions[:, :moved]
        if not self.is_lift:
            target[:, 2] = self._table_z + self.cfg.push_height_m
        # Keep the carriage in the Panda's reach and above the table.
        radius = np.linalg.norm(target, axis=1, keepdims=True)
        target = np.where(radius > _REACH_M, target * (_REACH_M / np.maximum(radius, 1e-9)), target)
        target[:, 2] = np.clip(target[:, 2], self._table_z + 0.02, self._table_z + 0.5)
        if self.is_arm:
            # The stiff joint servos would press the pads (which reach 2.25 cm below the grasp centre) into the table
            # with ~20 N where the carriage's soft z servo leans with ~1 N; keep the pads 1 mm clear instead.
            target[:, 2] = np.maximum(target[:, 2], self._table_z + HandGeometry.pad_half[2] + 0.001)
            self._arm_servo_targets(np.arange(self.num_envs), target)
        else:
            d.ctrl[self._ctrl_carriage] = target - self._hand_start
        if self.is_lift:
            # The lag acts on the grip level (the log-force action), so a deterministic policy gets the force its
            # stochastic training runs averaged to (a lag on the force itself would average exp(noise) upwards).
            alpha = self.step_dt / (self.step_dt + self.cfg.grip_time_constant_s)
            self._grip_level += alpha * (actions[:, 3] - self._grip_level)
            d.ctrl[self._ctrl_fingers] = self.grip_force_n(self._grip_level)[:, None]
        else:
            d.ctrl[self._ctrl_fingers] = _PUSH_FINGER_FORCE_N

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        for term in self.terms.events.values():
            term.func(self, env_ids, **term.params)
        ids = env_ids.cpu().numpy()
        d = self.data
        obj = d.qpos[self._obj_q[ids]][:, :3] - self._origins_np[ids]
        k = len(ids)
        if self.is_lift:
            jitter = self.cfg.pregrasp_jitter_m
            start = obj + np.concatenate([self._rng.uniform(-jitter, jitter, (k, 2)), np.zeros((k, 1))], 1)
            opening = HandGeometry.finger_travel
        else:
            low, high = self.cfg.hand_start_distance_m
            target = self.push_target_pos[env_ids].cpu().numpy()
            away = np.arctan2(obj[:, 1] - target[:, 1], obj[:, 0] - target[:, 0])  # from the target through the object
            spread = np.deg2rad(self.cfg.hand_start_angle_deg)
            distance, heading = self._rng.uniform(low, high, k), away + self._rng.uniform(-spread, spread, k)
            start = obj + np.stack([distance * np.cos(heading), distance * np.sin(heading), np.zeros(k)], 1)
            start[:, 2] = self._table_z + self.cfg.push_height_m
            opening = 0.0
        if self.is_arm:
            start[:, 2] = np.maximum(start[:, 2], self._table_z + HandGeometry.pad_half[2] + 0.001)
            self._arm_reset(ids, start)
        else:
            d.qpos[self._carriage_q[ids]] = start - self._hand_start
            d.qvel[self._carriage_v[ids]] = 0.0
            d.ctrl[self._ctrl_carriage[ids]] = start - self._hand_start
        d.qpos[self._finger_q[ids]] = opening
        d.qvel[self._finger_v[ids]] = 0.0
        d.ctrl[self._ctrl_fingers[ids]] = 0.0
        self._grip_level[ids] = -1.0
        d.qacc_warmstart[:] = 0.0
        self.episode_length_buf[env_ids] = 0
        self.action_manager.action[env_ids] = 0.0
        self.action_manager.prev_action[env_ids] = 0.0
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)

    # --- the arm: differential IK -----------------------------------------------------------------------------

    def _ik_step(self, ids: np.ndarray, target: np.ndarray, damping: float = 0.05) -> np.ndarray:
        """One damped-least-squares step from the current joints of worlds ``ids`` towards the grasp-frame pose
        (``target`` [K, 3] relative to the robot base [m], orientation :attr:`_grasp_quat`); returns the joint
        positions [K, 7] [rad], clipped to the joint limits. Reads the kinematics of the last forward pass."""
        m, d = self.model, self.data
        jacp, jacr = np.empty((3, m.nv)), np.empty((3, m.nv))
        jac = np.empty((len(ids), 6, 7))
        errors = np.zeros((len(ids), 6))
        current, local = np.empty(4), np.empty(3)
        for row, world in enumerate(ids):
            site = self._ee_site[world]
            mujoco.mj_jacSite(m, d, jacp, jacr, site)
            jac[row, :3], jac[row, 3:] = jacp[:, self._arm_v[world]], jacr[:, self._arm_v[world]]
            mujoco.mju_mat2Quat(current, d.site_xmat[site])
            mujoco.mju_subQuat(local, self._grasp_quat, current)  # rotation vector in the site's frame
            errors[row, 3:] = d.site_xmat[site].reshape(3, 3) @ local
        errors[:, :3] = target + self._origins_np[ids] - d.site_xpos[self._ee_site[ids]]
        q = d.qpos[self._arm_q[ids]] + dls_step(jac, errors, damping)
        return np.clip(q, self._arm_range[:, 0], self._arm_range[:, 1])

    def _arm_servo_targets(self, ids: np.ndarray, target: np.ndarray) -> None:
        self.data.ctrl[self._ctrl_arm[ids]] = self._ik_step(ids, target)

    def _arm_reset(self, ids: np.ndarray, start: np.ndarray, iterations: int = 60) -> None:
        """Place the arms of worlds ``ids`` at rest with the grasp centre at ``start`` [K, 3] (IK from the home
        pose on kinematics only), servos holding there."""
        m, d = self.model, self.data
        d.qpos[self._arm_q[ids]] = ARM_HOME_Q
        d.qvel[self._arm_v[ids]] = 0.0
        for _ in range(iterations):
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            d.qpos[self._arm_q[ids]] = self._ik_step(ids, start, damping=0.02)
        d.ctrl[self._ctrl_arm[ids]] = d.qpos[self._arm_q[ids]]


class _TerminationManager:
    def __init__(self, num_envs: int, device: torch.device) -> None:
        self._values: dict[str, torch.Tensor] = {}
        self._num_envs, self._device = num_envs, device

    def compute(self, env: Any, terms: dict) -> tuple[torch.Tensor, torch.Tensor]:
        terminated = torch.zeros(self._num_envs, dtype=torch.bool, device=self._device)
        truncated = torch.zeros_like(terminated)
        for name, term in terms.items():
            value = term.func(env, **term.params).to(self._device).bool()
            self._values[name] = value
            if term.time_out:
                truncated |= value
            else:
                terminated |= value
        # A world that both timed out and finished the task counts as terminated (success), not truncated.
        return terminated, truncated & ~terminated

    def get_term(self, name: str) -> torch.Tensor:
        """The term's value at the last step (kept through the reset that followed, as Isaac Lab does)."""
        return self._values.get(name, torch.zeros(self._num_envs, dtype=torch.bool, device=self._device))


class _Scene:
    """``env.scene``: ``scene["object"]``, ``scene["robot"]``, ``scene["ee_frame"]`` and ``env_origins``."""

    def __init__(self, env: EmbeddedManipulationEnv, origins: torch.Tensor, default_root_state: torch.Tensor) -> None:
        self.env_origins = origins
        self._entities = {
            "object": _ObjectAsset(env, default_root_state.to(env.device)),
            "robot": _RobotAsset(env),
            "ee_frame": _FrameAsset(env),
        }

    def __getitem__(self, name: str) -> Any:
        try:
            return self._entities[name]
        except KeyError:
            raise KeyError(f"no scene entity {name!r}; the embedded scene has {sorted(self._entities)}") from None


class _ObjectAsset:
    def __init__(self, env: EmbeddedManipulationEnv, default_root_state: torch.Tensor) -> None:
        self._env = env
        self.root_physx_view = _MassView(env.model, env._object_body, env._obj_v)
        self.data = _ObjectData(env, default_root_state)

    def write_root_pose_to_sim(self, pose: torch.Tensor, env_ids: torch.Tensor) -> None:
        """Root poses [K, 7]: world position [m] and (w, x, y, z) quaternion, for worlds ``env_ids``."""
        self._env.data.qpos[self._env._obj_q[env_ids.cpu().numpy()]] = pose.double().cpu().numpy()

    def write_root_velocity_to_sim(self, velocity: torch.Tensor, env_ids: torch.Tensor) -> None:
        """Root velocities [K, 6]: linear (world) and angular [m/s, rad/s]."""
        self._env.data.qvel[self._env._obj_v[env_ids.cpu().numpy()]] = velocity.double().cpu().numpy()


class _ObjectData:
    def __init__(self, env: EmbeddedManipulationEnv, default_root_state: torch.Tensor) -> None:
        self._env = env
        self.default_root_state = default_root_state

    @property
    def root_pos_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.qpos[self._env._obj_q[:, :3]])

    @property
    def root_quat_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.qpos[self._env._obj_q[:, 3:]])

    @property
    def root_lin_vel_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.qvel[self._env._obj_v[:, :3]])


class _RobotAsset:
    joint_names = list(FINGER_JOINTS)

    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self.data = _RobotData(env)


class _RobotData:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self._env = env

    @property
    def joint_pos(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.qpos[self._env._finger_q])

    @property
    def applied_torque(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.qfrc_actuator[self._env._finger_v])


class _FrameAsset:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self.data = _FrameData(env)


class _FrameData:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self._env = env

    @property
    def target_pos_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.data.site_xpos[self._env._ee_site])[:, None, :]
