"""estimate-pose and reach-image on a two-joint arm: joints recovered from images of an independent renderer
(pybullet's TinyRenderer, its projection checked against K [R|t] X), the loss gradient against finite
differences, the trajectory CSV through ``trajectory import``, bad input refused, an unconverged fit reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pybullet")
pytest.importorskip("pxr")

from vision_pose_support import TinyScene, tiny_projection_check  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.errors import InputError  # noqa: E402
from splattwin.pipelines.pose import check_converged, fits_to_trajectory  # noqa: E402
from splattwin.pipelines.robot import ImportRobotConfig, import_robot  # noqa: E402
from splattwin.pipelines.trajectory import stage_trajectory  # noqa: E402
from splattwin.render.camera import Camera, look_at_camera  # noqa: E402
from splattwin.robot.kinematics import load_robot  # noqa: E402
from splattwin.vision.control import minimum_jerk, reach_image  # noqa: E402
from splattwin.vision.pose import (  # noqa: E402
    FitOptions,
    estimate_pose,
    estimate_sequence,
    pose_loss,
    render_robot,
)

ARM = """<?xml version="1.0"?>
<robot name="arm2">
  <material name="red"><color rgba="0.8 0.2 0.2 1"/></material>
  <material name="blue"><color rgba="0.2 0.3 0.8 1"/></material>
  <link name="base"><visual><geometry><box size="0.12 0.12 0.06"/></geometry><material name="blue"/></visual></link>
  <link name="upper">
    <visual><origin xyz="0 0 0.15"/><geometry><box size="0.05 0.05 0.3"/></geometry><material name="red"/></visual>
  </link>
  <link name="fore">
    <visual><origin xyz="0.12 0 0"/><geometry><box size="0.24 0.04 0.04"/></geometry><material name="blue"/>
    </visual>
  </link>
  <joint name="yaw" type="revolute"><parent link="base"/><child link="upper"/><origin xyz="0 0 0.03"/>
    <axis xyz="0 0 1"/><limit lower="-2.5" upper="2.5" effort="10" velocity="1"/></joint>
  <joint name="pitch" type="revolute"><parent link="upper"/><child link="fore"/><origin xyz="0 0 0.3"/>
    <axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="10" velocity="1"/></joint>
