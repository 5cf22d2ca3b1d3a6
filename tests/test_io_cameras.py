"""Camera readers (io/cameras.py): one set of hand-made cameras written in each format, read back to one truth.

The expectation is built here with scipy's rotations (not the project's quaternion code): each camera has a
centre C and a world-to-camera rotation R (OpenCV axes); COLMAP stores (quat(R), -R C), nerfstudio stores
[R^T | C] in OpenGL axes (y and z columns negated), 3DGS stores (C, R^T). The same cameras written in two formats
must read to the same poses and intrinsics (not a round trip: each file is written by hand from the truth).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from splattwin.errors import InputError
from splattwin.geometry.camera import project_points
from splattwin.io.cameras import read_camera_file

WIDTH, HEIGHT = 640, 480
# name, centre (world, m), world-to-camera rotation as scipy Euler "xyz" degrees, fx, fy, cx, cy
TRUTH = [
    ("frame_0001", (1.0, -2.0, 0.5), (-100.0, 10.0, 30.0), 520.0, 470.0, 290.0, 215.0),
    ("frame_0002", (-0.5, 1.5, 2.0), (170.0, -20.0, 200.0), 610.0, 610.0, 330.5, 250.25),
    ("frame_0003", (0.2, 0.3, -1.0), (5.0, 80.0, -45.0), 400.0, 420.0, 320.0, 240.0),
]


def _truth(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K, world-to-camera rotation, centre) of camera i."""
    _, centre, euler, fx, fy, cx, cy = TRUTH[i]
    rotation = Rotation.from_euler("xyz", euler, degrees=True).as_matrix()
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), rotation, np.array(centre)


def write_colmap(folder: Path, *, cameras_lines: list[str] | None = None, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]"]
    images = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
    ]
    for i, (name, *_rest) in enumerate(TRUTH):
        K, rotation, centre = _truth(i)  # noqa: N806
        lines.append(f"{i + 1} PINHOLE {WIDTH} {HEIGHT} {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}")
        x, y, z, w = Rotation.from_matrix(rotation).as_quat()
        t = -rotation @ centre
        pose = " ".join(repr(float(v)) for v in (w, x, y, z, *t))
        images.append(f"{i + 1} {pose} {i + 1} {name}.png")
        images.append("" if i == 1 else "100.5 200.25 -1 300.0 10.0 7")  # an empty points line must be read too
    (folder / "cameras.txt").write_text("\n".join(cameras_lines or lines) + "\n")
    (folder / "images.txt").write_text("\n".join(images) + "\n" + extra)
    return folder


def write_colmap_binary(folder: Path) -> Path:
    """COLMAP's binary layout, written field by field (little-endian: counts uint64, ids int32, doubles)."""
    import struct

    folder.mkdir(parents=True, exist_ok=True)
    cameras = struct.pack("<Q", len(TRUTH))
    images = struct.pack("<Q", len(TRUTH))
    for i, (name, *_rest) in enumerate(TRUTH):
        K, rotation, centre = _truth(i)  # noqa: N806
        cameras += struct.pack("<iiQQ4d", i + 1, 1, WIDTH, HEIGHT, K[0, 0], K[1, 1], K[0, 2], K[1, 2])  # 1: PINHOLE
        x, y, z, w = Rotation.from_matrix(rotation).as_quat()
        images += struct.pack("<i7di", i + 1, w, x, y, z, *(-rotation @ centre), i + 1) + f"{name}.png".encode() + b"\0"
        images += struct.pack("<Q", 2) + struct.pack("<ddqddq", 1.0, 2.0, -1, 3.0, 4.0, 7)
    (folder / "cameras.bin").write_bytes(cameras)
    (folder / "images.bin").write_bytes(images)
    return folder


def _nerfstudio_frame(i: int, applied: np.ndarray | None = None) -> dict:
    K, rotation, centre = _truth(i)  # noqa: N806
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rotation.T, centre
    c2w[:3, 1:3] *= -1  # OpenCV -> OpenGL camera axes
    if applied is not None:
        c2w = applied @ c2w
    return {
        "file_path": f"images/{TRUTH[i][0]}.png",
        "mask_path": f"masks/{TRUTH[i][0]}.png",
        "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2],
        "transform_matrix": c2w.tolist(),
    }  # fmt: skip


# ns-process-data's change of the COLMAP world (rows 0, 2, 1; the last one negated), written out by hand.
APPLIED = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])


