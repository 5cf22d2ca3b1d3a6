"""Isaac Lab glue: the manager-based env cfg of a task, built from the same terms the embedded runtime runs.

Only ``push_env_cfg.py`` / ``lift_env_cfg.py`` import this with Isaac Lab present (they are the gym specs'
``env_cfg_entry_point``); :func:`manager_term_cfgs` itself imports nothing of Isaac Lab, so it is tested here
with stand-in classes. Written against Isaac Lab 2.3 / 3.0's documented API (``isaaclab.envs``,
``isaaclab.managers``, ``isaaclab.assets``, ``isaaclab.sensors``, ``isaaclab_assets.robots.franka``); the task
terms convert quaternions at the boundary (:func:`splattwin_tasks.quaternions.convert_quat_order`).

The env cfg classes (``push_env_cfg.py``, ``lift_env_cfg.py``) hold numbers only: the task cfg (``cfg.task``), the
scene size, the physics (:func:`newton_physics_cfg`). :func:`prepare_isaaclab_env_cfg` is the builder: it reads the
twin named by ``cfg.task.twin``, exports its robot and object to USD files and fills the scene and the managers'
terms (:func:`build_isaaclab_env_cfg`); call it after every override and before ``gym.make(task, cfg=cfg)``.

What differs from the embedded runtime: Isaac Lab simulates the twin's Franka (the robot layer's articulation,
exported with a fixed joint to the world) moved by differential IK on the hand position. The start events (Push's
pre-push, Lift's pre-grasp pose) are the same terms, run after the commands by
:class:`~splattwin_tasks.manipulation.isaaclab_rl_env.TaskRLEnv` (the gym specs' entry point).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from splattwin_tasks import mdp
from splattwin_tasks.embedded.arm import ARM_CARTESIAN_KP, ARM_CARTESIAN_KV
from splattwin_tasks.manipulation.task_cfg import TaskTerms
from splattwin_tasks.mdp._scene import SceneEntityCfg

__all__ = [
    "ARM_JOINT_STIFFNESS",
    "START_EVENT_MODE",
    "build_isaaclab_env_cfg",
    "export_object_usd",
    "export_robot_usd",
    "finish_env_cfg",
    "manager_term_cfgs",
    "newton_physics_cfg",
    "prepare_isaaclab_env_cfg",
]


ARM_JOINT_STIFFNESS = 400.0
"""The arm joints' PD stiffness under differential IK [N m/rad] (Isaac Lab's FRANKA_PANDA_HIGH_PD_CFG)."""

START_EVENT_MODE = "start"
"""The Isaac Lab event mode of the task description's start events, run after the commands are resampled
(:class:`~splattwin_tasks.manipulation.isaaclab_rl_env.TaskRLEnv`)."""


def _isaaclab_params(params: dict[str, Any], entity_cls: type) -> dict[str, Any]:
    """Swap the embedded runtime's ``SceneEntityCfg`` for Isaac Lab's, so its managers resolve joint/body ids."""
    out = {}
    for key, value in params.items():
        if isinstance(value, SceneEntityCfg):
            names = {"joint_names": list(value.joint_names), "body_names": list(value.body_names)}
            value = entity_cls(value.name, **{field: listed for field, listed in names.items() if listed})
        out[key] = value
    return out


def manager_term_cfgs(terms: TaskTerms, classes: dict[str, type]) -> dict[str, dict[str, Any]]:
    """Isaac Lab manager term cfgs of ``terms``: the same functions, params and weights.

    Args:
        terms: a task's terms (:meth:`~splattwin_tasks.manipulation.task_cfg.ManipulationTaskCfg.terms`).
        classes: ``ObsTerm``, ``RewTerm``, ``DoneTerm``, ``EventTerm`` and ``SceneEntityCfg`` (Isaac Lab's
            ``ObservationTermCfg``, ``RewardTermCfg``, ``TerminationTermCfg``, ``EventTermCfg``, ``SceneEntityCfg``).

    Returns:
        ``{"observations": {name: ObsTerm}, "rewards": ..., "terminations": ..., "events": ...}``.
    """
    entity = classes["SceneEntityCfg"]
    return {
        "observations": {
            name: classes["ObsTerm"](func=t.func, params=_isaaclab_params(t.params, entity))
            for name, t in terms.observations.items()
        },
        "rewards": {
            name: classes["RewTerm"](func=t.func, weight=t.weight, params=_isaaclab_params(t.params, entity))
            for name, t in terms.rewards.items()
        },
        "terminations": {
            name: classes["DoneTerm"](func=t.func, params=_isaaclab_params(t.params, entity), time_out=t.time_out)
            for name, t in terms.terminations.items()
        },
        "events": {
            **{
                name: classes["EventTerm"](func=t.func, mode="reset", params=_isaaclab_params(t.params, entity))
                for name, t in terms.events.items()
            },
            # Run after the commands by TaskRLEnv (Isaac Lab resets the commands after its reset events).
            **{
                name: classes["EventTerm"](
                    func=t.func, mode=START_EVENT_MODE, params=_isaaclab_params(t.params, entity)
                )
                for name, t in terms.start_events.items()
            },
        },
    }


def _copy_prim(src_layer: Any, src: str, dst_layer: Any, dst: str) -> None:
    from pxr import Sdf  # noqa: PLC0415

    Sdf.CopySpec(src_layer, Sdf.Path(src), dst_layer, Sdf.Path(dst))


def _export_prim(twin: str | Path, prim_path: str, out: str | Path, *, fixed_base: bool = False) -> Path:
    """The twin's prim ``prim_path`` (flattened) as its own USD file with it as default prim, for Isaac Lab's
    ``UsdFileCfg`` (which references a file's default prim). Relationships that point outside the prim (the physics
    material binding) are kept: their targets are copied under the new root and retargeted. The root's translation
    is zeroed (the scene places it); ``fixed_base`` adds a fixed joint from the world to the root's first body."""
    from pxr import Sdf, Usd  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    flat = Usd.Stage.Open(str(twin)).Flatten()
    layer = Sdf.Layer.CreateAnonymous(".usda")
    name = Path(prim_path).name
    root = Sdf.Path(f"/{name}")
    _copy_prim(flat, prim_path, layer, str(root))
    layer.defaultPrim = name
    for key in ("upAxis", "metersPerUnit", "kilogramsPerUnit"):
        if flat.pseudoRoot.HasInfo(key):
            layer.pseudoRoot.SetInfo(key, flat.pseudoRoot.GetInfo(key))
    # Targets outside the copied prim would dangle in the new file (the object lost its friction that way).
    source_root = Sdf.Path(prim_path)
    copied: dict[Sdf.Path, Sdf.Path] = {}

    def fix(spec: Any) -> None:
        for rel in spec.relationships:
            targets = list(rel.targetPathList.GetAddedOrExplicitItems())
            new = []
            for target in targets:
                if target.HasPrefix(source_root):
                    new.append(target.ReplacePrefix(source_root, root))
                    continue
                if target not in copied and flat.GetPrimAtPath(target):
                    copied[target] = root.AppendChild("External").AppendChild(target.name)
                    if not layer.GetPrimAtPath(copied[target].GetParentPath()):
                        Sdf.CreatePrimInLayer(layer, copied[target].GetParentPath()).specifier = Sdf.SpecifierDef
                    _copy_prim(flat, str(target), layer, str(copied[target]))
                new.append(copied.get(target, target))
            rel.targetPathList.explicitItems = new
        for child in spec.nameChildren:
            fix(child)

    fix(layer.GetPrimAtPath(root))
    spec = layer.GetPrimAtPath(root)
    if "xformOp:translate" in spec.attributes:
        spec.attributes["xformOp:translate"].default = (0.0, 0.0, 0.0)
    if "xformOp:transform" in spec.attributes:
        from pxr import Gf  # noqa: PLC0415

        matrix = Gf.Matrix4d(spec.attributes["xformOp:transform"].default)
        matrix.SetTranslateOnly(Gf.Vec3d(0.0, 0.0, 0.0))
        spec.attributes["xformOp:transform"].default = matrix
    if fixed_base:
        from pxr import UsdPhysics  # noqa: PLC0415

        stage = Usd.Stage.Open(layer)
        bodies = [p for p in Usd.PrimRange(stage.GetPrimAtPath(root)) if p.HasAPI(UsdPhysics.RigidBodyAPI)]
        if bodies:
            joint = UsdPhysics.FixedJoint.Define(stage, root.AppendChild("joints").AppendChild("world_fixed"))
            joint.CreateBody1Rel().SetTargets([bodies[0].GetPath()])
            UsdPhysics.RigidBodyAPI(bodies[0]).CreateKinematicEnabledAttr().Set(False)
            # The links gravity-compensated, as the embedded arm (and Franka's controller): MuJoCo's body gravcomp,
            # which Newton's MuJoCo solver reads from ``mjc:gravcomp``. Without it the joint PD sags under the arm's
            # weight (2-3 cm at the hand, 0.04 rad at joint 2) and the hand dives below its target into the table.
            for body in bodies:
                body.CreateAttribute("mjc:gravcomp", Sdf.ValueTypeNames.Float).Set(1.0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        layer.Export(str(tmp))
    return out


def export_object_usd(twin: str | Path, prim_path: str, out: str | Path) -> Path:
    """Write the twin's object (body, mass, collision mesh, physics material) as its own USD file."""
    return _export_prim(twin, prim_path, out)


def export_robot_usd(twin: str | Path, prim_path: str, out: str | Path) -> Path:
    """Write the twin's robot (what ``import-robot`` authored) as its own USD file, fixed to the world."""
    return _export_prim(twin, prim_path, out, fixed_base=True)


def newton_physics_cfg() -> Any:
    """Newton (MuJoCo-Warp) physics for the tasks: kitless, runs on the CPU. Needs Isaac Lab 3.0."""
    from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg  # noqa: PLC0415
    from isaaclab_newton.physics.newton_manager_cfg import NewtonShapeCfg  # noqa: PLC0415

    from splattwin_tasks.contact import newton_contact_ke_kd  # noqa: PLC0415

    # The embedded runtime's contacts (elliptic cone, impratio 10, solref (0.004, 1): splattwin_tasks.contact).
    ke, kd = newton_contact_ke_kd()
    return NewtonCfg(
        solver_cfg=MJWarpSolverCfg(njmax=200, nconmax=80, cone="elliptic", impratio=10.0, integrator="implicitfast"),
        default_shape_cfg=NewtonShapeCfg(ke=ke, kd=kd),
    )


def finish_env_cfg(env_cfg: Any) -> None:
    """The numbers an env cfg takes from its task cfg (timing, physics); no twin is read. From ``__post_init__``."""
    task = env_cfg.task
    env_cfg.decimation = task.decimation
    env_cfg.episode_length_s = task.episode_length_s
    env_cfg.sim.dt = task.sim_dt
    env_cfg.sim.render_interval = task.decimation
    if env_cfg.sim.physics is None:  # None means PhysX, which needs Isaac Sim
        env_cfg.sim.physics = newton_physics_cfg()


def prepare_isaaclab_env_cfg(env_cfg: Any, *, out_dir: str | Path | None = None) -> Any:
    """The builder: read the twin of ``env_cfg.task``, export its robot and object, fill ``env_cfg``; returns it.

    Args:
        env_cfg: a SplatTwin Isaac Lab env cfg (``PushEnvCfg`` ...), overrides already applied.
        out_dir: where the exported USD files go (default: ``isaaclab/`` next to the twin).
    """
    from splattwin_tasks.registry import DEFAULT_TWIN  # noqa: PLC0415
    from splattwin_tasks.twin_scene import read_twin_scene  # noqa: PLC0415

    task = env_cfg.task
    task.validate()
    twin = Path(task.twin or DEFAULT_TWIN)
    scene = read_twin_scene(twin, object_prim=task.object_prim, require_robot=True)
    folder = Path(out_dir) if out_dir else twin.parent / "isaaclab"
    object_usd = export_object_usd(twin, task.object_prim, folder / "object.usda")
    robot_usd = export_robot_usd(twin, scene.robot_prim, folder / "robot.usda")
    build_isaaclab_env_cfg(env_cfg, task, scene, object_usd=object_usd, robot_usd=robot_usd)
    finish_env_cfg(env_cfg)
    return env_cfg


def _robot_cfg(robot_usd: Path, scene: Any, lift: bool) -> Any:
    import isaaclab.sim as sim_utils  # noqa: PLC0415, TID251
    from isaaclab.actuators import ImplicitActuatorCfg  # noqa: PLC0415, TID251
    from isaaclab.assets import ArticulationCfg  # noqa: PLC0415, TID251

    from splattwin_tasks._compat import isaaclab_quat_order  # noqa: PLC0415
    from splattwin_tasks.robots import franka  # noqa: PLC0415

    half = scene.robot_yaw_rad / 2
    w, z = float(np.cos(half)), float(np.sin(half))
    rot = (w, 0.0, 0.0, z) if isaaclab_quat_order() == "wxyz" else (0.0, 0.0, z, w)
    joints = {name: float(q) for name, q in zip(franka.ARM_JOINTS, franka.ARM_HOME_Q, strict=True)}
    joints.update({franka.FINGER_JOINTS_REGEX: franka.FINGER_TRAVEL_M if lift else 0.0})
    return ArticulationCfg(
        prim_path="{ENV_REGEX_NS}/Robot",
        # Gravity off on the links for PhysX, as Isaac Lab's FRANKA_PANDA_HIGH_PD_CFG; Newton ignores it and reads
        # the exported file's mjc:gravcomp instead (export_robot_usd).
        spawn=sim_utils.UsdFileCfg(
            usd_path=str(robot_usd), rigid_props=sim_utils.RigidBodyPropertiesCfg(disable_gravity=True)
        ),
        init_state=ArticulationCfg.InitialStateCfg(pos=(0.0, 0.0, 0.0), rot=rot, joint_pos=joints),
        actuators={
            # Isaac Lab's high-PD arm stiffness for differential IK (FRANKA_PANDA_HIGH_PD_CFG: 400 N m/rad), with the
            # damping that gives each joint the embedded impedance's time constant (kv / kp = 75 ms), so the hand
            # follows a step as fast in both runtimes (FRANKA_PANDA_HIGH_PD_CFG's 80 N m s/rad: 200 ms, a third as
            # fast).
            "arm": ImplicitActuatorCfg(
                joint_names_expr=[franka.ARM_JOINTS_REGEX],
                stiffness=ARM_JOINT_STIFFNESS,
                damping=ARM_JOINT_STIFFNESS * ARM_CARTESIAN_KV / ARM_CARTESIAN_KP,
            ),
            # Lift drives the fingers by effort (LogGripForceAction): no position stiffness to fight it, only a
            # little damping. Push keeps them shut by a stiff PD at closed.
            "fingers": ImplicitActuatorCfg(
                joint_names_expr=[franka.FINGER_JOINTS_REGEX],
                stiffness=0.0 if lift else 2e3,
                damping=2.0 if lift else 1e2,
                effort_limit_sim=200.0,
            ),
        },
    )


def build_isaaclab_env_cfg(env_cfg: Any, task_cfg: Any, scene: Any, *, object_usd: Path, robot_usd: Path) -> None:
    """Fill an Isaac Lab ``ManagerBasedRLEnvCfg`` (``env_cfg``) from ``task_cfg`` and a twin's ``scene`` (read
    already) with the exported ``object_usd`` and ``robot_usd``. Needs Isaac Lab; reads and writes no file."""
    import isaaclab.managers as managers  # noqa: PLC0415, TID251
    import isaaclab.sim as sim_utils  # noqa: PLC0415, TID251
    from isaaclab.assets import AssetBaseCfg, RigidObjectCfg  # noqa: PLC0415, TID251
    from isaaclab.controllers import DifferentialIKControllerCfg  # noqa: PLC0415, TID251
    from isaaclab.scene import InteractiveSceneCfg  # noqa: PLC0415, TID251
    from isaaclab.sensors import FrameTransformerCfg  # noqa: PLC0415, TID251
    from isaaclab.sensors.frame_transformer.frame_transformer_cfg import OffsetCfg  # noqa: PLC0415, TID251
    from isaaclab.utils import configclass  # noqa: PLC0415, TID251

    from splattwin_tasks._compat import isaaclab_quat_order  # noqa: PLC0415
    from splattwin_tasks.manipulation.isaaclab_actions import (  # noqa: PLC0415
        CartesianTargetActionCfg,
        LogGripForceActionCfg,
    )
    from splattwin_tasks.manipulation.isaaclab_commands import TaskCommandCfg  # noqa: PLC0415
    from splattwin_tasks.manipulation.task_cfg import LiftTaskCfg  # noqa: PLC0415
    from splattwin_tasks.robots import franka  # noqa: PLC0415

    is_lift = isinstance(task_cfg, LiftTaskCfg)
    xyzw = isaaclab_quat_order() == "xyzw"
    base = scene.robot_base
    obj = scene.object_position - base
    w, x, y, z = (float(v) for v in scene.object_quat_wxyz)
    object_rot = (x, y, z, w) if xyzw else (w, x, y, z)
    table_z = scene.table_height - base[2]

    @configclass
    class SceneCfg(InteractiveSceneCfg):
        robot = _robot_cfg(robot_usd, scene, is_lift)
        object = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/Object",
            spawn=sim_utils.UsdFileCfg(usd_path=str(object_usd)),
            init_state=RigidObjectCfg.InitialStateCfg(pos=tuple(float(v) for v in obj), rot=object_rot),
        )
        table = AssetBaseCfg(
            prim_path="{ENV_REGEX_NS}/Table",
            spawn=sim_utils.CuboidCfg(size=(0.7, 0.7, 0.04), collision_props=sim_utils.CollisionPropertiesCfg()),
            init_state=AssetBaseCfg.InitialStateCfg(pos=(float(obj[0]), float(obj[1]), float(table_z - 0.02))),
        )
        ee_frame = FrameTransformerCfg(
            prim_path=f"{{ENV_REGEX_NS}}/Robot/{franka.BASE_LINK}",
            target_frames=[
                FrameTransformerCfg.FrameCfg(
                    prim_path=f"{{ENV_REGEX_NS}}/Robot/{franka.HAND_LINK}",
                    name="end_effector",
                    offset=OffsetCfg(pos=(0.0, 0.0, franka.GRASP_OFFSET_M)),
                )
            ],
        )

    num_envs = env_cfg.scene.num_envs if _is_set(env_cfg.scene) else 16
    env_spacing = env_cfg.scene.env_spacing if _is_set(env_cfg.scene) else 2.0
    env_cfg.scene = SceneCfg(num_envs=num_envs, env_spacing=env_spacing)
    classes = {
        "ObsTerm": managers.ObservationTermCfg,
        "RewTerm": managers.RewardTermCfg,
        "DoneTerm": managers.TerminationTermCfg,
        "EventTerm": managers.EventTermCfg,
        "SceneEntityCfg": managers.SceneEntityCfg,
    }
    terms = task_cfg.terms(scene)
    cfgs = manager_term_cfgs(terms, classes)
    # The goal as Isaac Lab command terms (Push's target); the start events run after them (TaskRLEnv).
    commands = {name: TaskCommandCfg(task_command=command) for name, command in terms.commands.items()}
    policy = _group(configclass, cfgs["observations"], base=managers.ObservationGroupCfg)
    policy.enable_corruption = False
    policy.concatenate_terms = True
    env_cfg.observations = _group(configclass, {"policy": policy})

    arm_action = terms.actions["arm_action"]
    min_height, max_height, hold_height = mdp.cartesian_heights(
        arm_action, table_z_m=float(table_z), clearance_m=franka.GRASP_CLEARANCE_M
    )
    hw, hx, hy, hz = franka.hand_down_quat_wxyz(franka.closing_yaw(scene)[0])
    actions = {
        "arm_action": CartesianTargetActionCfg(
            asset_name="robot",
            joint_names=[franka.ARM_JOINTS_REGEX],
            body_name=franka.HAND_LINK,
            controller=DifferentialIKControllerCfg(command_type="pose", use_relative_mode=False, ik_method="dls"),
            body_offset=CartesianTargetActionCfg.OffsetCfg(pos=(0.0, 0.0, franka.GRASP_OFFSET_M)),
            action_dim=arm_action.action_dim,
            move_step_m=arm_action.move_step_m,
            min_height_m=float(min_height),
            max_height_m=float(max_height),
            hold_height_m=None if hold_height is None else float(hold_height),
            hand_quat=(hx, hy, hz, hw) if xyzw else (hw, hx, hy, hz),
        )
    }
    grip = terms.actions.get("gripper_action")
    if isinstance(grip, mdp.LogGripForceActionCfg):
        actions["gripper_action"] = LogGripForceActionCfg(
            asset_name="robot",
            joint_names=[franka.FINGER_JOINTS_REGEX],
            force_range_n=tuple(grip.force_range_n),
            time_constant_s=grip.time_constant_s,
        )
    env_cfg.actions = _group(configclass, actions)
    env_cfg.rewards = _group(configclass, cfgs["rewards"])
    env_cfg.terminations = _group(configclass, cfgs["terminations"])
    env_cfg.events = _group(configclass, cfgs["events"])
    env_cfg.commands = _group(configclass, commands) if commands else None


def _is_set(value: Any) -> bool:
    """False for dataclasses' MISSING placeholder (which is truthy) and None."""
    from dataclasses import MISSING  # noqa: PLC0415

    return value is not None and value is not MISSING and hasattr(value, "num_envs")


def _group(configclass: Any, terms: dict[str, Any], base: type = object) -> Any:
    """A configclass instance holding ``terms`` as fields (built at run time: the term names come from the task)."""
    annotations = {name: type(term) for name, term in terms.items()}
    namespace = {"__annotations__": annotations, **terms}
    group_cls = configclass(type("TermGroupCfg", (base,), namespace))
    return group_cls()
