"""The embedded runtime: a batched env with Isaac Lab's interface on MuJoCo (C, CPU), no Isaac Sim needed.

The env exposes the parts of Isaac Lab's ``ManagerBasedRLEnv`` the shared MDP terms read (``scene[...]`` with
``data.root_pos_w``/``root_quat_w``/``root_lin_vel_w``/``joint_pos``/``applied_torque``/``target_pos_w``,
``root_physx_view.get/set_masses``/``get/set_inertias``, ``write_root_pose_to_sim``, ``action_manager``,
``termination_manager``, ``command_manager``, ``episode_length_buf``), so the terms run here unchanged.

The env is composed from the task description (``cfg.terms(scene)``, a
:class:`~splattwin_tasks.manipulation.task_cfg.TaskTerms`): its action terms map the action vector to controls, its
reset events, command terms and start events run, in that order, when an episode starts, and its observation, reward
and termination terms are evaluated every step (:mod:`splattwin_tasks.embedded.managers`). It holds no task logic of
its own. What it simulates is a robot-model choice (:mod:`splattwin_tasks.embedded.robot_models`): by default
(``robot_model="arm"``) the full 7-joint Panda (:mod:`splattwin_tasks.embedded.arm`) under a Cartesian impedance
controller (MuJoCo site actuators, at the physics rate); with ``robot_model="hand"`` the Panda hand on a Cartesian
impedance carriage (:mod:`splattwin_tasks.embedded.mjcf`); both pull the grasp centre towards the same end-effector
target.

The worlds are split over several MuJoCo models of at most :data:`WORLDS_PER_MODEL` worlds (:class:`Shard`):
MuJoCo's site transmissions (the arm's impedance) cost actuators x dofs per model, which grows with the square of
the worlds in one model; the models step in parallel threads (MuJoCo releases the GIL while it steps).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch

from splattwin.errors import InputError
from splattwin_tasks.embedded.managers import ActionManager, CommandManager, TerminationManager
from splattwin_tasks.embedded.mjcf import build_mjcf, world_origins
from splattwin_tasks.embedded.robot_models import RobotModel, robot_model
from splattwin_tasks.manipulation.task_cfg import ManipulationTaskCfg, TaskTerms
from splattwin_tasks.mdp._scene import SceneEntityCfg
from splattwin_tasks.robots.franka import FINGER_JOINTS, HAND_LINK, closing_yaw, grasp_frame_quat_wxyz
from splattwin_tasks.twin_scene import TwinScene

__all__ = ["WORLDS_PER_MODEL", "EmbeddedManipulationEnv", "Shard"]

WORLDS_PER_MODEL = 16


class Shard:
    """Worlds ``worlds`` (consecutive env indices) of an env in one MuJoCo model, and their indices in it.

    Index arrays are per local world (rows): ``obj_q`` [n, 7] and ``obj_v`` [n, 6] (object free joint),
    ``object_body`` [n], ``finger_q``/``finger_v``/``ctrl_fingers`` [n, 2], ``ee_site`` [n]; the robot model adds
    its own (:meth:`~splattwin_tasks.embedded.robot_models.RobotModel.bind`: the hand model
    ``carriage_q``/``carriage_v``/``ctrl_carriage`` [n, 3], the arm ``arm_q``/``arm_v`` [n, 7], ``arm_range``
    [7, 2], ``ctrl_cartesian``/``ctrl_rotation`` [n, 3]). ``origins`` [n, 3] are the worlds' origins in the model.
    """

    def __init__(self, model: mujoco.MjModel, worlds: np.ndarray, *, robot: RobotModel) -> None:
        self.model, self.data = model, mujoco.MjData(model)
        self.worlds = worlds
        self.rows = slice(int(worlds[0]), int(worlds[-1]) + 1)
        n = len(worlds)
        self.origins = world_origins(n)
        m = model

        joint, actuator = mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_ACTUATOR
        self.object_body = self.ids(mujoco.mjtObj.mjOBJ_BODY, "object{i}")
        object_joint = self.ids(joint, "object{i}")
        self.obj_q = m.jnt_qposadr[object_joint][:, None] + np.arange(7)
        self.obj_v = m.jnt_dofadr[object_joint][:, None] + np.arange(6)
        fingers = self.per_world(joint, [f"{name}_{{i}}" for name in FINGER_JOINTS])
        self.finger_q, self.finger_v = m.jnt_qposadr[fingers], m.jnt_dofadr[fingers]
        self.ctrl_fingers = self.per_world(actuator, ["f1_{i}", "f2_{i}"])
        self.ee_site = self.ids(mujoco.mjtObj.mjOBJ_SITE, "ee{i}")
        robot.bind(self)

    def ids(self, kind: int, pattern: str) -> np.ndarray:
        """Indices [n] of the objects of ``kind`` named ``pattern.format(i=world)``, one per local world."""
        return np.array([mujoco.mj_name2id(self.model, kind, pattern.format(i=i)) for i in range(len(self.worlds))])

    def per_world(self, kind: int, patterns: list[str]) -> np.ndarray:
        """Indices [n, len(patterns)] of :meth:`ids` for each pattern."""
        return np.stack([self.ids(kind, pattern) for pattern in patterns], 1)

    def step(self, nstep: int) -> None:
        mujoco.mj_step(self.model, self.data, nstep=nstep)


def _split(shards: list[Shard], env_ids: np.ndarray) -> Iterator[tuple[Shard, np.ndarray, np.ndarray]]:
    """``(shard, local world indices, positions in env_ids)`` for each shard holding some of ``env_ids``."""
    for shard in shards:
        inside = (env_ids >= shard.rows.start) & (env_ids < shard.rows.stop)
        if inside.any():
            positions = np.nonzero(inside)[0]
            yield shard, env_ids[positions] - shard.rows.start, positions


def _gather(shards: list[Shard], read: Callable[[Shard], np.ndarray]) -> np.ndarray:
    """``read`` of every shard, concatenated along the worlds."""
    return read(shards[0]) if len(shards) == 1 else np.concatenate([read(shard) for shard in shards])


class _MassView:
    """``root_physx_view`` stand-in: per-world mass [N, 1] and body-frame inertia [N, 9] of the object bodies."""

    def __init__(self, shards: list[Shard]) -> None:
        self._shards = shards
        self._num_envs = sum(len(shard.worlds) for shard in shards)

    @staticmethod
    def _rotations(shard: Shard, local: np.ndarray) -> np.ndarray:
        quats = shard.model.body_iquat[shard.object_body[local]]
        out = np.empty((len(local), 9))
        for row, quat in zip(out, quats, strict=True):
            mujoco.mju_quat2Mat(row, quat)
        return out.reshape(-1, 3, 3)

    def get_masses(self) -> torch.Tensor:
        masses = _gather(self._shards, lambda shard: shard.model.body_mass[shard.object_body])
        return torch.from_numpy(masses.astype(np.float32)).reshape(-1, 1)

    def set_masses(self, masses: torch.Tensor, indices: torch.Tensor) -> None:
        ids = indices.cpu().numpy()
        new_all = masses.reshape(self._num_envs, -1)[:, 0].double().cpu().numpy()
        for shard, local, _ in _split(self._shards, ids):
            m, bodies = shard.model, shard.object_body[local]
            new = new_all[local + shard.rows.start]
            ratio = m.body_mass[bodies] / new
            m.body_mass[bodies] = new
            m.body_subtreemass[bodies] = new
            # What mj_setConst would recompute for a free body whose mass and inertia scale together (its inverse
            # weights, which set the contacts' regularisation), without its cost over every world (16 ms at 64).
            m.body_invweight0[bodies] *= ratio[:, None]
            m.dof_invweight0[shard.obj_v[local]] *= ratio[:, None]

    def get_inertias(self) -> torch.Tensor:
        def read(shard: Shard) -> np.ndarray:
            rot = self._rotations(shard, np.arange(len(shard.worlds)))
            diag = shard.model.body_inertia[shard.object_body]
            return (rot @ (diag[:, :, None] * rot.transpose(0, 2, 1))).reshape(-1, 9)

        return torch.from_numpy(_gather(self._shards, read).astype(np.float32))

    def set_inertias(self, inertias: torch.Tensor, indices: torch.Tensor) -> None:
        ids = indices.cpu().numpy()
        full_all = inertias.reshape(self._num_envs, 3, 3).double().cpu().numpy()
        for shard, local, _ in _split(self._shards, ids):
            rot = self._rotations(shard, local)
            full = full_all[local + shard.rows.start]
            # Same principal axes (the shape is unchanged), so the new moments are the diagonal in that frame.
            shard.model.body_inertia[shard.object_body[local]] = np.einsum("nji,njk,nki->ni", rot, full, rot)


class EmbeddedManipulationEnv:
    """N Push or Lift worlds in MuJoCo models of at most :data:`WORLDS_PER_MODEL` worlds (:attr:`shards`), stepped
    together; Isaac Lab's batched env interface.

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
        self.terms: TaskTerms = cfg.terms(scene)
        self.step_dt = cfg.step_dt()
        self.max_episode_length = cfg.max_episode_length()
        base = scene.robot_base
        # The table top in the env frame [m]: the action terms and the resets keep the hand above it.
        self.table_z = scene.table_height - base[2]
        self._object_start = scene.object_position - base
        # The hand model's carriage starts at the object (any point would do: its slides move relative to it).
        self._hand_start = self._object_start.copy()
        # The arm's resets place the grasp frame at the hand model's orientation (closing axis across the object);
        # the impedance then holds it.
        grasp_quat = np.array(grasp_frame_quat_wxyz(closing_yaw(scene)[0]))
        self.robot_model = robot_model(cfg.robot_model, carriage_origin=self._hand_start, grasp_quat_wxyz=grasp_quat)
        self._min_height = self.table_z + self.robot_model.clearance_m
        shard_count = math.ceil(num_envs / WORLDS_PER_MODEL)
        models: dict[int, str] = {}  # MJCF per shard size (at most two sizes)
        self.shards: list[Shard] = []
        for worlds in np.array_split(np.arange(num_envs), shard_count):
            if len(worlds) not in models:
                models[len(worlds)] = build_mjcf(
                    scene, len(worlds), sim_dt=cfg.sim_dt, hand_start=self._hand_start, robot_model=cfg.robot_model
                )
            model = mujoco.MjModel.from_xml_string(models[len(worlds)])
            self.shards.append(Shard(model, worlds, robot=self.robot_model))
        workers = min(shard_count, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mujoco") if workers > 1 else None
        origins = _gather(self.shards, lambda shard: shard.origins)
        self.origins_np = origins
        default_state = torch.zeros(num_envs, 13)
        default_state[:, :3] = torch.as_tensor(self._object_start)
        default_state[:, 3:7] = torch.as_tensor(scene.object_quat_wxyz)
        # Events and commands draw from torch's global generator, as Isaac Lab's do; start events from this one.
        torch.manual_seed(int(cfg.seed))
        self._rng = np.random.default_rng(int(cfg.seed))
        self.scene = _Scene(self, torch.as_tensor(origins, dtype=torch.float32, device=self.device), default_state)
        self._resolve_entity_ids()
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.action_manager = ActionManager(self.terms.actions, self)
        self.num_actions = self.action_manager.total_action_dim
        self.command_manager = CommandManager(self.terms.commands, self)
        self.termination_manager = TerminationManager(num_envs, self.device)
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

    @property
    def model(self) -> mujoco.MjModel:
        """The first shard's MuJoCo model (all worlds when ``num_envs <= WORLDS_PER_MODEL``)."""
        return self.shards[0].model

    @property
    def data(self) -> mujoco.MjData:
        """The first shard's MuJoCo data."""
        return self.shards[0].data

    @property
    def np_random(self) -> np.random.Generator:
        """The env's NumPy generator (gymnasium's name): the start events draw from it; ``reset(seed=...)`` reseeds
        it."""
        return self._rng

    def gather(self, read: Callable[[Shard], np.ndarray]) -> np.ndarray:
        """``read(shard)`` of every shard concatenated along the worlds, e.g.
        ``env.gather(lambda s: s.data.qpos[s.obj_q])`` [N, 7]."""
        return _gather(self.shards, read)

    def _resolve_entity_ids(self) -> None:
        """Set the ``joint_ids``/``body_ids`` of the terms' entity cfgs from their names, as Isaac Lab's managers
        do."""
        terms = self.terms
        groups = (terms.observations, terms.rewards, terms.terminations, terms.events, terms.start_events)
        for term in (term for group in groups for term in group.values()):
            for value in term.params.values():
                if isinstance(value, SceneEntityCfg) and value.joint_names:
                    value.joint_ids = self.scene[value.name].find_joints(list(value.joint_names))[0]
                if isinstance(value, SceneEntityCfg) and value.body_names:
                    value.body_ids = self.scene[value.name].find_bodies(list(value.body_names))[0]

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
        self.action_manager.process_action(actions)
        if self._pool is None:
            for shard in self.shards:
                shard.step(self.cfg.decimation)
        else:
            list(self._pool.map(lambda shard: shard.step(self.cfg.decimation), self.shards))
        self.episode_length_buf += 1
        self.common_step_counter += 1
        object_q = self.gather(lambda shard: shard.data.qpos[shard.obj_q])
        unstable = ~torch.from_numpy(np.isfinite(object_q).all(1)).to(self.device)
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
        """Free the MuJoCo models and data and stop the stepping threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.shards = []

    # --- internals ------------------------------------------------------------------------------------------

    def _observations(self) -> torch.Tensor:
        parts = [term.func(self, **term.params).reshape(self.num_envs, -1) for term in self.terms.observations.values()]
        return torch.cat(parts, dim=1).to(self.device)

    def set_finger_force(self, force_n: np.ndarray) -> None:
        """Closing force per finger [N] for every world, [N, 1] (or broadcastable to [N, 2])."""
        force = np.broadcast_to(force_n, (self.num_envs, 2))
        for shard in self.shards:
            shard.data.ctrl[shard.ctrl_fingers] = force[shard.rows]

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        """Isaac Lab's reset order: the reset events, the commands, then the start events (the robot's start
        pose, which may depend on the goal); then the action terms and the episode counters."""
        for term in self.terms.events.values():
            term.func(self, env_ids, **term.params)
        self.command_manager.reset(env_ids)
        for term in self.terms.start_events.values():
            term.func(self, env_ids, **term.params)
        self.action_manager.reset(env_ids)
        self.episode_length_buf[env_ids] = 0

    def place_grasp_centre(self, start: np.ndarray, env_ids: np.ndarray, finger_opening_m: float) -> None:
        """Put worlds ``env_ids`` [K] at rest with the grasp centre at ``start`` [K, 3] (env frame [m], raised to
        the robot model's clearance over the table) and the fingers ``finger_opening_m`` open, unforced."""
        start = np.array(start, dtype=np.float64)
        start[:, 2] = np.maximum(start[:, 2], self._min_height)
        for shard, local, positions in _split(self.shards, env_ids):
            m, d = shard.model, shard.data
            self.robot_model.place(shard, local, start[positions])
            d.qpos[shard.finger_q[local]] = finger_opening_m
            d.qvel[shard.finger_v[local]] = 0.0
            d.ctrl[shard.ctrl_fingers[local]] = 0.0
            d.qacc_warmstart[:] = 0.0
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)


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
        self.root_physx_view = _MassView(env.shards)
        self.data = _ObjectData(env, default_root_state)

    def _write(self, field: str, index: str, values: torch.Tensor, env_ids: torch.Tensor) -> None:
        values_np = values.double().cpu().numpy()
        for shard, local, positions in _split(self._env.shards, env_ids.cpu().numpy()):
            getattr(shard.data, field)[getattr(shard, index)[local]] = values_np[positions]

    def write_root_pose_to_sim(self, pose: torch.Tensor, env_ids: torch.Tensor) -> None:
        """Root poses [K, 7]: world position [m] and (w, x, y, z) quaternion, for worlds ``env_ids``."""
        self._write("qpos", "obj_q", pose, env_ids)

    def write_root_velocity_to_sim(self, velocity: torch.Tensor, env_ids: torch.Tensor) -> None:
        """Root velocities [K, 6]: linear (world) and angular [m/s, rad/s]."""
        self._write("qvel", "obj_v", velocity, env_ids)


