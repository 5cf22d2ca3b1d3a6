"""Joint angles of the real Panda from images of an independent renderer (pybullet's TinyRenderer), absolute errors.

Issue 20 targets, known camera, start within 0.3 rad of the truth: mean joint error <= 0.03 rad, >= 95 %
converged, <= 20 s per image; camera also unknown (5 cm / 5 deg off): <= 0.06 rad with at most 4 starts; one
render-and-compare iteration (forward + backward, 10k Gaussians, 256x256) <= 40 ms. The robot's Gaussians are the
twin's link-bound Gaussians from ``import-robot`` (no scan: sampled on the link meshes). The images come from
pybullet's TinyRenderer with the project camera's K and extrinsics (projection checked on a sphere below).
Nothing is asserted; numbers are printed.

    python bench/bench_pose.py                       # 20 images known camera, 8 unknown camera
    python bench/bench_pose.py --images 4 --camera-images 2 --iterations 80   # quicker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import splattwin  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch and numba load libgomp)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _perturbed_camera(camera, rng, metres: float, degrees: float):  # noqa: ANN001, ANN202
    import torch

    from splattwin.render.camera import Camera
    from splattwin.vision.pose import apply_camera_delta

    axis = rng.normal(size=3)
    direction = rng.normal(size=3)
    w = np.radians(degrees) * axis / np.linalg.norm(axis)
    t = metres * direction / np.linalg.norm(direction)
    delta = torch.tensor(np.concatenate([w, t]))
    viewmat = apply_camera_delta(torch.tensor(camera.viewmat), delta).numpy()
    return Camera(viewmat=viewmat, K=camera.K, width=camera.width, height=camera.height)


def main() -> None:
    import pybullet_data
    import torch
    from rich.console import Console
    from vision_pose_support import TinyScene, tiny_projection_check

    from splattwin.pipelines.robot import ImportRobotConfig, import_robot
    from splattwin.render.camera import look_at_camera
    from splattwin.robot.kinematics import load_robot
    from splattwin.vision.pose import FitOptions, estimate_pose, pose_loss, render_robot

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="random joint states, known camera")
    parser.add_argument("--camera-images", type=int, default=8, help="random joint states, camera 5 cm / 5 deg off")
    parser.add_argument("--iterations", type=int, default=120)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--per-link", type=int, default=900, help="Gaussians per link (Panda: 11 links, ~10k)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    torch.set_num_threads(2)
    urdf = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    with tempfile.TemporaryDirectory() as folder:
        stage = Path(folder) / "twin.usda"
        import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=args.per_link))
        robot = load_robot(stage, "/World/Robot")
    n = len(robot.gaussians["scales"])
    camera = look_at_camera((1.5, 0.9, 1.0), (0.0, 0.0, 0.45), width=args.size, height=args.size, vertical_fov_deg=50)
    centroid, projected = tiny_projection_check(camera, np.array([0.2, 0.1, 0.6]), radius=0.01)
    console.print(
        f"Panda: {robot.dof} joints, {n} Gaussians; {args.size}x{args.size}; TinyRenderer vs K[R|t]X: "
        f"{np.abs(centroid - projected).max():.2f} px"
    )
    scene = TinyScene(urdf)
    limits = robot.joint_limits.numpy()
    arm = slice(0, 7)  # the seven revolute joints; the finger (m) is reported apart
    rng = np.random.default_rng(args.seed)

    def shot(q: np.ndarray, cam) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        values = dict(zip(robot.joint_names, q, strict=True))
        values["panda_finger_joint2"] = q[-1]  # the URDF's mimic, which pybullet does not apply
        scene.set_joints(values)
        return scene.render(cam)

    def draw() -> np.ndarray:
        # within 80 % of each range: the Panda's extreme corners fold the arm into itself
        middle, half = limits.mean(axis=1), 0.4 * (limits[:, 1] - limits[:, 0])
        return rng.uniform(middle - half, middle + half)

    # one iteration's cost
    truth = draw()
    image, mask = shot(truth, camera)
    target, target_mask = torch.from_numpy(image[None]), torch.from_numpy(mask[None].astype(np.float32))
    viewmats, Ks = torch.tensor(camera.viewmat)[None], torch.tensor(camera.K)[None]  # noqa: N806
    q = torch.tensor(truth + 0.1, requires_grad=True)
    times = []
    for _ in range(11):
        start = time.perf_counter()
        rgb, alpha = render_robot(robot, q, viewmats, Ks, args.size, args.size, scale=0.5)
        pose_loss(rgb, alpha, target, target_mask, photometric=0.0, blur_px=(8.0, 2.0, 0.0), erode_px=1).backward()
        times.append(time.perf_counter() - start)
    iteration_ms = 1000 * statistics.median(times[1:])
    console.print(f"one iteration (posing + forward + backward + loss, {n} Gaussians): {iteration_ms:.1f} ms")

    def run(count: int, unknown_camera: bool) -> dict[str, float]:
        errors, finger, converged, seconds, ious = [], [], [], [], []
        options = FitOptions(iterations=args.iterations, fit_camera=unknown_camera, restarts=3 if unknown_camera else 0)
        for i in range(count):
            truth = draw()
            image, mask = shot(truth, camera)
            start = np.clip(truth + rng.uniform(-0.3, 0.3, robot.dof), limits[:, 0], limits[:, 1])
            start[-1] = truth[-1]
            given = _perturbed_camera(camera, rng, 0.05, 5.0) if unknown_camera else camera
            began = time.perf_counter()
            fit = estimate_pose(robot, [given], image[None], mask[None], start, options)
            seconds.append(time.perf_counter() - began)
            err = np.abs(fit.q - truth)
            errors.append(err[arm].mean())
            finger.append(err[-1])
            converged.append(fit.converged)
            ious.append(fit.iou[0])
            console.print(
                f"  {i}: start {np.abs(start - truth)[arm].mean():.3f} rad -> {err[arm].mean():.4f} rad "
                f"(max {err[arm].max():.3f}), IoU {fit.iou[0]:.3f}, {'converged' if fit.converged else 'NOT'}, "
                f"{seconds[-1]:.1f} s"
            )
        return {
            "mean": float(np.mean(errors)),
            "median": float(np.median(errors)),
            "within_0.03": float(np.mean(np.array(errors) <= 0.03)),
            "converged": float(np.mean(converged)),
            "seconds": float(np.mean(seconds)),
            "finger_mm": 1000 * float(np.mean(finger)),
            "iou": float(np.mean(ious)),
        }

    rows = []
    if args.images:
        console.print("known camera:")
        rows.append(("known camera", run(args.images, False), args.images))
    if args.camera_images:
        console.print("camera 5 cm / 5 deg off, fitted, 4 starts:")
        rows.append(("camera fitted", run(args.camera_images, True), args.camera_images))
    print(
        "\n| case | images | mean joint error [rad] | median | images <= 0.03 rad | converged (IoU) | "
        "mean IoU | finger error [mm] | s / image |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r, count in rows:
        print(
            f"| {name} | {count} | {r['mean']:.4f} | {r['median']:.4f} | {100 * r['within_0.03']:.0f} % | "
            f"{100 * r['converged']:.0f} % | {r['iou']:.3f} | {r['finger_mm']:.1f} | {r['seconds']:.1f} |"
        )
    print(f"\none iteration: {iteration_ms:.1f} ms ({n} Gaussians, {args.size}x{args.size}; target 40 ms)")
    scene.close()


if __name__ == "__main__":
    main()
