"""One task description for both runtimes (issue 15, item 5): the Franka's facts in one robot module, the grip map
written once, Push's target as a command term, the hand starts as events, the embedded env composed from the
description, and ``train`` / ``play`` found through the task package's entry point."""

from __future__ import annotations

import ast
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from tasks_support import ROOT, build_twin

# isort: split
import splattwin_tasks
from splattwin_tasks import mdp
from splattwin_tasks.manipulation.task_cfg import PushTaskCfg

from splattwin.errors import InputError

TASKS_SRC = ROOT / "tasks" / "splattwin_tasks"


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> str:
    return str(build_twin(tmp_path_factory.mktemp("twin")))


def _env(task: str, twin: str, num_envs: int = 4, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the demo twin's prior mass
        return splattwin_tasks.make(task, num_envs=num_envs, runtime="embedded", twin=twin, **overrides)


def _literals(path: Path) -> list[object]:
    """String and number constants of ``path``, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings]


def test_the_frankas_facts_live_only_in_the_robot_module() -> None:
    """No other module of the task package names a Panda joint or link or repeats its grasp offset, pad height or
    reach: they read robots/franka.py."""
    facts = {0.1034, 0.0225, 0.85}
    offenders = []
    for path in sorted(TASKS_SRC.rglob("*.py")):
        if path.name == "franka.py":
            continue
        for value in _literals(path):
            if isinstance(value, str) and value.startswith("panda_") or isinstance(value, float) and value in facts:
                offenders.append(f"{path.relative_to(TASKS_SRC)}: {value!r}")
    assert offenders == []


def test_grip_lag_and_log_force_map_by_hand() -> None:
    # Levels -1, 0, +1 give the range's ends and its geometric middle.
    forces = mdp.grip_force_from_level(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64), (0.1, 40.0))
    np.testing.assert_allclose(forces.numpy(), [0.1, 2.0, 40.0], rtol=1e-12)
    # A constant action: the level closes (1 - alpha)^n of the gap in n steps, alpha = dt / (dt + tau).
    level = torch.tensor([-1.0], dtype=torch.float64)
    for _ in range(5):
        level = mdp.lag_grip_level(level, torch.tensor([0.5], dtype=torch.float64), step_dt=0.02, time_constant_s=0.1)
    assert level.item() == pytest.approx(0.5 - 1.5 * (1 - 0.02 / 0.12) ** 5, rel=1e-12)


def test_both_action_paths_use_the_one_grip_map() -> None:
    """Isaac Lab's gripper term and the embedded one call mdp.actions' functions; neither computes its own."""
    for path in (TASKS_SRC / "manipulation" / "isaaclab_actions.py", TASKS_SRC / "embedded" / "managers.py"):
        calls = {
            node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
        }
        assert {"lag_grip_level", "grip_force_from_level"} <= calls, path.name
        assert "exp" not in calls, path.name


def test_embedded_env_holds_no_task_or_robot_branches() -> None:
    source = (TASKS_SRC / "embedded" / "env.py").read_text()
    tree = ast.parse(source)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & {"LiftTaskCfg", "PushTaskCfg"}
    assert not attributes & {"is_lift", "is_arm", "push_height_m", "pregrasp_jitter_m", "grip_force_range_n"}


class _PushWithAGrip(PushTaskCfg):
    """Push described with Lift's actions: x, y, z and a lagged log-force grip."""

    def terms(self, scene):
        terms = super().terms(scene)
        terms.actions = {
            "arm_action": mdp.CartesianActionCfg(action_dim=3, move_step_m=self.move_step_m),
            "gripper_action": mdp.LogGripForceActionCfg(force_range_n=(0.2, 20.0), time_constant_s=0.05),
        }
        return terms


def test_embedded_env_is_composed_from_the_description(twin: str) -> None:
    """A description with other action terms gets their action space and their grip, with no change to the env."""
    from splattwin_tasks.embedded import EmbeddedManipulationEnv

    scene = _env("SplatTwin-Push-Franka-v0", twin, num_envs=1).twin_scene
    cfg = _PushWithAGrip(robot_model="hand", twin=twin)
    env = EmbeddedManipulationEnv(cfg, scene, num_envs=2)
    env.reset()
    assert env.action_space.shape == (2, 4)
    shard = env.shards[0]
    for _ in range(3):
        env.step(torch.tensor([[0.0, 0.0, 0.0, 0.6], [0.0, 0.0, 0.0, -1.0]]))
    # The finger motors' control after 3 steps: the closed-form lag from -1 towards the action, then the log map.
    alpha = env.step_dt / (env.step_dt + 0.05)
    action = np.array([np.float32(0.6), -1.0])  # the env takes float32 actions
    level = action + (-1.0 - action) * (1 - alpha) ** 3
    expected = np.exp(np.log(0.2) + (level + 1) / 2 * (np.log(20.0) - np.log(0.2)))
    np.testing.assert_allclose(env.data.ctrl[shard.ctrl_fingers], np.repeat(expected[:, None], 2, 1), rtol=1e-9)
    env.close()


def test_push_target_is_a_command_sampled_after_the_object_and_the_hand_starts_behind_it(twin: str) -> None:
    env = _env("SplatTwin-Push-Franka-v0", twin, num_envs=16, robot_model="hand", seed=3)
    cfg = env.cfg
    for _ in range(2):
        env.reset()
        target = env.command_manager.get_command("push_target")
        obj = (env.scene["object"].data.root_pos_w - env.scene.env_origins).numpy()
        hand = (env.scene["ee_frame"].data.target_pos_w[:, 0] - env.scene.env_origins).numpy()
        offset = target.numpy() - obj
        # The target: at the sampled distance from the (jittered) object it was drawn around, at its height.
        distance = np.linalg.norm(offset[:, :2], axis=1)
        assert (distance >= cfg.target_distance_m[0] - 1e-5).all() and (
            distance <= cfg.target_distance_m[1] + 1e-5
        ).all()
        np.testing.assert_allclose(offset[:, 2], 0.0, atol=1e-6)
        np.testing.assert_allclose(mdp.push_target_offset(env).numpy(), offset[:, :2], atol=1e-6)
        # The hand: behind the object, opposite the target, within the start angle and distance.
        behind = (hand - obj)[:, :2]
        cosine = np.sum(behind * -offset[:, :2], axis=1) / (np.linalg.norm(behind, axis=1) * distance)
        assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).max() <= cfg.hand_start_angle_deg + 0.5
        low, high = cfg.hand_start_distance_m
        assert (np.linalg.norm(behind, axis=1) > low - 2e-3).all() and (
            np.linalg.norm(behind, axis=1) < high + 2e-3
        ).all()
    env.close()


