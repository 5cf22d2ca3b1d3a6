"""``splattwin grasp-study``: DREAM's cross-mass table in the twin (networks without mass, one per training mass,
against one mass-conditioned network), with a plot (docs/grasp.md)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._grasp import add_grasp_verb, progress_bars
from splattwin.cli._tasks import tasks_module


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = add_grasp_verb(
        verbs,
        "grasp-study",
        "cross-mass study: train masses x evaluation masses, no-mass networks vs one mass-conditioned network",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds (each: new demonstrations and networks); default 3")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.errors import InputError  # noqa: PLC0415

    if args.seeds < 1:
        raise InputError("--seeds", f"must be >= 1, got {args.seeds}")
    grasp = tasks_module("grasp")
    cfg = grasp.parse_overrides(args.overrides)
    with progress_bars(console, enabled=cfg.progress) as progress:
        result = grasp.run_study(cfg, seeds=args.seeds, progress=progress)
    console.print(grasp.study_markdown(result), highlight=False, markup=False)
    console.print(
        f"written: {cfg.out}/study.json, {cfg.out}/study.md, {cfg.out}/study.png", highlight=False, markup=False
    )
    return 0
