"""``splattwin train`` / ``play`` on the embedded runtime: the return rises, checkpoints resume, rollouts record."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tasks_support import build_twin

# isort: split
from splattwin.cli import main

ITERATIONS = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    """A short Lift training run (fixed seed), shared by the tests below."""
    root = tmp_path_factory.mktemp("train")
    twin = build_twin(root / "twin")
    log_dir = root / "run"
    args = [
        "train",
        "task=SplatTwin-Lift-Franka-v0",
        "runtime=embedded",
        "num_envs=32",
        f"max_iterations={ITERATIONS}",
        f"twin={twin}",
        f"log_dir={log_dir}",
        "progress=false",
        "seed=3",
    ]
    with pytest.warns(UserWarning, match="MASS NOT IDENTIFIED"):
        assert main(args) == 0
    return twin, log_dir


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite)


@pytest.mark.slow
def test_mean_return_rises_and_logs_are_written(run) -> None:
    _, log_dir = run
    curve = json.loads((log_dir / "curve.json").read_text())
    assert curve["iterations"] == list(range(ITERATIONS))
    first, last = _mean(curve["mean_return"][:4]), _mean(curve["mean_return"][-4:])
    assert last > first + 0.05, (first, last)
    assert list(log_dir.glob("events.out.tfevents.*"))  # TensorBoard
    assert (log_dir / f"model_{ITERATIONS - 1}.pt").is_file()
    assert not [p for p in log_dir.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(run, tmp_path) -> None:
    twin, log_dir = run
    args = ["train", "task=SplatTwin-Lift-Franka-v0", "num_envs=32", f"twin={twin}", f"log_dir={log_dir}"]
    assert main([*args, f"max_iterations={ITERATIONS + 2}", "resume=true", "progress=false"]) == 0
    curve = json.loads((log_dir / "curve.json").read_text())
    assert curve["iterations"] == [ITERATIONS, ITERATIONS + 1]
    assert (log_dir / f"model_{ITERATIONS + 1}.pt").is_file()
    # Starting afresh where checkpoints already are is refused (their numbering would mix).
    assert main([*args, "max_iterations=1", "progress=false"]) == 2
    empty = tmp_path / "empty"
    assert main([*args[:-1], f"log_dir={empty}", "max_iterations=1", "resume=true", "progress=false"]) == 2


@pytest.mark.slow
def test_play_records_the_rollout_as_time_samples(run) -> None:
    import numpy as np
    from pxr import UsdGeom

    from splattwin.usd import open_twin

    twin, log_dir = run
    assert main(["play", "task=SplatTwin-Lift-Franka-v0", f"checkpoint={log_dir}", f"twin={twin}",
                 "num_envs=4", "episodes=8", "record=true"]) == 0  # fmt: skip
    stage = open_twin(twin).stage
    translate = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/Block")).GetOrderedXformOps()[0]
    times = translate.GetTimeSamples()
    assert len(times) > 5 and times[0] == 0
    # The first sample is the object at rest where the twin put it (the world frame, robot base at the origin).
    rest = np.array(translate.Get())  # the default (untimed) value from the objects layer
    np.testing.assert_allclose(np.array(translate.Get(0)), rest, atol=2e-3)
    ee = stage.GetPrimAtPath("/World/Trajectories/SplatTwin_Lift_Franka_v0/ee")
    assert ee and ee.GetCustomDataByKey("splattwin:rollout")["task"] == "SplatTwin-Lift-Franka-v0"
    assert open_twin(twin).layer_of("/World/Trajectories") == "trajectories"


@pytest.mark.slow
def test_play_rolls_out_on_the_robot_model_the_policy_was_trained_with(run, tmp_path) -> None:
    from splattwin_tasks.training import PlayConfig, TrainConfig, play, train

    twin, _ = run
    hand_run = tmp_path / "hand"
    common = {"task": "SplatTwin-Push-Franka-v0", "twin": str(twin), "num_envs": 2}
    with pytest.warns(UserWarning, match="MASS NOT IDENTIFIED"):
        hand = {"robot_model": "hand"}
        train(TrainConfig(**common, max_iterations=1, log_dir=str(hand_run), env=hand, progress=False))
        played = play(PlayConfig(**common, checkpoint=str(hand_run), episodes=1))
        assert played["robot_model"] == "hand"
        assert played["num_envs"] == 2  # play builds the env count asked (its default is 16)
        asked = PlayConfig(**common, checkpoint=str(hand_run), episodes=1, env={"robot_model": "arm"})
        assert play(asked)["robot_model"] == "arm"


def test_bad_overrides_are_one_line_errors(tmp_path, capsys) -> None:
    assert main(["train", "num_envs=many"]) == 2
    assert "num_envs" in capsys.readouterr().err
    assert main(["train", "num_envs=0"]) == 2
    assert "num_envs: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["train", "task=SplatTwin-Nope-v0", f"twin={tmp_path}/missing.usda"]) == 2
    assert "unknown task id 'SplatTwin-Nope-v0'" in capsys.readouterr().err
    assert main(["train", "learning_rate=0.1"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main(["play", "task=SplatTwin-Push-Franka-v0", f"checkpoint={tmp_path}"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