def write_transforms(path: Path, *, applied: bool = False, frames: list | None = None, **top: object) -> Path:
    data: dict = {"w": WIDTH, "h": HEIGHT, "camera_model": "OPENCV", "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0}
    data.update(top)
    data["frames"] = frames if frames is not None else [
        _nerfstudio_frame(i, APPLIED if applied else None) for i in range(len(TRUTH))
    ]  # fmt: skip
    if applied:
        data["applied_transform"] = APPLIED[:3].tolist()
    path.write_text(json.dumps(data))
    return path


def _assert_truth(cameras: list) -> None:
    assert [c.name for c in cameras] == [t[0] for t in TRUTH]
    for i, camera in enumerate(cameras):
        K, rotation, centre = _truth(i)  # noqa: N806
        np.testing.assert_allclose(camera.K, K, atol=1e-9)
        assert (camera.width, camera.height) == (WIDTH, HEIGHT)
        np.testing.assert_allclose(camera.camera_to_world[:3, 3], centre, atol=1e-9)
        np.testing.assert_allclose(camera.camera_to_world[:3, :3], rotation.T, atol=1e-9)


def test_colmap_and_transforms_json_give_the_same_cameras(tmp_path: Path) -> None:
    colmap = read_camera_file(write_colmap(tmp_path / "sparse" / "0"))
    nerf = read_camera_file(write_transforms(tmp_path / "transforms.json"))
    assert (colmap.format, nerf.format) == ("colmap", "nerfstudio")
    _assert_truth(colmap.cameras)
    _assert_truth(nerf.cameras)
    assert nerf.cameras[0].mask == tmp_path / "masks" / "frame_0001.png"
    assert nerf.cameras[0].image == tmp_path / "images" / "frame_0001.png"
    assert colmap.cameras[2].image.name == "frame_0003.png"
    # Either COLMAP file, or the folder, names the same model.
    _assert_truth(read_camera_file(tmp_path / "sparse" / "0" / "images.txt").cameras)


def test_a_binary_colmap_model_gives_the_same_cameras(tmp_path: Path) -> None:
    model = read_camera_file(write_colmap_binary(tmp_path / "bin"))
    assert model.format == "colmap"
    _assert_truth(model.cameras)
    _assert_truth(read_camera_file(tmp_path / "bin" / "images.bin").cameras)
    data = (tmp_path / "bin" / "images.bin").read_bytes()
    (tmp_path / "bin" / "images.bin").write_bytes(data[:-30])
    _bad(tmp_path / "bin", "images.bin: ends early (truncated at byte")


def test_applied_transform_is_undone_back_to_the_colmap_frame(tmp_path: Path) -> None:
    nerf = read_camera_file(write_transforms(tmp_path / "transforms.json", applied=True))
    np.testing.assert_allclose(nerf.applied_transform, APPLIED)
    # As stored: the COLMAP centre with y and z swapped (and one negated), a different frame.
    np.testing.assert_allclose(nerf.cameras[0].camera_to_world[:3, 3], [1.0, 0.5, 2.0], atol=1e-9)
    _assert_truth(nerf.in_original_frame().cameras)


def test_3dgs_and_plain_cameras_json_give_the_same_cameras(tmp_path: Path) -> None:
    gs, plain = [], []
    for i, (name, *_rest) in enumerate(TRUTH):
        K, rotation, centre = _truth(i)  # noqa: N806
        gs.append({"id": i, "img_name": name, "width": WIDTH, "height": HEIGHT, "position": centre.tolist(),
                   "rotation": rotation.T.tolist(), "fx": K[0, 0], "fy": K[1, 1]})  # fmt: skip
        w2c = np.eye(4)
        w2c[:3, :3], w2c[:3, 3] = rotation, -rotation @ centre
        plain.append({"name": name, "K": K.tolist(), "world_to_camera": w2c.tolist(), "width": WIDTH, "height": HEIGHT})
    (tmp_path / "gs.json").write_text(json.dumps(gs))
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    read_gs, read_plain = read_camera_file(tmp_path / "gs.json"), read_camera_file(tmp_path / "plain.json")
    assert (read_gs.format, read_plain.format) == ("3dgs", "plain")
    _assert_truth(read_plain.cameras)
    for i, camera in enumerate(read_gs.cameras):  # 3DGS keeps no principal point: the image centre
        K, rotation, centre = _truth(i)  # noqa: N806
        np.testing.assert_allclose(camera.K[:2, :2], K[:2, :2])
        np.testing.assert_allclose(camera.K[:2, 2], [WIDTH / 2, HEIGHT / 2])
        np.testing.assert_allclose(camera.camera_to_world[:3, 3], centre, atol=1e-9)
        np.testing.assert_allclose(camera.camera_to_world[:3, :3], rotation.T, atol=1e-9)


def test_a_known_point_lands_on_its_hand_computed_pixel(tmp_path: Path) -> None:
    # Camera 1: identity rotation, t = (0, 0, 2); the point (0.1, -0.2, 1) is at (0.1, -0.2, 3) in the camera.
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "cameras.txt").write_text("1 SIMPLE_PINHOLE 640 480 300 320 240\n2 OPENCV 640 480 300 400 320 240 "
                                        "0.1 -0.02 0.001 0.002\n")  # fmt: skip
    # Camera 2: turned 90 degrees about y (quaternion (cos 45, 0, sin 45, 0)): camera x = world z, camera z = -world x.
    c = np.sqrt(0.5)
    (folder / "images.txt").write_text(f"1 1 0 0 0 0 0 2 1 a.png\n\n2 {c} 0 {c} 0 0 0 0 2 b.png\n\n")
    model = read_camera_file(folder)
    a, b = model.cameras
    # u = 300 * 0.1 / 3 + 320 = 330, v = 300 * -0.2 / 3 + 240 = 220.
    np.testing.assert_allclose(project_points(a.camera(), [[0.1, -0.2, 1.0]]), [[330.0, 220.0]], atol=1e-9)
    # In camera b the point (-2, 0.5, 0.4) is at (0.4, 0.5, 2): u = 300 * 0.2 + 320 = 380, v = 400 * 0.25 + 240.
    np.testing.assert_allclose(project_points(b.camera(), [[-2.0, 0.5, 0.4]]), [[380.0, 340.0]], atol=1e-9)
    assert b.distortion == {"model": "OPENCV", "k1": 0.1, "k2": -0.02, "p1": 0.001, "p2": 0.002} and b.distorted
    assert a.distortion == {} and not a.distorted


