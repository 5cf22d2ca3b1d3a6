"""``splattwin remove``: take a prim out of a twin (from whichever layer holds it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("remove", help="remove a prim (and its children) from a twin, from whichever layer holds it")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--prim", required=True, help="the prim to remove, e.g. /World/Objects/Block2")
    p.add_argument("--force", action="store_true", help="also remove a person's edits of it in the root layer")
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.pipelines.removing import RemoveConfig, remove_prim  # noqa: PLC0415

    layers = remove_prim(RemoveConfig(stage=args.stage, prim=args.prim, force=args.force))
    console.print(f"removed {args.prim} from the {', '.join(layers)} layer(s) of {args.stage}", highlight=False)
    return 0
