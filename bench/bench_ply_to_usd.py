"""Benchmark: 3DGS PLY -> ``.usdc`` with SplatTwin against NVIDIA's ``usd-convert-gsplat``, side by side.

Run from the repository root (the first run also builds the baseline's venv under ``bench/.cache/``)::

    .venv/bin/python bench/bench_ply_to_usd.py                      # 1,000,000 Gaussians, SH degree 3
    .venv/bin/python bench/bench_ply_to_usd.py --num 200000 --json out/bench_ply_to_usd.json
    .venv/bin/python bench/bench_ply_to_usd.py --baseline-num 100000   # baseline on a smaller file, extrapolated

Targets (from the issue): PLY -> .usdc in < 3 s for 1M SH3 Gaussians on a 2-core machine, >= 20x faster than
``usd-convert-gsplat`` on the same file, reading the stage back into arrays in < 1 s, and peak memory < 3x the
raw array size. Every measured step runs in a fresh subprocess, so peak RSS is that run's own:

- ours: ``splattwin.io.read_ply`` then ``splattwin.usd.splats.write_gaussians_usd`` (times of each part and the
  total, after imports; peak RSS increase = VmHWM minus VmRSS measured after imports, with the high-water mark
  reset there when the kernel allows);
- read back: ``splattwin.usd.splats.read_gaussians_usd`` on that ``.usdc``, then checked equal to the PLY's
  arrays to float32 precision;
- baseline: the ``usd-convert-gsplat -i in.ply -o out.usdc`` command, timed as a whole process. The speed-up
  compares whole commands (interpreter start, imports, work) on both sides: ours runs as
  ``python bench_ply_to_usd.py _worker-write`` for that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["BenchResult", "main", "make_random_ply", "run_benchmark"]

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
TARGET_WRITE_S = 3.0
TARGET_SPEEDUP = 20.0
TARGET_READ_S = 1.0
TARGET_PEAK_RATIO = 3.0
DEFAULT_BASELINE_TIMEOUT_S = 3600.0
"""The baseline is a Python loop over particles and takes minutes on 1M Gaussians; it is measured once."""


# --- the subprocess side ------------------------------------------------------------------------------------------
def _proc_status_kib(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _PeakMemory:
    """Peak resident memory of this process from now on, in MiB, relative to the RSS right now."""

    def __init__(self) -> None:
        self.reset = _reset_peak_rss()
        rss = _proc_status_kib("VmRSS")
        self.baseline_kib = rss if rss is not None else _ru_maxrss_kib()

    def increase_mib(self) -> float:
        peak = _proc_status_kib("VmHWM")
        if peak is None:
            peak = _ru_maxrss_kib()
        return (peak - self.baseline_kib) / 1024.0


def _ru_maxrss_kib() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _worker_write(ply: Path, usdc: Path, result: Path) -> None:
    """Ours: PLY -> .usdc; all imports happen before the memory baseline and the clock start."""
    from pxr import Usd, UsdVol  # noqa: F401  (loaded now so the work below is timed without the import)

    from splattwin.io import read_ply
    from splattwin.usd.splats import write_gaussians_usd

    memory = _PeakMemory()
    start = time.perf_counter()
    gaussians = read_ply(ply)
    read_done = time.perf_counter()
    write_gaussians_usd(usdc, gaussians)
    write_done = time.perf_counter()
    report = {
        "read_ply_s": read_done - start,
        "write_usdc_s": write_done - read_done,
        "total_s": write_done - start,
        "peak_rss_increase_mib": memory.increase_mib(),
        "peak_reset": memory.reset,
        "num": len(gaussians),
        "sh_degree": gaussians.sh_degree,
        "raw_mib": gaussians.nbytes / 2**20,
        "usdc_mib": usdc.stat().st_size / 2**20,
    }
    result.write_text(json.dumps(report))


def _max_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0


def _worker_read(usdc: Path, ply: Path, result: Path) -> None:
    """Read the .usdc back into arrays (timed), then compare with the PLY (not timed, not in the peak)."""
    from pxr import Usd, UsdVol  # noqa: F401

    from splattwin.io import read_ply
    from splattwin.usd.splats import read_gaussians_usd

    memory = _PeakMemory()
    start = time.perf_counter()
    from_usd = read_gaussians_usd(usdc)
    read_s = time.perf_counter() - start
    peak_mib = memory.increase_mib()

    from_ply = read_ply(ply)
    # q and -q are one rotation, and a writer may normalise: compare unit quaternions with w >= 0.
    quats = []
    for q in (from_usd.quats_wxyz, from_ply.quats_wxyz):
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        quats.append(np.where(q[:, :1] < 0, -q, q))
    differences = {
        "means": _max_difference(from_usd.means, from_ply.means),
        "quats_wxyz": _max_difference(*quats),
        "scales_rel": float(np.abs(from_usd.scales / from_ply.scales - 1).max()),
        "opacities": _max_difference(from_usd.opacities, from_ply.opacities),
        "sh": _max_difference(from_usd.sh, from_ply.sh),
    }
    eps = float(np.finfo(np.float32).eps)
    # float32 precision: relative error of a few ulps on each value (means/sh magnitudes are O(1..10)).
    tolerance = {"means": 8 * eps * float(np.abs(from_ply.means).max()), "quats_wxyz": 8 * eps, "scales_rel": 4 * eps}
    tolerance |= {"opacities": 4 * eps, "sh": 8 * eps * float(np.abs(from_ply.sh).max())}
    report = {
        "read_usdc_s": read_s,
        "peak_rss_increase_mib": peak_mib,
        "peak_reset": memory.reset,
        "num": len(from_usd),
        "same_shape": len(from_usd) == len(from_ply) and from_usd.sh.shape == from_ply.sh.shape,
        "max_difference": differences,
        "equal_to_float32": bool(all(differences[key] <= tolerance[key] for key in differences)),
    }
    result.write_text(json.dumps(report))


# --- the driver side ----------------------------------------------------------------------------------------------
@dataclass
class ProcessRun:
    """One subprocess: wall time as the parent saw it, its own peak RSS (from wait4), exit status."""

    wall_s: float
    max_rss_mib: float
    returncode: int
    timed_out: bool = False
    log: str = ""


def _run_process(command: list[str], *, timeout_s: float, log_path: Path, env: dict | None = None) -> ProcessRun:
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = start + timeout_s
        timed_out = False
        while True:
            # wait4 gives this child's own rusage (ru_maxrss), unlike RUSAGE_CHILDREN which keeps a running max.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                timed_out = True
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting on a reaped pid
    return ProcessRun(
        wall_s=wall,
        max_rss_mib=usage.ru_maxrss / 1024.0,
        returncode=process.returncode,
        timed_out=timed_out,
        log=str(log_path),
    )


def make_random_ply(path: Path, num: int, *, seed: int = 0, sh_degree: int = 3) -> Path:
    """A seeded random 3DGS PLY (plausible value ranges), written once and reused from the cache."""
    if path.is_file():
        return path
    from splattwin.gaussians import Gaussians
    from splattwin.io import write_gaussians

    rng = np.random.default_rng(seed)
    sh = rng.normal(0.0, 0.1, (num, (sh_degree + 1) ** 2, 3)).astype(np.float32)
    sh[:, 0] = rng.normal(0.0, 1.0, (num, 3))
    gaussians = Gaussians(
        means=rng.normal(0.0, 2.0, (num, 3)),
        quats_wxyz=rng.normal(size=(num, 4)),
        scales=np.exp(rng.normal(-4.0, 0.7, (num, 3))),
        opacities=rng.uniform(0.02, 0.99, num),
        sh=sh,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_gaussians(path, gaussians)
    return path


@dataclass
class BenchResult:
    """Everything the benchmark measured (also written as JSON). Sizes in MiB, times in seconds."""

    num: int
    sh_degree: int
    raw_mib: float
    ply_mib: float
    ours: dict
    ours_process: dict
    read_back: dict
    baseline: dict = field(default_factory=dict)
    speedup_commands: float | None = None
    speedup_work: float | None = None
    speedup_note: str = ""
    checks: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)


def _run_ours(ply: Path, work: Path, tag: str, timeout_s: float) -> tuple[dict, ProcessRun, Path]:
    usdc = work / f"ours_{tag}.usdc"
    result = work / f"ours_{tag}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "_worker-write", str(ply), str(usdc), str(result)]
    run = _run_process(command, timeout_s=timeout_s, log_path=work / f"ours_{tag}.log")
    if run.returncode != 0:
        raise RuntimeError(f"our PLY -> USD run failed (exit {run.returncode}); see {run.log}")
    return json.loads(result.read_text()), run, usdc


def _run_read_back(usdc: Path, ply: Path, work: Path, timeout_s: float) -> dict:
    result = work / "read_back.json"
    command = [sys.executable, str(Path(__file__).resolve()), "_worker-read", str(usdc), str(ply), str(result)]
    run = _run_process(command, timeout_s=timeout_s, log_path=work / "read_back.log")
    if run.returncode != 0:
        raise RuntimeError(f"read-back run failed (exit {run.returncode}); see {run.log}")
    return json.loads(result.read_text())


_BASELINE_IMPORTS = (
    "import usd_convert_gsplat.cli, usd_convert_gsplat.ply_reader, usd_convert_gsplat.usd_writer; "
    "from pxr import Sdf, Usd, UsdGeom, Vt"
)


def _run_baseline(venv: Path, cli: Path, ply: Path, work: Path, tag: str, timeout_s: float) -> dict:
    """The CLI as a whole process, plus (separately, cheap) its interpreter start and imports alone."""
    out = work / f"baseline_{tag}.usdc"
    run = _run_process(
        [str(cli), "-i", str(ply), "-o", str(out)], timeout_s=timeout_s, log_path=work / f"baseline_{tag}.log"
    )
    startup = _run_process(
        [str(venv / "bin" / "python"), "-c", _BASELINE_IMPORTS], timeout_s=120, log_path=work / "baseline_startup.log"
    )
    report = asdict(run) | {"ply": str(ply), "startup_s": startup.wall_s}
    if run.returncode == 0 and out.is_file():
        report["usdc_mib"] = out.stat().st_size / 2**20
        report["particles_written"] = _count_particles(out)
        out.unlink()  # hundreds of MiB at 1M
    return report


def _count_particles(usd_path: Path) -> int | None:
    """Particles in the first ParticleField prim of a stage (to confirm the baseline did the whole job)."""
    try:
        from splattwin.usd.splats import read_gaussians_usd

        return len(read_gaussians_usd(usd_path))
    except Exception:  # the baseline's layout is not ours to validate; the count is informational
        return None


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def run_benchmark(args: argparse.Namespace, console) -> BenchResult:
    """Make the input, run the three measurements, return the numbers."""
    import shutil

    from rich.markup import escape

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    ply = make_random_ply(cache / f"random_{args.num}_sh3_seed{args.seed}.ply", args.num, seed=args.seed)
    console.print(f"input: {escape(str(ply))} ({ply.stat().st_size / 2**20:.0f} MiB)")
    work = cache / "last_run"  # logs and outputs of the latest run only
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    ours, ours_process, usdc = _run_ours(ply, work, "full", args.timeout)
    read_back = _run_read_back(usdc, ply, work, args.timeout)
    result = BenchResult(
        num=ours["num"],
        sh_degree=ours["sh_degree"],
        raw_mib=ours["raw_mib"],
        ply_mib=ply.stat().st_size / 2**20,
        ours=ours,
        ours_process=asdict(ours_process),
        read_back=read_back,
        machine={"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    )
    usdc.unlink()

    if not args.skip_baseline:
        from _baseline_env import ensure_baseline_env

        env = ensure_baseline_env(cache, log=lambda line: console.print(escape(line), style="dim"))
        versions = {name: env.versions.get(name) for name in ("usd-convert-gsplat", "usd-core", "numpy")}
        console.print(escape(f"baseline: {env.how}; versions {versions}"))
        baseline_num = args.baseline_num or args.num
        if baseline_num == args.num:
            console.print(f"running the baseline on the same {args.num:,}-Gaussian file (this takes a while)...")
            baseline = _run_baseline(env.venv, env.cli, ply, work, "full", args.baseline_timeout)
            ours_command_s, ours_work_s = ours_process.wall_s, ours["total_s"]
            note = "measured side by side on the same file"
        else:
            # A smaller file for the baseline: ours runs on it too, so the ratio stays a measured side-by-side.
            small = make_random_ply(
                cache / f"random_{baseline_num}_sh3_seed{args.seed}.ply", baseline_num, seed=args.seed
            )
            console.print(f"running the baseline on a smaller {baseline_num:,}-Gaussian file...")
            baseline = _run_baseline(env.venv, env.cli, small, work, "small", args.baseline_timeout)
            ours_small, ours_small_process, small_usdc = _run_ours(small, work, "small", args.timeout)
            small_usdc.unlink()
            ours_command_s, ours_work_s = ours_small_process.wall_s, ours_small["total_s"]
            baseline["ours_command_s_same_file"] = ours_command_s
            baseline["ours_work_s_same_file"] = ours_work_s
            baseline["extrapolated_command_s_full"] = baseline["wall_s"] * args.num / baseline_num
            # Informational only (not judged): EXTRAPOLATED baseline against our measured full-size command.
            baseline["speedup_commands_vs_extrapolated"] = baseline["extrapolated_command_s_full"] / ours_process.wall_s
            note = (
                f"measured on a {baseline_num:,}-Gaussian file, NOT on the {args.num:,} one; the baseline's "
                f"{args.num:,} time shown is EXTRAPOLATED linearly"
            )
        baseline |= {"num": baseline_num, "versions": env.versions, "setup": env.how}
        result.baseline = baseline
        if baseline["returncode"] == 0 or baseline["timed_out"]:
            result.speedup_commands = baseline["wall_s"] / ours_command_s
            result.speedup_work = (baseline["wall_s"] - baseline["startup_s"]) / ours_work_s
            if baseline["timed_out"]:
                note += f"; baseline killed after {args.baseline_timeout:.0f} s, so the ratios are LOWER BOUNDS"
        else:
            note += f"; baseline failed (exit {baseline['returncode']}, log {baseline['log']})"
        result.speedup_note = note

    result.checks = {
        "write_under_3s": ours["total_s"] < TARGET_WRITE_S,
        "speedup_commands_at_least_20x": _at_least(result.speedup_commands, TARGET_SPEEDUP),
        "speedup_work_at_least_20x": _at_least(result.speedup_work, TARGET_SPEEDUP),
        "read_under_1s": read_back["read_usdc_s"] < TARGET_READ_S,
        "read_back_equal": read_back["equal_to_float32"],
        "peak_under_3x_raw": ours["peak_rss_increase_mib"] < TARGET_PEAK_RATIO * ours["raw_mib"],
    }
    return result


def print_table(result: BenchResult, console) -> None:
    """The results as a rich table."""
    from rich.table import Table

    ours, read_back, baseline, checks = result.ours, result.read_back, result.baseline, result.checks
    table = Table(title=f"PLY -> .usdc, {result.num:,} Gaussians, SH degree {result.sh_degree}")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("result")

    def row(label: str, value: str, target: str = "", check: str | None = None) -> None:
        table.add_row(label, value, target, "" if check is None else _verdict(checks[check]))

    row("raw arrays / PLY file (MiB)", f"{result.raw_mib:.0f} / {result.ply_mib:.0f}")
    row("ours: read_ply (s)", f"{ours['read_ply_s']:.2f}")
    row("ours: write_gaussians_usd (s)", f"{ours['write_usdc_s']:.2f}")
    row("ours: PLY -> .usdc, work (s)", f"{ours['total_s']:.2f}", f"< {TARGET_WRITE_S:g}", "write_under_3s")
    row("ours: whole command, with start + imports (s)", f"{result.ours_process['wall_s']:.2f}")
    ratio = ours["peak_rss_increase_mib"] / ours["raw_mib"]
    row(
        "ours: peak RSS increase (MiB, x raw)",
        f"{ours['peak_rss_increase_mib']:.0f} ({ratio:.2f}x)",
        f"< {TARGET_PEAK_RATIO:g}x",
        "peak_under_3x_raw",
    )
    if baseline:
        killed = " (killed: timeout)" if baseline["timed_out"] else ""
        row(f"baseline: whole command, {baseline['num']:,} Gaussians (s)", f"{baseline['wall_s']:.1f}{killed}")
        row("baseline: start + imports alone (s)", f"{baseline['startup_s']:.2f}")
        row("baseline: peak RSS (MiB)", f"{baseline['max_rss_mib']:.0f}")
        if "extrapolated_command_s_full" in baseline:
            row(
                f"ours on the {baseline['num']:,} file: command / work (s)",
                f"{baseline['ours_command_s_same_file']:.2f} / {baseline['ours_work_s_same_file']:.2f}",
            )
            row(f"baseline EXTRAPOLATED to {result.num:,} (s)", f"{baseline['extrapolated_command_s_full']:.0f}")
            row(
                f"speed-up at {result.num:,} against the EXTRAPOLATED baseline (not judged)",
                f"{baseline['speedup_commands_vs_extrapolated']:.1f}x",
            )

    def times(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}x"

    target = f">= {TARGET_SPEEDUP:g}x"
    row(
        "speed-up, whole commands (baseline / ours)",
        times(result.speedup_commands),
        target,
        "speedup_commands_at_least_20x",
    )
    row(
        "speed-up, work only (start + imports taken off)",
        times(result.speedup_work),
        target,
        "speedup_work_at_least_20x",
    )
    row("read .usdc back into arrays (s)", f"{read_back['read_usdc_s']:.2f}", f"< {TARGET_READ_S:g}", "read_under_1s")
    row("read back: peak RSS increase (MiB)", f"{read_back['peak_rss_increase_mib']:.0f}")
    row("read back equals the PLY data (float32)", str(read_back["equal_to_float32"]), "True", "read_back_equal")
    console.print(table)
    if result.speedup_note:
        console.print(f"speed-up: {result.speedup_note}")


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status (0 also when a target fails: this reports, it does not gate)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker-write":
        _worker_write(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    if argv and argv[0] == "_worker-read":
        _worker_read(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0

    parser = argparse.ArgumentParser(description="PLY -> .usdc: SplatTwin vs usd-convert-gsplat, side by side.")
    parser.add_argument("--num", type=int, default=1_000_000, help="Gaussians in the test file (SH degree 3)")
    parser.add_argument(
        "--baseline-num",
        type=int,
        default=None,
        help="run the baseline on a smaller file of this many Gaussians (ours too) and EXTRAPOLATE its --num time; "
        "default: the same --num file, a true side-by-side",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random Gaussians")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where inputs, outputs and the venv live")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--skip-baseline", action="store_true", help="measure ours only")
    parser.add_argument("--timeout", type=float, default=600.0, help="time limit of each of our runs [s]")
    parser.add_argument(
        "--baseline-timeout", type=float, default=DEFAULT_BASELINE_TIMEOUT_S, help="time limit of the baseline run [s]"
    )
    args = parser.parse_args(argv)
    if args.num < 1 or (args.baseline_num is not None and not 1 <= args.baseline_num <= args.num):
        parser.error(f"need --num >= 1 and 1 <= --baseline-num <= --num, got {args.num} and {args.baseline_num}")

    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped to a file: do not wrap the table at 80 columns
        console = Console(width=120)
    sys.path.insert(0, str(BENCH_DIR))  # for _baseline_env
    result = run_benchmark(args, console)
    print_table(result, console)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
        console.print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
