"""The Isaac Lab side without Isaac Lab: term cfgs carry the very functions and params the embedded runtime runs,
the object USD export, the PPO runner cfg in rsl-rl-lib 5's format, and the package's entry points."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest
from tasks_support import ROOT, build_twin

# isort: split
from splattwin_tasks import mdp
from splattwin_tasks.manipulation.isaaclab_env import export_object_usd, manager_term_cfgs
from splattwin_tasks.manipulation.task_cfg import LiftNoMassTaskCfg, LiftTaskCfg
from splattwin_tasks.registry import load_entry_point
from splattwin_tasks.twin_scene import read_twin_scene


@dataclass
class _Term:  # Isaac Lab's term cfgs are configclasses with these fields
    func: Any
    params: dict = field(default_factory=dict)
    weight: float = 0.0
    time_out: bool = False
    mode: str = ""


@dataclass
class _Entity:  # isaaclab.managers.SceneEntityCfg(name, joint_names=..., body_names=...)
    name: str
    joint_names: list = field(default_factory=list)
    body_names: list = field(default_factory=list)


CLASSES = {"ObsTerm": _Term, "RewTerm": _Term, "DoneTerm": _Term, "EventTerm": _Term, "SceneEntityCfg": _Entity}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_twin_scene(build_twin(tmp_path_factory.mktemp("twin")))


def test_isaaclab_terms_are_the_embedded_terms(scene) -> None:
    terms = LiftTaskCfg().terms(scene)
    cfgs = manager_term_cfgs(terms, CLASSES)
    assert list(cfgs["observations"]) == list(terms.observations)
    assert cfgs["observations"]["object_mass"].func is mdp.object_mass_observation
    assert cfgs["observations"]["object_mass"].params["nominal_mass_kg"] == pytest.approx(scene.mass.mass_kg)
    assert cfgs["rewards"]["success"].weight == terms.rewards["success"].weight
    assert cfgs["terminations"]["time_out"].time_out and not cfgs["terminations"]["crushed"].time_out
    # The task's reset events in mode "reset", its start events (the pre-grasp pose) in the mode TaskRLEnv runs
    # after the commands.
    modes = {name: term.mode for name, term in cfgs["events"].items()}
    assert modes == {**dict.fromkeys(terms.events, "reset"), **dict.fromkeys(terms.start_events, "start")}
    assert cfgs["events"]["hand_start"].func is mdp.reset_hand_pregrasp
    assert cfgs["events"]["object_mass"].func is mdp.randomize_object_mass
    # The finger entity becomes Isaac Lab's SceneEntityCfg with the Panda's finger joint names to resolve.
    fingers = cfgs["observations"]["gripper_opening"].params["asset_cfg"]
    assert fingers == _Entity("robot", ["panda_finger_joint1", "panda_finger_joint2"])
    assert cfgs["observations"]["ee_velocity"].params["asset_cfg"] == _Entity("robot", body_names=["panda_hand"])
    hidden = manager_term_cfgs(LiftNoMassTaskCfg().terms(scene), CLASSES)
    assert set(cfgs["observations"]) - set(hidden["observations"]) == {"object_mass"}


def test_object_usd_export_keeps_mass_and_collision(scene, tmp_path) -> None:
    from pxr import Usd, UsdPhysics

    out = export_object_usd(scene.twin_path, "/World/Objects/Block", tmp_path / "object.usda")
    stage = Usd.Stage.Open(str(out))
    prim = stage.GetDefaultPrim()
    assert prim.GetName() == "Block" and prim.HasAPI(UsdPhysics.RigidBodyAPI)
    assert UsdPhysics.MassAPI(prim).GetMassAttr().Get() == pytest.approx(scene.mass.mass_kg, rel=1e-6)
    assert prim.GetChild("collision").HasAPI(UsdPhysics.CollisionAPI)
    # The physics-material binding points inside the exported file, at a material with the twin's friction.
    bound = []
    for part in Usd.PrimRange(prim):
        for rel in part.GetRelationships():
            if rel.GetName().startswith("material:binding"):
                bound += rel.GetTargets()
    assert bound, "the object lost its physics-material binding"
    for target in bound:
        assert target.HasPrefix(prim.GetPath()) and stage.GetPrimAtPath(target)
        material = UsdPhysics.MaterialAPI(stage.GetPrimAtPath(target))
        assert material.GetDynamicFrictionAttr().Get() == pytest.approx(scene.friction, rel=1e-6)


def test_runner_cfg_is_rsl_rl_5_train_cfg() -> None:
    from rsl_rl.utils import resolve_callable

    cfg = load_entry_point("SplatTwin-Push-Franka-v0", "rsl_rl_cfg_entry_point")()
    train_cfg = cfg.train_cfg()
    for key in ("num_steps_per_env", "save_interval", "obs_groups", "actor", "critic", "algorithm"):
        assert key in train_cfg
    for part in ("actor", "critic", "algorithm"):
        assert callable(resolve_callable(train_cfg[part]["class_name"]))
    nomass = load_entry_point("SplatTwin-Push-Franka-NoMass-v0", "rsl_rl_cfg_entry_point")()
    assert nomass.experiment_name != cfg.experiment_name


def test_package_metadata_declares_isaaclab_entry_point_and_no_torch_pin() -> None:
    project = tomllib.loads((ROOT / "tasks" / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["isaaclab.tasks"] == {"splattwin_tasks": "splattwin_tasks"}
    dependencies = project["project"]["dependencies"]
    assert any(dep.startswith("rsl-rl-lib") for dep in dependencies)
    assert not any(dep.split(">")[0].split("=")[0].strip() == "torch" for dep in dependencies)


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("isaaclab") is not None, reason="Isaac Lab is installed here"
)
@pytest.mark.parametrize("verb", ["train", "play"])
def test_runtime_isaaclab_without_isaac_lab_says_how_to_run_it_in_one_line(verb: str, capsys, tmp_path) -> None:
    from splattwin.cli import main

    args = [verb, "task=SplatTwin-Push-Franka-v0", "runtime=isaaclab", f"log_dir={tmp_path / 'run'}"]
    if verb == "play":
        args = [verb, "task=SplatTwin-Push-Franka-v0", "runtime=isaaclab", f"checkpoint={tmp_path}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: runtime: isaaclab needs Isaac Lab 3.0")
    assert "make isaaclab" in err[0] and ".venv-isaaclab/bin/splattwin" in err[0]
    assert not (tmp_path / "run").exists()
