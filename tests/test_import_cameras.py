"""``splattwin import-cameras``: cameras land in the twin registered with the splat they were reconstructed with.

The expectations are hand projections in the FILE's frame (K [R | t] X with the file's own numbers); the twin's
cameras, after the splat's import-time change (--up-axis y --scale 0.5) and an align, must see the splat's
Gaussians at those same pixels: by projection of the twin's means, and in the project's rasterizer's image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("pxr")

from splattwin.cli import main  # noqa: E402
from splattwin.gaussians import Gaussians  # noqa: E402
from splattwin.io import write_gaussians  # noqa: E402

WIDTH, HEIGHT = 160, 120
# Blobs in the reconstruction file's frame (y up, arbitrary units), and two cameras looking at them.
BLOBS = np.array([[0.0, 1.0, 0.0], [0.6, 1.3, -0.2], [-0.5, 0.8, 0.4]])
CAMERAS = [  # name, centre (file frame), look-at target, fx, fy, cx, cy
    ("left", (3.0, 2.0, 4.0), (0.0, 1.0, 0.0), 150.0, 140.0, 85.0, 57.0),
    ("right", (-4.0, 1.5, 2.5), (0.1, 1.1, 0.0), 170.0, 170.0, 78.5, 61.5),
]


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (OpenCV: z to the target, y down with the file's y up)."""
    z = (target - centre) / np.linalg.norm(target - centre)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def _truth(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, centre, target, fx, fy, cx, cy = CAMERAS[i]
    centre, target = np.array(centre), np.array(target)
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), _look_at(centre, target), centre


def hand_pixels(i: int, points: np.ndarray) -> np.ndarray:
    K, rotation, centre = _truth(i)  # noqa: N806
    camera = (points - centre) @ rotation.T
    pixels = camera @ K.T
    return pixels[:, :2] / pixels[:, 2:]


def write_colmap(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cams, images = [], []
    for i, (name, *_rest) in enumerate(CAMERAS):
        K, rotation, centre = _truth(i)  # noqa: N806
        cams.append(f"{i + 1} PINHOLE {WIDTH} {HEIGHT} {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}")
        x, y, z, w = Rotation.from_matrix(rotation).as_quat()
        pose = " ".join(repr(float(v)) for v in (w, x, y, z, *(-rotation @ centre)))
        images += [f"{i + 1} {pose} {i + 1} {name}.png", ""]
    (folder / "cameras.txt").write_text("\n".join(cams) + "\n")
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    return folder


def write_transforms(path: Path) -> Path:
    frames = []
    for i, (name, *_rest) in enumerate(CAMERAS):
        K, rotation, centre = _truth(i)  # noqa: N806
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = rotation.T, centre
        c2w[:3, 1:3] *= -1  # OpenGL camera axes
        frames.append({"file_path": f"images/{name}.png", "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2],
                       "cy": K[1, 2], "w": WIDTH, "h": HEIGHT, "transform_matrix": c2w.tolist()})  # fmt: skip
    path.write_text(json.dumps({"frames": frames}))
    return path


def blob_splat() -> Gaussians:
    n = len(BLOBS)
    return Gaussians(
        BLOBS, np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 0.02), np.full(n, 0.99), np.zeros((n, 1, 3))
    )


