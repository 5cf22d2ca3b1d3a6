"""``splattwin grasp-eval``: success of a grasp policy in the twin at each mass (lifted, held, under the ceiling)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._grasp import add_grasp_verb, load_checkpoint, print_rows, progress_bars
from splattwin.cli._tasks import tasks_module


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = add_grasp_verb(
        verbs,
        "grasp-eval",
        "evaluate a grasp policy (checkpoint=...) in the twin: trials per mass, table, eval.json and eval.png",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.io import json_text  # noqa: PLC0415

    grasp = tasks_module("grasp")
    cfg = grasp.parse_overrides(args.overrides)
    model, checkpoint = load_checkpoint(grasp, cfg)
    with progress_bars(console, enabled=cfg.progress) as progress:
        rows = grasp.evaluate(model, checkpoint, cfg, progress=progress)
    written = grasp.write_evaluation(rows, cfg.out)
    print_rows(console, "grasp success in the twin", rows)
    console.print(json_text({"rows": rows, "written": written}), highlight=False, markup=False)
    return 0