def test_lift_starts_the_hand_open_around_the_object(twin: str) -> None:
    env = _env("SplatTwin-Lift-Franka-v0", twin, num_envs=8, robot_model="hand")
    env.reset()
    obj = (env.scene["object"].data.root_pos_w - env.scene.env_origins).numpy()
    hand = (env.scene["ee_frame"].data.target_pos_w[:, 0] - env.scene.env_origins).numpy()
    jitter = env.cfg.pregrasp_jitter_m
    assert np.abs(hand[:, :2] - obj[:, :2]).max() <= jitter + 1e-5
    np.testing.assert_allclose(mdp.gripper_opening(env, _fingers(env)).numpy(), 0.04, atol=1e-6)
    env.close()


def _fingers(env):
    from splattwin_tasks.mdp._scene import SceneEntityCfg
    from splattwin_tasks.robots.franka import FINGER_JOINTS

    cfg = SceneEntityCfg("robot", joint_names=list(FINGER_JOINTS))
    cfg.joint_ids = env.scene["robot"].find_joints(list(FINGER_JOINTS))[0]
    return cfg


def test_isaac_lab_action_heights_are_the_embedded_arms() -> None:
    """One height rule for both: clearance over the table, a held height never below it."""
    push = mdp.CartesianActionCfg(action_dim=2, move_step_m=0.02, hold_height_above_table_m=0.02)
    low, high, hold = mdp.cartesian_heights(push, table_z_m=0.1, clearance_m=0.0235)
    assert (low, high, hold) == pytest.approx((0.1235, 0.6, 0.1235))
    lift = mdp.CartesianActionCfg(action_dim=3, move_step_m=0.02)
    assert mdp.cartesian_heights(lift, table_z_m=0.0, clearance_m=0.02)[2] is None


# --- train / play through the task package's entry point ------------------------------------------------------------


