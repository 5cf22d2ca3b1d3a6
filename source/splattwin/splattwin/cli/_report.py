"""What the verbs print besides their result: notes (what was done for the user) and warnings (likely mistakes).

Warnings go to stderr as ``warning: ...`` lines so they stay visible when stdout is piped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["print_notes", "print_warnings"]


def print_notes(notes: Iterable[str], console: Any) -> None:
    """One line per note on the console."""
    for note in notes:
        console.print(f"note: {note}", highlight=False, markup=False)


def print_warnings(warnings: Iterable[str]) -> None:
    """One ``warning: ...`` line per warning on stderr."""
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
