"""``extract-mesh --mask-images``: one object cut out of a whole-scene splat by 2D masks of posed images.

The scene: two boxes on a table, as flat discs on their true meshes (a splat's skin). The masks are made by hand
from the TRUE boxes (a ray-box slab test per pixel, the table and the other box occluding), independent of the
splat renderer; the cameras and the splat are written in a y-up, half-scale reconstruction frame, and the splat
imported with --up-axis y --scale 0.5, so the cameras must follow the splat's frame to fit the masks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

pytest.importorskip("pxr")
pytest.importorskip("skimage")

from splattwin.cli import main  # noqa: E402
from splattwin.gaussians import Gaussians  # noqa: E402
from splattwin.io import write_gaussians  # noqa: E402
from splattwin.pipelines._common import source_to_world  # noqa: E402
from splattwin.surfaces.metrics import compare_surfaces  # noqa: E402
from splattwin.surfaces.sampling import discs_on_mesh  # noqa: E402

TABLE_Z = 0.02
BOXES = {  # name: (min corner, max corner), world frame [m]
    "A": ((-0.0575, -0.02, TABLE_Z), (-0.0175, 0.02, TABLE_Z + 0.05)),
    "B": ((0.0075, -0.02, TABLE_Z), (0.0475, 0.02, TABLE_Z + 0.03)),
    "table": ((-0.2, -0.15, 0.0), (0.2, 0.15, TABLE_Z)),
}
SIZE, FOCAL = 160, 300.0
TO_WORLD = source_to_world(up_axis="y", scale=0.5)  # the reconstruction file -> the twin (import-splat's flags)


def box_mesh(name: str) -> trimesh.Trimesh:
    lo, hi = (np.array(c) for c in BOXES[name])
    mesh = trimesh.creation.box(hi - lo)
    mesh.apply_translation((lo + hi) / 2)
    return mesh


def scene() -> Gaussians:
    objects = []
    for name, count, seed in (("A", 5000, 1), ("B", 4000, 2)):
        discs = discs_on_mesh(box_mesh(name), count, seed=seed)
        objects.append(discs.subset(discs.means[:, 2] > TABLE_Z + 1e-4))  # no face resting on the table
    objects.append(discs_on_mesh(box_mesh("table"), 25000, seed=3))
    return Gaussians.concatenate(objects)


def cameras(count: int = 20) -> list[np.ndarray]:
    """Camera-to-world poses (OpenCV axes, world frame) on a ring of heights around box B."""
    target = np.array([0.0275, 0.0, TABLE_Z + 0.015])
    poses = []
    for i in range(count):
        azimuth = 2 * np.pi * i / count
        elevation = np.radians(25 + 40 * (i % 3) / 2)
        eye = target + 0.3 * np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                                       np.sin(elevation)])  # fmt: skip
        poses.append(_look_at(eye, target))
    return poses


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    pose[:3, 3] = eye
    return pose


def K() -> np.ndarray:  # noqa: N802
    return np.array([[FOCAL, 0, SIZE / 2 + 3.0], [0, FOCAL, SIZE / 2 - 2.0], [0, 0, 1.0]])


def hand_mask(pose: np.ndarray, name: str = "B") -> np.ndarray:
    """Pixels whose ray's first hit among the true boxes is ``name`` (slab test at pixel centres)."""
    v, u = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K()).T @ pose[:3, :3].T
    origin = pose[:3, 3]
    first = {}
    for box, (lo, hi) in BOXES.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (np.array(lo) - origin) / rays, (np.array(hi) - origin) / rays
        near = np.nanmax(np.minimum(t1, t2), axis=-1)
        far = np.nanmin(np.maximum(t1, t2), axis=-1)
        first[box] = np.where((far >= near) & (far > 0), near, np.inf)
    others = np.minimum.reduce([t for box, t in first.items() if box != name])
    return np.isfinite(first[name]) & (first[name] < others)


