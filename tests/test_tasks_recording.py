"""``play record=true`` into a twin with import-robot's Panda: every joint the rollout has is keyed (the mimic
finger follows its master), and a second recording replaces the first (issue 22, items 6 and 11)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from tasks_support import build_twin  # noqa: F401  (puts the checkout's tasks/ on the path)

# isort: split
from splattwin.cli import main
from splattwin.errors import StageError

ROBOT = "/World/Robot"


@pytest.mark.slow
def test_recording_twice_replaces_the_first_and_keys_the_mimic_finger(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    from pxr import UsdGeom

    from splattwin.robot.trajectories import read_joint_trajectory
    from splattwin.usd import open_twin

    assert main(["demo", "--out", str(tmp_path / "demo"), "previews=false", "identify=false"]) == 0
    twin = tmp_path / "demo" / "twin.usda"
    common = [f"twin={twin}", "task=SplatTwin-Push-Franka-v0", "env.robot_model=arm", "num_envs=2"]
    play = ["play", *common, f"checkpoint={tmp_path / 'run'}", "record=true"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MASS NOT IDENTIFIED (the demo ran without identification)
        assert main(["train", *common, "max_iterations=1", f"log_dir={tmp_path / 'run'}", "progress=false"]) == 0
        with caplog.at_level(logging.WARNING, logger="splattwin_tasks"):
            assert main([*play, "episodes=1"]) == 0
            first = len(read_joint_trajectory(open_twin(twin).stage, ROBOT).times)
            # The rollout's finger2 is panda_finger_joint2, a mimic of finger1 that inspect lists: no "has no joints".
            assert not [r for r in caplog.records if "has no joints" in r.getMessage()]
            assert main([*play, "max_steps=20", "seed=5"]) == 0  # a second, shorter recording into the same twin
    assert first > 20
    stage = open_twin(twin).stage
    trajectory = read_joint_trajectory(stage, ROBOT)
    assert trajectory.joint_names == [*(f"panda_joint{k}" for k in range(1, 8)), "panda_finger_joint1"]
    assert len(trajectory.times) == 20  # the second recording's, none of the first's keys left
    ee = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Trajectories/SplatTwin_Push_Franka_v0/ee"))
    assert [op.GetOpName() for op in ee.GetOrderedXformOps()] == ["xformOp:translate"]
    assert len(ee.GetOrderedXformOps()[0].GetTimeSamples()) == 20
    block = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/Block")).GetOrderedXformOps()[0]
    assert len(block.GetTimeSamples()) == 20

    # A rollout of the arm-less hand model keys no joints: the arm's keys of the recording before go with it.
    hand = [f"twin={twin}", "task=SplatTwin-Push-Franka-v0", "env.robot_model=hand", "num_envs=2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(["train", *hand, "max_iterations=1", f"log_dir={tmp_path / 'hand'}", "progress=false"]) == 0
        assert main(["play", *hand, f"checkpoint={tmp_path / 'hand'}", "record=true", "max_steps=15"]) == 0
    stage = open_twin(twin).stage
    with pytest.raises(StageError, match="no time-sampled joint values"):
        read_joint_trajectory(stage, ROBOT)
    block = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/Block")).GetOrderedXformOps()[0]
    assert len(block.GetTimeSamples()) == 15
