"""Object tracking on the demo's block pushed at 30 Hz, seen by two cameras: absolute errors per frame.

Issue 20 target: <= 2 mm / 1 deg per frame on pushes seen by 2 cameras at 30 Hz. The tracked model is the twin's
block as the demo builds it (3,025 Gaussians handed from the scene splat, `/World/Objects/Block`); the truth is a
hand-set push (minimum-jerk 4 cm along x, 1.2 cm along y, 10 deg about z over the frames); the start is the twin's
pose. Two image sources:

- ``mujoco-mesh`` and ``mujoco-splat``: an independent renderer (MuJoCo's OpenGL renderer, EGL), the block's
  collision mesh with the Gaussians' mean colour, ambient light only, on a grey table; the mask from its
  segmentation; no robot. Tracked with Gaussians sampled on the collision mesh (``-mesh``, scale 0.5 and one
  pixel of erosion) or with the twin's own splat Gaussians (``-splat``).
- ``splat-robot``: this project's rasterizer (the same Gaussians: an inverse crime, it measures the optimiser, not the
  model), with the robot's 30k link Gaussians at the demo's logged joints in the images and as the tracker's
  occluder; the mask is the block's visible alpha.

Both add Gaussian pixel noise (``--noise``). Nothing is asserted; numbers are printed.

    python bench/bench_tracking.py                                    # 15 frames, 96 px, three cases
    python bench/bench_tracking.py --frames 6 --cases mujoco-mesh      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import splattwin  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch and numba load libgomp)

os.environ.setdefault("MUJOCO_GL", "egl")
ROOT = Path(__file__).resolve().parents[1]


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def push(pose0: np.ndarray, frames: int, rate: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Times and world poses of a minimum-jerk push from ``pose0`` (turning about the block's vertical axis)."""
    times = np.arange(frames) / rate
    s = times / times[-1] if frames > 1 else np.zeros(1)
    profile = 10 * s**3 - 15 * s**4 + 6 * s**5
    poses = []
    for p in profile:
        out = pose0.copy()
        out[:3, :3] = _rz(np.radians(10.0) * p) @ pose0[:3, :3]
        out[:3, 3] = pose0[:3, 3] + np.array([0.04, 0.012, 0.0]) * p
        poses.append(out)
    return times, poses


def _cameras(centre: np.ndarray, size: int) -> list:
    from splattwin.render.camera import look_at_camera

    views = []
    for azimuth in (np.radians(200.0), np.radians(280.0)):
        eye = centre + 0.5 * np.array([np.cos(azimuth) * 0.8, np.sin(azimuth) * 0.8, 0.6])
        views.append(look_at_camera(eye, centre, width=size, height=size, vertical_fov_deg=35))
    return views


def _quat_wxyz(rotation: np.ndarray) -> np.ndarray:
    from splattwin.geometry.transforms import matrix_to_quat_wxyz

    return matrix_to_quat_wxyz(rotation)


