"""Trajectory files: CSV and NPZ round trips, and every kind of bad input refused with the file named."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.io.trajectory import Trajectory, read_trajectory, write_trajectory


def _trajectory() -> Trajectory:
    return Trajectory(
        times=np.array([0.0, 0.1, 0.25]),
        positions=np.array([[0.0, 0.01], [0.5, -0.02], [1.0 / 3.0, 0.04]]),
        joint_names=["shoulder", "slider"],
    )


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"traj{suffix}"
    write_trajectory(path, _trajectory())
    back = read_trajectory(path, known_joints=["slider", "shoulder", "elbow"])
    np.testing.assert_array_equal(back.times, [0.0, 0.1, 0.25])
    np.testing.assert_array_equal(back.positions, _trajectory().positions)
    assert back.joint_names == ["shoulder", "slider"]


def test_csv_written_by_hand_is_read(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text("time,j1,j2\n0,0.1,0.2\n0.5, 0.3 ,0.4\n\n")
    traj = read_trajectory(path)
    np.testing.assert_array_equal(traj.positions, [[0.1, 0.2], [0.3, 0.4]])


@pytest.mark.parametrize(
    ("text", "known", "message"),
    [
        ("time,j1\n0,0.1\n0,0.2\n", None, "times must increase"),
        ("time,j1\n0,0.1\n0.2,0.3\n0.1,0.2\n", None, "times must increase"),
        ("time,j1\n0,nan\n", None, "NaN"),
        ("time,jx\n0,0.1\n", ["j1"], "unknown joint names"),
        ("t,j1\n0,0.1\n", None, "header"),
        ("time,j1,j1\n0,0.1,0.2\n", None, "unique"),
        ("time,j1\n0,abc\n", None, "not a number"),
        ("time,j1\n0,0.1,0.3\n", None, "line 2"),
        ("time,j1\n", None, "no samples"),
        ("", None, "empty"),
    ],
)
def test_bad_csv_is_refused_naming_the_file(tmp_path: Path, text: str, known: list | None, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_trajectory(path, known_joints=known)
    assert str(path) in str(info.value)


def _npz_with_header(path: Path, t_shape: tuple[int, ...]) -> None:
    """An NPZ whose ``t`` member declares ``t_shape`` but holds almost no data."""
    with zipfile.ZipFile(path, "w") as archive:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": t_shape})
        archive.writestr("t.npy", header.getvalue() + b"\0" * 8)
        for name, array in (("q", np.zeros((1, 1))), ("joint_names", np.array(["j1"]))):
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def test_bad_npz_is_refused_before_loading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.npz"
    _npz_with_header(huge, (10**12,))  # 8 TB declared: must be refused from the header alone
    with pytest.raises(InputError, match="expected t"):
        read_trajectory(huge)
    mismatched = tmp_path / "mismatch.npz"
    np.savez(mismatched, t=np.arange(3.0), q=np.zeros((2, 1)), joint_names=np.array(["a"]))
    with pytest.raises(InputError, match="expected t"):
        read_trajectory(mismatched)
    missing = tmp_path / "missing.npz"
    np.savez(missing, t=np.arange(3.0), q=np.zeros((3, 1)))
    with pytest.raises(InputError, match="joint_names"):
        read_trajectory(missing)
    not_zip = tmp_path / "not.npz"
    not_zip.write_text("hello")
    with pytest.raises(InputError, match="not a readable NPZ"):
        read_trajectory(not_zip)


def test_writer_refuses_invalid_trajectories_and_leaves_nothing(tmp_path: Path) -> None:
    bad = _trajectory()
    bad.times = np.array([0.0, 0.2, 0.1])
    with pytest.raises(InputError, match="increase"):
        write_trajectory(tmp_path / "t.csv", bad)
    assert list(tmp_path.iterdir()) == []
