"""Round trip of a 10,000-sample x 7-joint trajectory through USD time samples (target < 1 s), against a
baseline measured in the same run: keying with one ``UsdAttribute.Set`` per sample (no Sdf change block).

    python bench/bench_trajectory_usd.py [--samples 10000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pybullet_data

from splattwin.cli import main
from splattwin.io.trajectory import Trajectory, read_trajectory, write_trajectory
from splattwin.robot.trajectories import read_joint_trajectory, write_joint_trajectory
from splattwin.usd import edit_twin, open_twin


def run(samples: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_traj_"))
    try:
        stage = folder / "twin.usda"
        panda = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
        assert main(["import-robot", str(panda), "--stage", str(stage), "--prim", "/World/Robot"]) == 0
        t = np.arange(samples) / 100.0
        names = [f"panda_joint{i}" for i in range(1, 8)]
        source = Trajectory(times=t, positions=0.2 * np.sin(t[:, None] + np.arange(7)), joint_names=names)
        write_trajectory(folder / "in.npz", source)

        start = time.perf_counter()
        trajectory = read_trajectory(folder / "in.npz")
        with edit_twin(stage) as twin:
            write_joint_trajectory(twin, "/World/Robot", trajectory)
        keyed = time.perf_counter()
        back = read_joint_trajectory(open_twin(stage).stage, "/World/Robot")
        write_trajectory(folder / "out.npz", back)
        done = time.perf_counter()
        exact = np.array_equal(back.positions, source.positions) and np.array_equal(back.times, source.times)

        from pxr import Usd

        baseline_stage = Usd.Stage.CreateInMemory()
        prim = baseline_stage.DefinePrim("/Robot")
        from pxr import Sdf

        start_baseline = time.perf_counter()
        for j, name in enumerate(names):
            attribute = prim.CreateAttribute(f"splattwin:joint:{name}", Sdf.ValueTypeNames.Double)
            for code, value in zip(range(samples), source.positions[:, j].tolist(), strict=True):
                attribute.Set(value, code)
        baseline = time.perf_counter() - start_baseline
        ours_key = keyed - start
        print(
            f"{samples} samples x 7 joints: file -> USD (saved) {ours_key:.3f} s, USD -> file {done - keyed:.3f} s, "
            f"round trip {done - start:.3f} s (target < 1 s), exact: {exact}"
        )
        print(
            f"baseline keying with UsdAttribute.Set per sample (in memory, not saved): {baseline:.3f} s; "
            f"ours/baseline = {ours_key / baseline:.2f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    run(parser.parse_args().samples)
