"""fit-appearance of a robot's link Gaussians over frames at logged joint states (Dr. Robot's canonical model):
the link poser against a hand-computed transform, colours recovered only when each view is posed at its own
joints, the verb end to end on a twin (link prims rewritten in the robot layer, the rest untouched), bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pxr")

from test_vision_pose import ARM  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.gaussians import Gaussians, rgb_to_sh0  # noqa: E402
from splattwin.geometry.sh_rotation import eval_sh_basis  # noqa: E402
from splattwin.render.camera import look_at_camera  # noqa: E402
from splattwin.vision.appearance import AppearanceConfig, LinkPoser, fit_appearance, psnr, render_views  # noqa: E402

SIZE = 48
STATES = np.array([[0.0, 0.0], [0.9, -0.6], [-0.8, 0.7], [1.6, 0.4], [-1.4, -0.9], [0.4, 1.1]])


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def test_link_poser_matches_a_hand_computed_transform() -> None:
    # link 0 at the identity, link 1 turned 90 deg about z and moved by (1, 2, 3)
    poses = np.tile(np.eye(4), (1, 2, 1, 1))
    poses[0, 1, :3, :3] = _rz(np.pi / 2)
    poses[0, 1, :3, 3] = [1.0, 2.0, 3.0]
    poser = LinkPoser(torch.tensor(poses), torch.tensor([0, 1, 1]), sh_degree=1)
    means = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 0.5, 0]])
    quats = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0], [np.cos(0.3), np.sin(0.3), 0, 0]], dtype=torch.float32)
    world_means, world_quats = poser(means, quats, 0)
    # by hand: Rz90 (1, 0, 0) = (0, 1, 0); Rz90 (0, 0.5, 0) = (-0.5, 0, 0)
    np.testing.assert_allclose(world_means.numpy(), [[1, 0, 0], [1, 3, 3], [0.5, 2, 3]], atol=1e-6)
    h = np.sqrt(0.5)
    np.testing.assert_allclose(world_quats[1].numpy(), [h, 0, 0, h], atol=1e-6)
    # q_z(90) x q_x(0.6 rad) = (h cos.3, h sin.3, h sin.3, h cos.3) by the product rule
    c, s = np.cos(0.3), np.sin(0.3)
    np.testing.assert_allclose(world_quats[2].numpy(), [h * c, h * s, h * s, h * c], atol=1e-6)
    # the colour a link-frame Gaussian shows towards d is the colour the world one shows towards R d
    rng = np.random.default_rng(0)
    sh = rng.normal(0, 0.5, (3, 4, 3)).astype(np.float32)
    world_sh = poser.rotate_sh(torch.from_numpy(sh), 0).numpy()
    d = np.array([[0.3, -0.5, 0.81]]) / np.linalg.norm([0.3, -0.5, 0.81])
    before = eval_sh_basis(d, 1)[0] @ sh[1]
    after = eval_sh_basis(d @ _rz(np.pi / 2).T, 1)[0] @ world_sh[1]
    np.testing.assert_allclose(after, before, atol=1e-4)
    np.testing.assert_allclose(world_sh[0], sh[0], atol=1e-6)  # link 0 did not turn


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from splattwin.pipelines.robot import ImportRobotConfig, import_robot
    from splattwin.robot.kinematics import load_robot
    from splattwin.usd.splats import read_gaussians_usd

    folder = tmp_path_factory.mktemp("robot-appearance")
    urdf = folder / "arm2.urdf"
    urdf.write_text(ARM)
    stage = folder / "twin.usda"
    import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=250))
    robot = load_robot(stage, "/World/Robot")
    links = [(link, f"{robot.link_paths[link]}/Gaussians") for link, _, _ in robot.gaussians["slices"]]
    truth = {path: read_gaussians_usd(stage, path) for _, path in links}
    cameras = [
        look_at_camera(eye, (0.0, 0.0, 0.22), width=SIZE, height=SIZE, vertical_fov_deg=50)
        for eye in ((0.9, -0.7, 0.6), (-0.6, -0.9, 0.5))
    ]
    return {"folder": folder, "stage": stage, "robot": robot, "links": links, "truth": truth, "cameras": cameras}


def _canonical(arm: dict) -> tuple[Gaussians, np.ndarray]:
    parts = [arm["truth"][path] for _, path in arm["links"]]
    index = np.concatenate([np.full(len(g), link) for (link, _), g in zip(arm["links"], parts, strict=True)])
    return Gaussians.concatenate(parts), index


def _perturbed(g: Gaussians, seed: int = 1) -> Gaussians:
    rng = np.random.default_rng(seed)
    colours = np.clip(g.colors + rng.normal(0, 0.25, g.colors.shape), 0.02, 0.98)
    return Gaussians(g.means, g.quats_wxyz, g.scales, g.opacities, rgb_to_sh0(colours)[:, None])


def _poser(arm: dict, index: np.ndarray, q: np.ndarray) -> LinkPoser:
    """Every joint state from every camera: view v is state v // cameras, camera v % cameras."""
    poses = arm["robot"].link_poses(torch.tensor(np.repeat(q, len(arm["cameras"]), axis=0)))
    return LinkPoser(poses, torch.from_numpy(index))


