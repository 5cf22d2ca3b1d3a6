"""Isaac Lab action terms of the tasks: the Cartesian end-effector action and the Lift gripper's log-scaled force.

Imported only under Isaac Lab (by :mod:`~splattwin_tasks.manipulation.isaaclab_env`). The embedded runtime maps the
same actions with the same functions (:mod:`splattwin_tasks.mdp.actions`): the end-effector target through
:func:`~splattwin_tasks.mdp.actions.end_effector_target` with the hand held top-down
(:func:`splattwin_tasks.robots.franka.hand_down_quat_wxyz`), the grip through
:func:`~splattwin_tasks.mdp.actions.lag_grip_level` and :func:`~splattwin_tasks.mdp.actions.grip_force_from_level`.
"""

from __future__ import annotations

from collections.abc import Sequence

import isaaclab.utils.math as math_utils  # noqa: TID251
import numpy as np
import torch
from isaaclab.envs.mdp.actions import DifferentialInverseKinematicsActionCfg, JointEffortActionCfg  # noqa: TID251
from isaaclab.envs.mdp.actions.joint_actions import JointEffortAction  # noqa: TID251
from isaaclab.envs.mdp.actions.task_space_actions import DifferentialInverseKinematicsAction  # noqa: TID251
from isaaclab.utils import configclass  # noqa: TID251

from splattwin_tasks.mdp.actions import (
    GRIP_LEVEL_AT_RESET,
    dls_joint_step,
    end_effector_target,
    grip_force_from_level,
    lag_grip_level,
)
from splattwin_tasks.robots.franka import FINGER_JOINTS_REGEX

__all__ = ["CartesianTargetAction", "CartesianTargetActionCfg", "LogGripForceAction", "LogGripForceActionCfg"]


class CartesianTargetAction(DifferentialInverseKinematicsAction):
    """The task's Cartesian action (x, y for Push, x, y, z for Lift, at most ``move_step_m`` each) as an absolute
    pose for differential IK: the position from :func:`~splattwin_tasks.mdp.end_effector_target` (the embedded
    runtime's), the orientation held at ``hand_quat`` (fingers down, closing across the object). The controller
    must be ``DifferentialIKControllerCfg(command_type="pose", use_relative_mode=False)``."""

    cfg: CartesianTargetActionCfg

    def __init__(self, cfg: CartesianTargetActionCfg, env: object) -> None:
        super().__init__(cfg, env)
        self._pose_command = torch.zeros(self.num_envs, 7, device=self.device)
        self._pose_command[:, 3:] = torch.tensor(cfg.hand_quat, device=self.device)

    @property
    def action_dim(self) -> int:
        return self.cfg.action_dim

    def process_actions(self, actions: torch.Tensor) -> None:
        self._raw_actions[:] = actions
        self._processed_actions[:] = actions.clamp(-1.0, 1.0)
        ee_pos, ee_quat = self._compute_frame_pose()  # the grasp centre (body offset) in the robot's root frame
        self._pose_command[:, :3] = end_effector_target(
            ee_pos,
            self._processed_actions,
            self.cfg.move_step_m,
            min_height_m=self.cfg.min_height_m,
            max_height_m=self.cfg.max_height_m,
            hold_height_m=self.cfg.hold_height_m,
        )
        self._ik_controller.set_command(self._pose_command, ee_pos, ee_quat)

    def write_grasp_centre_to_sim(
        self,
        positions: np.ndarray | torch.Tensor,
        *,
        env_ids: torch.Tensor,
        finger_opening_m: float,
        iterations: int = 60,
        damping: float = 0.02,
        tolerance_m: float = 1e-5,
    ) -> None:
        """Place the arm of envs ``env_ids`` [K] at rest with the grasp centre at ``positions`` [K, 3] (env frame
        [m]; raised to :attr:`cfg.min_height_m`, the clearance over the table, as the embedded runtime does) and the
        hand at :attr:`cfg.hand_quat`, the fingers ``finger_opening_m`` open: what the start events call
        (:func:`splattwin_tasks.mdp.place_grasp_centre`).

        Damped least squares from the default (home) joints, at most ``iterations`` steps (fewer once the position
        and rotation errors are under ``tolerance_m`` [m, rad]) of
        :func:`splattwin_tasks.mdp.dls_joint_step` (the embedded arm's, damping ``damping`` [m]) on the
        articulation's own kinematics (Newton's forward kinematics runs when the poses are read after a write),
        clipped to the joint limits; the joint state is written with zero velocity and the joints' position targets
        set to it (the PD holds the pose).
        """
        robot, ids = self._asset, env_ids.to(self.device).long()
        start = torch.as_tensor(positions, dtype=torch.float32, device=self.device)
        world = start + self._env.scene.env_origins[ids]
        root_pos, root_quat = robot.data.root_pos_w.torch[ids], robot.data.root_quat_w.torch[ids]
        target_pos, _ = math_utils.subtract_frame_transforms(root_pos, root_quat, world)
        # Never below the action's lowest target (the clearance over the table), as the embedded runtime places it.
        target_pos[:, 2] = target_pos[:, 2].clamp(min=self.cfg.min_height_m)
        target_quat = self._pose_command[ids, 3:]
        q = robot.data.default_joint_pos.torch[ids].clone()
        fingers = robot.find_joints(FINGER_JOINTS_REGEX)[0]
        q[:, fingers] = finger_opening_m
        limits = robot.data.joint_pos_limits.torch[ids][:, self._joint_ids]
        arm = q[:, self._joint_ids]
        zeros = torch.zeros_like(q)
        robot.write_joint_state_to_sim_index(position=q, velocity=zeros, env_ids=ids)
        for _ in range(iterations):
            ee_pos, ee_quat = self._compute_frame_pose()
            jacobian = self._compute_frame_jacobian()[ids]
            pos_error, rot_error = math_utils.compute_pose_error(
                ee_pos[ids], ee_quat[ids], target_pos, target_quat, rot_error_type="axis_angle"
            )
            if pos_error.abs().max() < tolerance_m and rot_error.abs().max() < tolerance_m:
                break  # converged (from the home pose in about 8 steps on the demo twin): each step is an FK pass
            step = dls_joint_step(jacobian, torch.cat([pos_error, rot_error], 1), damping)
            arm = torch.clamp(arm + step, limits[..., 0], limits[..., 1])
            robot.write_joint_state_to_sim_index(
                position=arm, velocity=zeros[:, self._joint_ids], joint_ids=self._joint_ids, env_ids=ids
            )
        q[:, self._joint_ids] = arm
        robot.set_joint_position_target_index(target=q, env_ids=ids)