def _bad(path: Path, message: str) -> None:
    with pytest.raises(InputError) as info:
        read_camera_file(path)
    assert message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_bad_camera_files_are_refused_naming_file_and_frame(tmp_path: Path) -> None:
    _bad(tmp_path / "missing.json", "missing.json: no such camera file")
    (tmp_path / "broken.json").write_text('{"frames": [')
    _bad(tmp_path / "broken.json", "broken.json: is not valid JSON")
    frames = [_nerfstudio_frame(i) for i in range(3)]
    cases = {
        "non-rigid": (1, "transform_matrix", (np.diag([2.0, 1, 1, 1]) @ frames[1]["transform_matrix"]).tolist(),
                      "frame 1: the pose is not rigid"),
        "nan": (2, "transform_matrix", [[float("nan")] * 4] * 4, "frame 2: the pose has NaN"),
        "zero focal": (0, "fl_x", 0.0, "frame 0: focal lengths fx=0"),
        "nan focal": (1, "fl_y", float("nan"), "frame 1: fy is nan"),
    }  # fmt: skip
    for label, (index, key, value, message) in cases.items():
        bad = [dict(f) for f in frames]
        bad[index][key] = value
        path = write_transforms(tmp_path / f"{label.replace(' ', '_')}.json", frames=bad)
        _bad(path, message)
    no_pose = [dict(f) for f in frames]
    del no_pose[2]["transform_matrix"]
    _bad(write_transforms(tmp_path / "no_pose.json", frames=no_pose), "frame 2: has no 'transform_matrix'")
    write_colmap(tmp_path / "unknown", cameras_lines=["1 FISHEYE_X 640 480 1 2 3"])
    _bad(tmp_path / "unknown", "camera model 'FISHEYE_X' is not read")
    write_colmap(tmp_path / "zero", cameras_lines=[f"{i} PINHOLE 640 480 0 500 320 240" for i in (1, 2, 3)])
    _bad(tmp_path / "zero", "camera 1: focal lengths fx=0")
    write_colmap(tmp_path / "quat", extra="9 2 0 0 0 0 0 0 1 x.png\n\n")
    _bad(tmp_path / "quat", "image 'x.png' (line 9): the quaternion QW QX QY QZ has norm 2")
    write_colmap(tmp_path / "nocam", extra="9 1 0 0 0 0 0 0 7 y.png\n\n")
    _bad(tmp_path / "nocam", "names camera 7, which cameras.txt does not hold")