def _render(canonical: Gaussians, poser: LinkPoser, cameras: list, views: list[int]) -> list[np.ndarray]:
    images = []
    with torch.no_grad():
        for v in views:
            means, quats = poser(torch.from_numpy(canonical.means), torch.from_numpy(canonical.quats_wxyz), v)
            posed = Gaussians(means.numpy(), quats.numpy(), canonical.scales, canonical.opacities, canonical.sh)
            images.append(render_views(posed, [cameras[v]])[0])
    return images


def _views(arm: dict, canonical: Gaussians, index: np.ndarray, q: np.ndarray) -> tuple[list, list, LinkPoser]:
    """(cameras, images, poser) of ``canonical`` posed at each joint state, every state from every camera."""
    poser = _poser(arm, index, q)
    cameras = [c for _ in q for c in arm["cameras"]]
    return cameras, _render(canonical, poser, cameras, list(range(len(cameras)))), poser


def test_link_appearance_fits_held_out_joint_states_only_with_each_view_at_its_own_joints(arm: dict) -> None:
    """Many overlapping Gaussians per pixel leave single colours unidentifiable; what a fit must reproduce, as
    Dr. Robot measures it, is the images at joint states it never saw."""
    canonical, index = _canonical(arm)
    cameras, images, poser = _views(arm, canonical, index, STATES)
    held = [len(cameras) - 2, len(cameras) - 1]  # the last joint state, from both cameras: never trained on
    config = AppearanceConfig(iterations=120, fit_geometry=False, prune_opacity=0.0, seed=0)
    start = _perturbed(canonical)
    result = fit_appearance(start, cameras, images, config=config, held_out=held, poser=poser)
    assert min(result.psnr_after) > max(result.psnr_before) + 12, (result.psnr_before, result.psnr_after)
    # the same frames with every view posed at rest: trained on the wrong pixels, it misses the held-out state
    at_rest = _poser(arm, index, np.zeros_like(STATES))
    wrong = fit_appearance(start, cameras, images, config=config, held_out=held, poser=at_rest)
    seen = _render(wrong.gaussians, poser, cameras, held)
    wrong_psnr = [psnr(seen[k], images[v]) for k, v in enumerate(held)]
    assert max(wrong_psnr) < min(result.psnr_after) - 10, (wrong_psnr, result.psnr_after)


def _write_twin_inputs(arm: dict, folder: Path, start: Gaussians) -> tuple[Path, list[Path], Path]:
    """A copy of the arm twin with perturbed link colours and two cameras; per camera a frame folder with
    timestamps.csv; the joint log (CSV) on the same clock."""
    import shutil

    import imageio.v3 as iio

    from splattwin.usd.cameras import define_camera
    from splattwin.usd.splats import define_gaussians_prim
    from splattwin.usd.stage import edit_twin

    twin = folder / "twin"
    shutil.copytree(arm["stage"].parent, twin, ignore=shutil.ignore_patterns("*.urdf"))
    stage = twin / arm["stage"].name
    canonical, index = _canonical(arm)
    with edit_twin(stage) as edit:
        for link, path in arm["links"]:
            with edit.edit_layer(edit.layer_of(path) or "robot"):
                define_gaussians_prim(edit.stage, path, start.subset(index == link))
        with edit.edit_layer("scene"):
            for i, c in enumerate(arm["cameras"]):
                define_camera(
                    edit.stage, f"/World/Cameras/c{i}", K=c.K, width=c.width, height=c.height,
                    camera_to_world=np.linalg.inv(c.viewmat),
                )  # fmt: skip
    times = 0.1 * np.arange(len(STATES))
    log = folder / "joints.csv"
    names = arm["robot"].joint_names
    rows = ["time," + ",".join(names)] + [f"{t}," + ",".join(map(str, q)) for t, q in zip(times, STATES, strict=True)]
    log.write_text("\n".join(rows) + "\n")
    _, images, _ = _views(arm, canonical, index, STATES)
    folders = []
    for c in range(len(arm["cameras"])):
        frames = folder / f"c{c}"
        frames.mkdir()
        stamps = ["name,time"]
        for f in range(len(STATES)):
            iio.imwrite(frames / f"{f:03d}.png", (images[f * len(arm["cameras"]) + c] * 255).round().astype(np.uint8))
            stamps.append(f"{f:03d}.png,{times[f]}")
        (frames / "timestamps.csv").write_text("\n".join(stamps) + "\n")
        folders.append(frames)
    return stage, folders, log


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*.usd*"))}


