"""``splattwin view``: the twin in a browser (viser): splats, meshes, cameras, joints, timeline, masses, live reload."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("view", help="show a twin (or any USD stage) in a browser, live while it is edited")
    p.add_argument("stage", type=Path, nargs="?", help="the twin's root layer (or give --stage)")
    p.add_argument("--stage", dest="stage_flag", type=Path, metavar="STAGE", help="the same as the positional STAGE")
    p.add_argument("--port", type=int, default=8080, help="port to serve on (0: any free one); default 8080")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on; default localhost only")
    p.add_argument(
        "--coarse",
        type=int,
        metavar="N",
        help="send a coarse level of about N merged Gaussians first, the full sets once the browser drew it "
        "(default 3500, for twins over twice that; 0: the full sets at once)",
    )
    return p


def run(args: argparse.Namespace, console: Any) -> int:
    from splattwin.errors import InputError, Interrupted  # noqa: PLC0415

    given = {p for p in (args.stage, args.stage_flag) if p is not None}
    if len(given) != 1:
        raise InputError("--stage", "give the stage once: `splattwin view STAGE` or `splattwin view --stage STAGE`")
    stage = given.pop()
    if args.coarse is not None and args.coarse < 0:
        raise InputError("--coarse", f"must be 0 (off) or a number of Gaussians, got {args.coarse}")
    from splattwin.viewer.server import serve  # noqa: PLC0415

    options = {} if args.coarse is None else {"coarse": args.coarse}
    try:
        serve(
            stage,
            host=args.host,
            port=args.port,
            announce=lambda line: console.print(line, highlight=False),
            **options,
        )
    except KeyboardInterrupt:
        raise Interrupted("viewer stopped (it writes nothing)") from None
    return 0