def mujoco_frames(surface, colour: np.ndarray, poses: list[np.ndarray], views: list) -> tuple:  # noqa: ANN001
    """[T, C, H, W, 3] images and [T, C, H, W] masks of the block's mesh from MuJoCo's renderer."""
    import mujoco

    cams = []
    for k, camera in enumerate(views):
        c2w = np.linalg.inv(camera.viewmat)
        x, y = c2w[:3, 0], -c2w[:3, 1]  # OpenCV right / down -> MuJoCo (OpenGL) right / up
        fovy = np.degrees(2 * np.arctan(camera.height / 2 / camera.K[1, 1]))
        pos = " ".join(f"{v:.9g}" for v in c2w[:3, 3])
        axes = " ".join(f"{v:.9g}" for v in (*x, *y))
        cams.append(f'<camera name="c{k}" pos="{pos}" xyaxes="{axes}" fovy="{fovy:.9g}"/>')
    rgba = " ".join(f"{v:.6g}" for v in (*colour, 1.0))
    vertices = " ".join(f"{v:.9g}" for v in surface.vertices.reshape(-1))
    faces = " ".join(str(int(i)) for i in surface.faces.reshape(-1))
    xml = f"""<mujoco><visual><headlight ambient="1 1 1" diffuse="0 0 0" specular="0 0 0"/>
      <global offwidth="{views[0].width}" offheight="{views[0].height}"/></visual>
      <asset><mesh name="block" vertex="{vertices}" face="{faces}"/></asset>
      <worldbody><geom name="table" type="plane" size="2 2 0.01" rgba="0.55 0.55 0.55 1"/>
      <body name="block" mocap="true"><geom name="box" type="mesh" mesh="block" rgba="{rgba}"/></body>
      {"".join(cams)}</worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    box = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "box")
    renderer = mujoco.Renderer(model, views[0].height, views[0].width)
    images, masks = [], []
    for world in poses:
        data.mocap_pos[0] = world[:3, 3]
        data.mocap_quat[0] = _quat_wxyz(world[:3, :3])
        mujoco.mj_forward(model, data)
        row_i, row_m = [], []
        for k in range(len(views)):
            renderer.disable_segmentation_rendering()
            renderer.update_scene(data, camera=f"c{k}")
            row_i.append(renderer.render().astype(np.float32) / 255.0)
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=f"c{k}")
            seg = renderer.render()
            row_m.append((seg[..., 0] == box) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)))
        images.append(np.stack(row_i))
        masks.append(np.stack(row_m))
    renderer.close()
    return np.stack(images), np.stack(masks)


def splat_frames(gaussians, poses: list[np.ndarray], occluders: list, views: list) -> tuple:  # noqa: ANN001
    """Images and visible-block masks from this project's rasterizer, the robot composited by depth."""
    import torch

    from splattwin.render.rasterizer import rasterization
    from splattwin.vision.tracking import rigid_gaussians

    images, masks = [], []
    viewmats = torch.tensor(np.stack([c.viewmat for c in views]), dtype=torch.float32)
    Ks = torch.tensor(np.stack([c.K for c in views]), dtype=torch.float32)  # noqa: N806
    backgrounds = torch.tensor([[0.55, 0.55, 0.55, 0.0]] * len(views))
    for world, robot in zip(poses, occluders, strict=True):
        block = rigid_gaussians(gaussians, world)
        parts = []
        for g, flag in ((block, 1.0), (robot, 0.0)):
            features = np.concatenate([np.clip(g.colors, 0, 1), np.full((len(g), 1), flag, np.float32)], axis=1)
            parts.append([g.means, g.quats_wxyz, g.scales, g.opacities, features])
        stacked = [np.concatenate(p) for p in zip(*parts, strict=True)]
        tensors = [torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in stacked]
        with torch.no_grad():
            colours, _, _ = rasterization(*tensors, viewmats, Ks, views[0].width, views[0].height,
                                          backgrounds=backgrounds)  # fmt: skip
        images.append(colours[..., :3].clamp(0, 1).numpy())
        masks.append(colours[..., 3].numpy() > 0.5)
    return np.stack(images), np.stack(masks)


def hidden_fraction(gaussians, truth: list, views: list, masks: np.ndarray) -> float:  # noqa: ANN001
    """Share of the block's pixels the robot hides (its mask alone against its mask with the robot)."""
    from splattwin.gaussians import Gaussians

    nothing = Gaussians(np.zeros((0, 3)), np.zeros((0, 4)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 1, 3)))
    alone = splat_frames(gaussians, truth, [nothing] * len(truth), views)[1]
    return float(1 - masks.sum() / max(alone.sum(), 1))


def robot_at(stage, times: np.ndarray) -> list:  # noqa: ANN001
    """The robot's world-frame Gaussians at the twin's keyed joints interpolated to ``times`` (looped)."""
    import torch

    from splattwin.gaussians import Gaussians
    from splattwin.robot.kinematics import load_robot
    from splattwin.robot.trajectories import read_joint_trajectory

    robot = load_robot(stage, "/World/Robot")
    log = read_joint_trajectory(stage, "/World/Robot")
    out = []
    for t in times:
        q = np.zeros(robot.dof)
        for j, name in enumerate(log.joint_names):
            q[robot.joint_names.index(name)] = np.interp(t + 0.5, log.times, log.positions[:, j])
        with torch.no_grad():
            posed = robot.pose_gaussians(torch.tensor(q[None]))
        out.append(Gaussians(posed["means"][0].numpy(), posed["quats_wxyz"][0].numpy(), posed["scales"].numpy(),
                             posed["opacities"].numpy(), posed["sh"][0].numpy()))  # fmt: skip
    return out


