"""``splattwin grasp-train``: grasp demonstrations in the twin, then GraspMLP's phase 1 (supervised) and phase 2
(rollouts) (docs/grasp.md)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._grasp import add_grasp_verb, print_rows, progress_bars
from splattwin.cli._tasks import tasks_module


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = add_grasp_verb(
        verbs,
        "grasp-train",
        "train the force-aware, mass-conditioned grasp policy (GraspMLP) from demonstrations made in the twin",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.io import json_text  # noqa: PLC0415

    grasp = tasks_module("grasp")
    cfg = grasp.parse_overrides(args.overrides)
    with progress_bars(console, enabled=cfg.progress) as progress:
        summary = grasp.train_policy(cfg, progress=progress)
    rows = [{"phase 2 step": i, "rollout success_rate": rate} for i, rate in enumerate(summary["phase2_success"])]
    print_rows(console, "phase 2 (rollouts in the twin)", rows)
    console.print(json_text(summary), highlight=False, markup=False)
    return 0
