"""Grasp trials in the embedded runtime (the full Panda arm on MuJoCo): close, lift, hold; and the success rule.

A trial places the grasp centre at a pose, closes the fingers with one commanded force per finger, lifts the
object ``lift_m`` (plus a small overshoot) at a steady speed and holds it for ``hold_s``. It succeeds when, at the
end, the object is at least ``lift_m`` above its rest height, it did not move in the hand by more than
``slip_tol_m`` during the hold, and the closing force never went over the object's fragility ceiling (the Lift
task's :func:`~splattwin_tasks.mdp.grip_force_ceiling`, ``ceiling_ratio x m g / (2 mu)``, of the true mass).
:func:`judge` is that rule on recorded traces; :class:`GraspRuntime` records them.

The trials run on the Lift task's embedded env (its arm, impedance controller, grip lag and log-force map) with its
own terminations switched off (the goal height out of reach, the ceiling at infinity): this module judges.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from splattwin.errors import InputError
from splattwin_tasks.mdp import grip_force_ceiling
from splattwin_tasks.robots.franka import FINGER_TRAVEL_M

__all__ = ["GraspRuntime", "TrialCfg", "TrialOutcome", "judge"]

GRAVITY_M_S2 = 9.81


@dataclass(kw_only=True)
class TrialCfg:
    """How a grasp is tried and judged.

    Attributes:
        close_s: time the fingers close (the grip's 0.1 s lag settles) before the lift [s].
        lift_m: the height above rest that counts as lifted [m] (the Lift task's goal, 6 cm).
        lift_overshoot_m: the hand is raised this much above ``lift_m`` (its impedance sags under the load) [m].
        lift_speed_m_s: the hand's target rises at this speed [m/s].
        hold_s: time held at the top [s].
        slip_tol_m: largest movement of the object in the hand during the hold [m].
        ceiling_ratio: the fragility ceiling as a multiple of the holding force (the Lift task's, 3).
        min_contacts: pads that must stay on the object through lift and hold (DREAM's N_min).
    """

    close_s: float = 0.4
    lift_m: float = 0.06
    lift_overshoot_m: float = 0.01
    lift_speed_m_s: float = 0.2
    hold_s: float = 0.5
    slip_tol_m: float = 0.005
    ceiling_ratio: float = 3.0
    min_contacts: int = 2

    def validate(self) -> None:
        """InputError naming the field out of range."""
        for name in ("close_s", "lift_m", "lift_speed_m_s", "hold_s", "slip_tol_m"):
            if not getattr(self, name) > 0:
                raise InputError(name, f"must be > 0, got {getattr(self, name)!r}")
        if not self.ceiling_ratio > 1:
            raise InputError("ceiling_ratio", f"must be > 1, got {self.ceiling_ratio!r}")


@dataclass
class TrialOutcome:
    """Per-trial results, each [K].

    Attributes:
        success: lifted, held without slip, never over the ceiling.
        lifted: at least ``lift_m`` above rest at the end.
        slipped: moved more than ``slip_tol_m`` in the hand during the hold.
        crushed: the closing force went over the ceiling.
        contact_sustained: at least ``min_contacts`` pads on the object at every step of lift and hold.
        contacts: pads on the object at the end of closing (DREAM's ``num_contacts``).
        max_force_n: the largest closing force per finger [N].
        lift_height_m: final height above rest [m].
        slip_m: largest movement in the hand during the hold [m].
        joint_targets: the arm's 7 joints [rad] and 2 finger openings [m] at the pre-grasp pose, [K, 9].
        grasp_centres: the grasp centres tried, env frame [K, 3] m (raised to the hand's clearance over the table).
    """

    success: np.ndarray
    lifted: np.ndarray
    slipped: np.ndarray
    crushed: np.ndarray
    contact_sustained: np.ndarray
    contacts: np.ndarray
    max_force_n: np.ndarray
    lift_height_m: np.ndarray
    slip_m: np.ndarray
    joint_targets: np.ndarray = field(default_factory=lambda: np.zeros((0, 9)))
    grasp_centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def failure_counts(self) -> dict[str, int]:
        """How many trials failed by each cause (a trial can have several)."""
        fail = ~self.success
        return {
            "crushed": int((fail & self.crushed).sum()),
            "slipped": int((fail & self.slipped & self.lifted).sum()),
            "dropped": int((fail & ~self.lifted).sum()),
        }


def judge(
    *,
    object_height_m: np.ndarray,
    in_hand_m: np.ndarray,
    grip_force_n: np.ndarray,
    pad_contacts: np.ndarray,
    hold_start: int,
    lift_start: int,
    rest_height_m: np.ndarray | float,
    mass_kg: np.ndarray | float,
    friction: float,
    cfg: TrialCfg,
) -> TrialOutcome:
    """The success rule on recorded traces of K trials over T steps.

    Args:
        object_height_m: the object's centre height [T, K] m.
        in_hand_m: the object's centre relative to the grasp centre [T, K, 3] m (world axes).
        grip_force_n: closing force per finger [T, K] N.
        pad_contacts: pads touching the object [T, K].
        hold_start: first step of the hold.
        lift_start: first step of the lift (the end of closing).
        rest_height_m: the object's centre height at rest [K] or scalar, m.
        mass_kg: the object's true mass [K] or scalar (sets the ceiling).
        friction: the pads' friction coefficient with the object.
        cfg: the trial settings.
    """
    height = np.asarray(object_height_m, dtype=np.float64)
    steps = height.shape[0]
    if not 0 < lift_start <= hold_start < steps:
        raise InputError("hold_start", f"need 0 < lift_start <= hold_start < {steps}, got {lift_start}, {hold_start}")
    k = height.shape[1]
    mass = np.array(np.broadcast_to(np.asarray(mass_kg, dtype=np.float64), (k,)))
    ceiling = grip_force_ceiling(torch.as_tensor(mass), friction, cfg.ceiling_ratio).numpy()
    force = np.asarray(grip_force_n, dtype=np.float64)
    lift_height = height[-1] - np.broadcast_to(np.asarray(rest_height_m, dtype=np.float64), (k,))
    rel = np.asarray(in_hand_m, dtype=np.float64)
    slip = np.linalg.norm(rel[hold_start:] - rel[hold_start][None], axis=2).max(0)
    contacts = np.asarray(pad_contacts)
    lifted = lift_height >= cfg.lift_m
    slipped = slip > cfg.slip_tol_m
    crushed = (force > ceiling[None]).any(0)
    return TrialOutcome(
        success=lifted & ~slipped & ~crushed,
        lifted=lifted,
        slipped=slipped,
        crushed=crushed,
        contact_sustained=(contacts[lift_start:] >= cfg.min_contacts).all(0),
        contacts=contacts[lift_start - 1].astype(np.int64),
        max_force_n=force.max(0),
        lift_height_m=lift_height,
        slip_m=slip,
    )


def _grip_level(force_n: np.ndarray, force_range_n: tuple[float, float]) -> np.ndarray:
    """The grip action in [-1, 1] whose log-force map gives ``force_n`` (the inverse of grip_force_from_level)."""
    low, high = force_range_n
    clipped = np.clip(force_n, low, high)
    return 2.0 * (np.log(clipped) - math.log(low)) / (math.log(high) - math.log(low)) - 1.0


class GraspRuntime:
    """Grasp trials on a twin's object in the embedded runtime, one Lift env per mass (built on first use).

    Args:
        twin: the twin's root layer (it must hold a robot unless ``require_robot`` is false).
        object_prim: the object to grasp.
        num_envs: worlds stepped together.
        require_robot: passed to the task (a robotless twin puts the base at the world origin).
        cfg: the trial settings.
    """

    def __init__(
        self,
        twin: str | Path,
        *,
        object_prim: str = "/World/Objects/Block",
        num_envs: int = 16,
        require_robot: bool = True,
        cfg: TrialCfg | None = None,
    ) -> None:
        from splattwin_tasks.registry import make_task_cfg  # noqa: PLC0415
        from splattwin_tasks.twin_scene import read_twin_scene  # noqa: PLC0415

        self.twin = Path(twin)
        if not self.twin.exists():
            raise InputError(self.twin, "no such twin (make one with `splattwin demo --out out/demo`)")
        self.cfg = cfg or TrialCfg()
        self.cfg.validate()
        self.object_prim, self.num_envs, self.require_robot = object_prim, num_envs, require_robot
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the mass warning: the trials set their own masses
            self.scene = read_twin_scene(self.twin, object_prim=object_prim, require_robot=require_robot)
        self.friction = float(self.scene.friction)
        task = make_task_cfg("SplatTwin-Lift-Franka-v0")
        self.force_range_n = tuple(task.grip_force_range_n)
        self.step_dt = task.step_dt()
        self.move_step_m = task.move_step_m
        self._envs: dict[float, object] = {}

    @property
    def rest_position(self) -> np.ndarray:
        """The object's centre at rest, robot-base frame [3] m."""
        return np.asarray(self.scene.object_position - self.scene.robot_base, dtype=np.float64)

    @property
    def object_quat_wxyz(self) -> np.ndarray:
        """The object's orientation at rest [4] (w, x, y, z)."""
        return np.asarray(self.scene.object_quat_wxyz, dtype=np.float64)

    def _env(self, mass_kg: float):  # noqa: ANN202 - the embedded env (imported lazily)
        key = round(float(mass_kg), 9)
        if key not in self._envs:
            from splattwin_tasks.registry import make  # noqa: PLC0415

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self._envs[key] = make(
                    "SplatTwin-Lift-Franka-v0",
                    num_envs=self.num_envs,
                    twin=self.twin,
                    object_prim=self.object_prim,
                    require_robot=self.require_robot,
                    mass_distribution="fixed",
                    fixed_mass_kg=float(mass_kg),
                    goal_lift_m=10.0,  # never reached: the trial judges the lift
                    grip_ceiling_ratio=1e12,  # never crushed by the env: the trial judges the force
                    episode_length_s=1e4,
                    pregrasp_jitter_m=0.0,
                    seed=0,
                )
        return self._envs[key]

    def close(self) -> None:
        """Free the envs."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def run(
        self, mass_kg: float, *, object_xy_m: np.ndarray, grasp_centres_m: np.ndarray, grip_force_n: np.ndarray
    ) -> TrialOutcome:
        """Try K grasps on the object of mass ``mass_kg``.

        Args:
            mass_kg: the object's true mass [kg].
            object_xy_m: the object's shift from its rest position in x, y per trial [K, 2] m.
            grasp_centres_m: the grasp centres, robot-base frame [K, 3] m (the object shifted as above).
            grip_force_n: the commanded closing force per finger [K] N.
        """
        shifts = np.asarray(object_xy_m, dtype=np.float64).reshape(-1, 2)
        centres = np.asarray(grasp_centres_m, dtype=np.float64).reshape(-1, 3)
        forces = np.asarray(grip_force_n, dtype=np.float64).reshape(-1)
        if not len(shifts) == len(centres) == len(forces):
            raise InputError("grasp_centres_m", "object_xy_m, grasp_centres_m and grip_force_n differ in length")
        if not (np.isfinite(centres).all() and np.isfinite(forces).all() and (forces > 0).all()):
            raise InputError("grip_force_n", "grasp centres must be finite and grip forces finite and > 0")
        parts = []
        for start in range(0, len(centres), self.num_envs):
            stop = min(start + self.num_envs, len(centres))
            parts.append(self._run_batch(mass_kg, shifts[start:stop], centres[start:stop], forces[start:stop]))
        return TrialOutcome(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in parts[0].__dict__})

    def _run_batch(self, mass_kg: float, shifts: np.ndarray, centres: np.ndarray, forces: np.ndarray) -> TrialOutcome:
        env = self._env(mass_kg)
        n, k, cfg = self.num_envs, len(centres), self.cfg
        pad = np.arange(n) % k  # spare worlds repeat the first trials; their results are dropped
        shifts, centres, forces = shifts[pad], centres[pad], forces[pad]
        env.reset()
        ids = torch.arange(n)
        origins = env.scene.env_origins.double().numpy()
        pose = np.zeros((n, 7))
        pose[:, :3] = self.rest_position + origins
        pose[:, :2] += shifts
        pose[:, 3:] = self.object_quat_wxyz
        obj = env.scene["object"]
        obj.write_root_pose_to_sim(torch.as_tensor(pose), ids)
        obj.write_root_velocity_to_sim(torch.zeros(n, 6, dtype=torch.float64), ids)
        env.scene["robot"].write_grasp_centre_to_sim(centres, env_ids=ids, finger_opening_m=FINGER_TRAVEL_M)
        joints = env.scene["robot"].data.joint_pos.double().numpy()
        placed = self._ee(env)
        level = _grip_level(forces, self.force_range_n)
        close_steps = math.ceil(cfg.close_s / self.step_dt)
        top = cfg.lift_m + cfg.lift_overshoot_m
        lift_steps = math.ceil(top / (cfg.lift_speed_m_s * self.step_dt))
        hold_steps = math.ceil(cfg.hold_s / self.step_dt)
        rest_z = pose[:, 2] - origins[:, 2]
        heights, in_hand, grip, contacts = [], [], [], []
        for step in range(close_steps + lift_steps + hold_steps):
            rise = min(max(step - close_steps + 1, 0), lift_steps) / lift_steps * top
            target = placed + np.array([0.0, 0.0, rise])
            action = np.zeros((n, 4))
            action[:, :3] = np.clip((target - self._ee(env)) / self.move_step_m, -1.0, 1.0)
            action[:, 3] = level
            env.step(torch.as_tensor(action, dtype=torch.float32))
            obj_pos = obj.data.root_pos_w.double().numpy() - origins
            heights.append(obj_pos[:, 2])
            in_hand.append(obj_pos - self._ee(env))
            grip.append(-env.scene["robot"].data.applied_torque.double().numpy()[:, -2:].mean(1))
            contacts.append(self._pad_contacts(env))
        outcome = judge(
            object_height_m=np.array(heights),
            in_hand_m=np.array(in_hand),
            grip_force_n=np.array(grip),
            pad_contacts=np.array(contacts),
            hold_start=close_steps + lift_steps,
            lift_start=close_steps,
            rest_height_m=rest_z,
            mass_kg=mass_kg,
            friction=self.friction,
            cfg=cfg,
        )
        outcome.joint_targets, outcome.grasp_centres = joints, placed
        return TrialOutcome(**{name: value[:k] for name, value in outcome.__dict__.items()})

    @staticmethod
    def _ee(env) -> np.ndarray:  # noqa: ANN001
        return (env.scene["ee_frame"].data.target_pos_w[:, 0] - env.scene.env_origins).double().numpy()

    @staticmethod
    def _pad_contacts(env) -> np.ndarray:  # noqa: ANN001
        import mujoco  # noqa: PLC0415

        out = []
        for shard in env.shards:
            m, d = shard.model, shard.data
            if not hasattr(shard, "_grasp_geoms"):
                pads = {}
                objects = {}
                for i in range(len(shard.worlds)):
                    for pad in (1, 2):
                        pads[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"pad{pad}_{i}")] = (i, pad)
                    for g in range(m.ngeom):
                        if m.geom_bodyid[g] == shard.object_body[i]:
                            objects[g] = i
                shard._grasp_geoms = (pads, objects)  # noqa: SLF001 - a cache on the shard this module reads
            pads, objects = shard._grasp_geoms  # noqa: SLF001
            touching = np.zeros((len(shard.worlds), 3), dtype=bool)
            for c in range(d.ncon):
                g1, g2 = int(d.contact.geom1[c]), int(d.contact.geom2[c])
                for pad_geom, obj_geom in ((g1, g2), (g2, g1)):
                    if pad_geom in pads and obj_geom in objects and d.contact.dist[c] <= 0:
                        world, pad = pads[pad_geom]
                        touching[world, pad] = True
            out.append(touching[:, 1:].sum(1))
        return np.concatenate(out)