def block_mesh(mesh_prim, colour: np.ndarray):  # noqa: ANN001, ANN201
    """The block's collision mesh (its frame) as triangles of one colour."""
    from pxr import UsdGeom

    from splattwin.robot.usd_robot import LinkMesh

    mesh = UsdGeom.Mesh(mesh_prim)
    points = np.array(mesh.GetPointsAttr().Get(), np.float64)
    counts, indices = mesh.GetFaceVertexCountsAttr().Get(), list(mesh.GetFaceVertexIndicesAttr().Get())
    faces, start = [], 0
    for n in counts:
        faces += [(indices[start], indices[start + k], indices[start + k + 1]) for k in range(1, n - 1)]
        start += n
    return LinkMesh(vertices=points, faces=np.array(faces), face_colors=np.tile(colour, (len(faces), 1)))


def mesh_gaussians(surface, count: int):  # noqa: ANN001, ANN201
    """Gaussians sampled on the block's mesh: the model for the MuJoCo images when the twin's own splat does not
    match the mesh (see docs/tracking.md)."""
    from splattwin.robot.binding import sample_link_gaussians

    return sample_link_gaussians(surface, count, np.random.default_rng(0))[0]


def main() -> None:
    import torch
    from pxr import Usd

    from splattwin.pipelines.tracking import object_gaussians
    from splattwin.vision.tracking import TrackOptions, rotation_error_deg, track_object

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=Path, default=ROOT / "out" / "demo" / "twin.usda", help="the demo twin")
    parser.add_argument("--frames", type=int, default=15, help="frames at 30 Hz")
    parser.add_argument("--size", type=int, default=96, help="image size [px]")
    parser.add_argument("--noise", type=float, default=0.02, help="pixel noise std (0..1)")
    parser.add_argument("--cases", default="mujoco-mesh,mujoco-splat,splat-robot", help="comma-separated cases")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--photometric", type=float, default=2.0, help="weight of the colour term (docs/tracking.md)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stage = Usd.Stage.Open(str(args.stage))
    gaussians, pose0 = object_gaussians(stage, "/World/Objects/Block")
    colour = gaussians.colors.mean(axis=0)
    surface = block_mesh(stage.GetPrimAtPath("/World/Objects/Block/collision"), colour)
    times, truth = push(pose0, args.frames, 30.0)
    views = _cameras(pose0[:3, 3], args.size)
    rng = np.random.default_rng(0)
    results = {}
    for case in args.cases.split(","):
        options = TrackOptions(iterations=args.iterations, photometric=args.photometric)
        occluders, model = None, gaussians
        if case.startswith("mujoco"):
            images, masks = mujoco_frames(surface, colour, truth, views)
            if case == "mujoco-mesh":
                model = mesh_gaussians(surface, len(gaussians))
                options = replace(options, scale=0.5, erode_px=1)
        elif case == "splat-robot":
            occluders = robot_at(stage, times)
            images, masks = splat_frames(gaussians, truth, occluders, views)
        else:
            raise SystemExit(f"unknown case {case!r}")
        images = np.clip(images + rng.normal(0, args.noise, images.shape), 0, 1).astype(np.float32)
        started = time.perf_counter()
        frames = track_object(model, views, images, masks, times, pose0, options, occluders=occluders,
                              names=["a", "b"])  # fmt: skip
        seconds = time.perf_counter() - started
        mm = np.array([np.linalg.norm(f.pose[:3, 3] - t[:3, 3]) * 1000 for f, t in zip(frames, truth, strict=True)])
        deg = np.array([rotation_error_deg(f.pose, t) for f, t in zip(frames, truth, strict=True)])
        results[case] = {
            "frames": len(frames),
            "mean_mm": float(mm.mean()),
            "max_mm": float(mm.max()),
            "mean_deg": float(deg.mean()),
            "max_deg": float(deg.max()),
            "within_bar": float(((mm <= 2.0) & (deg <= 1.0)).mean()),
            "converged": float(np.mean([f.converged for f in frames])),
            "mean_iou": float(np.mean([f.iou.mean() for f in frames])),
            "steps_per_frame": float(np.mean([f.iterations for f in frames])),
            "s_per_frame": seconds / len(frames),
            "per_frame_mm": [round(float(v), 3) for v in mm],
            "per_frame_deg": [round(float(v), 3) for v in deg],
            "mask_px": float(masks.sum(axis=(2, 3)).mean()),
            "hidden": 0.0 if occluders is None else hidden_fraction(gaussians, truth, views, masks),
        }
        numbers = {k: v for k, v in results[case].items() if not k.startswith("per_frame")}
        print(case, " ".join(f"{k}={v:.4g}" for k, v in numbers.items()), flush=True)
    print(f"load: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
