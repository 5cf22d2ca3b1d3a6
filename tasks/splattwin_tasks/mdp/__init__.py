"""MDP terms shared verbatim by the Isaac Lab env cfgs and the embedded MuJoCo runtime.

Every term is a plain torch function ``(env, ..., asset_cfg) -> Tensor`` with leading dimension ``num_envs``, as
Isaac Lab's manager-based terms are. They read the scene through Isaac Lab's names
(``env.scene["object"].data.root_pos_w``, ``root_physx_view.get_masses()``, ``env.action_manager.action``...),
which the embedded runtime provides too; quaternions are converted to (w, x, y, z) where they enter
(:func:`splattwin_tasks.quaternions.convert_quat_order`). Goals are command terms (:mod:`.commands`), actions
are described by cfgs both runtimes apply (:mod:`.actions`).
"""

from splattwin_tasks.mdp.actions import (
    CartesianActionCfg,
    HeldGripForceActionCfg,
    LogGripForceActionCfg,
    cartesian_heights,
    dls_joint_step,
    end_effector_target,
    grip_force_from_level,
    lag_grip_level,
)
from splattwin_tasks.mdp.commands import PushTargetCommand, PushTargetCommandCfg
from splattwin_tasks.mdp.events import (
    lognormal_mass,
    loguniform_mass,
    place_grasp_centre,
    randomize_object_mass,
    reset_hand_behind_object,
    reset_hand_pregrasp,
    reset_object_pose,
    scale_inertia_with_mass,
)
from splattwin_tasks.mdp.observations import (
    ee_linear_velocity,
    ee_position,
    grip_force,
    gripper_opening,
    last_action,
    object_linear_velocity,
    object_mass,
    object_mass_observation,
    object_position,
    object_quat_wxyz,
    push_target_offset,
    push_target_position,
)
from splattwin_tasks.mdp.rewards import (
    action_rate_l2,
    ee_object_proximity,
    grip_force_ceiling,
    grip_over_ceiling,
    grip_within_window,
    object_lift_progress,
    object_target_proximity,
    task_success,
)
from splattwin_tasks.mdp.terminations import (
    lift_success,
    object_crushed,
    object_off_table,
    push_success,
    time_out,
)

__all__ = [
    "CartesianActionCfg",
    "HeldGripForceActionCfg",
    "LogGripForceActionCfg",
    "PushTargetCommand",
    "PushTargetCommandCfg",
    "action_rate_l2",
    "cartesian_heights",
    "dls_joint_step",
    "ee_object_proximity",
    "ee_linear_velocity",
    "end_effector_target",
    "ee_position",
    "grip_force",
    "grip_force_ceiling",
    "grip_force_from_level",
    "grip_over_ceiling",
    "grip_within_window",
    "gripper_opening",
    "lag_grip_level",
    "last_action",
    "lift_success",
    "lognormal_mass",
    "loguniform_mass",
    "place_grasp_centre",
    "object_crushed",
    "object_lift_progress",
    "object_linear_velocity",
    "object_mass",
    "object_mass_observation",
    "object_off_table",
    "object_position",
    "object_quat_wxyz",
    "object_target_proximity",
    "push_success",
    "push_target_offset",
    "push_target_position",
    "randomize_object_mass",
    "reset_hand_behind_object",
    "reset_hand_pregrasp",
    "reset_object_pose",
    "scale_inertia_with_mass",
    "task_success",
    "time_out",
]
