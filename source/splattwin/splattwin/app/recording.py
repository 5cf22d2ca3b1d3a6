"""Recording a joint trajectory (from the running simulation or a policy rollout) into the stage's time samples.

The Kit layer (or a rollout script) calls :meth:`TrajectoryRecorder.add` once per control step with the joint
values it read; :meth:`TrajectoryRecorder.save` keys them on the robot in the trajectories layer, where they show
on Kit's timeline like an imported file (:mod:`splattwin.robot.trajectories`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.io.trajectory import Trajectory

__all__ = ["TrajectoryRecorder"]


class TrajectoryRecorder:
    """Collects (time [s], joint values [rad or m]) samples for a fixed list of joints."""

    def __init__(self, joint_names: Sequence[str]) -> None:
        self.joint_names = list(joint_names)
        self._times: list[float] = []
        self._rows: list[list[float]] = []

    def __len__(self) -> int:
        return len(self._times)

    def add(self, time_s: float, joints: Mapping[str, float] | Sequence[float]) -> None:
        """One sample: a name -> value mapping (every recorded joint) or values in ``joint_names`` order."""
        if isinstance(joints, Mapping):
            missing = [n for n in self.joint_names if n not in joints]
            if missing:
                raise InputError("recording", f"sample at t={time_s} lacks joints {missing}")
            row = [float(joints[n]) for n in self.joint_names]
        else:
            row = [float(v) for v in joints]
            if len(row) != len(self.joint_names):
                raise InputError("recording", f"sample at t={time_s} has {len(row)} values for {len(self.joint_names)}")
        if self._times and time_s <= self._times[-1]:
            return  # a paused or repeated simulation step: keep the first sample of that time
        self._times.append(float(time_s))
        self._rows.append(row)

    def trajectory(self) -> Trajectory:
        """The samples so far as a validated :class:`Trajectory`."""
        if not self._times:
            raise InputError("recording", "no samples recorded")
        trajectory = Trajectory(
            times=np.asarray(self._times, dtype=np.float64),
            positions=np.asarray(self._rows, dtype=np.float64).reshape(len(self._times), len(self.joint_names)),
            joint_names=list(self.joint_names),
        )
        trajectory.validate("recording")
        return trajectory

    def save(self, stage: Path, robot: str) -> Trajectory:
        """Key the recording on ``robot`` in the twin's trajectories layer, atomically.

        It replaces the robot's whole trajectory (:func:`~splattwin.robot.trajectories.write_joint_trajectory`):
        joints not recorded lose their earlier keys; recorded mimic joints are checked against their master.
        """
        from splattwin.robot.trajectories import write_joint_trajectory  # noqa: PLC0415
        from splattwin.usd.stage import edit_twin  # noqa: PLC0415

        trajectory = self.trajectory()
        with edit_twin(stage, create=False) as twin:
            write_joint_trajectory(twin, robot, trajectory, source="recording")
        return trajectory
