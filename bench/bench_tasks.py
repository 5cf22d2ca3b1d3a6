"""Benchmark of the embedded runtime: env steps/s, and the cross-mass study (DREAM Table III) for Lift.

Run from the repository root::

    .venv/bin/python bench/bench_tasks.py steps                       # Push, 64 envs, random actions
    .venv/bin/python bench/bench_tasks.py study --iterations 40       # train x eval mass table (minutes)
    .venv/bin/python bench/bench_tasks.py push --iterations 300       # Push success after training
    .venv/bin/python bench/bench_tasks.py isaaclab --envs 16 64       # Newton (CPU) beside the embedded runtime
    .venv/bin/python bench/bench_tasks.py transfer --iterations 200   # Lift trained embedded, played in both

``steps`` prints env steps/s next to a baseline measured in the same run: the same MuJoCo models (the env splits
its worlds over models of at most 16) stepped by ``mj_step`` alone, one after the other in one thread (no Python
env, no terms, no threads), so the ratio is the batched interface's cost net of the env's threaded stepping.

``study`` trains Lift policies with rsl-rl-lib PPO: ``-NoMass`` at each of three fixed masses (the twin's mass
divided and multiplied by ``--spread``) and the mass-conditioned task across the log-uniform range, then
evaluates every policy at every mass and prints the success table (rows: training, columns: evaluation mass).
``isaaclab`` times Push env steps (random actions, the arm) on the same twin with its imported Panda
(``--twin``, default ``.cache/isaaclab-twin/twin.usda``, what ``make test-isaaclab`` builds) in both runtimes, one
after the other: the embedded runtime in this process, Isaac Lab 3.0 kitless on Newton (CPU) in a subprocess of
``.venv-isaaclab/bin/python`` (``--isaaclab-python``; the two runtimes need their two venvs), and prints the
ratio per env count. ``transfer`` trains Lift (mass-conditioned, the arm) in the embedded runtime on that twin, then
plays the policy deterministically in both runtimes on the same twin (``--episodes``, 32 envs, the same seed; Isaac
Lab in the same kind of subprocess) and prints success and mean return per runtime. The other modes build the demo
twin first (a few seconds) and work in ``bench/.cache/tasks``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache" / "tasks"
sys.path.insert(0, str(ROOT / "tasks"))  # the tasks package, if not pip-installed


def _twin(require_robot: bool) -> Path:
    from splattwin.cli import main

    twin = CACHE / "demo" / "twin.usda"
    if not twin.exists():
        assert main(["demo", "--out", str(twin.parent), "previews=false"]) == 0
    if require_robot:
        sys.path.insert(0, str(ROOT / "tests"))
        from tasks_support import build_twin

        return build_twin(CACHE / "demo_robot")
    return twin


def bench_steps(num_envs: int, steps: int, twin: Path, robot: bool, robot_model: str = "arm") -> dict:
    import copy

    import mujoco
    import splattwin_tasks

    env = splattwin_tasks.make(
        "SplatTwin-Push-Franka-v0",
        num_envs=num_envs,
        twin=twin,
        require_robot=robot,
        mass_distribution="loguniform",
        robot_model=robot_model,
    )
    env.reset()
    generator = torch.Generator().manual_seed(0)
    actions = [torch.rand(env.action_space.shape, generator=generator) * 2 - 1 for _ in range(steps)]
    for a in actions[:10]:
        env.step(a)
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    ours = time.perf_counter() - start
    # The same worlds in the same state, holding the last actions.
    models = [(shard.model, copy.copy(shard.data)) for shard in env.shards]
    start = time.perf_counter()
    for _ in range(steps):
        for model, data in models:
            mujoco.mj_step(model, data, nstep=env.cfg.decimation)
    raw = time.perf_counter() - start
    result = {
        "robot_model": robot_model,
        "num_envs": num_envs,
        "policy_steps": steps,
        "env_steps_per_s": num_envs * steps / ours,
        "models": len(env.shards),
        "mj_step_only_env_steps_per_s": num_envs * steps / raw,
        "interface_overhead_ratio": ours / raw,
    }
    env.close()
    return result


def _train(
    task: str, log_dir: Path, iterations: int, num_envs: int, twin: Path, robot: bool, env: dict, seed: int = 1
) -> Path:
    import shutil

    from splattwin_tasks.training import TrainConfig, train

    shutil.rmtree(log_dir, ignore_errors=True)  # a fresh run each time
    config = TrainConfig(
        task=task,
        num_envs=num_envs,
        max_iterations=iterations,
        twin=str(twin),
        log_dir=str(log_dir),
        env={"require_robot": robot, **env},
        progress=False,
        seed=seed,
    )
    start = time.perf_counter()
    result = train(config)
    print(
        f"  trained {task} {env} seed {seed} in {time.perf_counter() - start:.0f} s: return "
        f"{result.mean_return[0]:.3f} -> {result.mean_return[-1]:.3f}, success {result.success_rate[-1]:.0%}",
        flush=True,
    )
    return result.checkpoint


def _evaluate(
    task: str, checkpoint: Path, mass: float, twin: Path, robot: bool, episodes: int, robot_model: str = "arm"
) -> float:
    from splattwin_tasks.training import PlayConfig, play

    config = PlayConfig(
        task=task,
        checkpoint=str(checkpoint),
        num_envs=32,
        episodes=episodes,
        twin=str(twin),
        env={"require_robot": robot, "mass_distribution": "fixed", "fixed_mass_kg": mass, "robot_model": robot_model},
    )
    return float(play(config)["success_rate"])


def bench_study(
    iterations: int,
    num_envs: int,
    spread: float,
    twin: Path,
    robot: bool,
    episodes: int,
    robot_model: str = "arm",
    seeds: int = 1,
) -> dict:
    from splattwin_tasks.twin_scene import read_twin_scene

    m0 = read_twin_scene(twin, require_robot=robot).mass.mass_kg
    masses = [m0 / spread, m0, m0 * spread]
    names = [f"{m:.3f} kg" for m in masses]
    runs = [
        (f"NoMass @ {name}", "SplatTwin-Lift-Franka-NoMass-v0", {"mass_distribution": "fixed", "fixed_mass_kg": m})
        for name, m in zip(names, masses, strict=True)
    ]
    runs.append(
        (
            f"mass-conditioned, log-uniform x{spread * 1.2:g}",
            "SplatTwin-Lift-Franka-v0",
            {"mass_distribution": "loguniform", "mass_range_ratio": spread * 1.2},
        )
    )
    rows: dict[str, list[list[float]]] = {label: [] for label, _, _ in runs}  # per seed, per evaluation mass
    for seed in range(1, seeds + 1):
        for index, (label, task, env) in enumerate(runs):
            log_dir = CACHE / "study" / f"run{index}_seed{seed}"
            checkpoint = _train(
                task, log_dir, iterations, num_envs, twin, robot, {**env, "robot_model": robot_model}, seed=seed
            )
            rows[label].append([_evaluate(task, checkpoint, m, twin, robot, episodes, robot_model) for m in masses])
            print(f"  {label}, seed {seed}: " + "  ".join(f"{s:.0%}" for s in rows[label][-1]), flush=True)
    return {
        "eval_masses_kg": masses,
        "rows": rows,
        "iterations": iterations,
        "num_envs": num_envs,
        "robot_model": robot_model,
        "seeds": seeds,
    }


def bench_push(
    iterations: int, num_envs: int, twin: Path, robot: bool, episodes: int, robot_model: str = "arm"
) -> dict:
    start = time.perf_counter()
    checkpoint = _train(
        "SplatTwin-Push-Franka-v0",
        CACHE / f"push_{robot_model}",
        iterations,
        num_envs,
        twin,
        robot,
        {"robot_model": robot_model},
    )
    minutes = (time.perf_counter() - start) / 60
    from splattwin_tasks.training import PlayConfig, play

    config = PlayConfig(
        task="SplatTwin-Push-Franka-v0",
        checkpoint=str(checkpoint),
        num_envs=32,
        episodes=episodes,
        twin=str(twin),
        env={"require_robot": robot, "robot_model": robot_model},
    )
    return {"robot_model": robot_model, "train_minutes": minutes, "iterations": iterations, **play(config)}


def _time_push_steps(runtime: str, num_envs: int, steps: int, twin: Path) -> float:
    """Env steps/s of Push in ``runtime`` on ``twin``: ``steps`` random policy steps after 3 warm-up steps."""
    import splattwin_tasks

    env = splattwin_tasks.make("SplatTwin-Push-Franka-v0", num_envs=num_envs, runtime=runtime, twin=str(twin))
    try:
        env.reset()
        generator = torch.Generator().manual_seed(0)
        shape = (num_envs, 2)
        actions = [torch.rand(shape, generator=generator) * 2 - 1 for _ in range(steps + 3)]
        for a in actions[:3]:
            env.step(a)
        start = time.perf_counter()
        for a in actions[3:]:
            env.step(a)
        return num_envs * steps / (time.perf_counter() - start)
    finally:
        env.close()


def bench_isaaclab(envs: list[int], steps: int, lab_steps: int, twin: Path, python: Path) -> list[dict]:
    """Push env steps/s, embedded (this process) and Isaac Lab on Newton (``python``, a subprocess), per env count."""
    import os
    import subprocess

    rows = []
    for num_envs in envs:
        embedded = _time_push_steps("embedded", num_envs, steps, twin)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "source" / "splattwin"), str(ROOT / "tasks")])}
        out = subprocess.run(
            [str(python), __file__, "_isaaclab_child", "--num-envs", str(num_envs), "--steps", str(lab_steps)]
            + ["--twin", str(twin)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        isaaclab = json.loads(out.strip().splitlines()[-1])["env_steps_per_s"]
        rows.append(
            {
                "num_envs": num_envs,
                "embedded_env_steps_per_s": embedded,
                "isaaclab_newton_cpu_env_steps_per_s": isaaclab,
                "embedded_over_isaaclab": embedded / isaaclab,
            }
        )
    return rows


TRANSFER_TASK = "SplatTwin-Lift-Franka-v0"


def _play_success(runtime: str, checkpoint: Path, twin: Path, episodes: int, num_envs: int) -> dict:
    """Deterministic rollout of ``checkpoint`` in ``runtime``: success rate, mean return, episodes."""
    from splattwin_tasks.training import PlayConfig, play

    config = PlayConfig(
        task=TRANSFER_TASK,
        checkpoint=str(checkpoint),
        runtime=runtime,
        num_envs=num_envs,
        episodes=episodes,
        twin=str(twin),
        seed=7,
    )
    result = play(config)
    return {key: result[key] for key in ("runtime", "episodes", "success_rate", "mean_return")}


def bench_transfer(iterations: int, num_envs: int, episodes: int, twin: Path, python: Path) -> dict:
    """Lift trained in the embedded runtime on ``twin``, played in the embedded runtime here and in Isaac Lab on
    Newton in a subprocess of ``python`` (same twin, checkpoint, env count and seed)."""
    import os
    import subprocess

    start = time.perf_counter()
    checkpoint = _train(TRANSFER_TASK, CACHE / "transfer", iterations, num_envs, twin, True, {"robot_model": "arm"})
    minutes = (time.perf_counter() - start) / 60
    rows = [_play_success("embedded", checkpoint, twin, episodes, 32)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "source" / "splattwin"), str(ROOT / "tasks")])}
    command = [str(python), __file__, "_transfer_child", "--twin", str(twin), "--episodes", str(episodes)]
    out = subprocess.run(
        [*command, "--checkpoint", str(checkpoint)], check=True, capture_output=True, text=True, env=env
    ).stdout
    rows.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "task": TRANSFER_TASK,
        "iterations": iterations,
        "train_minutes": minutes,
        "checkpoint": str(checkpoint),
        "rows": rows,
    }


def _markdown(study: dict) -> str:
    header = "| train \\ eval | " + " | ".join(f"{m:.3f} kg" for m in study["eval_masses_kg"]) + " |"
    lines = [header, "|" + "---|" * (len(study["eval_masses_kg"]) + 1)]
    for label, per_seed in study["rows"].items():
        cells = []
        for column in zip(*per_seed, strict=True):  # one evaluation mass over the seeds
            spread = f" ({min(column):.0%}-{max(column):.0%})" if len(column) > 1 else ""
            cells.append(f"{sum(column) / len(column):.0%}{spread}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_json(path: Path, data: object) -> None:
    """The numbers as JSON (numpy scalars as floats)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=float))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mode", choices=("steps", "study", "push", "isaaclab", "transfer", "_isaaclab_child", "_transfer_child")
    )
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300, help="steps: policy steps to time")
    parser.add_argument("--iterations", type=int, default=40, help="study/push: PPO iterations per policy")
    parser.add_argument("--spread", type=float, default=2.5, help="study: eval masses m0/s, m0, m0*s")
    parser.add_argument("--episodes", type=int, default=64, help="study/push: evaluation episodes per cell")
    parser.add_argument("--with-robot", action="store_true", help="add a Panda stand-in to the twin")
    parser.add_argument(
        "--robot-model", choices=("hand", "arm"), default="arm", help="the hand on a carriage or the full 7-joint arm"
    )
    parser.add_argument("--seeds", type=int, default=1, help="study: training seeds per policy (cells: mean, range)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64], help="isaaclab: env counts")
    parser.add_argument("--lab-steps", type=int, default=30, help="isaaclab: policy steps to time on Newton")
    parser.add_argument("--twin", type=Path, default=ROOT / ".cache" / "isaaclab-twin" / "twin.usda")
    parser.add_argument("--isaaclab-python", type=Path, default=ROOT / ".venv-isaaclab" / "bin" / "python")
    parser.add_argument("--checkpoint", type=Path, default=None, help="_transfer_child: the policy to play")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)  # the demo twin's mass is a prior; the bench knows
    if args.mode == "_isaaclab_child":  # run by the isaaclab mode in .venv-isaaclab
        print(json.dumps({"env_steps_per_s": _time_push_steps("isaaclab", args.num_envs, args.steps, args.twin)}))
        return 0
    if args.mode == "_transfer_child":  # run by the transfer mode in .venv-isaaclab
        print(json.dumps(_play_success("isaaclab", args.checkpoint, args.twin, args.episodes, 32)))
        return 0
    if args.mode == "transfer":
        torch.set_num_threads(1)
        CACHE.mkdir(parents=True, exist_ok=True)
        result = bench_transfer(args.iterations, args.num_envs, args.episodes, args.twin, args.isaaclab_python)
        for row in result["rows"]:
            print(
                f"{TRANSFER_TASK} trained embedded ({args.iterations} iterations), played in {row['runtime']}: "
                f"success {row['success_rate']:.0%} over {row['episodes']} episodes, mean return "
                f"{row['mean_return']:.2f}"
            )
        if args.json:
            _write_json(args.json, result)
        return 0
    if args.mode == "isaaclab":
        torch.set_num_threads(1)
        rows = bench_isaaclab(args.envs, args.steps, args.lab_steps, args.twin, args.isaaclab_python)
        for row in rows:
            print(
                f"Push (arm), {row['num_envs']} envs, random actions: embedded "
                f"{row['embedded_env_steps_per_s']:,.0f} env steps/s, Isaac Lab (Newton, CPU) "
                f"{row['isaaclab_newton_cpu_env_steps_per_s']:,.1f} env steps/s: "
                f"ratio x{row['embedded_over_isaaclab']:.0f}"
            )
        if args.json:
            _write_json(args.json, rows)
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    twin = _twin(args.with_robot)
    torch.set_num_threads(1)
    if args.mode == "steps":
        result = bench_steps(args.num_envs, args.steps, twin, args.with_robot, args.robot_model)
        print(
            f"Push ({args.robot_model}), {result['num_envs']} envs, random actions: "
            f"{result['env_steps_per_s']:,.0f} env steps/s "
            f"(mj_step alone, {result['models']} models in one thread: "
            f"{result['mj_step_only_env_steps_per_s']:,.0f}/s; "
            f"ratio x{result['interface_overhead_ratio']:.2f}); target >= 2,000/s"
        )
    elif args.mode == "study":
        result = bench_study(
            args.iterations,
            args.num_envs,
            args.spread,
            twin,
            args.with_robot,
            args.episodes,
            args.robot_model,
            args.seeds,
        )
        print(_markdown(result))
    else:
        result = bench_push(args.iterations, args.num_envs, twin, args.with_robot, args.episodes, args.robot_model)
        print(json.dumps(result, indent=2))
    if args.json:
        _write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
