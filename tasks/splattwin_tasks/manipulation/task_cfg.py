"""The tasks' parameters and their MDP terms, shared by the embedded runtime and the Isaac Lab env cfgs.

A task cfg holds numbers (episode length, reward weights, mass sampling); :meth:`~ManipulationTaskCfg.terms`
turns it and the twin's scene into the task description (:class:`TaskTerms`): observation, reward, termination
and event terms (function + params + weight), command terms (the goal), start events (the robot's start pose) and
action cfgs, which both runtimes run: the embedded runtime composes its env from them, the Isaac Lab env cfgs wrap
them in ``ObsTerm``/``RewTerm``/``DoneTerm``/``EventTerm``/``CommandTermCfg``. The robot's facts (joint and link
names, hand geometry) come from :mod:`splattwin_tasks.robots.franka`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from splattwin.errors import InputError
from splattwin_tasks import mdp
from splattwin_tasks._compat import configclass
from splattwin_tasks.mdp._scene import SceneEntityCfg
from splattwin_tasks.robots.franka import FINGER_JOINTS, HAND_LINK
from splattwin_tasks.twin_scene import DEFAULT_OBJECT_PRIM, TwinScene

__all__ = [
    "LiftNoMassTaskCfg",
    "LiftTaskCfg",
    "ManipulationTaskCfg",
    "PushNoMassTaskCfg",
    "PushTaskCfg",
    "TaskTerms",
    "Term",
]

MASS_DISTRIBUTIONS = ("lognormal", "loguniform", "fixed")
ROBOT_MODELS = ("hand", "arm")


def _hand() -> SceneEntityCfg:
    return SceneEntityCfg("robot", body_names=[HAND_LINK])


@dataclass
class Term:
    """One MDP term: ``func(env, **params)``, its reward weight, and for terminations whether it is a time-out."""

    func: Any
    params: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    time_out: bool = False


@dataclass
class TaskTerms:
    """A task's description: its terms by manager, in evaluation order.

    Attributes:
        observations, rewards, terminations: the terms of those managers.
        events: reset events (Isaac Lab's ``mode="reset"``), run first when an episode starts.
        success_term: the termination that counts as a success.
        commands: command term cfgs (``mdp.commands``), resampled after the reset events.
        start_events: reset events run after the commands (the robot's start pose, which may depend on the goal).
            The embedded runtime runs them; on Isaac Lab the arm starts from its default joint pose.
        actions: action cfgs (``mdp.actions``) in the action vector's order, each taking ``action_dim`` columns.
    """

    observations: dict[str, Term]
    rewards: dict[str, Term]
    terminations: dict[str, Term]
    events: dict[str, Term]
    success_term: str
    commands: dict[str, Any] = field(default_factory=dict)
    start_events: dict[str, Term] = field(default_factory=dict)
    actions: dict[str, Any] = field(default_factory=dict)


@configclass
class ManipulationTaskCfg:
    """Parameters common to Push and Lift.

    Attributes:
        twin: the twin's root layer; empty: the demo twin (``splattwin demo --out out/demo``).
        object_prim: the object to manipulate.
        require_robot: fail on a twin without a robot (else the robot base is the world origin).
        hide_mass: leave the mass out of the observations (the ``-NoMass`` variants).
        episode_length_s: episode length [s].
        sim_dt: physics step [s].
        decimation: physics steps per policy step.
        mass_distribution: reset-time mass: ``lognormal`` around the identified value by its uncertainty,
            ``loguniform`` over ``[m0 / mass_range_ratio, m0 * mass_range_ratio]`` (training across masses), or
            ``fixed`` (``fixed_mass_kg``, for the cross-mass study).
        mass_range_ratio: the log-uniform range's ratio.
        fixed_mass_kg: the mass for ``fixed`` [kg].
        move_step_m: largest end-effector displacement one action asks for [m] (action 1.0).
        robot_model: what the embedded runtime simulates: ``arm`` (the full 7-joint Panda under a Cartesian
            impedance controller) or ``hand`` (the Panda hand alone on a Cartesian impedance carriage, faster);
            same actions and observations.
        seed: random seed of the env.
    """

    twin: str = ""
    object_prim: str = DEFAULT_OBJECT_PRIM
    require_robot: bool = True
    hide_mass: bool = False
    episode_length_s: float = 3.0
    sim_dt: float = 0.002
    decimation: int = 10
    mass_distribution: str = "loguniform"
    mass_range_ratio: float = 4.0
    fixed_mass_kg: float = 0.0
    move_step_m: float = 0.02
    robot_model: str = "arm"
    seed: int = 0

    def validate(self) -> None:
        """Check ranges; :class:`InputError` naming the field otherwise."""
        checks = [
            ("episode_length_s", self.episode_length_s > 0),
            ("sim_dt", 0 < self.sim_dt <= 0.01),
            ("decimation", isinstance(self.decimation, int) and self.decimation >= 1),
            ("mass_range_ratio", self.mass_range_ratio >= 1),
            ("move_step_m", 0 < self.move_step_m <= 0.1),
        ]
        for name, ok in checks:
            if not ok:
                raise InputError(name, f"out of range: {getattr(self, name)!r}")
        if self.mass_distribution not in MASS_DISTRIBUTIONS:
            raise InputError(
                "mass_distribution", f"must be one of {MASS_DISTRIBUTIONS}, got {self.mass_distribution!r}"
            )
        if self.robot_model not in ROBOT_MODELS:
            raise InputError("robot_model", f"must be one of {ROBOT_MODELS}, got {self.robot_model!r}")
        if self.mass_distribution == "fixed" and not self.fixed_mass_kg > 0:
            raise InputError("fixed_mass_kg", f"must be > 0 with mass_distribution=fixed, got {self.fixed_mass_kg}")

    # Methods, not properties: Isaac Lab's configclass copies every non-callable member at init and cannot set an
    # inherited property (it only recognises the properties a class defines itself).
    def step_dt(self) -> float:
        """Policy step [s]."""
        return self.sim_dt * self.decimation

    def max_episode_length(self) -> int:
        """Episode length in policy steps."""
        return math.ceil(self.episode_length_s / self.step_dt())

    def _mass_event(self, scene: TwinScene) -> Term:
        return Term(
            mdp.randomize_object_mass,
            {
                "asset_cfg": SceneEntityCfg("object"),
                "nominal_mass_kg": scene.mass.mass_kg,
                "relative_uncertainty": scene.mass.relative_uncertainty,
                "distribution": self.mass_distribution,
                "range_ratio": self.mass_range_ratio,
                "fixed_mass_kg": self.fixed_mass_kg if self.mass_distribution == "fixed" else None,
            },
        )

    def _mass_observation(self, scene: TwinScene) -> dict[str, Term]:
        if self.hide_mass:
            return {}
        params = {"nominal_mass_kg": scene.mass.mass_kg, "relative_uncertainty": scene.mass.relative_uncertainty}
        return {"object_mass": Term(mdp.object_mass_observation, params)}


@configclass
class PushTaskCfg(ManipulationTaskCfg):
    """Push the object to a target on the table with the closed Panda fingers (planar end-effector moves).

    Attributes:
        target_distance_m: range of the target's distance from the object's start [m].
        target_heading_deg: the target's direction from the object [deg, env frame]; None (the default) draws it
            uniformly (a fixed one is for the runtime-parity script, whose runtimes draw different numbers).
        success_tolerance_m: the object's centre within this of the target is a success [m].
        start_jitter_m: uniform jitter of the object's start in x and y [m].
        hand_start_distance_m: range of the hand's start distance from the object [m].
        hand_start_angle_deg: the hand starts behind the object (opposite the target), up to this many degrees off
            that line: a pre-push pose, as Lift starts from a pre-grasp pose.
        push_height_m: grasp-centre height above the table while pushing [m].
        finger_force_n: closing force per finger that keeps the fingers shut while pushing [N].
    """

    episode_length_s: float = 3.0
    target_distance_m: tuple = (0.06, 0.12)
    target_heading_deg: float | None = None
    success_tolerance_m: float = 0.02
    start_jitter_m: float = 0.02
    hand_start_distance_m: tuple = (0.08, 0.11)
    hand_start_angle_deg: float = 30.0
    push_height_m: float = 0.02
    finger_force_n: float = 5.0

    def terms(self, scene: TwinScene) -> TaskTerms:
        """The Push terms on ``scene``."""
        table = scene.table_height
        observations = {
            "ee_position": Term(mdp.ee_position),
            "ee_velocity": Term(mdp.ee_linear_velocity, {"asset_cfg": _hand()}),
            "object_position": Term(mdp.object_position),
            "object_orientation": Term(mdp.object_quat_wxyz),
            "object_velocity": Term(mdp.object_linear_velocity),
            "target_offset": Term(mdp.push_target_offset),
            **self._mass_observation(scene),
            "last_action": Term(mdp.last_action),
        }
        rewards = {
            "reach": Term(mdp.ee_object_proximity, {"std_m": 0.1}, weight=0.2),
            "object_to_target": Term(mdp.object_target_proximity, {"std_m": 0.1}, weight=1.0),
            "object_to_target_fine": Term(mdp.object_target_proximity, {"std_m": 0.02}, weight=1.0),
            # Success ends the episode, so its bonus must beat what staying near the target would still collect
            # (2 per second for up to 3 s): 400 x 0.02 s = 8.
            "success": Term(mdp.task_success, {"term": "success"}, weight=400.0),
            "action_rate": Term(mdp.action_rate_l2, weight=-0.01),
        }
        terminations = {
            "time_out": Term(mdp.time_out, time_out=True),
            "success": Term(mdp.push_success, {"tolerance_m": self.success_tolerance_m}),
            "off_table": Term(mdp.object_off_table, {"table_height_m": table, "margin_m": 0.05}),
        }
        events = {
            "object_mass": self._mass_event(scene),
            "object_pose": Term(mdp.reset_object_pose, {"xy_range_m": (self.start_jitter_m, self.start_jitter_m)}),
        }
        commands = {
            "push_target": mdp.PushTargetCommandCfg(
                distance_range_m=tuple(self.target_distance_m), heading_deg=self.target_heading_deg
            )
        }
        start = {
            "distance_range_m": tuple(self.hand_start_distance_m),
            "angle_deg": self.hand_start_angle_deg,
            "height_m": (table - scene.robot_base[2]) + self.push_height_m,
        }
        actions = {
            "arm_action": mdp.CartesianActionCfg(
                action_dim=2, move_step_m=self.move_step_m, hold_height_above_table_m=self.push_height_m
            ),
            "gripper_action": mdp.HeldGripForceActionCfg(force_n=self.finger_force_n),
        }
        return TaskTerms(
            observations,
            rewards,
            terminations,
            events,
            success_term="success",
            commands=commands,
            start_events={"hand_start": Term(mdp.reset_hand_behind_object, start)},
            actions=actions,
        )


@configclass
class LiftTaskCfg(ManipulationTaskCfg):
    """Grasp the object from a pre-grasp pose and lift it, gripping hard enough not to slip, gently enough not to
    crush it (DREAM's mass-aware grasp, seed 001).

    Attributes:
        goal_lift_m: lift above the resting height that counts as success [m].
        grip_ceiling_ratio: the fragility ceiling as a multiple of the force that just holds the object.
        grip_force_range_n: closing force at grip action -1 and +1 [N]; log-scaled in between.
        grip_time_constant_s: the grip level (log-force) follows the grip action with this first-order lag [s]
            (a force-controlled gripper does not jump; it also keeps one noisy action from crushing the object).
        pregrasp_jitter_m: uniform jitter of the hand around the object's centre in x and y [m].
    """

    episode_length_s: float = 1.5
    goal_lift_m: float = 0.06
    grip_ceiling_ratio: float = 3.0
    grip_force_range_n: tuple = (0.1, 40.0)
    grip_time_constant_s: float = 0.1
    pregrasp_jitter_m: float = 0.004
    mass_range_ratio: float = 3.0

    def terms(self, scene: TwinScene) -> TaskTerms:
        """The Lift terms on ``scene``."""
        rest = float(scene.object_position[2] - scene.robot_base[2])
        fingers = SceneEntityCfg("robot", joint_names=list(FINGER_JOINTS))
        grip = {"friction": scene.friction, "ceiling_ratio": self.grip_ceiling_ratio, "finger_cfg": fingers}
        observations = {
            "ee_position": Term(mdp.ee_position),
            "ee_velocity": Term(mdp.ee_linear_velocity, {"asset_cfg": _hand()}),
            "object_position": Term(mdp.object_position),
            "object_velocity": Term(mdp.object_linear_velocity),
            "gripper_opening": Term(mdp.gripper_opening, {"asset_cfg": fingers}),
            **self._mass_observation(scene),
            "last_action": Term(mdp.last_action),
        }
        rewards = {
            "grip_window": Term(mdp.grip_within_window, grip, weight=1.0),
            "lift": Term(mdp.object_lift_progress, {"rest_height_m": rest, "goal_lift_m": self.goal_lift_m}, 2.0),
            # Success ends the episode: its bonus (300 x 0.02 s = 6) beats hovering just under the goal for the
            # rest of it (grip 1 + lift 2 per second, 1.5 s).
            "success": Term(mdp.task_success, {"term": "success"}, weight=300.0),
            "crushed": Term(mdp.task_success, {"term": "crushed"}, weight=-10.0),
            "action_rate": Term(mdp.action_rate_l2, weight=-0.01),
        }
        success = {"rest_height_m": rest, "goal_lift_m": self.goal_lift_m, **grip}
        terminations = {
            "time_out": Term(mdp.time_out, time_out=True),
            "success": Term(mdp.lift_success, success),
            "crushed": Term(mdp.object_crushed, grip),
        }
        events = {
            "object_mass": self._mass_event(scene),
            "object_pose": Term(mdp.reset_object_pose, {"xy_range_m": (0.0, 0.0)}),
        }
        actions = {
            "arm_action": mdp.CartesianActionCfg(action_dim=3, move_step_m=self.move_step_m),
            "gripper_action": mdp.LogGripForceActionCfg(
                force_range_n=tuple(self.grip_force_range_n), time_constant_s=self.grip_time_constant_s
            ),
        }
        return TaskTerms(
            observations,
            rewards,
            terminations,
            events,
            success_term="success",
            start_events={"hand_start": Term(mdp.reset_hand_pregrasp, {"jitter_m": self.pregrasp_jitter_m})},
            actions=actions,
        )


@configclass
class PushNoMassTaskCfg(PushTaskCfg):
    """Push with the mass hidden from the policy."""

    hide_mass: bool = True


@configclass
class LiftNoMassTaskCfg(LiftTaskCfg):
    """Lift with the mass hidden from the policy."""

    hide_mass: bool = True
