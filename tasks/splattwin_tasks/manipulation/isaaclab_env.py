"""Isaac Lab glue: the manager-based env cfg of a task, built from the same terms the embedded runtime runs.

Only ``push_env_cfg.py`` / ``lift_env_cfg.py`` import this with Isaac Lab present (they are the gym specs'
``env_cfg_entry_point``); :func:`manager_term_cfgs` itself imports nothing of Isaac Lab, so it is tested here
with stand-in classes. Written against Isaac Lab 2.3 / 3.0's documented API (``isaaclab.envs``,
``isaaclab.managers``, ``isaaclab.assets``, ``isaaclab.sensors``, ``isaaclab_assets.robots.franka``); the task
terms convert quaternions at the boundary (:func:`splattwin_tasks.quaternions.convert_quat_order`).

What differs from the embedded runtime: Isaac Lab simulates the whole Franka (PhysX articulation, the twin's
robot base pose) moved by differential IK on the hand position; Lift starts from the arm's default pose instead
of a pre-grasp pose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splattwin_tasks import mdp
from splattwin_tasks.manipulation.task_cfg import TaskTerms
from splattwin_tasks.mdp._scene import SceneEntityCfg

__all__ = ["export_object_usd", "manager_term_cfgs"]


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
            name: classes["EventTerm"](func=t.func, mode="reset", params=_isaaclab_params(t.params, entity))
            for name, t in terms.events.items()
        },
    }


def export_object_usd(twin: str | Path, prim_path: str, out: str | Path) -> Path:
    """Write the twin's object (body, mass, collision mesh, Gaussians) as its own USD file with it as default
    prim, for Isaac Lab's ``UsdFileCfg`` (which references a file's default prim)."""
    from pxr import Sdf, Usd  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    flat = Usd.Stage.Open(str(twin)).Flatten()
    layer = Sdf.Layer.CreateAnonymous(".usda")
    name = Path(prim_path).name
    Sdf.CopySpec(flat, Sdf.Path(prim_path), layer, Sdf.Path(f"/{name}"))
    layer.defaultPrim = name
    for key in ("upAxis", "metersPerUnit", "kilogramsPerUnit"):
        if flat.pseudoRoot.HasInfo(key):
            layer.pseudoRoot.SetInfo(key, flat.pseudoRoot.GetInfo(key))
    # The body keeps its mass and shape but sits at the origin: the scene places it.
    spec = layer.GetPrimAtPath(f"/{name}")
    for op in ("xformOp:translate",):
        if op in spec.attributes:
            spec.attributes[op].default = (0.0, 0.0, 0.0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        layer.Export(str(tmp))
    return out


def build_isaaclab_env_cfg(env_cfg: Any, task_cfg: Any) -> None:
    """Fill an Isaac Lab ``ManagerBasedRLEnvCfg`` (``env_cfg``) from ``task_cfg`` and its twin. Needs Isaac Lab."""
    import isaaclab.managers as managers  # noqa: PLC0415, TID251
    import isaaclab.sim as sim_utils  # noqa: PLC0415, TID251
    from isaaclab.assets import AssetBaseCfg, RigidObjectCfg  # noqa: PLC0415, TID251
    from isaaclab.controllers import DifferentialIKControllerCfg  # noqa: PLC0415, TID251
    from isaaclab.scene import InteractiveSceneCfg  # noqa: PLC0415, TID251
    from isaaclab.sensors import FrameTransformerCfg  # noqa: PLC0415, TID251
    from isaaclab.sensors.frame_transformer.frame_transformer_cfg import OffsetCfg  # noqa: PLC0415, TID251
    from isaaclab.utils import configclass  # noqa: PLC0415, TID251
    from isaaclab_assets.robots.franka import FRANKA_PANDA_HIGH_PD_CFG  # noqa: PLC0415

    from splattwin_tasks.manipulation.task_cfg import LiftTaskCfg  # noqa: PLC0415
    from splattwin_tasks.registry import DEFAULT_TWIN  # noqa: PLC0415
    from splattwin_tasks.robots import franka  # noqa: PLC0415
    from splattwin_tasks.twin_scene import read_twin_scene  # noqa: PLC0415

    twin = Path(task_cfg.twin or DEFAULT_TWIN)
    scene = read_twin_scene(twin, object_prim=task_cfg.object_prim, require_robot=task_cfg.require_robot)
    object_usd = export_object_usd(twin, task_cfg.object_prim, twin.parent / "isaaclab" / "object.usda")
    base = scene.robot_base
    obj = scene.object_position - base
    w, x, y, z = scene.object_quat_wxyz.tolist()
    from splattwin_tasks._compat import isaaclab_quat_order  # noqa: PLC0415

    object_rot = (w, x, y, z) if isaaclab_quat_order() == "wxyz" else (x, y, z, w)

    @configclass
    class SceneCfg(InteractiveSceneCfg):
        robot = FRANKA_PANDA_HIGH_PD_CFG.replace(prim_path="{ENV_REGEX_NS}/Robot")
        object = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/Object",
            spawn=sim_utils.UsdFileCfg(usd_path=str(object_usd)),
            init_state=RigidObjectCfg.InitialStateCfg(pos=tuple(obj.tolist()), rot=object_rot),
        )
        table = AssetBaseCfg(
            prim_path="{ENV_REGEX_NS}/Table",
            spawn=sim_utils.CuboidCfg(size=(0.7, 0.7, 0.04), collision_props=sim_utils.CollisionPropertiesCfg()),
            init_state=AssetBaseCfg.InitialStateCfg(pos=(obj[0], obj[1], scene.table_height - base[2] - 0.02)),
        )
        ee_frame = FrameTransformerCfg(
            prim_path=f"{{ENV_REGEX_NS}}/Robot/{franka.BASE_LINK}",
            target_frames=[
                FrameTransformerCfg.FrameCfg(
                    prim_path=f"{{ENV_REGEX_NS}}/Robot/{franka.HAND_LINK}",
                    name="end_effector",
                    offset=OffsetCfg(pos=(0, 0, franka.GRASP_OFFSET_M)),
                )
            ],
        )
        light = AssetBaseCfg(prim_path="/World/light", spawn=sim_utils.DomeLightCfg(intensity=2000.0))

    env_cfg.scene = SceneCfg(num_envs=env_cfg.scene.num_envs if env_cfg.scene else 64, env_spacing=2.0)
    terms = task_cfg.terms(scene)
    from splattwin_tasks.manipulation.isaaclab_commands import TaskCommandCfg  # noqa: PLC0415

    commands = {name: TaskCommandCfg(task_command=command) for name, command in terms.commands.items()}
    classes = {
        "ObsTerm": managers.ObservationTermCfg,
        "RewTerm": managers.RewardTermCfg,
        "DoneTerm": managers.TerminationTermCfg,
        "EventTerm": managers.EventTermCfg,
        "SceneEntityCfg": managers.SceneEntityCfg,
    }
    cfgs = manager_term_cfgs(terms, classes)

    @configclass
    class PolicyCfg(managers.ObservationGroupCfg):
        def __post_init__(self) -> None:
            self.enable_corruption = False
            self.concatenate_terms = True

    policy = PolicyCfg()
    for name, term in cfgs["observations"].items():
        setattr(policy, name, term)

    @configclass
    class ObservationsCfg:
        policy: PolicyCfg = policy

    from splattwin_tasks.manipulation.isaaclab_actions import CartesianTargetActionCfg  # noqa: PLC0415
    from splattwin_tasks.mdp import cartesian_heights  # noqa: PLC0415

    # The task's action (terms.actions), with the arm's heights and grasp orientation, in the root frame.
    arm_action = terms.actions["arm_action"]
    min_height, max_height, hold_height = cartesian_heights(
        arm_action, table_z_m=scene.table_height - base[2], clearance_m=franka.GRASP_CLEARANCE_M
    )
    w, x, y, z = franka.hand_down_quat_wxyz(franka.closing_yaw(scene)[0])

    @configclass
    class ActionsCfg:
        arm_action = CartesianTargetActionCfg(
            asset_name="robot",
            joint_names=[franka.ARM_JOINTS_REGEX],
            body_name=franka.HAND_LINK,
            controller=DifferentialIKControllerCfg(command_type="pose", use_relative_mode=False, ik_method="dls"),
            body_offset=CartesianTargetActionCfg.OffsetCfg(pos=(0.0, 0.0, franka.GRASP_OFFSET_M)),
            action_dim=arm_action.action_dim,
            move_step_m=arm_action.move_step_m,
            min_height_m=min_height,
            max_height_m=max_height,
            hold_height_m=hold_height,
            hand_quat=(w, x, y, z) if isaaclab_quat_order() == "wxyz" else (x, y, z, w),
        )

    actions = ActionsCfg()
    grip = terms.actions.get("gripper_action")
    if isinstance(grip, mdp.LogGripForceActionCfg):
        from splattwin_tasks.manipulation.isaaclab_actions import LogGripForceActionCfg  # noqa: PLC0415

        actions.gripper_action = LogGripForceActionCfg(
            asset_name="robot",
            joint_names=[franka.FINGER_JOINTS_REGEX],
            force_range_n=tuple(grip.force_range_n),
            time_constant_s=grip.time_constant_s,
        )
    env_cfg.observations = ObservationsCfg()
    env_cfg.actions = actions
    env_cfg.rewards = _group(configclass, cfgs["rewards"])
    env_cfg.terminations = _group(configclass, cfgs["terminations"])
    env_cfg.events = _group(configclass, cfgs["events"])
    if commands:
        env_cfg.commands = _group(configclass, commands)
    env_cfg.decimation = task_cfg.decimation
    env_cfg.episode_length_s = task_cfg.episode_length_s * (2.5 if isinstance(task_cfg, LiftTaskCfg) else 1.0)
    env_cfg.sim.dt = task_cfg.sim_dt
    env_cfg.sim.render_interval = task_cfg.decimation


def _group(configclass: Any, terms: dict[str, Any]) -> Any:
    group_cls = configclass(type("TermGroupCfg", (), {"__annotations__": {}}))
    group = group_cls()
    for name, term in terms.items():
        setattr(group, name, term)
    return group
