"""``splattwin train``: train a task policy with rsl-rl-lib PPO (the tasks live in the separate ``tasks/`` package)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._tasks import tasks_training


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "train",
        help="train a mass-conditioned task policy (PPO, rsl-rl-lib): task=... runtime=embedded num_envs=...",
        description="Overrides are key=value (hydra/OmegaConf syntax): task=SplatTwin-Push-Franka-v0 runtime=embedded "
        "num_envs=64 max_iterations=300 seed=42 twin=out/demo/twin.usda log_dir=... resume=true "
        "env.mass_distribution=fixed env.fixed_mass_kg=0.3 agent.algorithm.learning_rate=3e-4",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    training = tasks_training()
    # The task package's parse_overrides (the entry point's contract); splattwin_tasks' is splattwin.overrides'.
    TrainConfig, parse_overrides, train = training.TrainConfig, training.parse_overrides, training.train
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    from splattwin.io import json_text  # noqa: PLC0415

    config = parse_overrides(TrainConfig, args.overrides)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), console=console, disable=not config.progress) as progress:
        bar = progress.add_task(f"training {config.task}", total=None)

        def on_iteration(it: int, mean_return: float, success: float) -> None:
            if progress.tasks[bar].total is None:
                progress.update(bar, total=config.max_iterations or None)
            progress.update(bar, completed=it + 1, description=f"return {mean_return:7.3f}  success {success:5.1%}")

        result = train(config, on_iteration=on_iteration)
    summary = {
        "log_dir": str(result.log_dir),
        "checkpoint": str(result.checkpoint),
        "iterations": len(result.iterations),
        "mean_return_first": result.mean_return[0] if result.mean_return else None,
        "mean_return_last": result.mean_return[-1] if result.mean_return else None,
        "success_rate_last": result.success_rate[-1] if result.success_rate else None,
    }
    console.print(json_text(summary), highlight=False, markup=False)  # strict JSON: NaN (no episode yet) is null
    return 0
