"""Benchmark: the CPU splat rasterizer against a plain pure-torch pair-list rasterizer, side by side.

Run from the repository root::

    .venv/bin/python bench/bench_render.py            # 100k SH3 640x480 fwd+bwd, 10k 320x240 fwd, 1M 1280x720 peak
    .venv/bin/python bench/bench_render.py --quick    # smaller sizes (CI smoke run)

Targets (from issue 9): forward + backward of 100,000 SH-degree-3 Gaussians at 640x480 at least 10x faster than
the pure-torch pair-list rasterizer (tests/render_reference.py, built on gsplat's reference math; same scene,
same run); 10,000 Gaussians at 320x240 forward in < 0.1 s; memory bounded at 1,000,000 Gaussians at 1280x720
(peak RSS increase of that render, measured in a fresh subprocess). Times are medians of repeats after a warm-up
(the first call compiles the numba kernels or loads them from the cache). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import splattwin  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch and numba load libgomp)

__all__ = ["main", "make_scene"]

REPO = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 10.0
TARGET_FORWARD_10K_S = 0.1


def make_scene(num: int, width: int, height: int, seed: int = 0, degree: int = 3):  # noqa: ANN201
    """A seeded random scene in front of one camera: Gaussians in a 2 m box 3 m away, 0.3..3 px footprints."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(num, 3, generator=gen) * 2 - 1) * torch.tensor([1.3, 1.0, 1.0]) + torch.tensor([0, 0, 3.0])
    quats = torch.randn(num, 4, generator=gen)
    focal = 0.8 * width
    # pixel footprint sigma_px = focal * s / z: scales from 0.3 to 3 px at 3 m (log-uniform)
    px = torch.exp(torch.rand(num, 3, generator=gen) * math.log(10.0)) * 0.3
    scales = px * 3.0 / focal
    opacities = torch.rand(num, generator=gen) * 0.9 + 0.05
    sh = torch.randn(num, (degree + 1) ** 2, 3, generator=gen) * 0.2
    viewmats = torch.eye(4)[None]
    Ks = torch.tensor([[[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]]])
    return means, quats, scales, opacities, sh, viewmats, Ks, width, height


def _time(fn, repeats: int, *, warm_up: bool = True) -> float:  # noqa: ANN001
    if warm_up:
        fn()  # loads the numba kernels (JIT cache) before timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fwd_bwd(render, scene):  # noqa: ANN001, ANN202

    params = [t.clone().requires_grad_(True) for t in scene[:6]]

    def run() -> None:
        for p in params:
            p.grad = None
        out = render(*params, *scene[6:])
        out.sum().backward()

    return run


def _ours(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    from splattwin.render import rasterization

    return rasterization(*args, sh_degree=3, backend="cpu", **kwargs)[0]


def _baseline(*args):  # noqa: ANN002, ANN202
    sys.path.insert(0, str(REPO / "tests"))
    from render_reference import reference_pairlist_rasterization

    # Each Gaussian paired with the pixels of its own 3-sigma box: the plain pair list (fewer pairs than its tile
    # range, so a faster, fairer baseline than pairing whole tiles).
    return reference_pairlist_rasterization(*args, sh_degree=3, pixel_box=True)


def _peak_worker(num: int, width: int, height: int) -> None:
    """Subprocess: render num Gaussians once (no grad) and print the peak RSS increase in MiB."""
    import torch

    scene = make_scene(num, width, height, seed=3)
    _ours(*scene[:5], scene[5], scene[6], 16, 16)  # load kernels before the baseline RSS is read
    base = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5") if Path("/proc/self/clear_refs").exists() else None
    start = time.perf_counter()
    with torch.no_grad():
        out = _ours(*scene)
    elapsed = time.perf_counter() - start
    peak = _rss_kib("VmHWM")
    scene_mib = sum(t.numel() * t.element_size() for t in scene[:5]) / 2**20
    print(
        json.dumps(
            {"peak_mib": (peak - base) / 1024, "scene_mib": scene_mib, "seconds": elapsed, "mean": float(out.mean())}
        )
    )


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--skip-peak", action="store_true", help="skip the 1M-Gaussian memory run")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads, both sides (0: torch's default)"
    )
    parser.add_argument("_worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        _peak_worker(*(int(v) for v in args._worker))
        return 0
    import numba
    import torch

    numba.get_num_threads()  # initialises numba's OpenMP layer, which resets torch's thread count: set it after
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    big = (20_000, 320, 240) if args.quick else (100_000, 640, 480)

    results: dict[str, object] = {"torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads()}
    print(f"torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()}", flush=True)

    scene = make_scene(*big)
    ours = _time(_fwd_bwd(_ours, scene), args.repeats)
    print(f"ours: {ours:.3f} s (median of {args.repeats}); now the baseline (one run)...", flush=True)
    base = _time(_fwd_bwd(_baseline, scene), 1, warm_up=False)
    with torch.no_grad():
        a, b = _ours(*scene), _baseline(*scene)
    psnr = 10 * math.log10(1.0 / float(((a - b) ** 2).mean()))
    results.update(
        fwd_bwd_scene=list(big), ours_fwd_bwd_s=ours, pairlist_fwd_bwd_s=base, speedup=base / ours, psnr_db=psnr
    )
    print(
        f"fwd+bwd {big[0]:,} SH3 at {big[1]}x{big[2]}: ours {ours:.3f} s, pure-torch pair list {base:.3f} s, "
        f"speed-up {base / ours:.1f}x (target >= {TARGET_SPEEDUP:.0f}x); images agree to {psnr:.1f} dB PSNR"
    )

    small = make_scene(10_000, 320, 240, seed=1)
    with torch.no_grad():
        fwd = _time(lambda: _ours(*small), max(5, args.repeats))
    results["forward_10k_320x240_s"] = fwd
    print(f"forward 10,000 SH3 at 320x240: {fwd * 1000:.1f} ms (target < {TARGET_FORWARD_10K_S * 1000:.0f} ms)")

    if not args.skip_peak:
        size = (200_000, 640, 360) if args.quick else (1_000_000, 1280, 720)
        done = subprocess.run(
            [sys.executable, __file__, *(str(v) for v in size)], capture_output=True, text=True, check=True
        )
        peak = json.loads(done.stdout.strip().splitlines()[-1])
        results["peak"] = {"scene": list(size), **peak}
        print(
            f"forward {size[0]:,} SH3 at {size[1]}x{size[2]}: {peak['seconds']:.2f} s, peak RSS increase "
            f"{peak['peak_mib']:.0f} MiB (scene arrays {peak['scene_mib']:.0f} MiB)"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
