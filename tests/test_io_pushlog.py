"""Push log v1 reading: every bad input refused with a clear error naming the file, good logs read exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.io.pushlog import read_pose_files, read_push_log, write_push_log

META = {
    "pusher": {"radius": 0.008, "mass": 0.3, "kp": 150.0, "kd": 12.0, "friction": 0.2},
    "object": {"mesh": "object.obj", "mass_prior": 0.2},
    "table": {"height": 0.0, "friction": 0.4},
    "gravity": [0.0, 0.0, -9.81],
}


def _arrays(n: int = 50) -> dict[str, np.ndarray]:
    t = np.linspace(0.0, 0.49, n)
    pose = np.zeros((n, 7))
    pose[:, 0] = 0.3 + 0.05 * t
    pose[:, 2] = 0.025
    angle = 0.3 * t
    pose[:, 3], pose[:, 6] = np.cos(angle / 2), np.sin(angle / 2)
    target = np.stack([0.2 + 0.1 * t, np.zeros(n), np.full(n, 0.02)], axis=1)
    return {"t": t, "object_pose": pose, "pusher_target": target, "pusher_position": target - [0.002, 0, 0]}


def _write(folder: Path, meta: dict | None = None, **arrays: np.ndarray) -> Path:
    import trimesh

    folder.mkdir(parents=True, exist_ok=True)
    trimesh.creation.box(extents=(0.1, 0.06, 0.05)).export(folder / "object.obj")
    values = _arrays()
    values.update(arrays)
    position = values.pop("pusher_position", None)
    return write_push_log(folder, meta=meta or META, pusher_position=position, **values)


def test_reads_a_good_log_exactly(tmp_path: Path) -> None:
    expected = _arrays()
    log = read_push_log(_write(tmp_path / "log"))
    np.testing.assert_array_equal(log.t, expected["t"])
    np.testing.assert_allclose(log.object_pose, expected["object_pose"], atol=1e-15)
    np.testing.assert_array_equal(log.pusher_target, expected["pusher_target"])
    np.testing.assert_array_equal(log.pusher_position, expected["pusher_position"])
    assert log.pusher.kp == 150.0 and log.pusher.radius == 0.008
    assert log.table_friction == 0.4 and log.mass_prior == 0.2
    assert log.mesh_path == (tmp_path / "log" / "object.obj").resolve()
    assert log.duration == pytest.approx(0.49)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a["object_pose"].__setitem__((7, 1), np.nan), "NaN/inf value(s), first at sample 7"),
        (lambda a: a["t"].__setitem__(5, a["t"][4]), "strictly increasing"),
        (lambda a: a.__setitem__("pusher_target", a["pusher_target"][:-3]), "different lengths"),
        (lambda a: a.__setitem__("pusher_target", a["pusher_target"][:, :2]), "must have shape [T, 3]"),
        (lambda a: a["object_pose"].__setitem__((slice(None), slice(0, 3)), a["object_pose"][:, :3] * 1000), "metres"),
        (lambda a: a["object_pose"].__setitem__((slice(None), slice(3, 7)), a["object_pose"][:, 3:] * 1.1), "unit"),
        (lambda a: a.__setitem__("object_pose", a["object_pose"][:, :6]), "must have shape [T, 7]"),
    ],
    ids=["nan", "time-not-increasing", "length-mismatch", "shape", "millimetres", "quaternion-norm", "pose-width"],
)
def test_bad_arrays_are_refused(tmp_path: Path, change, message: str) -> None:
    arrays = _arrays()
    change(arrays)
    folder = _write(tmp_path / "log", **arrays)
    with pytest.raises(InputError, match=re.escape(message)) as error:
        read_push_log(folder)
    assert "push.npz" in str(error.value)


def test_missing_files_and_entries(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such push log folder"):
        read_push_log(tmp_path / "nowhere")
    folder = _write(tmp_path / "log")
    (folder / "push.npz").unlink()
    with pytest.raises(InputError, match="push.npz: missing"):
        read_push_log(folder)
    folder = _write(tmp_path / "log2")
    (folder / "meta.json").unlink()
    with pytest.raises(InputError, match="meta.json: missing"):
        read_push_log(folder)
    bad = dict(META, pusher={"radius": 0.008})
    with pytest.raises(InputError, match="pusher lacks mass, kp, kd, friction"):
        read_push_log(_write(tmp_path / "log3", meta=bad))
    bad = dict(META, object={"mesh": "missing.obj"})
    with pytest.raises(InputError, match="no such file"):
        read_push_log(_write(tmp_path / "log4", meta=bad))
    bad = dict(META, pusher=dict(META["pusher"], radius=8.0))
    with pytest.raises(InputError, match=r"pusher.radius \[m\] must be"):
        read_push_log(_write(tmp_path / "log5", meta=bad))
    folder = _write(tmp_path / "log6")
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_push_log(folder)
    folder = _write(tmp_path / "log7")
    (folder / "push.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a valid .npz"):
        read_push_log(folder)


def test_foundationpose_pose_files(tmp_path: Path) -> None:
    from splattwin.geometry.transforms import quat_wxyz_to_matrix

    arrays = _arrays(12)
    poses = arrays.pop("object_pose")
    folder = tmp_path / "log"
    folder.mkdir()
    import trimesh

    trimesh.creation.box(extents=(0.1, 0.06, 0.05)).export(folder / "object.obj")
    np.savez(folder / "push.npz", **{k: v for k, v in arrays.items() if k != "pusher_position"})
    (folder / "meta.json").write_text(json.dumps(META))
    (folder / "poses").mkdir()
    for i, pose in enumerate(poses):
        matrix = np.eye(4)
        matrix[:3, :3] = quat_wxyz_to_matrix(pose[3:])
        matrix[:3, 3] = pose[:3]
        np.savetxt(folder / "poses" / f"{i:06d}.txt", matrix)
    log = read_push_log(folder)
    np.testing.assert_allclose(log.object_pose, poses, atol=1e-12)
    (folder / "poses" / "000011.txt").unlink()
    with pytest.raises(InputError, match="11 pose files but 12 times"):
        read_push_log(folder)
    (folder / "poses" / "000003.txt").write_text("1 0 0\n0 1 0\n")
    with pytest.raises(InputError, match="000003.txt: must hold a 4x4 matrix"):
        read_pose_files(folder / "poses")
    scaled = np.eye(4)
    scaled[:3, :3] *= 2.0
    np.savetxt(folder / "poses" / "000003.txt", scaled)
    with pytest.raises(InputError, match="not a rotation"):
        read_pose_files(folder / "poses")
