"""``splattwin grasp-export``: the grasp policy as ONNX, checked against torch (outputs and inference time)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._grasp import OVERRIDES_HELP, add_overrides
from splattwin.cli._tasks import tasks_module


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "grasp-export",
        help="export a grasp policy (checkpoint=...) to ONNX (out/policy.onnx) and check onnxruntime against torch",
        description=OVERRIDES_HELP,
    )
    add_overrides(p)
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.io import json_text  # noqa: PLC0415

    grasp = tasks_module("grasp")
    cfg = grasp.parse_overrides(args.overrides)
    model, checkpoint = grasp.load_policy(cfg.checkpoint or f"{cfg.out}/policy.pt")
    result = grasp.export_onnx(model, checkpoint, f"{cfg.out}/policy.onnx")
    console.print(json_text(result), highlight=False, markup=False)
    return 0