@configclass
class CartesianTargetActionCfg(DifferentialInverseKinematicsActionCfg):
    """Cfg of :class:`CartesianTargetAction`: heights [m] in the robot's root frame; ``hand_quat`` in the installed
    Isaac Lab's quaternion order."""

    class_type: type = CartesianTargetAction
    action_dim: int = 3
    move_step_m: float = 0.02
    min_height_m: float = 0.0235
    max_height_m: float = 0.5
    hold_height_m: float | None = None
    hand_quat: tuple = (0.0, 1.0, 0.0, 0.0)


class LogGripForceAction(JointEffortAction):
    """One action for both fingers: ``F = exp(lerp(log F_lo, log F_hi, (a + 1) / 2))`` of the lagged grip level,
    applied as a closing (negative) effort on each finger joint.

    The action is [N, 1] and the efforts [N, fingers]: the base class sizes both buffers by ``action_dim`` (1), so
    the efforts have a buffer of their own. The fingers' actuators must have no position stiffness (the env cfg's
    ``fingers`` actuator for Lift): an implicit PD drive would fight the effort target."""

    cfg: LogGripForceActionCfg

    def __init__(self, cfg: LogGripForceActionCfg, env: object) -> None:
        super().__init__(cfg, env)
        self._grip_level = torch.full((self.num_envs, 1), GRIP_LEVEL_AT_RESET, device=self.device)
        self._efforts = torch.zeros(self.num_envs, self._num_joints, device=self.device)

    @property
    def action_dim(self) -> int:
        return 1

    def process_actions(self, actions: torch.Tensor) -> None:
        self._raw_actions[:] = actions[:, :1]
        grip = actions[:, :1].clamp(-1.0, 1.0)
        self._processed_actions[:] = grip
        self._grip_level = lag_grip_level(
            self._grip_level, grip, step_dt=self._env.step_dt, time_constant_s=self.cfg.time_constant_s
        )
        force = grip_force_from_level(self._grip_level, tuple(self.cfg.force_range_n))
        self._efforts[:] = -force.expand(-1, self._num_joints)

    def apply_actions(self) -> None:
        setter = getattr(self._asset, "set_joint_effort_target_index", None)
        if setter is not None:  # Isaac Lab 3.0
            setter(target=self._efforts, joint_ids=self._joint_ids)
        else:
            self._asset.set_joint_effort_target(self._efforts, joint_ids=self._joint_ids)

    def reset(self, env_ids: Sequence[int] | None = None) -> None:
        ids = slice(None) if env_ids is None else env_ids
        self._raw_actions[ids] = 0.0
        self._grip_level[ids] = GRIP_LEVEL_AT_RESET
        self._efforts[ids] = 0.0


@configclass
class LogGripForceActionCfg(JointEffortActionCfg):
    """Cfg of :class:`LogGripForceAction`: ``force_range_n`` is the closing force at -1 and +1 [N]."""

    class_type: type = LogGripForceAction
    force_range_n: tuple = (0.1, 40.0)
    time_constant_s: float = 0.1
