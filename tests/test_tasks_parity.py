"""The parity comparison (``splattwin_tasks.parity``) against hand-made recordings with known differences, and the
push script's direction. The Newton recording itself is measured by ``python -m splattwin_tasks.parity`` in
``.venv-isaaclab`` (docs/tasks.md, "Parity between runtimes")."""

from __future__ import annotations

import numpy as np
import pytest
from tasks_support import ROOT  # noqa: F401  (puts tasks/ on the path)

# isort: split
from splattwin_tasks.parity import FREE_STEPS, compare, push_action


def _recording(steps: int, start: np.ndarray, tilt_deg: float = 0.0) -> dict[str, np.ndarray]:
    t = np.arange(steps + 1, dtype=np.float64)
    ee = start + np.stack([0.001 * t, 0.002 * t, np.zeros_like(t)], 1)
    obj = np.tile([0.45, 0.12, 0.025], (steps + 1, 1))
    half = np.deg2rad(np.linspace(0.0, tilt_deg, steps + 1)) / 2  # a growing rotation about x
    quat = np.stack([np.cos(half), np.sin(half), np.zeros_like(half), np.zeros_like(half)], 1)
    return {"ee": ee, "object_pos": obj, "object_quat_wxyz": quat, "dt": np.asarray(0.02)}


def test_compare_measures_paths_relative_to_each_start() -> None:
    steps = FREE_STEPS + 5
    a = _recording(steps, np.array([0.37, 0.18, 0.0235]))
    b = _recording(steps, np.array([0.40, 0.18, 0.0235]), tilt_deg=12.0)  # 3 cm further, same path
    b["ee"][-1] += [0.0, 0.004, 0.003]  # 5 mm off at the end of the push only (3-4-5)
    b["object_pos"][-1] += [0.006, 0.0, -0.008]  # the block 1 cm off at the end, 8 mm lower
    out = compare(a, b)
    assert out["hand_start_m"] == pytest.approx(0.03)
    assert out["hand_free_path_max_m"] == pytest.approx(0.0, abs=1e-12)
    assert out["hand_path_max_m"] == pytest.approx(0.005)
    assert out["object_final_m"] == pytest.approx(0.01)
    assert out["object_height_drift_b_m"] == pytest.approx(0.008)
    assert out["object_tilt_a_deg"] == pytest.approx(0.0, abs=1e-6)
    assert out["object_tilt_b_deg"] == pytest.approx(12.0)
    # q and -q are one rotation: flipping the sign of some samples changes nothing.
    b["object_quat_wxyz"][1::2] *= -1
    assert compare(a, b)["object_tilt_b_deg"] == pytest.approx(12.0)


def test_push_action_is_a_unit_step_towards_the_object() -> None:
    action = push_action(np.array([0.37, 0.20]), np.array([0.45, 0.14]))
    assert np.allclose(action, [0.8, -0.6])
