"""Generate the tabletop sample's robot splat: a Franka Panda made from its own meshes (seeded, deterministic).

Run from the repository root::

    .venv/bin/python usd_assets/make_robot_splat.py --out out/robot_capture.ply
    .venv/bin/python usd_assets/make_robot_splat.py --out robot.ply --seed 3 --gaussians 50000

The Panda URDF and meshes come from the ``pybullet`` wheel (``pip install 'splattwin[robots]'``); nothing of them
is committed here. The robot stands where ``tabletop/capture.json``'s ``truth`` puts it (base at the middle of
the table's back edge, base x across the table) at a non-zero configuration (``RobotDemoConfig.joints`` in
``splattwin.pipelines.robot``: arm bent over the table, fingers 3 cm open). Gaussians are sampled area-uniformly on
the visual meshes, coloured by the meshes' materials, flat disks in the surface (Dr. Robot's initialisation from
link meshes), and written in the RECONSTRUCTION frame of the sample (y-up, 1 unit = 0.42 m, 35 degrees of
heading), like ``tabletop.ply``. ``splattwin demo`` makes the same splat at run time into its output folder
(``robot_capture.ply``; ``robot_splat.ply`` is the same after the demo's alignment), so nothing big is committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    from splattwin.io import write_gaussians
    from splattwin.pipelines.robot import RobotDemoConfig, capture_robot_base, make_capture_robot_splat, resolve_urdf

    defaults = RobotDemoConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the .ply (or .spz/.splat) to write")
    parser.add_argument("--capture", type=Path, default=HERE / "tabletop" / "capture.json")
    parser.add_argument("--urdf", default=defaults.urdf, help="a URDF path or pybullet_data:<path>")
    parser.add_argument("--gaussians", type=int, default=defaults.gaussians)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args()

    base, recon_scale = capture_robot_base(args.capture)
    splat = make_capture_robot_splat(
        resolve_urdf(args.urdf), dict(defaults.joints), base, recon_scale, count=args.gaussians, seed=args.seed
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_gaussians(args.out, splat)
    print(f"wrote {len(splat):,} Gaussians of {args.urdf} to {args.out} (reconstruction frame)")


if __name__ == "__main__":
    main()