class _ObjectData:
    def __init__(self, env: EmbeddedManipulationEnv, default_root_state: torch.Tensor) -> None:
        self._env = env
        self.default_root_state = default_root_state

    @property
    def root_pos_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.gather(lambda shard: shard.data.qpos[shard.obj_q[:, :3]]))

    @property
    def root_quat_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.gather(lambda shard: shard.data.qpos[shard.obj_q[:, 3:]]))

    @property
    def root_lin_vel_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.gather(lambda shard: shard.data.qvel[shard.obj_v[:, :3]]))


class _RobotAsset:
    """``scene["robot"]``: the robot model's joints (the arm's 7 with ``robot_model="arm"``, then the 2 fingers) and
    its hand body (``panda_hand``, whose velocity is taken at the grasp centre: the hand keeps its orientation)."""

    body_names = [HAND_LINK]

    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self._env = env
        self.joint_names = list(env.robot_model.joint_names)
        self.data = _RobotData(env)

    @staticmethod
    def _find(kind: str, names: list[str], known: list[str]) -> tuple[list[int], list[str]]:
        missing = [name for name in names if name not in known]
        if missing:
            raise InputError(f"{kind}_names", f"the embedded robot has no {kind}s {missing}; it has {known}")
        return [known.index(name) for name in names], list(names)

    def find_joints(self, names: list[str]) -> tuple[list[int], list[str]]:
        """Indices of ``names`` in :attr:`joint_names` (Isaac Lab's ``Articulation.find_joints``, exact names)."""
        return self._find("joint", names, self.joint_names)

    def find_bodies(self, names: list[str]) -> tuple[list[int], list[str]]:
        """Indices of ``names`` in :attr:`body_names` (Isaac Lab's ``Articulation.find_bodies``, exact names)."""
        return self._find("body", names, self.body_names)

    def write_grasp_centre_to_sim(
        self, positions: np.ndarray | torch.Tensor, *, env_ids: torch.Tensor, finger_opening_m: float
    ) -> None:
        """Place the robot of worlds ``env_ids`` [K] at rest with its grasp centre at ``positions`` [K, 3] (env
        frame [m]), the hand top-down and the fingers ``finger_opening_m`` open: what the start events call."""
        start = positions.cpu().numpy() if isinstance(positions, torch.Tensor) else positions
        self._env.place_grasp_centre(start, env_ids.cpu().numpy(), finger_opening_m)


class _RobotData:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self._env = env

    def _joints(self, field: str, kind: str) -> torch.Tensor:
        robot = self._env.robot_model
        return self._env._tensor(
            self._env.gather(lambda shard: robot.joint_values(shard, getattr(shard.data, field), kind))
        )

    @property
    def joint_pos(self) -> torch.Tensor:
        return self._joints("qpos", "q")

    @property
    def joint_vel(self) -> torch.Tensor:
        return self._joints("qvel", "v")

    @property
    def applied_torque(self) -> torch.Tensor:
        return self._joints("qfrc_actuator", "v")

    @property
    def body_lin_vel_w(self) -> torch.Tensor:
        """[N, 1, 3]: the hand's linear velocity, world axes [m/s]."""
        return self._env._tensor(self._env.gather(self._env.robot_model.hand_velocity))[:, None, :]


class _FrameAsset:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self.data = _FrameData(env)


class _FrameData:
    def __init__(self, env: EmbeddedManipulationEnv) -> None:
        self._env = env

    @property
    def target_pos_w(self) -> torch.Tensor:
        return self._env._tensor(self._env.gather(lambda shard: shard.data.site_xpos[shard.ee_site]))[:, None, :]
