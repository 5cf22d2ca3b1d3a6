"""Benchmark of the grasp policy: training time on 200 demonstrations of one object, and inference per grasp.

Run from the repository root::

    .venv/bin/python bench/bench_grasp.py train --demos 200        # collect + phase 1 + phase 2, seconds each
    .venv/bin/python bench/bench_grasp.py inference                # ms per grasp, torch and ONNX (batch 1)

``train`` builds a twin with a robot root (the tests' ``build_twin``, in ``bench/.cache/grasp``) and runs
``train_policy`` with the verbs' defaults at the twin's mass: it prints the time to collect the demonstrations in the
twin (trials on the embedded arm) apart from the training itself (phase 1 and the phase 2 rollouts), since the issue's
budget (< 5 min on the CPU) is for training. ``inference`` times a policy (``--checkpoint``, else the one ``train``
wrote) over ``--repeats`` single-grasp calls in torch and in onnxruntime, after the export's own output check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache" / "grasp"
sys.path.insert(0, str(ROOT / "tasks"))  # the tasks package, if not pip-installed
sys.path.insert(0, str(ROOT / "tests"))  # tasks_support.build_twin


def _twin() -> Path:
    twin = CACHE / "twin" / "twin.usda"
    if not twin.exists():
        from tasks_support import build_twin

        build_twin(twin.parent)
    return twin


def bench_train(demos: int, epochs: int, refine_iterations: int) -> dict:
    from splattwin_tasks.grasp.pipeline import parse_overrides, train_policy

    cfg = parse_overrides(
        [f"twin={_twin()}", f"demos={demos}", f"epochs={epochs}", f"refine_iterations={refine_iterations}"]
        + [f"out={CACHE / 'run'}", "progress=false"]
    )
    start = time.perf_counter()
    summary = train_policy(cfg)
    return {
        "demos": demos,
        "collect_s": round(summary["collect_s"], 1),
        "train_s (phase 1 + phase 2)": round(summary["train_s"], 1),
        "total_s": round(time.perf_counter() - start, 1),
        "demo_success": summary["demo_success"],
        "phase2_success": summary["phase2_success"],
        "checkpoint": summary["checkpoint"],
    }


def bench_inference(checkpoint: Path, repeats: int) -> dict:
    from splattwin_tasks.grasp.pipeline import export_onnx, load_policy

    model, ckpt = load_policy(checkpoint)
    result = export_onnx(model, ckpt, CACHE / "policy.onnx", repeats=repeats)
    return {k: result[k] for k in ("torch_ms", "onnx_ms", "max_abs_difference")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    train = sub.add_parser("train")
    train.add_argument("--demos", type=int, default=200)
    train.add_argument("--epochs", type=int, default=150)
    train.add_argument("--refine-iterations", type=int, default=6)
    inference = sub.add_parser("inference")
    inference.add_argument("--checkpoint", type=Path, default=CACHE / "run" / "policy.pt")
    inference.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # the twin's mass is a prior; the bench sets its own
    if args.mode == "train":
        result = bench_train(args.demos, args.epochs, args.refine_iterations)
    else:
        result = bench_inference(args.checkpoint, args.repeats)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
