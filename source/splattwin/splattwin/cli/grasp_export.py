"""``splattwin grasp-export``: the grasp policy as ONNX, checked against torch (outputs and inference time)."""

from __future__ import annotations

import argparse
from typing import Any

from splattwin.cli._grasp import add_grasp_verb, load_checkpoint
from splattwin.cli._tasks import tasks_module


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = add_grasp_verb(
        verbs,
        "grasp-export",
        "export a grasp policy (checkpoint=...) to ONNX (out/policy.onnx) and check onnxruntime against torch",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.io import json_text  # noqa: PLC0415

    grasp = tasks_module("grasp")
    cfg = grasp.parse_overrides(args.overrides)
    model, checkpoint = load_checkpoint(grasp, cfg)
    result = grasp.export_onnx(model, checkpoint, f"{cfg.out}/policy.onnx")
    console.print(json_text(result), highlight=False, markup=False)
    return 0