@pytest.fixture
def twin(tmp_path: Path) -> Path:
    write_gaussians(tmp_path / "scene.ply", blob_splat())
    stage = tmp_path / "twin.usda"
    assert main(["import-splat", str(tmp_path / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene/Splat",
                 "--up-axis", "y", "--scale", "0.5"]) == 0  # fmt: skip
    return stage


def _cameras(stage: Path) -> dict:
    from splattwin.usd import open_twin
    from splattwin.usd.cameras import read_cameras

    return read_cameras(open_twin(stage).stage)


def _world_blobs(stage: Path) -> np.ndarray:
    from splattwin.usd import open_twin, read_gaussians_prim
    from splattwin.usd.prims import local_to_world

    opened = open_twin(stage)
    prim = opened.stage.GetPrimAtPath("/World/Scene/Splat")
    world = local_to_world(prim).apply_gaussians(read_gaussians_prim(prim))
    return world.means.astype(np.float64), world


def test_cameras_follow_their_splat_through_import_and_align(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from splattwin.geometry.camera import project_points

    model = write_colmap(tmp_path / "sparse")
    assert main(["import-cameras", str(model), "--stage", str(twin), "--frame", "/World/Scene/Splat"]) == 0
    assert "imported 2 cameras (colmap)" in capsys.readouterr().out
    assert main(["align", "--stage", str(twin), "--origin", "0.1,-0.2,0.05"]) == 0
    cameras = _cameras(twin)
    assert list(cameras) == ["left", "right"]
    means, _ = _world_blobs(twin)
    np.testing.assert_allclose(means[0], [-0.1, 0.2, 0.45], atol=1e-6)  # (0, 1, 0) y-up x0.5, minus the origin
    for i, name in enumerate(cameras):
        camera = cameras[name]
        assert (camera.width, camera.height) == (WIDTH, HEIGHT)
        np.testing.assert_allclose(camera.K, _truth(i)[0], atol=1e-9)  # intrinsics never scale with the units
        np.testing.assert_allclose(project_points(camera, means), hand_pixels(i, BLOBS), atol=0.01)
    # align --invert takes the cameras back with the splat: the file's centre, y up onto z, times 0.5.
    assert main(["align", "--stage", str(twin), "--invert"]) == 0
    left = _cameras(twin)["left"]
    x, y, z = np.array(CAMERAS[0][1]) * 0.5
    np.testing.assert_allclose(left.position, [x, -z, y], atol=1e-6)
    np.testing.assert_allclose(project_points(left, _world_blobs(twin)[0]), hand_pixels(0, BLOBS), atol=0.01)


def test_rasterizer_draws_the_splat_where_the_file_frame_projection_puts_it(twin: Path, tmp_path: Path) -> None:
    import torch

    from splattwin.render.rasterizer import rasterization

    assert main(["import-cameras", str(write_transforms(tmp_path / "transforms.json")), "--stage", str(twin),
                 "--frame", "/World/Scene/Splat"]) == 0  # fmt: skip
    cameras = _cameras(twin)
    _, world = _world_blobs(twin)
    tensors = [torch.from_numpy(a) for a in (world.means, world.quats_wxyz, world.scales, world.opacities)]
    for i, camera in enumerate(cameras.values()):
        _, alphas, _ = rasterization(
            *tensors, torch.zeros(len(world), 1), torch.from_numpy(camera.viewmat[None]).float(),
            torch.from_numpy(camera.K[None]).float(), WIDTH, HEIGHT, render_mode="ED", backend="cpu",
        )  # fmt: skip
        alpha = alphas[0, ..., 0].numpy().astype(np.float64)
        v, u = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5  # pixel centres (edges at integers)
        for expected in hand_pixels(i, BLOBS):
            window = (np.abs(u - expected[0]) < 6) & (np.abs(v - expected[1]) < 6)
            weight = alpha * window
            assert weight.max() > 0.5  # the blob is drawn there, opaque
            centroid = np.array([(u * weight).sum(), (v * weight).sum()]) / weight.sum()
            np.testing.assert_allclose(centroid, expected, atol=0.15)


def test_colmap_and_transforms_json_give_the_same_twin_cameras(tmp_path: Path) -> None:
    stages = []
    for source in (write_colmap(tmp_path / "sparse"), write_transforms(tmp_path / "transforms.json")):
        stage = tmp_path / f"{source.stem}.usda"
        assert main(["import-cameras", str(source), "--stage", str(stage), "--up-axis", "y", "--scale", "2"]) == 0
        stages.append(_cameras(stage))
    for name in ("left", "right"):
        a, b = stages[0][name], stages[1][name]
        np.testing.assert_allclose(a.viewmat, b.viewmat, atol=1e-9)
        np.testing.assert_allclose(a.K, b.K, atol=1e-9)
    # y up turned onto z, scaled x2: the left camera's centre (3, 2, 4) goes to (6, -8, 4).
    np.testing.assert_allclose(stages[0]["left"].position, [6.0, -8.0, 4.0], atol=1e-9)


def _files(stage: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in stage.parent.rglob("*.usd*")}


def test_bad_input_is_one_line_exit_2_and_the_twin_unchanged(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    good = json.loads(write_transforms(tmp_path / "good.json").read_text())
    bad_files = {}
    for label, index, key, value in (
        ("rigid", 1, "transform_matrix", (np.diag([1.0, 1, 3, 1]) @ good["frames"][1]["transform_matrix"]).tolist()),
        ("nan", 0, "transform_matrix", [[float("nan")] * 4] * 4),
        ("focal", 1, "fl_x", 0),
    ):  # fmt: skip
        data = json.loads(json.dumps(good))
        data["frames"][index][key] = value
        bad_files[label] = tmp_path / f"{label}.json"
        bad_files[label].write_text(json.dumps(data))
    (tmp_path / "broken.json").write_text('{"frames": [{"file_path": "a.png",')
    cases = [
        (tmp_path / "missing.json", [], "missing.json: no such camera file"),
        (tmp_path / "broken.json", [], "broken.json: is not valid JSON"),
        (bad_files["rigid"], [], "rigid.json: frame 1: the pose is not rigid"),
        (bad_files["nan"], [], "nan.json: frame 0: the pose has NaN"),
        (bad_files["focal"], [], "focal.json: frame 1: focal lengths fx=0"),
        (tmp_path / "good.json", ["--frame", "/World/Nothing"], "--frame: no prim at /World/Nothing"),
        (tmp_path / "good.json", ["--frame", "/World/Scene"], "--frame: /World/Scene carries no frame record"),
        (tmp_path / "good.json", ["--original-frame"], "records no applied_transform"),
    ]
    assert main(["import-cameras", str(tmp_path / "good.json"), "--stage", str(twin)]) == 0
    capsys.readouterr()
    before = _files(twin)
    cases.append((tmp_path / "good.json", [], "prim /World/Cameras/left already exists"))
    for source, extra, message in cases:
        code = main(["import-cameras", str(source), "--stage", str(twin), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], (message, err)
    assert _files(twin) == before
    # A new twin is not created by a refused import.
    assert main(["import-cameras", str(bad_files["nan"]), "--stage", str(tmp_path / "new.usda")]) == 2
    assert not (tmp_path / "new.usda").exists()


def test_render_camera_draws_at_the_imported_calibration(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import imageio.v3 as iio

    model = write_colmap(tmp_path / "sparse")
    assert main(["import-cameras", str(model), "--stage", str(twin), "--frame", "/World/Scene/Splat"]) == 0
    out = tmp_path / "left.png"
    assert main(["render", "--stage", str(twin), "--camera", "/World/Cameras/left", "--out", str(out)]) == 0
    image = iio.imread(out).astype(np.float64) / 255.0
    assert image.shape[:2] == (HEIGHT, WIDTH)  # the camera's own size, not the 640x480 default
    ink = 1.0 - image[..., :3].mean(axis=-1)  # grey blobs on the white background
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    for expected in hand_pixels(0, BLOBS):
        weight = ink * ((np.abs(u - expected[0]) < 6) & (np.abs(v - expected[1]) < 6))
        centroid = np.array([(u * weight).sum(), (v * weight).sum()]) / weight.sum()
        np.testing.assert_allclose(centroid, expected, atol=0.25)  # 8-bit colour rounding, not the pose


def test_inspect_lists_the_imported_cameras_with_their_calibration(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """``inspect`` shows each camera's size, K and position as render --camera uses them (the file's numbers)."""
    model = write_colmap(tmp_path / "sparse")
    assert main(["import-cameras", str(model), "--stage", str(twin), "--frame", "/World/Scene/Splat"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(twin), "--json"]) == 0
    cameras = {item["prim"]: item for item in json.loads(capsys.readouterr().out)["cameras"]}
    assert list(cameras) == ["/World/Cameras/left", "/World/Cameras/right"]
    for i, (name, centre, *_rest) in enumerate(CAMERAS):
        item = cameras[f"/World/Cameras/{name}"]
        assert (item["width"], item["height"], item["problem"]) == (WIDTH, HEIGHT, None)
        np.testing.assert_allclose(item["K"], _truth(i)[0], atol=1e-9)
        x, y, z = np.array(centre) * 0.5  # the file's y-up centre, onto z up, times the splat's 0.5
        np.testing.assert_allclose(item["position"], [x, -z, y], atol=1e-6)
    assert main(["inspect", str(twin)]) == 0
    table = capsys.readouterr().out
    # The narrow test console wraps the cells: look for the numbers one by one.
    assert "cameras" in table and "160x120" in table
    assert all(number in table for number in ("150.00", "140.00", "85.00", "57.00", "78.50", "61.50"))


def test_inspect_lists_a_camera_without_a_stored_size_and_says_what_render_needs(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from pxr import Usd, UsdGeom

    path = tmp_path / "foreign.usda"
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.Camera.Define(stage, "/Cam")
    stage.GetRootLayer().Save()
    assert main(["inspect", str(path), "--json"]) == 0
    (camera,) = json.loads(capsys.readouterr().out)["cameras"]
    assert camera["K"] is None and "--size" in camera["problem"]
