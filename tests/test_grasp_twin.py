"""The grasp pipeline on a twin: trials' physics against the force window, the entry point, and the verbs on a
tiny run (few demonstrations, tiny epochs, one batch of trials)."""

from __future__ import annotations

import json
import math
import tomllib
import warnings

import numpy as np
import pytest
from tasks_support import ROOT, build_twin

from splattwin.errors import InputError

pytestmark = pytest.mark.slow  # a twin and MuJoCo trials: about a minute on the 2-core machine


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> str:
    return str(build_twin(tmp_path_factory.mktemp("grasp_twin")))


@pytest.fixture
def grasp_entry_point(tmp_path, monkeypatch):  # noqa: ANN201
    """The ``splattwin.tasks`` entry points tasks/pyproject.toml declares, installed as a dist-info on the path (the
    venv's tasks install may predate them: ``pip install --no-deps -e tasks`` refreshes it)."""
    declared = tomllib.loads((ROOT / "tasks" / "pyproject.toml").read_text())["project"]["entry-points"]
    info = tmp_path / "splattwin_tasks_grasp_test-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: splattwin_tasks_grasp_test\nVersion: 0.0\n")
    lines = ["[splattwin.tasks]", *(f"{k} = {v}" for k, v in declared["splattwin.tasks"].items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return declared["splattwin.tasks"]


def test_the_resolver_finds_the_grasp_pipeline_through_the_declared_entry_point(grasp_entry_point) -> None:
    from splattwin.cli._tasks import tasks_module, tasks_training

    grasp = tasks_module("grasp")
    assert grasp_entry_point["grasp"] == grasp.__name__ == "splattwin_tasks.grasp.pipeline"
    assert all(callable(getattr(grasp, n)) for n in ("train_policy", "evaluate", "export_onnx", "run_study"))
    assert tasks_training().__name__ == "splattwin_tasks.training"  # train/play still resolve
    with pytest.raises(InputError, match="entry point 'nothing'"):
        tasks_module("nothing")


def test_trials_hold_inside_the_force_window_slip_below_it_and_crush_above_it(twin) -> None:
    from splattwin_tasks.grasp.trials import GraspRuntime

    runtime = GraspRuntime(twin, num_envs=4)
    mass, mu = 0.3, runtime.friction
    holding = mass * 9.81 / (2 * mu)  # the force two pads need; the ceiling is 3x that
    forces = np.array([0.6 * holding, math.sqrt(3) * holding, 4.0 * holding, math.sqrt(3) * holding])
    centres = np.tile(runtime.rest_position, (4, 1))
    centres[3, 2] += 0.2  # the fourth grasp closes 20 cm above the object: on nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = runtime.run(mass, object_xy_m=np.zeros((4, 2)), grasp_centres_m=centres, grip_force_n=forces)
    runtime.close()
    assert out.success.tolist() == [False, True, False, False]
    assert not out.lifted[0] and out.crushed.tolist() == [False, False, True, False]
    assert out.contacts.tolist()[:3] == [2, 2, 2] and out.contacts[3] == 0
    assert out.lift_height_m[1] >= 0.06 and out.slip_m[1] < 0.005
    assert out.joint_targets.shape == (4, 9) and np.allclose(out.joint_targets[:, 7:], 0.04)


def _last_json(text: str) -> dict:
    """The JSON object a verb prints last (after its table)."""
    text = "\n" + text
    return json.loads(text[text.rindex("\n{") + 1 :])


def _main(args: list[str]) -> int:
    from splattwin.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return main(args)


def test_grasp_verbs_on_a_tiny_run(twin, tmp_path, grasp_entry_point, capsys) -> None:  # noqa: ARG001
    pytest.importorskip("onnxruntime")
    out = tmp_path / "run"
    tiny = [f"twin={twin}", "masses=[0.18]", "demos=8", "points=32", "epochs=3", "refine_iterations=1"]
    tiny += ["refine_rollouts=8", "trials=8", "num_envs=8", f"out={out}", "progress=false"]
    assert _main(["grasp-train", *tiny]) == 0
    summary = _last_json(capsys.readouterr().out)
    assert summary["demonstrations"] == 8 and (out / "policy.pt").is_file()
    from splattwin_tasks.grasp.dataset import load_demonstrations

    assert len(load_demonstrations(out / "demonstrations.npz")) == 8
    assert _main(["grasp-eval", *tiny]) == 0
    rows = json.loads((out / "eval.json").read_text())
    assert rows[0]["trials"] == 8 and 0.0 <= rows[0]["success_rate"] <= 1.0 and (out / "eval.png").is_file()
    capsys.readouterr()
    assert _main(["grasp-export", *tiny]) == 0
    exported = _last_json(capsys.readouterr().out)
    assert max(exported["max_abs_difference"].values()) < 1e-4 and (out / "policy.onnx").is_file()


def test_grasp_verbs_refuse_bad_input_in_one_line(twin, tmp_path, grasp_entry_point, capsys) -> None:  # noqa: ARG001
    assert _main(["grasp-train", "masses=[-1]"]) == 2
    assert "masses" in capsys.readouterr().err
    assert _main(["grasp-eval", f"checkpoint={tmp_path / 'none.pt'}"]) == 2
    assert "no such policy checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, format=np.array("splattwin-grasp-v1"), mass_kg=np.ones(2))
    assert _main(["grasp-train", f"twin={twin}", "demos=1", f"demonstrations={bad}", f"out={tmp_path}/o"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "missing arrays" in err and not (tmp_path / "o" / "policy.pt").exists()
    assert _main(["grasp-study", "--seeds", "0"]) == 2
    assert _main(["grasp-train", "nonsense=1"]) == 2
