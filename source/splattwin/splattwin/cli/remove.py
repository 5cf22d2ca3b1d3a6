"""``splattwin remove``: take a prim out of a twin (from whichever layer holds it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("remove", help="remove a prim (and its children) from a twin, from whichever layer holds it")
    p.add_argument("--stage", type=Path, required=True, help="the twin's root layer")
    p.add_argument("--prim", required=True, help="the prim to remove, e.g. /World/Objects/Block2")
    p.add_argument(
        "--force",
        action="store_true",
        help="also remove a person's edits of it in the root layer; remove a robot link or joint with the links and "
        "joints that depend on it",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.cli._report import print_notes  # noqa: PLC0415
    from splattwin.pipelines.removing import RemoveConfig, remove_prim  # noqa: PLC0415

    result = remove_prim(RemoveConfig(stage=args.stage, prim=args.prim, force=args.force))
    others = f" and {len(result.removed) - 1} prim(s) depending on it" if len(result.removed) > 1 else ""
    console.print(
        f"removed {args.prim}{others} from the {', '.join(result.layers)} layer(s) of {args.stage}", highlight=False
    )
    print_notes(result.notes, console)
    return 0
