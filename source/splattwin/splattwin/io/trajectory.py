"""Joint trajectories: CSV (``time,<joint names...>`` header) and NPZ (``t`` [T], ``q`` [T, dof], ``joint_names``).

Times are seconds, strictly increasing; joint values are rad (revolute) or m (prismatic). Readers check
everything a renderer or a controller relies on and raise :class:`~splattwin.errors.InputError` naming the file:
a malformed header, duplicate or unknown joint names, non-numeric or NaN/Inf values, times that do not increase.
Shapes and headers are checked before the bulk of the data is read (the CSV header line, the NPZ members' array
headers), so a bad or huge file is refused before anything is allocated for it. Writers are atomic.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.io._atomic import atomic_output

__all__ = ["TRAJECTORY_SUFFIXES", "Trajectory", "read_trajectory", "write_trajectory"]

TRAJECTORY_SUFFIXES = (".csv", ".npz")
_MAX_SAMPLES = 10_000_000
"""More samples than this is refused as a malformed (or hostile) file, before allocating."""


@dataclass
class Trajectory:
    """Joint positions over time.

    Attributes:
        times: [T] float64 seconds, strictly increasing.
        positions: [T, dof] float64 joint values (rad or m), column j for ``joint_names[j]``.
        joint_names: [dof] joint names.
    """

    times: np.ndarray
    positions: np.ndarray
    joint_names: list[str]

    def validate(self, source: str | Path | None = None, known_joints: Sequence[str] | None = None) -> None:
        """Raise InputError (naming ``source``) for bad shapes, NaN/Inf, non-increasing times or unknown joints."""
        times = np.asarray(self.times)
        positions = np.asarray(self.positions)
        if times.ndim != 1 or len(times) == 0:
            raise InputError(source, f"times must be a non-empty 1D array, got shape {times.shape}")
        if positions.shape != (len(times), len(self.joint_names)):
            raise InputError(
                source, f"positions must have shape ({len(times)}, {len(self.joint_names)}), got {positions.shape}"
            )
        if len(set(self.joint_names)) != len(self.joint_names):
            duplicates = sorted({n for n in self.joint_names if self.joint_names.count(n) > 1})
            raise InputError(source, f"duplicate joint names {duplicates}")
        if not np.isfinite(times).all():
            raise InputError(source, f"time has NaN or Inf at sample {int(np.argmin(np.isfinite(times)))}")
        bad = ~np.isfinite(positions)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(source, f"NaN or Inf for joint {self.joint_names[col]!r} at sample {row}")
        steps = np.diff(times)
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0))
            raise InputError(source, f"times must increase: sample {i + 1} has t={times[i + 1]} after t={times[i]}")
        if known_joints is not None:
            unknown = [n for n in self.joint_names if n not in set(known_joints)]
            if unknown:
                raise InputError(source, f"unknown joint names {unknown}; the robot has {list(known_joints)}")


def read_trajectory(path: str | Path, *, known_joints: Sequence[str] | None = None) -> Trajectory:
    """Read a ``.csv`` or ``.npz`` trajectory and validate it (see the module docstring).

    Args:
        path: the file.
        known_joints: if given, every joint in the file must be one of these.

    Raises:
        InputError: a missing file, an unsupported suffix, or any problem listed in :meth:`Trajectory.validate`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such trajectory file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        trajectory = _read_csv(path)
    elif suffix == ".npz":
        trajectory = _read_npz(path)
    else:
        raise InputError(path, f"unsupported trajectory suffix {path.suffix!r}; supported: .csv, .npz")
    trajectory.validate(path, known_joints)
    return trajectory


def _read_csv(path: Path) -> Trajectory:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputError(path, "is empty; expected a header row 'time,<joint names...>'")
        header = [h.strip() for h in header]
        if len(header) < 2 or header[0] != "time":
            raise InputError(path, f"header must be 'time,<joint names...>', got {','.join(header)!r}")
        names = header[1:]
        if len(set(names)) != len(names) or any(not n for n in names):
            raise InputError(path, f"joint names in the header must be unique and non-empty, got {names}")
        rows = []
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(path, f"line {line} has {len(row)} values, the header has {len(header)}")
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                raise InputError(path, f"line {line} has a value that is not a number: {row}") from None
            if len(rows) > _MAX_SAMPLES:
                raise InputError(path, f"more than {_MAX_SAMPLES} samples")
    if not rows:
        raise InputError(path, "has a header but no samples")
    data = np.asarray(rows, dtype=np.float64)
    return Trajectory(times=data[:, 0].copy(), positions=data[:, 1:].copy(), joint_names=names)


def _npz_header(archive: zipfile.ZipFile, name: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    member = f"{name}.npy"
    if member not in archive.namelist():
        raise InputError(path, f"NPZ has no array {name!r} (needs t [T], q [T, dof], joint_names [dof])")
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle)
    return shape, dtype


def _read_npz(path: Path) -> Trajectory:
    try:
        with zipfile.ZipFile(path) as archive:
            shapes = {name: _npz_header(archive, name, path) for name in ("t", "q", "joint_names")}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InputError(path, f"is not a readable NPZ archive ({exc})") from None
    (t_shape, _), (q_shape, q_dtype), (n_shape, n_dtype) = shapes["t"], shapes["q"], shapes["joint_names"]
    if len(t_shape) != 1 or len(n_shape) != 1 or len(q_shape) != 2 or q_shape != (t_shape[0], n_shape[0]):
        raise InputError(path, f"expected t [T], q [T, dof], joint_names [dof]; got {t_shape}, {q_shape}, {n_shape}")
    if t_shape[0] > _MAX_SAMPLES:
        raise InputError(path, f"{t_shape[0]} samples is more than {_MAX_SAMPLES}")
    if n_dtype.kind not in "US" or q_dtype.kind not in "fiu":
        raise InputError(path, f"joint_names must be strings and q numbers, got {n_dtype} and {q_dtype}")
    with np.load(path, allow_pickle=False) as data:
        return Trajectory(
            times=np.asarray(data["t"], dtype=np.float64),
            positions=np.asarray(data["q"], dtype=np.float64),
            joint_names=[str(n) for n in data["joint_names"]],
        )


def write_trajectory(path: str | Path, trajectory: Trajectory) -> None:
    """Validate and write a trajectory as ``.csv`` or ``.npz`` (by suffix), atomically."""
    path = Path(path)
    trajectory.validate(path)
    suffix = path.suffix.lower()
    if suffix not in TRAJECTORY_SUFFIXES:
        raise InputError(path, f"unsupported trajectory suffix {path.suffix!r}; supported: .csv, .npz")
    with atomic_output(path) as temporary:
        if suffix == ".csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["time", *trajectory.joint_names])
            for t, q in zip(trajectory.times, trajectory.positions, strict=True):
                writer.writerow([repr(float(t)), *(repr(float(v)) for v in q)])
            temporary.write_text(buffer.getvalue())
        else:
            with temporary.open("wb") as handle:
                np.savez(
                    handle,
                    t=np.asarray(trajectory.times, dtype=np.float64),
                    q=np.asarray(trajectory.positions, dtype=np.float64),
                    joint_names=np.asarray(trajectory.joint_names, dtype=str),
                )
