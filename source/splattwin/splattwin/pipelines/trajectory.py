"""``splattwin trajectory import|export|check``: joint trajectories between files and the stage's time samples.

The stage side is :mod:`splattwin.robot.trajectories` (where the samples live and why); the file side is
:mod:`splattwin.io.trajectory` (CSV with a ``time,<joints>`` header, NPZ with ``t``, ``q``, ``joint_names``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splattwin.io.trajectory import Trajectory, read_trajectory, write_trajectory
from splattwin.robot.trajectories import (
    TrajectoryIssue,
    check_trajectory,
    joint_channels,
    read_joint_trajectory,
    resample,
    write_joint_trajectory,
)

__all__ = ["TrajectoryReport", "check_stage_trajectory", "export_trajectory", "import_trajectory", "stage_trajectory"]


@dataclass
class TrajectoryReport:
    """What a trajectory verb did: the trajectory written or read and the problems :func:`check_trajectory` saw.

    ``unkeyed``: after an import, the robot's actuated joints the file does not name; the import replaced the
    robot's whole trajectory, so they lost any earlier keys (renders hold them at 0).
    """

    trajectory: Trajectory
    issues: list[TrajectoryIssue]
    unkeyed: list[str] = field(default_factory=list)


def _check_rate(rate_hz: float | None) -> None:
    if rate_hz is not None and not (rate_hz > 0 and rate_hz < float("inf")):
        from splattwin.errors import InputError  # noqa: PLC0415

        raise InputError("--rate", f"must be a positive number of Hz, got {rate_hz}")


def import_trajectory(file: Path, *, stage: Path, robot: str, rate_hz: float | None = None) -> TrajectoryReport:
    """Read a CSV/NPZ trajectory, optionally resample it, and key it on the robot in the trajectories layer.

    The file replaces the robot's whole trajectory: joints it does not name lose their earlier keys (listed in
    :attr:`TrajectoryReport.unkeyed`). Mimic columns are checked against their master (a warning when they
    disagree) and not keyed.

    Raises:
        InputError: a bad file (unknown joints, NaN, times that do not increase, values that look like degrees)
            or rate (one giving fewer than 2 samples); the stage is untouched.
        StageError: no twin at ``stage`` or no robot at ``robot``; the stage is untouched.
    """
    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    _check_rate(rate_hz)
    trajectory = read_trajectory(file)
    if rate_hz is not None:
        trajectory = resample(trajectory, rate_hz)
    with edit_twin(stage, create=False) as twin:
        unkeyed = write_joint_trajectory(twin, robot, trajectory, source=str(file))
        issues = check_trajectory(trajectory, joint_channels(twin.stage, robot, mimic=True))
    return TrajectoryReport(trajectory=trajectory, issues=issues, unkeyed=unkeyed)


def stage_trajectory(stage: Path, robot: str, *, rate_hz: float | None = None) -> Trajectory:
    """The robot's time-sampled joint trajectory on the twin at ``stage`` (resampled when a rate is given)."""
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    _check_rate(rate_hz)
    trajectory = read_joint_trajectory(open_twin(stage).stage, robot)
    return resample(trajectory, rate_hz) if rate_hz is not None else trajectory


def export_trajectory(
    stage: Path, robot: str, out: Path, *, rate_hz: float | None = None, overwrite: bool = False
) -> TrajectoryReport:
    """Write the stage's joint trajectory to ``out`` (.csv or .npz, atomically), resampled when a rate is given.

    An existing ``out`` is refused unless ``overwrite`` (``--force``).
    """
    from splattwin.io import check_new_outputs  # noqa: PLC0415
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    _check_rate(rate_hz)
    check_new_outputs(out, force=overwrite)
    twin_stage = open_twin(stage).stage
    trajectory = read_joint_trajectory(twin_stage, robot)
    if rate_hz is not None:
        trajectory = resample(trajectory, rate_hz)
    write_trajectory(out, trajectory)
    return TrajectoryReport(
        trajectory=trajectory, issues=check_trajectory(trajectory, joint_channels(twin_stage, robot))
    )


def check_stage_trajectory(stage: Path, robot: str) -> TrajectoryReport:
    """Joint limits, velocity limits and gaps of the robot's time-sampled trajectory on the stage."""
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    twin_stage = open_twin(stage).stage
    trajectory = read_joint_trajectory(twin_stage, robot)
    return TrajectoryReport(
        trajectory=trajectory, issues=check_trajectory(trajectory, joint_channels(twin_stage, robot))
    )
