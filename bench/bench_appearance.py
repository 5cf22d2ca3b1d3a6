"""fit-appearance of the real Panda's link Gaussians from images of an independent renderer, held-out-pose PSNR.

Issue 20 target: held-out-pose PSNR >= 33 dB at 128x128 (Dr. Robot's Panda: 32.84 dB). The robot is pybullet_data's
``franka_panda/panda.urdf`` imported with ``import-robot`` (no scan: Gaussians sampled on the link meshes, coloured
by the URDF's materials). Images: pybullet's TinyRenderer (shaded, its own lighting) at random joint states from
three cameras, composited over black with the robot's mask. Training states and held-out states are disjoint; the
fit is :func:`splattwin.vision.appearance.fit_appearance` with :class:`~splattwin.vision.appearance.LinkPoser`,
as ``splattwin fit-appearance --robot`` runs it. Printed: the held-out PSNR (whole image, and inside the robot's
mask) before and after, with the time. The baseline measured in the same run is the unfitted model. Nothing is
asserted.

    python bench/bench_appearance.py                    # 16 training + 4 held-out states, 3 cameras, 600 steps
    python bench/bench_appearance.py --states 6 --held-out 2 --iterations 150    # quicker
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import splattwin  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch and numba load libgomp)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import pybullet_data
    import torch
    from rich.console import Console
    from rich.progress import Progress
    from vision_pose_support import TinyScene

    from splattwin.gaussians import Gaussians
    from splattwin.pipelines.robot import ImportRobotConfig, import_robot
    from splattwin.render.camera import look_at_camera
    from splattwin.robot.kinematics import load_robot
    from splattwin.usd.splats import read_gaussians_usd
    from splattwin.vision.appearance import (
        AppearanceConfig,
        LinkPoser,
        fit_appearance,
        psnr,
        render_views,
        shade_sh,
        unit_shading,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=16, help="training joint states (x 3 cameras)")
    parser.add_argument("--held-out", type=int, default=4, help="held-out joint states (x 3 cameras)")
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--per-link", type=int, default=900, help="Gaussians per link (Panda: 11 links, ~10k)")
    parser.add_argument("--sh-degree", type=int, default=1, help="SH degree of the fitted colours (link frame)")
    parser.add_argument("--colors-only", action="store_true", help="keep the geometry")
    parser.add_argument("--shading", action="store_true", help="also fit a world-frame shading (irradiance SH)")
    parser.add_argument("--image", type=Path, help="PNG: held-out views, rows target | unfitted | fitted")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    torch.set_num_threads(2)
    urdf = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    with tempfile.TemporaryDirectory() as folder:
        stage = Path(folder) / "twin.usda"
        import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=args.per_link))
        robot = load_robot(stage, "/World/Robot")
        links = [(link, f"{robot.link_paths[link]}/Gaussians") for link, _, _ in robot.gaussians["slices"]]
        parts = [read_gaussians_usd(stage, path) for _, path in links]
    canonical = Gaussians.concatenate(parts).with_sh_degree(args.sh_degree)
    index = np.concatenate([np.full(len(g), link) for (link, _), g in zip(links, parts, strict=True)])
    cameras = [
        look_at_camera(eye, (0.0, 0.0, 0.45), width=args.size, height=args.size, vertical_fov_deg=55)
        for eye in ((1.5, 0.9, 1.0), (-0.4, 1.6, 0.8), (1.2, -1.2, 1.3))
    ]
    rng = np.random.default_rng(args.seed)
    limits = robot.joint_limits.numpy()
    middle, half = limits.mean(axis=1), 0.4 * (limits[:, 1] - limits[:, 0])
    states = rng.uniform(middle - half, middle + half, (args.states + args.held_out, robot.dof))
    scene = TinyScene(urdf)
    images, masks, views = [], [], []
    for q in states:
        values = dict(zip(robot.joint_names, q, strict=True))
        values["panda_finger_joint2"] = q[-1]  # the URDF's mimic, which pybullet does not apply
        scene.set_joints(values)
        for camera in cameras:
            rgb, mask = scene.render(camera)
            images.append(rgb * mask[..., None])
            masks.append(mask.astype(np.float32))
            views.append(camera)
    scene.close()
    held = list(range(args.states * len(cameras), len(views)))
    with torch.no_grad():
        poses = robot.link_poses(torch.tensor(np.repeat(states, len(cameras), axis=0)))
    poser = LinkPoser(poses, torch.from_numpy(index), canonical.sh_degree)
    console.print(
        f"Panda: {len(canonical)} Gaussians (SH degree {canonical.sh_degree}), {args.size}x{args.size}, "
        f"{len(views) - len(held)} training views ({args.states} states x {len(cameras)} cameras), "
        f"{len(held)} held-out views ({args.held_out} states)"
    )

    def renders(g: Gaussians, which: list[int], shading: np.ndarray | None = None) -> list[np.ndarray]:
        out = []
        with torch.no_grad():
            for v in which:
                means, quats = poser(torch.from_numpy(g.means), torch.from_numpy(g.quats_wxyz), v)
                sh = poser.rotate_sh(torch.from_numpy(g.sh), v)
                sh = shade_sh(sh, quats, torch.from_numpy(unit_shading() if shading is None else shading))
                posed = Gaussians(means.numpy(), quats.numpy(), g.scales, g.opacities, sh.numpy())
                out.append(render_views(posed, [views[v]])[0])
        return out

    def mean_psnr(g: Gaussians, which: list[int], shading: np.ndarray | None = None) -> tuple[float, float]:
        drawn = renders(g, which, shading)
        whole = [psnr(d, images[v]) for d, v in zip(drawn, which, strict=True)]
        inside = [psnr(d, images[v], masks[v]) for d, v in zip(drawn, which, strict=True)]
        return float(np.mean(whole)), float(np.mean(inside))

    seen = list(range(0, len(views) - len(held), max(1, (len(views) - len(held)) // len(held))))[: len(held)]
    before = mean_psnr(canonical, held)
    config = AppearanceConfig(
        iterations=args.iterations,
        fit_geometry=not args.colors_only,
        fit_shading=args.shading,
        prune_opacity=0.0,
        seed=args.seed,
    )
    began = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("fitting", total=args.iterations)
        result = fit_appearance(
            canonical, views, images, config=config, held_out=held, poser=poser,
            progress=lambda d, t: progress.update(task, completed=d, total=t),
        )  # fmt: skip
    seconds = time.perf_counter() - began
    after = mean_psnr(result.gaussians, held, result.shading)
    trained = mean_psnr(result.gaussians, seen, result.shading)
    print("\n| model | held-out PSNR, whole image [dB] | inside the robot's mask [dB] | training views, whole [dB] |")
    print("|---|---|---|---|")
    print(f"| unfitted (URDF material colours) | {before[0]:.2f} | {before[1]:.2f} | |")
    if args.image is not None:
        import imageio.v3 as iio

        shown = held[: len(cameras)]
        fitted = renders(result.gaussians, shown, result.shading)
        rows = zip([images[v] for v in shown], renders(canonical, shown), fitted, strict=True)
        picture = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
        iio.imwrite(args.image, (np.clip(picture, 0, 1) * 255).round().astype(np.uint8))
    label = f"fitted, {result.iterations} steps" + (", shading" if args.shading else "")
    print(f"| {label} | {after[0]:.2f} | {after[1]:.2f} | {trained[0]:.2f} |")
    print(
        f"\nfit: {seconds:.1f} s ({1000 * seconds / max(result.iterations, 1):.0f} ms / step), residual "
        f"{result.residual:.4g}; Dr. Robot's Panda: 32.84 dB, target 33 dB (whole image)"
    )


if __name__ == "__main__":
    main()
