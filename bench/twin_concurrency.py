"""What the twin's edit lock costs, and whether concurrent writers all land, measured in one run.

1. Lock overhead: ``--edits`` small edits of one twin (each defines one Xform in the physics layer and saves),
   once with :func:`splattwin.usd.edit_twin` as shipped and once with its lock replaced by a no-op (the baseline,
   the same code otherwise), interleaved in blocks so drift on a shared machine hits both alike. Prints the
   median and mean time per edit of each and the difference, against the issue's target (< 10 ms).
2. Concurrent writers: ``--rounds`` times, 8 processes (5 splat imports, 3 mesh imports, different prims) are
   released at the same instant into one new twin; counts the rounds where all 8 prims are in the twin and every
   process exited 0.

    PYTHONPATH=source/splattwin python bench/twin_concurrency.py --edits 200 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_WORKER = """
import sys, time
from pathlib import Path
from splattwin.cli import main
import splattwin.pipelines.importing
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.002)
sys.exit(main(sys.argv[2:]))
"""


def _random_gaussians(count: int, seed: int):  # noqa: ANN202 - Gaussians, imported lazily
    from splattwin.gaussians import Gaussians

    rng = np.random.default_rng(seed)
    quats = rng.standard_normal((count, 4))
    return Gaussians(
        means=rng.uniform(-1, 1, (count, 3)),
        quats_wxyz=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        scales=rng.uniform(0.005, 0.05, (count, 3)),
        opacities=rng.uniform(0.05, 0.95, count),
        sh=rng.normal(0, 0.2, (count, 1, 3)),
    )


def lock_overhead(folder: Path, edits: int) -> dict[str, float]:
    """Median/mean seconds per small edit with and without the lock."""
    from pxr import UsdGeom

    from splattwin.io import write_gaussians
    from splattwin.pipelines import ImportSplatConfig, import_splat
    from splattwin.usd import edit_twin, stage

    source = folder / "s.ply"
    write_gaussians(source, _random_gaussians(20_000, 0))
    twin_path = folder / "lock" / "twin.usda"
    import_splat(ImportSplatConfig(source=source, stage=twin_path, prim="/World/Scene/S"))
    real_lock = stage.twin_lock
    times: dict[str, list[float]] = {"locked": [], "unlocked": []}
    counter = 0
    block = 10
    for start in range(0, edits, block):
        for mode in ("locked", "unlocked") if (start // block) % 2 == 0 else ("unlocked", "locked"):
            stage.twin_lock = real_lock if mode == "locked" else (lambda *a, **k: contextlib.nullcontext())
            for _ in range(min(block, edits - start)):
                counter += 1
                began = time.perf_counter()
                with edit_twin(twin_path) as twin, twin.edit_layer("physics"):
                    UsdGeom.Xform.Define(twin.stage, f"/World/Edit{counter}")
                times[mode].append(time.perf_counter() - began)
    stage.twin_lock = real_lock
    return {
        f"{mode}_{stat}": fn(values)
        for mode, values in times.items()
        for stat, fn in (("median", statistics.median), ("mean", statistics.fmean))
    }


def concurrent_rounds(folder: Path, rounds: int, gaussians: int) -> list[tuple[bool, float]]:
    """(all 8 landed and exited 0, seconds) per round."""
    import trimesh
    from pxr import Usd

    from splattwin.io import write_gaussians

    jobs = []
    for index, suffix in enumerate((".ply", ".spz", ".splat", ".ply", ".spz")):
        source = folder / f"splat{index}{suffix}"
        write_gaussians(source, _random_gaussians(gaussians, index))
        jobs.append((["import-splat", str(source)], f"/World/Scene/Splat{index}"))
    for index in range(3):
        box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
        box.apply_translation((0.3 * index, 0, 0.05))
        source = folder / f"box{index}.obj"
        box.export(source)
        jobs.append(
            (["import-mesh", str(source), *(["--dynamic"] if index == 0 else [])], f"/World/Objects/Box{index}")
        )
    env_path = str(Path(__file__).resolve().parents[1] / "source" / "splattwin")
    env = {**__import__("os").environ, "PYTHONPATH": env_path}
    outcomes = []
    for round_index in range(rounds):
        twin_path = folder / f"round{round_index}" / "twin.usda"
        go = folder / f"go{round_index}"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(go), *cmd[:2], "--stage", str(twin_path), "--prim", prim, *cmd[2:]],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            for cmd, prim in jobs
        ]
        time.sleep(3.0)  # let every worker finish its imports
        began = time.perf_counter()
        go.touch()
        codes = [process.wait(timeout=600) for process in processes]
        seconds = time.perf_counter() - began
        stage = Usd.Stage.Open(str(twin_path))
        landed = all(stage.GetPrimAtPath(prim) for _, prim in jobs)
        outcomes.append((landed and codes == [0] * len(jobs), seconds))
        print(f"  round {round_index + 1}: exit codes {codes}, all 8 prims present: {landed}, {seconds:.2f} s")
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=200, help="small edits per mode for the overhead")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 8 concurrent imports")
    parser.add_argument("--gaussians", type=int, default=150_000, help="Gaussians per splat import (issue: 150k)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="splattwin-bench-") as tmp:
        folder = Path(tmp)
        print(f"lock overhead over {args.edits} small edits per mode (20k-Gaussian twin):")
        result = lock_overhead(folder, args.edits)
        for mode in ("locked", "unlocked"):
            median, mean = result[f"{mode}_median"] * 1e3, result[f"{mode}_mean"] * 1e3
            print(f"  {mode:9s} median {median:7.2f} ms   mean {mean:7.2f} ms")
        added = (result["locked_median"] - result["unlocked_median"]) * 1e3
        print(f"  lock adds {added:.2f} ms per edit (median; target < 10 ms)")
        if args.rounds:
            print(f"{args.rounds} rounds of 8 concurrent imports ({args.gaussians} Gaussians per splat):")
            outcomes = concurrent_rounds(folder, args.rounds, args.gaussians)
            print(f"  all 8 landed in {sum(ok for ok, _ in outcomes)}/{len(outcomes)} rounds")


if __name__ == "__main__":
    main()
