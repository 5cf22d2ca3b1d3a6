"""What the ``grasp-*`` verbs share: their parser with its overrides, the policy checkpoint, a rich progress display
and the results table."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["OVERRIDES_HELP", "add_grasp_verb", "load_checkpoint", "print_rows", "progress_bars"]

OVERRIDES_HELP = (
    "Overrides are key=value: twin=out/demo/twin.usda object_prim=/World/Objects/Block masses=[0.072,0.18,0.45] "
    "demos=200 epochs=150 refine_iterations=6 refine_rollouts=48 trials=100 use_mass=true mass_uncertainty=0.1 "
    "jitter_m=0.015 seed=0 out=out/grasp checkpoint=out/grasp/policy.pt demonstrations=extra.npz progress=false"
)


def add_grasp_verb(verbs: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A ``grasp-*`` verb's parser with the ``KEY=VALUE`` positional overrides (verb flags go before them)."""
    parser = verbs.add_parser(name, help=help_text, description=OVERRIDES_HELP)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def load_checkpoint(grasp: Any, cfg: Any) -> tuple[Any, Any]:
    """(model, checkpoint) of ``checkpoint=`` or, by default, ``<out>/policy.pt``."""
    return grasp.load_policy(cfg.checkpoint or f"{cfg.out}/policy.pt")


@contextlib.contextmanager
def progress_bars(console: Any, *, enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing one rich bar per stage."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not enabled) as progress:
        bars: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=total)
            progress.update(bars[stage], completed=done, total=total)

        yield update


def print_rows(console: Any, title: str, rows: list[dict[str, Any]]) -> None:
    """A rich table of ``rows`` (dicts with the same keys); fractions as percentages."""
    from rich.table import Table  # noqa: PLC0415

    if not rows:
        return
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key, justify="right")
    for row in rows:
        cells = []
        for key, value in row.items():
            if key.endswith("rate") and isinstance(value, float):
                cells.append(f"{100 * value:.0f}%")
            elif isinstance(value, float):
                cells.append(f"{value:.4g}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)
