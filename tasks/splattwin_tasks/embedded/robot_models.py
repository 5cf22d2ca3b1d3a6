"""What the embedded runtime simulates of the Panda: a robot-model choice (``robot_model=`` of the task cfg), not
task logic. Both models move the grasp centre towards a Cartesian target and place it at resets; the task's action
and start-event terms call them through ``env.scene["robot"]``.

- :class:`CarriageHand` (``hand``): the Panda hand on a Cartesian carriage of three slide joints with position
  servos (:mod:`splattwin_tasks.embedded.mjcf`).
- :class:`PandaArm` (``arm``): the full 7-joint Panda (:mod:`splattwin_tasks.embedded.arm`) under a Cartesian
  impedance controller, placed by damped-least-squares IK at resets.

A model reads and writes one :class:`~splattwin_tasks.embedded.env.Shard` (one MuJoCo model) at a time; positions
are metres relative to the robot base, shape [n, 3].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

from splattwin_tasks.embedded.arm import dls_step
from splattwin_tasks.robots.franka import ARM_HOME_Q, ARM_JOINTS, FINGER_JOINTS, GRASP_CLEARANCE_M

if TYPE_CHECKING:
    from splattwin_tasks.embedded.env import Shard

__all__ = ["CARRIAGE_CLEARANCE_M", "CarriageHand", "PandaArm", "RobotModel", "robot_model"]

CARRIAGE_CLEARANCE_M = 0.02
"""Lowest grasp-centre height over the table for the hand model: its carriage may rest the pads on the table."""


class RobotModel:
    """The interface of the embedded robot models (see the module docstring)."""

    name: str
    joint_names: tuple[str, ...]
    clearance_m: float
    """Lowest grasp-centre height over the table [m] (action targets and start poses are kept above it)."""

    def bind(self, shard: Shard) -> None:
        """Find the model's joint and actuator indices in ``shard`` (set as attributes of the shard)."""
        raise NotImplementedError

    def command_grasp_centre(self, shard: Shard, target: np.ndarray) -> None:
        """Drive every world of ``shard`` towards grasp-centre targets ``target`` [n, 3]."""
        raise NotImplementedError

    def place(self, shard: Shard, local: np.ndarray, start: np.ndarray) -> None:
        """Put worlds ``local`` of ``shard`` at rest with the grasp centre at ``start`` [K, 3], held there."""
        raise NotImplementedError

    def joint_values(self, shard: Shard, values: np.ndarray, kind: str) -> np.ndarray:
        """The joints' entries of a qpos-like (``kind="q"``) or dof-like (``"v"``) array, [n, len(joint_names)]."""
        raise NotImplementedError

    def hand_velocity(self, shard: Shard) -> np.ndarray:
        """The hand's linear velocity, world axes [m/s], [n, 3]."""
        raise NotImplementedError


class CarriageHand(RobotModel):
    """The hand on the carriage; the carriage's slides start at ``origin`` [3] (its body's position, relative to
    the robot base), so their joint positions are the grasp centre minus ``origin``."""

    name = "hand"
    joint_names = FINGER_JOINTS
    clearance_m = CARRIAGE_CLEARANCE_M

    def __init__(self, origin: np.ndarray) -> None:
        self.origin = np.asarray(origin, dtype=np.float64)

    def bind(self, shard: Shard) -> None:
        carriage = shard.per_world(mujoco.mjtObj.mjOBJ_JOINT, [f"{a}{{i}}" for a in "xyz"])
        shard.carriage_q, shard.carriage_v = shard.model.jnt_qposadr[carriage], shard.model.jnt_dofadr[carriage]
        shard.ctrl_carriage = shard.per_world(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"{a}{{i}}" for a in "xyz"])

    def command_grasp_centre(self, shard: Shard, target: np.ndarray) -> None:
        shard.data.ctrl[shard.ctrl_carriage] = target - self.origin

    def place(self, shard: Shard, local: np.ndarray, start: np.ndarray) -> None:
        d = shard.data
        d.qpos[shard.carriage_q[local]] = start - self.origin
        d.qvel[shard.carriage_v[local]] = 0.0
        d.ctrl[shard.ctrl_carriage[local]] = start - self.origin

    def joint_values(self, shard: Shard, values: np.ndarray, kind: str) -> np.ndarray:
        return values[shard.finger_q if kind == "q" else shard.finger_v]

    def hand_velocity(self, shard: Shard) -> np.ndarray:
        return shard.data.qvel[shard.carriage_v]  # the carriage's slides are the world axes


