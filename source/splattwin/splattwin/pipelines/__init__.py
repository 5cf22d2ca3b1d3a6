"""Thin runners composing the core into the command line's verbs: import, align, claim, remove, export, demo.

The names below are loaded on first use (PEP 562), so ``import splattwin.pipelines.importing`` (what
``splattwin import-splat`` does) does not pull in mesh code, scipy or the other runners.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AlignConfig": "align",
    "AlignResult": "align",
    "align_twin": "align",
    "ClaimConfig": "claim",
    "claim_gaussians": "claim",
    "ExportSplatConfig": "exporting",
    "export_splat": "exporting",
    "ImportMeshConfig": "importing",
    "ImportMeshResult": "importing",
    "ImportSplatConfig": "importing",
    "ImportSplatResult": "importing",
    "import_mesh": "importing",
    "import_splat": "importing",
    "RemoveConfig": "removing",
    "remove_prim": "removing",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"splattwin.pipelines.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
