"""Joint trajectories and object poses as USD time samples in the twin's ``trajectories`` layer.

Where the samples live (docs/extension.md, "Trajectories in the stage"):

- Joint values: one ``double`` attribute per actuated joint on the robot prim, ``splattwin:joint:<joint prim
  name>``, in SI units (rad for revolute/continuous joints, m for prismatic ones), its ``customData`` naming the
  URDF joint. Not the drive targets: ``drive:angular:physics:targetPosition`` is a ``float`` in degrees, so a
  radian trajectory would not survive the round trip exactly, and one attribute per joint on the robot prim puts
  every channel of the robot under one selection in Kit's timeline and curve editor. Replaying in simulation
  copies the values to the drive targets each step (degrees for angular drives).
- Object poses: time samples on the object's own ``xformOp:translate`` and ``xformOp:orient`` (the ops
  ``import-mesh --dynamic`` authors), written in the ``trajectories`` layer, which is stronger than the
  ``objects`` layer, so the static pose stays untouched underneath.
- Time: time code = seconds x ``timeCodesPerSecond``. The rate is the trajectory's own when its times are
  multiples of its step and survive ``t * rate / rate`` exactly (keys then sit on whole frames of Kit's
  timeline), else 1 (time codes are seconds). ``timeCodesPerSecond``, ``framesPerSecond``, ``startTimeCode`` and
  ``endTimeCode`` are set on the trajectories layer and, as metadata only, on the root layer (the timeline reads
  them there, and USD would rescale a sublayer whose rate differed from the root's).

Writing replaces the robot's whole trajectory: a joint the new trajectory does not name loses its earlier keys in
the trajectories layer (two trajectories are never merged; it is then unkeyed: renders hold it at 0, replay leaves
its drive alone). A mimic joint (URDF ``<mimic>``, e.g. pybullet's ``panda_finger_joint2``) is accepted in a
trajectory but not keyed: its value follows its master (``multiplier * master + offset``); a column that
disagrees with that by more than :data:`MIMIC_TOLERANCE` gets a warning, and a mimic column without its master
keys the master from it. Values that look like degrees (beyond a full turn, outside a revolute joint's limits,
inside them once read as degrees) are refused (:func:`degrees_suspicion`).

Reading composes the stage, so samples a person edited in the stage editor (in any layer) are what comes back;
channels keyed at different times are read at the union of their key times with USD's linear interpolation.
:func:`resample` brings a trajectory to a control rate, :func:`check_trajectory` reports joint-limit, velocity and
gap problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.io.trajectory import Trajectory

if TYPE_CHECKING:
    from pxr import Usd

    from splattwin.usd.stage import TwinStage

__all__ = [
    "JOINT_ATTRIBUTE_PREFIX",
    "MIMIC_TOLERANCE",
    "JointChannel",
    "TrajectoryIssue",
    "check_joint_values",
    "check_trajectory",
    "clear_joint_trajectory",
    "degrees_suspicion",
    "drive_targets",
    "fold_mimic_columns",
    "joint_channels",
    "read_joint_trajectory",
    "read_object_poses",
    "resample",
    "robot_file_trajectory",
    "time_codes_per_second",
    "write_joint_trajectory",
    "write_object_poses",
]

JOINT_ATTRIBUTE_PREFIX = "splattwin:joint:"
_URDF_NAME_KEY = "splattwin:urdfName"
MIMIC_TOLERANCE = {"revolute": 1e-2, "continuous": 1e-2, "prismatic": 1e-3}
"""Largest disagreement (rad, m) of a mimic column with ``multiplier * master + offset`` that passes silently:
about half a degree, a millimetre (a simulator's soft mimic constraint sits well inside; a wrong column not)."""


@dataclass
class JointChannel:
    """An actuated joint of a robot on the stage and where its trajectory samples live.

    Attributes:
        name: the URDF joint name (the name trajectory files use).
        attribute: the robot prim's attribute holding its samples, ``splattwin:joint:<joint prim name>``.
        type: revolute, continuous or prismatic.
        lower: lower limit, rad or m (-inf when unlimited).
        upper: upper limit, rad or m (+inf when unlimited).
        max_velocity: URDF velocity limit, rad/s or m/s (inf when the URDF gives none).
        mimic: ``(master joint name, multiplier, offset)`` for a mimic joint (its value is
            ``multiplier * master + offset``; never keyed), None for an actuated joint.
    """

    name: str
    attribute: str
    type: str
    lower: float = -np.inf
    upper: float = np.inf
    max_velocity: float = np.inf
    mimic: tuple[str, float, float] | None = None


@dataclass
class TrajectoryIssue:
    """One problem :func:`check_trajectory` found: kind is ``limit``, ``velocity`` or ``gap``."""

    kind: str
    message: str
    joint: str | None = None
    sample: int | None = None


def _stage_name(stage: Usd.Stage) -> str:
    return stage.GetRootLayer().identifier


def joint_channels(stage: Usd.Stage, robot_prim: str, *, mimic: bool = False) -> list[JointChannel]:
    """The robot's actuated (non-fixed, non-mimic) joints with limits from the stage.

    Args:
        stage: the composed stage.
        robot_prim: the robot's prim path.
        mimic: also list the mimic joints (after the actuated ones, ``mimic`` set): the names a trajectory
            file may use.

    Raises:
        StageError: the stage has no robot at ``robot_prim`` (the message lists the robots it has).
    """
    from splattwin.robot.usd_robot import find_robots, read_robot_spec  # noqa: PLC0415

    robots = find_robots(stage)
    if robot_prim not in robots:
        found = f"robots on it: {robots}" if robots else "it has no robot (import one with import-robot)"
        raise StageError(_stage_name(stage), f"no robot at {robot_prim}; {found}")
    spec = read_robot_spec(stage, robot_prim)
    by_name = {joint.name: joint for joint in spec.joints}
    channels = []
    mimics = []
    scope = stage.GetPrimAtPath(f"{robot_prim}/joints")
    for prim in scope.GetChildren() if scope else []:
        name = str(prim.GetCustomDataByKey(_URDF_NAME_KEY) or prim.GetName())
        joint = by_name.get(name)
        if joint is None or joint.type == "fixed" or (joint.mimic is not None and not mimic):
            continue
        velocity = prim.GetAttribute("splattwin:maxVelocity")
        max_velocity = velocity.Get() if velocity and velocity.HasAuthoredValue() else None
        (mimics if joint.mimic is not None else channels).append(
            JointChannel(
                name=name,
                attribute=f"{JOINT_ATTRIBUTE_PREFIX}{prim.GetName()}",
                type=joint.type,
                lower=joint.lower,
                upper=joint.upper,
                max_velocity=float(max_velocity) if max_velocity else np.inf,
                mimic=joint.mimic,
            )
        )
    return channels + mimics


def fold_mimic_columns(
    trajectory: Trajectory, channels: list[JointChannel], *, source: str | None = None
) -> tuple[Trajectory, list[str]]:
    """The trajectory over actuated joints only: mimic columns checked against their master and dropped.

    Args:
        trajectory: times [T] s, positions [T, dof] rad or m.
        channels: :func:`joint_channels` with ``mimic=True`` (joints not among them are kept as they are).
        source: named in the messages.

    Returns:
        The folded trajectory and one message per mimic column that disagrees with ``multiplier * master +
        offset`` by more than :data:`MIMIC_TOLERANCE` (the caller warns), or whose master it keyed.
    """
    by_name = {c.name: c for c in channels}
    names = list(trajectory.joint_names)
    positions = np.asarray(trajectory.positions, dtype=np.float64)
    mimics = {name: by_name[name] for name in names if name in by_name and by_name[name].mimic is not None}
    keep = [k for k, name in enumerate(names) if name not in mimics]
    kept_names = [names[k] for k in keep]
    columns = [positions[:, k] for k in keep]
    notes = []
    where = f"{source}: " if source else ""
    for k, name in enumerate(names):
        channel = mimics.get(name)
        if channel is None:
            continue
        master, multiplier, offset = channel.mimic
        unit = "m" if channel.type == "prismatic" else "rad"
        if master in names:
            master_values = positions[:, names.index(master)]
            expected = multiplier * master_values + offset
            error = np.abs(positions[:, k] - expected)
            worst = int(np.argmax(error))
            if error[worst] > MIMIC_TOLERANCE[channel.type]:
                notes.append(
                    f"{where}mimic joint {name} = {positions[worst, k]:.6g} {unit} at "
                    f"t={trajectory.times[worst]:.6g} s disagrees with its master {master} ({multiplier:g} x "
                    f"{master_values[worst]:.6g} + {offset:g} = {expected[worst]:.6g} {unit}) by "
                    f"{error[worst]:.3g} {unit} ({int((error > MIMIC_TOLERANCE[channel.type]).sum())} samples); "
                    f"{name} follows {master}"
                )
        elif master not in kept_names and multiplier != 0:
            kept_names.append(master)
            columns.append((positions[:, k] - offset) / multiplier)
            notes.append(f"{where}{master} keyed from its mimic joint {name} (the file has no {master} column)")
    folded = Trajectory(
        times=np.asarray(trajectory.times, dtype=np.float64),
        positions=np.stack(columns, axis=1) if columns else np.empty((len(trajectory.times), 0)),
        joint_names=kept_names,
    )
    return folded, notes


def degrees_suspicion(names: list[str], positions: np.ndarray, channels: list[JointChannel]) -> str | None:
    """A message when joint values look like degrees, else None.

    They look like degrees when a revolute joint with limits has a value past them and beyond a full turn (|q| >
    2 pi: no radian value of a joint limited within a turn gets there, a tracking overshoot included) while every
    value of the limited revolute joints, read as degrees, is within its joint's limits.

    Args:
        names: [dof] joint names (unknown ones are ignored).
        positions: [T, dof] the values as given (meant as rad or m).
        channels: the robot's joints with limits (:func:`joint_channels`).
    """
    by_name = {c.name: c for c in channels}
    positions = np.atleast_2d(np.asarray(positions, dtype=np.float64))
    revolute = [
        (k, by_name[n])
        for k, n in enumerate(names)
        if n in by_name and by_name[n].type == "revolute" and np.isfinite([by_name[n].lower, by_name[n].upper]).all()
    ]
    worst: tuple[float, int, int] | None = None
    for k, channel in revolute:
        q = positions[:, k]
        excess = np.maximum(channel.lower - q, q - channel.upper)
        i = int(np.argmax(excess))
        if excess[i] > 0 and abs(q[i]) > 2 * np.pi and (worst is None or excess[i] > worst[0]):
            worst = (float(excess[i]), k, i)
        as_radians = np.radians(q)
        if ((as_radians < channel.lower - 1e-6) | (as_radians > channel.upper + 1e-6)).any():
            return None  # not degrees either: the limit check reports what is wrong
    if worst is None:
        return None
    _, k, i = worst
    channel = by_name[names[k]]
    value = positions[i, k]
    return (
        f"degrees? the values look like degrees: {channel.name} = {value:.6g} is far outside its limits "
        f"[{channel.lower:.4g}, {channel.upper:.4g}] rad, and {value:.6g} deg = {np.radians(value):.4g} rad is "
        f"inside; every value read as degrees is within its joint's limits. Joint values are radians "
        "(prismatic: metres): convert with numpy.radians"
    )


def check_joint_values(stage: Usd.Stage, names: Sequence[str], positions: np.ndarray, *, source: str) -> None:
    """Refuse joint values for the robots on the stage that look like degrees (:func:`degrees_suspicion`).

    Args:
        stage: the composed stage.
        names: [dof] joint names (of any robot on the stage).
        positions: [dof] or [T, dof] values, meant as rad or m.
        source: the file or flag the values came from, named in the error.

    Raises:
        InputError: naming ``source``, when the values look like degrees.
    """
    from splattwin.robot.usd_robot import find_robots  # noqa: PLC0415

    positions = np.atleast_2d(np.asarray(positions, dtype=np.float64))
    for robot in find_robots(stage):
        message = degrees_suspicion(list(names), positions, joint_channels(stage, robot, mimic=True))
        if message:
            raise InputError(source, message)


def robot_file_trajectory(
    stage: Usd.Stage, trajectory: Trajectory, *, source: str, known: Sequence[str] = ()
) -> Trajectory:
    """A file's trajectory for posing the stage's robots: names checked, degrees refused, mimic columns folded.

    Every joint must be a joint (actuated or mimic) of a robot on the stage, or one of ``known`` (the movable
    joints the caller's kinematics poses); mimic columns are checked against their master (a warning on
    disagreement, :func:`fold_mimic_columns`) and dropped, since kinematics derives them from the master.

    Raises:
        InputError: naming ``source``: unknown joints, or values that look like degrees.
    """
    from splattwin.robot.usd_robot import find_robots  # noqa: PLC0415

    channels = [c for robot in find_robots(stage) for c in joint_channels(stage, robot, mimic=True)]
    return _checked_and_folded(trajectory, channels, source=source, known=known)


def _checked_and_folded(
    trajectory: Trajectory, channels: Sequence[Any], *, source: str, known: Sequence[str] = ()
) -> Trajectory:
    """``trajectory`` with its names checked against ``channels`` (and ``known``), degrees refused and mimic
    columns folded into their masters (a warning for each disagreement)."""
    import warnings  # noqa: PLC0415

    trajectory.validate(source, known_joints=[*known, *(c.name for c in channels)])
    suspicion = degrees_suspicion(trajectory.joint_names, trajectory.positions, channels)
    if suspicion:
        raise InputError(source, suspicion)
    folded, notes = fold_mimic_columns(trajectory, channels, source=source)
    for note in notes:
        warnings.warn(note, stacklevel=3)
    return folded


def time_codes_per_second(times: np.ndarray) -> float:
    """The time-code rate for ``times`` [T] s: the sample rate when keys land on whole frames exactly, else 1."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) > 1:
        rate = float(round(1.0 / float(np.median(np.diff(times)))))
        if rate >= 1.0 and np.array_equal(np.round(times * rate) / rate, times):
            return rate
    return 1.0


def _time_codes(times: np.ndarray, rate: float) -> np.ndarray:
    """Codes for ``times`` [T] s that give the times back exactly as ``code / rate`` (whole frames when possible)."""
    whole = np.round(times * rate)
    return whole if np.array_equal(whole / rate, times) else times * rate


def _set_timing(layer: object, rate: float, start: float, end: float) -> None:
    layer.timeCodesPerSecond = rate
    layer.framesPerSecond = rate
    layer.startTimeCode = start
    layer.endTimeCode = end


def _timing_for(twin: TwinStage, times: np.ndarray) -> float:
    """The rate to key ``times`` at: the stage's current rate when it keeps them exact, else a new one."""
    current = twin.stage.GetTimeCodesPerSecond()
    if _has_samples(twin) and np.array_equal(_time_codes(times, current) / current, times):
        return current
    return time_codes_per_second(times)


def _has_samples(twin: TwinStage) -> bool:
    layer = twin.layers["trajectories"]
    found = []

    def visit(path: object) -> None:
        if not found and path.IsPropertyPath() and layer.ListTimeSamplesForPath(path):
            found.append(path)

    layer.Traverse(layer.pseudoRoot.path, visit)
    return bool(found)


def _apply_timing(twin: TwinStage, rate: float, times: np.ndarray) -> None:
    """Set the rate and extend the play range to cover ``times`` on the trajectories and root layers."""
    stage = twin.stage
    same_rate = stage.GetTimeCodesPerSecond() == rate
    codes = _time_codes(times, rate)
    start, end = float(codes[0]), float(codes[-1])
    if same_rate and stage.HasAuthoredTimeCodeRange():
        start, end = min(start, stage.GetStartTimeCode()), max(end, stage.GetEndTimeCode())
    for layer in (twin.layers["trajectories"], twin.root_layer):
        _set_timing(layer, rate, start, end)


def write_joint_trajectory(
    twin: TwinStage, robot_prim: str, trajectory: Trajectory, *, source: str | None = None
) -> list[str]:
    """Key ``trajectory`` on the robot's joint attributes in the trajectories layer, replacing its whole trajectory.

    Mimic columns are checked against their master and not keyed (:func:`fold_mimic_columns`, which warns on a
    disagreement); the robot's joints the trajectory does not name lose their earlier keys in this layer.

    Args:
        twin: an open twin inside :func:`splattwin.usd.edit_twin`.
        robot_prim: the robot's prim path.
        trajectory: times [T] s, positions [T, dof] rad or m; every joint must be a joint (actuated or mimic) of
            the robot.
        source: the file the trajectory came from, named in errors.

    Returns:
        The robot's actuated joints that are now unkeyed (not in the trajectory), whose earlier keys were removed.

    Raises:
        StageError: no robot at ``robot_prim``.
        InputError: unknown joint names, NaN, non-increasing times, values that look like degrees (nothing is
            authored then).
    """
    import warnings  # noqa: PLC0415

    from pxr import Sdf  # noqa: PLC0415

    all_channels = joint_channels(twin.stage, robot_prim, mimic=True)
    trajectory = _checked_and_folded(trajectory, all_channels, source=source)
    channels = {c.name: c for c in all_channels if c.mimic is None}
    unkeyed = [name for name in channels if name not in trajectory.joint_names]
    times = np.asarray(trajectory.times, dtype=np.float64)
    positions = np.asarray(trajectory.positions, dtype=np.float64)
    rate = _timing_for(twin, times)
    codes = _time_codes(times, rate).tolist()
    layer = twin.layers["trajectories"]
    with twin.edit_layer("trajectories") as stage:
        robot = stage.GetPrimAtPath(robot_prim)
        attributes = []
        for name in trajectory.joint_names:
            attribute = robot.CreateAttribute(channels[name].attribute, Sdf.ValueTypeNames.Double, custom=True)
            attribute.SetCustomDataByKey(_URDF_NAME_KEY, name)
            attributes.append(attribute.GetPath())
        _apply_timing(twin, rate, times)
        # Sdf-level writes in one change block: per-sample UsdAttribute.Set would notify 70,000 times.
        with Sdf.ChangeBlock():
            for name in unkeyed:  # the whole trajectory is replaced: no older keys of another file stay
                spec = layer.GetAttributeAtPath(Sdf.Path(robot_prim).AppendProperty(channels[name].attribute))
                if spec is not None:
                    spec.ClearInfo("timeSamples")
            for column, path in enumerate(attributes):
                spec = layer.GetAttributeAtPath(path)
                spec.ClearInfo("timeSamples")
                values = positions[:, column].tolist()
                for code, value in zip(codes, values, strict=True):
                    layer.SetTimeSample(path, code, value)
    # Keys a person wrote into the root layer are stronger and stay (it is theirs): say that they hide these.
    root = twin.root_layer
    hidden = [
        name
        for name, channel in channels.items()
        if root.ListTimeSamplesForPath(Sdf.Path(robot_prim).AppendProperty(channel.attribute))
    ]
    if hidden:
        warnings.warn(
            f"{root.identifier}: the root layer has its own keys for {hidden} on {robot_prim} (an edit made with "
            "the root layer as the authoring layer); they hide the trajectories layer's, so those joints do not "
            "follow this trajectory until they are removed there",
            stacklevel=2,
        )
    return unkeyed


def clear_joint_trajectory(twin: TwinStage, robot_prim: str) -> list[str]:
    """Remove the robot's joint keys from the trajectories layer (a recording without joints replaces one with).

    Returns:
        The joints whose keys were removed.

    Raises:
        StageError: no robot at ``robot_prim``.
    """
    from pxr import Sdf  # noqa: PLC0415

    layer = twin.layers["trajectories"]
    cleared = []
    with Sdf.ChangeBlock():
        for channel in joint_channels(twin.stage, robot_prim):
            spec = layer.GetAttributeAtPath(Sdf.Path(robot_prim).AppendProperty(channel.attribute))
            if spec is not None and layer.ListTimeSamplesForPath(spec.path):
                spec.ClearInfo("timeSamples")
                cleared.append(channel.name)
    return cleared


def read_joint_trajectory(stage: Usd.Stage, robot_prim: str) -> Trajectory:
    """Read the robot's keyed joint attributes back as a trajectory (columns in the robot's joint order).

    Raises:
        StageError: no robot at ``robot_prim``, or none of its joints has time samples.
    """
    channels = joint_channels(stage, robot_prim)
    robot = stage.GetPrimAtPath(robot_prim)
    keyed = []
    for channel in channels:
        attribute = robot.GetAttribute(channel.attribute)
        if attribute and attribute.GetNumTimeSamples() > 0:
            keyed.append((channel, attribute))
    if not keyed:
        raise StageError(_stage_name(stage), f"robot {robot_prim} has no time-sampled joint values (import one)")
    key_lists = [np.asarray(attribute.GetTimeSamples(), dtype=np.float64) for _, attribute in keyed]
    codes = key_lists[0]
    if not all(np.array_equal(codes, keys) for keys in key_lists[1:]):
        codes = np.unique(np.concatenate(key_lists))
    positions = np.empty((len(codes), len(keyed)), dtype=np.float64)
    code_list = codes.tolist()
    for column, (_, attribute) in enumerate(keyed):
        positions[:, column] = [attribute.Get(code) for code in code_list]
    times = codes / stage.GetTimeCodesPerSecond()
    trajectory = Trajectory(times=times, positions=positions, joint_names=[c.name for c, _ in keyed])
    trajectory.validate(f"{_stage_name(stage)}:{robot_prim}")
    return trajectory


def drive_targets(stage: Usd.Stage, robot_prim: str, time_code: float) -> dict[str, float]:
    """Drive targets that replay the keyed joint values at ``time_code``: joint prim path -> target.

    In the units of ``UsdPhysics.DriveAPI`` ``targetPosition``: degrees for revolute / continuous joints, metres
    for prismatic ones. Joints without samples are left out.
    """
    robot = stage.GetPrimAtPath(robot_prim)
    targets = {}
    for channel in joint_channels(stage, robot_prim):
        attribute = robot.GetAttribute(channel.attribute)
        if not attribute or attribute.GetNumTimeSamples() == 0:
            continue
        value = float(attribute.Get(time_code))
        joint_path = f"{robot_prim}/joints/{channel.attribute[len(JOINT_ATTRIBUTE_PREFIX) :]}"
        targets[joint_path] = value if channel.type == "prismatic" else float(np.degrees(value))
    return targets


def resample(trajectory: Trajectory, rate_hz: float) -> Trajectory:
    """Linear interpolation at ``t0 + k / rate_hz`` for every k with the time within the trajectory.

    Linear, not a spline: it never overshoots, so a trajectory inside its joint limits stays inside them.

    Raises:
        InputError: a rate that is not a positive finite number, or one too low to give two samples over the
            trajectory's span (below ``1 / span``: the motion would collapse to its first sample).
    """
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise InputError("--rate", f"must be a positive number of Hz, got {rate_hz}")
    times = np.asarray(trajectory.times, dtype=np.float64)
    span = float(times[-1] - times[0])
    count = int(np.floor(span * rate_hz + 1e-9)) + 1
    if len(times) > 1 and count < 2:
        raise InputError(
            "--rate",
            f"{rate_hz:g} Hz gives {count} sample over the trajectory's {span:.6g} s span "
            f"({len(times)} samples); use at least {1.0 / span:.6g} Hz (1 / span) to keep its motion",
        )
    new_times = times[0] + np.arange(count, dtype=np.float64) / rate_hz
    positions = np.stack([np.interp(new_times, times, column) for column in trajectory.positions.T], axis=1)
    return Trajectory(times=new_times, positions=positions, joint_names=list(trajectory.joint_names))


def check_trajectory(
    trajectory: Trajectory, channels: list[JointChannel], *, gap_factor: float = 3.0
) -> list[TrajectoryIssue]:
    """Joint-limit, velocity-limit and gap problems of a trajectory, one issue per joint and kind (the worst).

    Args:
        trajectory: times [T] s, positions [T, dof] rad or m.
        channels: the robot's joints (:func:`joint_channels`) with limits.
        gap_factor: a step longer than this many times the median step is a gap.
    """
    by_name = {c.name: c for c in channels}
    times = np.asarray(trajectory.times, dtype=np.float64)
    issues = []
    for column, name in enumerate(trajectory.joint_names):
        channel = by_name[name]
        unit = "m" if channel.type == "prismatic" else "rad"
        q = trajectory.positions[:, column]
        excess = np.maximum(channel.lower - q, q - channel.upper)
        if (excess > 1e-9).any():
            i = int(np.argmax(excess))
            issues.append(
                TrajectoryIssue(
                    kind="limit",
                    joint=name,
                    sample=i,
                    message=f"{name} = {q[i]:.6g} {unit} at t={times[i]:.6g} s is outside its limits "
                    f"[{channel.lower:.6g}, {channel.upper:.6g}] ({int((excess > 1e-9).sum())} samples)",
                )
            )
        if len(times) > 1 and np.isfinite(channel.max_velocity):
            speed = np.abs(np.diff(q) / np.diff(times))
            over = speed > channel.max_velocity * (1 + 1e-9)
            if over.any():
                i = int(np.argmax(speed))
                issues.append(
                    TrajectoryIssue(
                        kind="velocity",
                        joint=name,
                        sample=i,
                        message=f"{name} moves at {speed[i]:.6g} {unit}/s between t={times[i]:.6g} and "
                        f"{times[i + 1]:.6g} s, over its limit {channel.max_velocity:.6g} {unit}/s "
                        f"({int(over.sum())} steps)",
                    )
                )
    if len(times) > 2:
        steps = np.diff(times)
        median = float(np.median(steps))
        long = steps > gap_factor * median
        if long.any():
            i = int(np.argmax(steps))
            issues.append(
                TrajectoryIssue(
                    kind="gap",
                    sample=i,
                    message=f"gap of {steps[i]:.6g} s after t={times[i]:.6g} s ({steps[i] / median:.1f}x the median "
                    f"step {median:.6g} s; {int(long.sum())} gaps)",
                )
            )
    return issues


def _pose_ops(stage: Usd.Stage, prim_path: str) -> tuple[object, object]:
    from pxr import UsdGeom  # noqa: PLC0415

    prim = stage.GetPrimAtPath(prim_path)
    if not prim:
        raise StageError(_stage_name(stage), f"no prim at {prim_path}")
    ops = {op.GetOpName(): op for op in UsdGeom.Xformable(prim).GetOrderedXformOps()}
    if set(ops) != {"xformOp:translate", "xformOp:orient"}:
        raise StageError(
            _stage_name(stage), f"{prim_path} must have exactly translate and orient ops (import-mesh --dynamic)"
        )
    return ops["xformOp:translate"].GetAttr(), ops["xformOp:orient"].GetAttr()


def write_object_poses(
    twin: TwinStage, prim_path: str, times: np.ndarray, positions: np.ndarray, quats_wxyz: np.ndarray
) -> None:
    """Key an object's pose in the trajectories layer.

    Args:
        twin: an open twin inside :func:`splattwin.usd.edit_twin`.
        prim_path: a body prim with translate + orient ops.
        times: [T] s, strictly increasing.
        positions: parent frame [m], shape [T, 3].
        quats_wxyz: parent frame, shape [T, 4] (normalised here).
    """
    from pxr import Gf, Sdf  # noqa: PLC0415

    times = np.asarray(times, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    quats = np.asarray(quats_wxyz, dtype=np.float64)
    if positions.shape != (len(times), 3) or quats.shape != (len(times), 4) or len(times) == 0:
        raise InputError(prim_path, f"poses need shapes [T,3] and [T,4], got {positions.shape} and {quats.shape}")
    if not (np.isfinite(positions).all() and np.isfinite(quats).all() and (np.diff(times) > 0).all()):
        raise InputError(prim_path, "poses must be finite and times strictly increasing")
    quats = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    translate, orient = _pose_ops(twin.stage, prim_path)
    rate = _timing_for(twin, times)
    quat_type = Gf.Quatd if orient.GetTypeName() == Sdf.ValueTypeNames.Quatd else Gf.Quatf
    layer = twin.layers["trajectories"]
    with twin.edit_layer("trajectories"):
        for attribute in (translate, orient):  # an over in this layer; the ops' default stays in the objects layer
            attribute.Set(attribute.Get())
        _apply_timing(twin, rate, times)
        with Sdf.ChangeBlock():
            for path in (translate.GetPath(), orient.GetPath()):
                layer.GetAttributeAtPath(path).ClearInfo("timeSamples")
            codes = _time_codes(times, rate).tolist()
            for code, p, q in zip(codes, positions.tolist(), quats.tolist(), strict=True):
                layer.SetTimeSample(translate.GetPath(), code, Gf.Vec3d(*p))
                layer.SetTimeSample(orient.GetPath(), code, quat_type(*q))


def read_object_poses(stage: Usd.Stage, prim_path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An object's keyed pose: times [T] s, positions [T, 3] m and quats_wxyz [T, 4] in its parent's frame."""
    translate, orient = _pose_ops(stage, prim_path)
    codes = sorted(set(translate.GetTimeSamples()) | set(orient.GetTimeSamples()))
    if not codes:
        raise StageError(_stage_name(stage), f"{prim_path} has no time-sampled pose")
    positions = np.array([list(translate.Get(c)) for c in codes], dtype=np.float64)
    quats = []
    for code in codes:
        quat = orient.Get(code)
        quats.append([quat.GetReal(), *quat.GetImaginary()])
    return np.asarray(codes) / stage.GetTimeCodesPerSecond(), positions, np.asarray(quats, dtype=np.float64)