def write_capture(folder: Path, poses: list[np.ndarray], masks: list[np.ndarray]) -> Path:
    """transforms.json (in the reconstruction frame, OpenGL axes) and masks/frame_XX.png."""
    import imageio.v3 as iio

    (folder / "masks").mkdir(parents=True, exist_ok=True)
    to_file = TO_WORLD.inverse()
    frames = []
    for i, (pose, mask) in enumerate(zip(poses, masks, strict=True)):
        iio.imwrite(folder / "masks" / f"frame_{i:02d}.png", (mask * 255).astype(np.uint8))
        c2w = np.eye(4)
        c2w[:3, :3] = to_file.rotation @ pose[:3, :3]
        c2w[:3, 3] = to_file.apply_points(pose[:3, 3][None])[0]
        c2w[:3, 1:3] *= -1  # OpenCV -> OpenGL camera axes
        frames.append({"file_path": f"images/frame_{i:02d}.png", "mask_path": f"masks/frame_{i:02d}.png",
                       "transform_matrix": c2w.tolist()})  # fmt: skip
    k = K()
    data = {"w": SIZE, "h": SIZE, "fl_x": k[0, 0], "fl_y": k[1, 1], "cx": k[0, 2], "cy": k[1, 2], "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(data))
    return folder


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("masks")
    write_gaussians(root / "scene.ply", TO_WORLD.inverse().apply_gaussians(scene()))
    poses = cameras()
    folder = write_capture(root / "capture", poses, [hand_mask(p) for p in poses])
    stage = root / "twin.usda"
    assert main(["import-splat", str(root / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene",
                 "--up-axis", "y", "--scale", "0.5"]) == 0  # fmt: skip
    return stage, folder


def test_masks_cut_one_object_out_of_the_scene(capture: tuple[Path, Path], capsys) -> None:  # noqa: ANN001
    import time

    from pxr import UsdGeom

    from splattwin.usd import open_twin
    from splattwin.usd.prims import local_to_world

    stage, folder = capture
    start = time.perf_counter()
    code = main(["extract-mesh", "--stage", str(stage), "--splat", "/World/Scene", "--out-prim", "/World/Made/B",
                 "--mask-images", str(folder), "--voxel", "0.002", "--dynamic"])  # fmt: skip
    seconds = time.perf_counter() - start  # printed for docs/surfaces.md, never asserted
    out = capsys.readouterr()
    assert code == 0, out.err
    opened = open_twin(stage)
    prim = opened.stage.GetPrimAtPath("/World/Made/B/collision")
    points = local_to_world(prim).apply_points(np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(), np.float64))
    faces = np.asarray(UsdGeom.Mesh(prim).GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
    made = trimesh.Trimesh(points, faces, process=False)
    truth = box_mesh("B")
    np.testing.assert_allclose(made.bounds, truth.bounds, atol=0.003)  # B alone: not A, not the table
    comparison = compare_surfaces(made, truth, threshold_m=0.002)
    print(f"masked B: {comparison.to_dict()}, extract-mesh {seconds:.1f} s")  # the numbers docs/surfaces.md quotes
    assert abs(comparison.volume_error) < 0.04
    assert comparison.chamfer_m < 0.0015 and comparison.fscore > 0.9
    record = dict(opened.stage.GetPrimAtPath("/World/Made/B").GetCustomDataByKey("splattwin:extraction"))
    assert record["views"] == 20 and record["masks"].endswith("transforms.json")
    assert float(record["tableCut"]) == pytest.approx(TABLE_Z, abs=5e-4)


def _files(stage: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in stage.parent.rglob("*.usd*")}


def test_bad_masks_are_one_line_and_write_nothing(capture: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import shutil

    import imageio.v3 as iio

    stage, folder = capture
    before = _files(stage)
    poses = cameras()

    def case(label: str, edit) -> Path:  # noqa: ANN001
        copy = tmp_path / label
        shutil.copytree(folder, copy)
        edit(copy)
        return copy

    away = _look_at(np.array([0.0, 0.0, 0.5]), np.array([1.0, 0.2, 0.6]))  # looks out over the table
    wrong_size = case("size", lambda d: iio.imwrite(d / "masks" / "frame_03.png", np.zeros((80, 80), np.uint8)))
    missing = case("missing", lambda d: (d / "masks" / "frame_05.png").unlink())
    empty = case("empty", lambda d: write_capture(d, [*poses, away], [*(hand_mask(p) for p in poses), hand_mask(away)]))
    elsewhere = case(
        "elsewhere", lambda d: write_capture(d, [*poses, away], [*(hand_mask(p) for p in poses), hand_mask(poses[0])])
    )

    def distort(d: Path) -> None:
        data = json.loads((d / "transforms.json").read_text())
        data["frames"][2]["k1"] = 0.1
        (d / "transforms.json").write_text(json.dumps(data))

    distorted = case("distorted", distort)
    cases = [
        (distorted, "camera frame_02 has lens distortion (k1=0.1): undistort the images and masks first"),
        (wrong_size, "frame_03.png: is 80x80 but camera frame_03 is 160x160"),
        (missing, "frame_05.png: no such image file"),
        (empty, "the mask of frame_20 is empty: that camera sees none of the object"),
        (elsewhere, "camera frame_20 sees none of the masked region"),
        (tmp_path / "nothing", "is not a folder"),
    ]
    for source, message in cases:
        code = main(["extract-mesh", "--stage", str(stage), "--splat", "/World/Scene", "--out-prim", "/World/M",
                     "--mask-images", str(source)])  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], (message, err)
    assert _files(stage) == before


def test_a_colmap_model_with_a_masks_folder_gives_the_same_views(capture: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from scipy.spatial.transform import Rotation

    from splattwin.pipelines.cameras import read_mask_views
    from splattwin.usd import open_twin

    stage, folder = capture
    colmap = tmp_path / "colmap"
    shutil.copytree(folder / "masks", colmap / "masks")
    (colmap / "sparse" / "0").mkdir(parents=True)
    k = K()
    (colmap / "sparse" / "0" / "cameras.txt").write_text(
        f"1 PINHOLE {SIZE} {SIZE} {k[0, 0]} {k[1, 1]} {k[0, 2]} {k[1, 2]}\n"
    )
    lines, to_file = [], TO_WORLD.inverse()
    for i, pose in enumerate(cameras()):
        rotation = (to_file.rotation @ pose[:3, :3]).T  # world-to-camera in the reconstruction frame
        centre = to_file.apply_points(pose[:3, 3][None])[0]
        x, y, z, w = Rotation.from_matrix(rotation).as_quat()
        values = " ".join(repr(float(v)) for v in (w, x, y, z, *(-rotation @ centre)))
        lines += [f"{i + 1} {values} 1 frame_{i:02d}.jpg", ""]
    (colmap / "sparse" / "0" / "images.txt").write_text("\n".join(lines) + "\n")
    twin = open_twin(stage)
    a, b = read_mask_views(twin, folder, splat="/World/Scene"), read_mask_views(twin, colmap, splat="/World/Scene")
    assert a.names == b.names and len(a.cameras) == 20
    assert b.files[3] == colmap / "masks" / "frame_03.png"  # found by the image's stem
    for ca, cb, ma, mb in zip(a.cameras, b.cameras, a.masks, b.masks, strict=True):
        np.testing.assert_allclose(ca.viewmat, cb.viewmat, atol=1e-9)
        np.testing.assert_allclose(ca.K, cb.K, atol=1e-9)
        assert np.array_equal(ma, mb)
    # And in the twin's frame they are the true cameras the masks were cast from.
    for camera, pose in zip(b.cameras, cameras(), strict=True):
        np.testing.assert_allclose(camera.viewmat, np.linalg.inv(pose), atol=1e-9)