</robot>
"""
SIZE = 128


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("arm")
    urdf = folder / "arm2.urdf"
    urdf.write_text(ARM)
    stage = folder / "twin.usda"
    import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=1500))
    robot = load_robot(stage, "/World/Robot")
    camera = look_at_camera((0.9, -0.7, 0.6), (0.0, 0.0, 0.22), width=SIZE, height=SIZE, vertical_fov_deg=45)
    camera.K[0, 2] += 3.3  # an off-centre principal point, so a wrong sign in the projection would show
    scene = TinyScene(urdf)
    yield {"folder": folder, "urdf": urdf, "stage": stage, "robot": robot, "camera": camera, "scene": scene}
    scene.close()


def _tiny(arm, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arm["scene"].set_joints(dict(zip(arm["robot"].joint_names, q, strict=True)))
    return arm["scene"].render(arm["camera"])


def test_independent_renderer_projects_like_the_camera(arm) -> None:
    for point in ([0.1, 0.05, 0.3], [-0.15, 0.1, 0.1]):
        centroid, projected = tiny_projection_check(arm["camera"], np.array(point), radius=0.01)
        assert np.abs(centroid - projected).max() < 0.35, (centroid, projected)


def test_joints_recovered_from_tiny_renderer_images(arm) -> None:
    robot = arm["robot"]
    assert robot.joint_names == ["yaw", "pitch"]
    truth = np.array([0.6, -0.4])
    image, mask = _tiny(arm, truth)
    start = truth + np.array([0.25, -0.25])
    fit = estimate_pose(robot, [arm["camera"]], image[None], mask[None], start, FitOptions(iterations=80))
    assert fit.converged, (fit.iou, fit.residual)
    assert np.abs(fit.q - truth).max() < 0.03, fit.q
    assert np.abs(start - truth).max() > 0.2  # it moved


def test_camera_fitted_with_the_joints(arm) -> None:
    """--fit-camera: a camera 2 cm / 2 deg off is corrected while the joints are found (two views)."""
    from splattwin.vision.pose import apply_camera_delta

    robot = arm["robot"]
    truth = np.array([-0.3, 0.5])
    second = look_at_camera((-0.6, -0.9, 0.5), (0.0, 0.0, 0.22), width=SIZE, height=SIZE, vertical_fov_deg=45)
    views = [arm["camera"], second]
    shots = []
    for cam in views:
        arm["scene"].set_joints(dict(zip(robot.joint_names, truth, strict=True)))
        shots.append(arm["scene"].render(cam))
    delta = torch.tensor([0.0, 0.035, 0.0, 0.02, 0.0, 0.0], dtype=torch.float64)
    off = Camera(
        viewmat=apply_camera_delta(torch.tensor(views[1].viewmat), delta).numpy(), K=second.K, width=SIZE, height=SIZE
    )
    images = np.stack([s[0] for s in shots])
    masks = np.stack([s[1] for s in shots])
    start = truth + 0.15
    options = FitOptions(iterations=120, fit_camera=True)
    fit = estimate_pose(robot, [views[0], off], images, masks, start, options)
    assert np.abs(fit.q - truth).max() < 0.05, fit.q
    moved = np.linalg.norm(fit.viewmats[1][:3, 3] - second.viewmat[:3, 3])
    assert moved < 0.6 * np.linalg.norm(off.viewmat[:3, 3] - second.viewmat[:3, 3])


def test_loss_gradient_matches_finite_differences(arm) -> None:
    """d loss / d q through kinematics, posing and the rasterizer, against central differences.

    The whole loss: within 15 %. The rasterizer's analytic gradient is gsplat's (the same as the independent
    torch reference's autograd, tests/render_reference.py): it does not see the 1/255 alpha cut and the
    transmittance stop moving with the Gaussians, which differences do see; on these images that makes it
    7-10 % smaller than the differences (docs/pose.md). The chain from q to the Gaussians is checked exactly: the
    autograd gradient equals the rasterizer's gradient wrt the posed means and rotations contracted with
    central differences of the posing.
    """
    from splattwin.render.rasterizer import rasterization

    robot, camera = arm["robot"], arm["camera"]
    image, mask = _tiny(arm, np.array([0.6, -0.4]))
    target = torch.from_numpy(image[None])
    target_mask = torch.from_numpy(mask[None].astype(np.float32))
    viewmats, Ks = torch.tensor(camera.viewmat)[None], torch.tensor(camera.K)[None]  # noqa: N806

    def loss(q: torch.Tensor) -> torch.Tensor:
        rgb, alpha = render_robot(robot, q, viewmats, Ks, SIZE, SIZE)
        return pose_loss(rgb, alpha, target, target_mask, photometric=0.1, blur_px=(4.0, 1.0))

    q = torch.tensor([0.75, -0.3], dtype=torch.float64, requires_grad=True)
    loss(q).backward()
    h = 3e-3
    steps = torch.eye(2, dtype=torch.float64) * h
    for j in range(2):
        with torch.no_grad():
            fd = (float(loss(q + steps[j])) - float(loss(q - steps[j]))) / (2 * h)
        assert abs(fd) > 1e-3  # the joint changes the loss
        assert float(q.grad[j]) == pytest.approx(fd, rel=0.15), (j, float(q.grad[j]), fd)

    def posed(qv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = robot.pose_gaussians(qv[None])
        return g["means"][0], g["quats_wxyz"][0]

    with torch.no_grad():
        means0, quats0 = (t.contiguous() for t in posed(q.detach()))
    means = means0.clone().requires_grad_(True)
    quats = quats0.clone().requires_grad_(True)
    g = robot.pose_gaussians(q.detach()[None])
    rgb, alpha, _ = rasterization(
        means,
        quats,
        g["scales"],
        g["opacities"],
        g["sh"][0].contiguous(),
        viewmats.float(),
        Ks.float(),
        SIZE,
        SIZE,
        sh_degree=0,
    )
    pose_loss(rgb.clamp(0, 1), alpha[..., 0], target, target_mask, photometric=0.1, blur_px=(4.0, 1.0)).backward()
    for j in range(2):
        with torch.no_grad():
            (mp, qp), (mm, qm) = posed(q.detach() + steps[j]), posed(q.detach() - steps[j])
        chained = float((means.grad * (mp - mm)).sum() + (quats.grad * (qp - qm)).sum()) / (2 * h)
        assert float(q.grad[j]) == pytest.approx(chained, rel=2e-3), (j, float(q.grad[j]), chained)


def test_video_warm_started_and_written_for_trajectory_import(arm, tmp_path: Path) -> None:
    robot = arm["robot"]
    times = np.array([0.0, 0.1, 0.2])
    truth = np.array([[0.2, 0.1], [0.28, 0.05], [0.36, 0.0]])
    shots = [_tiny(arm, q) for q in truth]
    images = np.stack([s[0] for s in shots])[:, None]
    masks = np.stack([s[1] for s in shots])[:, None]
    fits = estimate_sequence(
        robot, [arm["camera"]], images, masks, truth[0] + 0.2, FitOptions(iterations=60, smooth=1e-4)
    )
    estimated = np.stack([f.q for f in fits])
    assert np.abs(estimated - truth).max() < 0.03, estimated
    out = tmp_path / "traj.csv"
    from splattwin.io.trajectory import write_trajectory

    write_trajectory(out, fits_to_trajectory(robot.joint_names, times, fits))
    import shutil

    shutil.copytree(arm["folder"], tmp_path / "twin")  # the root layer and its sublayers
    stage = tmp_path / "twin" / arm["stage"].name
    assert main(["trajectory", "import", str(out), "--stage", str(stage), "--robot", "/World/Robot"]) == 0
    back = stage_trajectory(stage, "/World/Robot")
    columns = [back.joint_names.index(n) for n in robot.joint_names]
    assert np.allclose(back.times, times)
    assert np.allclose(back.positions[:, columns], estimated, atol=1e-6)


def test_bad_input_and_unconverged_fit_are_reported(arm) -> None:
    robot, camera = arm["robot"], arm["camera"]
    image, mask = _tiny(arm, np.array([0.0, 0.0]))
    small = Camera(viewmat=camera.viewmat, K=camera.K, width=SIZE // 2, height=SIZE)
    with pytest.raises(InputError, match="64x128"):
        estimate_pose(robot, [small], image[None], mask[None], np.zeros(2))
    with pytest.raises(InputError, match="2 cameras but 1 images"):
        estimate_pose(robot, [camera, camera], image[None], mask[None], np.zeros(2))
    with pytest.raises(InputError, match="not visible"):
        estimate_pose(robot, [camera], image[None], np.zeros_like(mask)[None], np.zeros(2))
    with pytest.raises(InputError, match="--init"):
        estimate_pose(robot, [camera], image[None], mask[None], np.zeros(3))
    # Two steps from 1.2 rad away cannot converge: the answer comes back flagged, and the pipeline refuses it.
    fit = estimate_pose(robot, [camera], image[None], mask[None], np.array([1.2, 1.2]), FitOptions(iterations=2))
    assert not fit.converged
    assert fit.residual > 0
    with pytest.raises(InputError, match="did not converge on 1 of 1 frames.*residual"):
        check_converged([fit], ["frame_0"], 0.7)


def test_reach_image_moves_onto_the_target(arm) -> None:
    robot, camera = arm["robot"], arm["camera"]
    goal = np.array([-0.5, 0.6])
    target, mask = _tiny(arm, goal)
    start = np.array([-0.25, 0.35])
    plan = reach_image(
        robot, [camera], target[None], mask[None], start, duration=1.0, rate_hz=20.0, options=FitOptions(iterations=80)
    )
    assert plan.fit.converged
    assert np.allclose(plan.positions[0], start)
    assert np.abs(plan.positions[-1] - goal).max() < 0.03, plan.positions[-1]
    limits = robot.joint_limits.numpy()
    assert (plan.positions >= limits[:, 0] - 1e-12).all() and (plan.positions <= limits[:, 1] + 1e-12).all()
    velocity = np.gradient(plan.positions, plan.times, axis=0)
    assert np.abs(velocity[0]).max() < 0.05 and np.abs(velocity[-1]).max() < 0.05  # starts and stops at rest
    # minimum jerk: the midpoint is halfway, the quarter point at s(0.25) = 0.103516
    path = minimum_jerk(np.zeros(1), np.ones(1), np.linspace(0, 1, 5))
    assert path[2, 0] == pytest.approx(0.5) and path[1, 0] == pytest.approx(0.103515625)


def test_fit_stays_within_the_joint_limits(arm) -> None:
    """The image shows pitch 1.75 rad, past its 1.5 limit: the fit stops at the limit, never beyond."""
    robot = arm["robot"]
    image, mask = _tiny(arm, np.array([0.3, 1.75]))
    options = FitOptions(iterations=40, restarts=1, restart_spread=0.1)
    fit = estimate_pose(robot, [arm["camera"]], image[None], mask[None], np.array([0.3, 1.2]), options)
    assert fit.starts == 2 and fit.iterations == 80
    assert fit.q[1] <= 1.5 + 1e-12
    assert fit.q[1] == pytest.approx(1.5, abs=0.02)  # pushed against it


def test_camera_correction_is_the_rigid_motion_of_its_rotation_vector() -> None:
    from scipy.spatial.transform import Rotation

    from splattwin.vision.pose import apply_camera_delta

    rng = np.random.default_rng(3)
    viewmat = np.eye(4)
    viewmat[:3, :3] = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    viewmat[:3, 3] = rng.normal(size=3)
    for w in (np.array([0.3, -0.2, 0.5]), np.array([1e-6, 0.0, -2e-6])):
        t = np.array([0.05, -0.02, 0.01])
        expected = np.eye(4)
        expected[:3, :3] = Rotation.from_rotvec(w).as_matrix()
        expected[:3, 3] = t
        got = apply_camera_delta(torch.tensor(viewmat), torch.tensor(np.concatenate([w, t]))).numpy()
        assert np.allclose(got, expected @ viewmat, atol=1e-12)
