"""Pixel-gradient control (Dr. Robot's second use): joint motions that bring the robot's rendering onto a target.

The goal configuration minimises the same render-and-compare loss as pose estimation
(:func:`splattwin.vision.pose.pose_loss`: silhouette pyramid + photometric) against a target image or mask, by
Adam through the rasterizer and the kinematics, starting from the current joints, plus a pull
``reg * ||q - q_start||^2`` that picks, among configurations that look alike, the one nearest to where the robot
is. The motion from the start to that goal is a minimum-jerk (quintic) time scaling of the straight joint-space
segment: zero velocity and acceleration at both ends, and inside the joint limits because the goal is
projected onto them and the box of limits is convex.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.vision.pose import FitOptions, PoseFit, estimate_pose

if TYPE_CHECKING:
    from splattwin.render.camera import Camera
    from splattwin.robot.kinematics import Robot

__all__ = ["ReachPlan", "minimum_jerk", "reach_image"]


@dataclass
class ReachPlan:
    """A motion onto a target image.

    Attributes:
        times: [T] seconds from 0 to the duration.
        positions: [T, dof] joint values (rad or m), within the limits.
        fit: the goal's fit (its residual, IoU, convergence against the target).
    """

    times: np.ndarray
    positions: np.ndarray
    fit: PoseFit


def minimum_jerk(q_start: np.ndarray, q_goal: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``q_start + (q_goal - q_start) * s(t / T)`` with ``s = 10 u^3 - 15 u^4 + 6 u^5``.

    Args:
        q_start, q_goal: [dof].
        times: [T] increasing, from 0 to the duration T.

    Returns:
        [T, dof] positions; velocity and acceleration are zero at both ends.
    """
    u = (np.asarray(times, np.float64) - times[0]) / max(float(times[-1] - times[0]), 1e-12)
    s = 10 * u**3 - 15 * u**4 + 6 * u**5
    return np.asarray(q_start)[None] + s[:, None] * (np.asarray(q_goal) - np.asarray(q_start))[None]


def reach_image(
    robot: Robot,
    cameras: list[Camera],
    targets: np.ndarray,
    masks: np.ndarray,
    q_start: np.ndarray,
    *,
    duration: float = 2.0,
    rate_hz: float = 50.0,
    reg: float = 1e-3,
    options: FitOptions | None = None,
    progress: Any = None,
) -> ReachPlan:
    """A smooth joint motion from ``q_start`` to the configuration whose rendering matches the targets.

    Args:
        robot: a robot with bound Gaussians.
        cameras: C cameras of the targets.
        targets: [C, H, W, 3] target images in [0, 1] (their background colour is used behind the robot).
        masks: [C, H, W] bool, where the robot should be.
        q_start: current joints [dof].
        duration: motion time [s].
        rate_hz: samples per second of the output.
        reg: weight of the pull towards ``q_start``.
        options: fit settings (``smooth`` is replaced by ``reg``).
        progress: optional callable(step, total).

    Returns:
        the :class:`ReachPlan`; check ``plan.fit.converged`` before sending it to a robot.
    """
    from splattwin.errors import InputError  # noqa: PLC0415

    if not duration > 0 or not rate_hz > 0:
        raise InputError("--duration", f"duration and rate must be positive, got {duration} s at {rate_hz} Hz")
    q_start = np.asarray(q_start, np.float64)
    options = replace(options or FitOptions(), smooth=reg)
    fit = estimate_pose(robot, cameras, targets, masks, q_start, options, q_prior=q_start, progress=progress)
    samples = max(int(round(duration * rate_hz)) + 1, 2)
    times = np.linspace(0.0, duration, samples)
    limits = robot.joint_limits.numpy()
    start = np.clip(q_start, limits[:, 0], limits[:, 1])
    return ReachPlan(times=times, positions=minimum_jerk(start, fit.q, times), fit=fit)
