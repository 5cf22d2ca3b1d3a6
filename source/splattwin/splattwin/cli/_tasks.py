"""The task package behind ``train`` and ``play``: imported lazily, since the layering is tasks -> core."""

from __future__ import annotations

import importlib
from types import ModuleType

from splattwin.errors import InputError

__all__ = ["tasks_training"]

TASKS_MISSING = "the splattwin_tasks package is not installed: run `pip install -e tasks` (make does it)"


def tasks_training() -> ModuleType:
    """``splattwin_tasks.training``, or a one-line error saying how to install the task package."""
    try:
        return importlib.import_module("splattwin_tasks.training")
    except ImportError:
        raise InputError("splattwin_tasks", TASKS_MISSING) from None