def test_fit_appearance_robot_verb_end_to_end(arm: dict, tmp_path: Path) -> None:
    from pxr import Usd

    from splattwin.usd.splats import read_gaussians_usd

    canonical, index = _canonical(arm)
    start = _perturbed(canonical)
    stage, folders, log = _write_twin_inputs(arm, tmp_path, start)
    before = _snapshot(stage.parent)
    args = ["fit-appearance", "--stage", str(stage), "--robot", "/World/Robot", "--joints", str(log)]
    args += ["--camera", "c0", "c1", "--images", *map(str, folders), "--held-out-every", "3"]
    args += ["--report", str(tmp_path / "r.json"), "--comparison", str(tmp_path / "cmp.png")]
    args += ["--iterations", "120", "--colors-only", "--prune-opacity", "0"]
    assert main(args) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["views"] == 12 and report["held_out"] == ["c0/002.png", "c0/005.png", "c1/002.png", "c1/005.png"]
    assert min(report["psnr_after"]) > max(report["psnr_before"]) + 8
    after = _snapshot(stage.parent)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"robot.usdc"}, changed  # the link prims live in the robot layer; nothing else moved
    usd = Usd.Stage.Open(str(stage))
    for link, path in arm["links"]:
        assert usd.GetPrimAtPath(path).GetCustomDataByKey("splattwin:appearance")["views"] == 12
        fitted = read_gaussians_usd(stage, path)
        np.testing.assert_allclose(fitted.means, arm["truth"][path].means, atol=1e-6)  # in its link frame
        assert np.abs(fitted.colors - start.colors[index == link]).max() > 0.05  # refitted, not left as it was


def test_fit_appearance_robot_refuses_bad_input(arm: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    canonical, _ = _canonical(arm)
    stage, folders, log = _write_twin_inputs(arm, tmp_path, canonical)
    short = tmp_path / "short.csv"
    short.write_text(log.read_text().splitlines()[0] + "\n" + "\n".join(log.read_text().splitlines()[1:3]) + "\n")
    one_joint = tmp_path / "one.csv"
    one_joint.write_text("time,yaw\n0,0\n1,0\n")
    before = _snapshot(stage.parent)
    base = ["fit-appearance", "--stage", str(stage), "--camera", "c0", "c1", "--images", *map(str, folders)]
    base += ["--report", str(tmp_path / "r.json"), "--iterations", "2"]
    cases = [
        (["--robot", "/World/Robot"], "needs its joint log"),
        (["--robot", "/World/Robot", "--joints", str(short)], "outside the joint log"),
        (["--robot", "/World/Robot", "--joints", str(one_joint)], "no column for joint(s) pitch"),
        (["--prim", "/World/Robot/base/Gaussians", "--held-out-every", "2"], "only with --robot"),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        assert message in capsys.readouterr().err
        assert _snapshot(stage.parent) == before
    assert not (tmp_path / "r.json").exists()


def test_shade_sh_multiplies_the_colour_by_the_irradiance_of_the_world_normal() -> None:
    from splattwin.vision.appearance import SH_C0, shade_sh, unit_shading

    c1 = 0.4886025119029199  # Y_1,0 = c1 z in 3DGS's real-SH order (-c1 y, c1 z, -c1 x)
    colour = np.array([0.4, 0.6, 0.2], np.float32)
    dc = (colour - 0.5) / SH_C0
    sh = torch.tensor(np.stack([dc, dc, dc])[:, None], dtype=torch.float32)  # [3, 1, 3]
    up, down = [1.0, 0, 0, 0], [0.0, 1.0, 0, 0]  # local z along +z; turned 180 deg about x: along -z
    tilted = [np.cos(np.pi / 4), 0, np.sin(np.pi / 4), 0]  # 90 deg about y: local z along +x
    quats = torch.tensor([up, down, tilted], dtype=torch.float32)
    light = unit_shading()
    light[2] = 0.5  # E(n) = 1 + 0.5 c1 n_z
    out = shade_sh(sh, quats, torch.from_numpy(light)).numpy()
    shown = SH_C0 * out[:, 0] + 0.5
    np.testing.assert_allclose(shown[0], colour * (1 + 0.5 * c1), atol=1e-6)
    np.testing.assert_allclose(shown[1], colour * (1 - 0.5 * c1), atol=1e-6)
    np.testing.assert_allclose(shown[2], colour, atol=1e-6)  # n_z = 0
    np.testing.assert_allclose(shade_sh(sh, quats, torch.from_numpy(unit_shading())).numpy(), sh.numpy(), atol=1e-6)
