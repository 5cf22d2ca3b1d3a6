"""Posing 1,000,000 link-bound Gaussians (FK + means, orientations, SH degree 3) against a naive baseline.

Target (issue 5): under 100 ms on the 2-core CPU. The baseline, measured in the same run on the same data, is the
foundation's numpy path applied link by link (``Similarity.apply_gaussians``: means, quaternion products and
``rotate_sh``), i.e. what posing would cost without the torch code. Nothing is asserted; numbers are printed.

    python bench/bench_pose_gaussians.py                 # 1M Gaussians, 2 threads
    python bench/bench_pose_gaussians.py --num 200000    # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import splattwin  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch and numba load libgomp)


def _timed(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after a warm-up (allocator, lazy imports)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=1_000_000, help="bound Gaussians in all (default 1,000,000)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the target machine)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import pybullet_data
    import torch

    from splattwin.gaussians import Gaussians
    from splattwin.geometry.transforms import Similarity
    from splattwin.pipelines.robot import ImportRobotConfig, import_robot
    from splattwin.robot import load_robot
    from splattwin.robot.posing import bound_gaussians_from_links

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "twin.usda"
        urdf = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
        import_robot(ImportRobotConfig(urdf=urdf, stage=stage, prim="/World/Robot", gaussians_per_link=10))
        robot = load_robot(stage, "/World/Robot")
    rng = np.random.default_rng(0)
    links = len(robot.link_names)
    counts = rng.multinomial(args.num, np.full(links, 1.0 / links))
    per_link = []
    for n in counts:
        quats = rng.normal(size=(n, 4))
        quats /= np.linalg.norm(quats, axis=1, keepdims=True)
        per_link.append(
            Gaussians(
                means=rng.uniform(-0.1, 0.1, (n, 3)),
                quats_wxyz=quats,
                scales=rng.uniform(0.001, 0.01, (n, 3)),
                opacities=rng.uniform(0.1, 0.9, n),
                sh=rng.normal(0, 0.2, (n, 16, 3)),
            )
        )
    robot.gaussians = bound_gaussians_from_links(per_link)
    q = torch.tensor(rng.uniform(-0.5, 0.5, size=(1, robot.dof)))

    fk = _timed(lambda: robot.link_poses(q), args.repeats)
    with torch.no_grad():
        ours = _timed(lambda: robot.pose_gaussians(q), args.repeats)
        buffers = robot.pose_gaussians(q)
        reused = _timed(lambda: robot.pose_gaussians(q, out=buffers), args.repeats)
    q_grad = q.clone().requires_grad_(True)

    def forward_backward() -> None:
        out = robot.pose_gaussians(q_grad)
        (out["means"].sum() + out["quats_wxyz"].sum() + out["sh"].sum()).backward()

    backward = _timed(forward_backward, max(1, args.repeats // 2))

    def baseline() -> None:
        poses = robot.link_poses(q)[0].numpy()
        for index, gaussians in enumerate(per_link):
            Similarity.from_matrix(poses[index]).apply_gaussians(gaussians)

    base = _timed(baseline, 1)
    # The floor: copying the same bytes the result holds (pose 28 MB + SH 192 MB at 1M), no arithmetic at all.
    source_km = robot.gaussians["sh_km"].clone()
    source_pose = robot.gaussians["pose_features"][:7].clone()

    def copy_floor() -> None:
        buffers["sh_km"][0].copy_(source_km)
        buffers["pose_km"][0].copy_(source_pose)

    floor = _timed(copy_floor, args.repeats)
    print(f"posing {args.num:,} bound Gaussians (SH degree 3, {links} links) with {args.threads} torch threads:")
    print(f"  forward kinematics only           {fk * 1000:8.2f} ms")
    print(f"  ours: FK + means, quats, SH        {ours * 1000:8.1f} ms   (fresh output, 220 MB)")
    print(f"  ours, output buffers reused        {reused * 1000:8.1f} ms   (target < 100 ms)")
    print(f"  ours: forward + backward to q     {backward * 1000:8.1f} ms")
    print(f"  baseline: numpy per link (found.) {base * 1000:8.1f} ms")
    print(f"  memory floor: copy of the output  {floor * 1000:8.1f} ms   (ours / floor = {reused / floor:.1f})")
    print(f"  speed-up over the baseline        {base / ours:8.1f} x (fresh), {base / reused:.1f} x (reused)")


if __name__ == "__main__":
    main()