def test_tasks_package_registers_the_training_entry_point() -> None:
    project = tomllib.loads((ROOT / "tasks" / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["splattwin.tasks"]["training"] == "splattwin_tasks.training"


def test_the_core_cli_never_imports_the_tasks_package() -> None:
    for path in sorted((ROOT / "source" / "splattwin" / "splattwin" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                assert not any(module.startswith("splattwin_tasks") for module in modules), path.name
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("splattwin_tasks."), f"{path.name}: {node.value!r}"


def test_train_and_play_load_whatever_the_entry_point_names(tmp_path, monkeypatch) -> None:
    """Only the entry point decides: a stand-in package registering its own module is what the verbs get."""
    from splattwin.cli._tasks import TASKS_MISSING, tasks_training

    (tmp_path / "standin_training.py").write_text("MARK = 'stand-in'\n")
    info = tmp_path / "standin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: standin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[splattwin.tasks]\ntraining = standin_training\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])  # only the stand-in is installed
    assert tasks_training().MARK == "stand-in"
    (info / "entry_points.txt").write_text("[isaaclab.tasks]\nstandin = standin_training\n")
    with pytest.raises(InputError, match="pip install -e tasks") as error:
        tasks_training()
    assert str(error.value).endswith(TASKS_MISSING)


def test_the_registered_entry_point_is_the_training_module() -> None:
    from splattwin.cli._tasks import tasks_training

    training = tasks_training()
    assert training.__name__ == "splattwin_tasks.training"
    assert all(callable(getattr(training, name)) for name in ("train", "play", "parse_overrides"))


@pytest.mark.parametrize("closing_yaw_deg", [0.0, 40.0, 135.0])
def test_franka_grasp_frame_is_the_hand_turned_by_the_grasp_rotation(closing_yaw_deg: float) -> None:
    """The frames robots/franka.py states: hand = grasp frame x (grasp frame in the hand)^-1, and the grasp centre
    sits GRASP_OFFSET_M down the hand's z, i.e. below the hand when the hand points down."""
    from scipy.spatial.transform import Rotation
    from splattwin_tasks.robots import franka

    def rotation(wxyz):
        w, x, y, z = wxyz
        return Rotation.from_quat([x, y, z, w])

    yaw = np.radians(closing_yaw_deg)
    grasp = rotation(franka.grasp_frame_quat_wxyz(yaw))
    hand = rotation(franka.hand_down_quat_wxyz(yaw))
    in_hand = rotation(franka.GRASP_IN_HAND_QUAT_WXYZ)
    np.testing.assert_allclose((hand * in_hand).as_matrix(), grasp.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(hand.apply([0.0, 0.0, franka.GRASP_OFFSET_M]), [0.0, 0.0, -0.1034], atol=1e-12)
    # The grasp frame's y (the closing axis) lies along the closing line.
    assert abs(grasp.apply([0.0, 1.0, 0.0]) @ [np.cos(yaw), np.sin(yaw), 0.0]) == pytest.approx(1.0)


def _isaaclab() -> bool:
    from splattwin_tasks._compat import isaaclab_available

    return isaaclab_available()


@pytest.mark.skipif(not _isaaclab(), reason="needs Isaac Lab")
def test_isaac_labs_command_manager_runs_the_push_target_command() -> None:  # pragma: no cover - Isaac Lab venv
    """Isaac Lab's own CommandManager on a stand-in env: the shared command is sampled at resets (all envs passed
    as slice(None), then some), around each env's object, and held by compute()."""
    from types import SimpleNamespace

    from isaaclab.managers import CommandManager  # noqa: TID251
    from isaaclab.utils import configclass  # noqa: TID251
    from splattwin_tasks.manipulation.isaaclab_commands import TaskCommandCfg

    origins = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    obj = torch.tensor([[0.5, 0.0, 0.02], [0.4, 0.1, 0.02]])

    class _Scene(dict):
        env_origins = origins

    class _Sim:
        def is_playing(self) -> bool:
            return True

        def __getattr__(self, name: str):
            return SimpleNamespace(clear_debug_vis_callback=lambda *a: None) if name == "vis_marker_registry" else None

    scene = _Scene(object=SimpleNamespace(data=SimpleNamespace(root_pos_w=obj + origins)))
    env = SimpleNamespace(num_envs=2, device="cpu", scene=scene, sim=_Sim())

    @configclass
    class _Commands:
        push_target: TaskCommandCfg = TaskCommandCfg(
            task_command=mdp.PushTargetCommandCfg(distance_range_m=(0.06, 0.12))
        )

    manager = CommandManager(_Commands(), env)
    manager.reset(None)
    target = manager.get_command("push_target").clone()
    distance = torch.linalg.vector_norm(target[:, :2] - obj[:, :2], dim=1)
    assert ((distance >= 0.06 - 1e-6) & (distance <= 0.12 + 1e-6)).all()
    manager.compute(0.02)
    assert torch.equal(manager.get_command("push_target"), target)  # held through the episode
    manager.reset(torch.tensor([1]))
    assert torch.equal(manager.get_command("push_target")[0], target[0])