class PandaArm(RobotModel):
    """The 7-joint arm; resets place the grasp frame at ``grasp_quat_wxyz`` [4] (base frame), the orientation the
    impedance then holds."""

    name = "arm"
    joint_names = (*ARM_JOINTS, *FINGER_JOINTS)
    clearance_m = GRASP_CLEARANCE_M

    def __init__(self, grasp_quat_wxyz: np.ndarray) -> None:
        self.grasp_quat = np.asarray(grasp_quat_wxyz, dtype=np.float64)

    def bind(self, shard: Shard) -> None:
        m = shard.model
        arm = shard.per_world(mujoco.mjtObj.mjOBJ_JOINT, [f"{name}_{{i}}" for name in ARM_JOINTS])
        shard.arm_q, shard.arm_v = m.jnt_qposadr[arm], m.jnt_dofadr[arm]
        shard.arm_range = m.jnt_range[arm[0]]  # [7, 2], the same in every world
        shard.ctrl_cartesian = shard.per_world(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"cart{a}_{{i}}" for a in "xyz"])
        shard.ctrl_rotation = shard.per_world(mujoco.mjtObj.mjOBJ_ACTUATOR, [f"cartr{a}_{{i}}" for a in "xyz"])

    def command_grasp_centre(self, shard: Shard, target: np.ndarray) -> None:
        shard.data.ctrl[shard.ctrl_cartesian] = target

    def place(self, shard: Shard, local: np.ndarray, start: np.ndarray, iterations: int = 60) -> None:
        """IK from the home pose on kinematics only; the impedance holds the arm there."""
        m, d = shard.model, shard.data
        d.qpos[shard.arm_q[local]] = ARM_HOME_Q
        d.qvel[shard.arm_v[local]] = 0.0
        for _ in range(iterations):
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            d.qpos[shard.arm_q[local]] = self._ik_step(shard, local, start, damping=0.02)
        d.ctrl[shard.ctrl_cartesian[local]] = start
        d.ctrl[shard.ctrl_rotation[local]] = 0.0

    def _ik_step(self, shard: Shard, local: np.ndarray, target: np.ndarray, damping: float = 0.05) -> np.ndarray:
        """One damped-least-squares step from the current joints of ``shard``'s worlds ``local`` towards the
        grasp-frame pose (``target`` [K, 3], orientation :attr:`grasp_quat`); returns the joint positions [K, 7]
        [rad], clipped to the joint limits. Reads the last kinematics pass."""
        m, d = shard.model, shard.data
        jacp, jacr = np.empty((3, m.nv)), np.empty((3, m.nv))
        jac = np.empty((len(local), 6, 7))
        errors = np.zeros((len(local), 6))
        current, rotation = np.empty(4), np.empty(3)
        for row, world in enumerate(local):
            site = shard.ee_site[world]
            mujoco.mj_jacSite(m, d, jacp, jacr, site)
            jac[row, :3], jac[row, 3:] = jacp[:, shard.arm_v[world]], jacr[:, shard.arm_v[world]]
            mujoco.mju_mat2Quat(current, d.site_xmat[site])
            mujoco.mju_subQuat(rotation, self.grasp_quat, current)  # rotation vector in the site's frame
            errors[row, 3:] = d.site_xmat[site].reshape(3, 3) @ rotation
        errors[:, :3] = target + shard.origins[local] - d.site_xpos[shard.ee_site[local]]
        q = d.qpos[shard.arm_q[local]] + dls_step(jac, errors, damping)
        return np.clip(q, shard.arm_range[:, 0], shard.arm_range[:, 1])

    def joint_values(self, shard: Shard, values: np.ndarray, kind: str) -> np.ndarray:
        arm, fingers = (shard.arm_q, shard.finger_q) if kind == "q" else (shard.arm_v, shard.finger_v)
        return np.concatenate([values[arm], values[fingers]], 1)

    def hand_velocity(self, shard: Shard) -> np.ndarray:
        velocity, out = np.empty(6), np.empty((len(shard.worlds), 3))
        for row, site in enumerate(shard.ee_site):
            mujoco.mj_objectVelocity(shard.model, shard.data, mujoco.mjtObj.mjOBJ_SITE, site, velocity, 0)
            out[row] = velocity[3:]
        return out


def robot_model(name: str, *, carriage_origin: np.ndarray, grasp_quat_wxyz: np.ndarray) -> RobotModel:
    """The model ``name`` (``hand`` or ``arm``, as validated by the task cfg)."""
    return CarriageHand(carriage_origin) if name == "hand" else PandaArm(grasp_quat_wxyz)
