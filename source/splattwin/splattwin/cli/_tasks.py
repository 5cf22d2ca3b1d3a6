"""The task package behind ``train`` and ``play``, found through the entry point it registers.

The layering is tasks -> core: the core never imports the task package by name. A task package declares, in its
``pyproject.toml``, ``[project.entry-points."splattwin.tasks"] training = "<module>"``: a module with
``TrainConfig``, ``PlayConfig``, ``parse_overrides``, ``train`` and ``play`` (``splattwin_tasks.training``). The
verbs load it with :func:`importlib.metadata.entry_points`, so the group is read from the installed metadata: a
package installed before it declared the entry point needs reinstalling (``pip install --no-deps -e tasks``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from types import ModuleType

from splattwin.errors import InputError

__all__ = ["ENTRY_POINT_GROUP", "TASKS_MISSING", "tasks_training"]

ENTRY_POINT_GROUP = "splattwin.tasks"
TASKS_MISSING = (
    f"no task package registers the {ENTRY_POINT_GROUP!r} entry point 'training': run `pip install -e tasks` "
    "(make does it; an install older than the entry point needs it again)"
)


def tasks_training() -> ModuleType:
    """The registered task package's training module, or a one-line error saying how to install it."""
    found = entry_points(group=ENTRY_POINT_GROUP, name="training")
    if not found:
        raise InputError("splattwin_tasks", TASKS_MISSING)
    # The same distribution may be found twice (an editable install and an egg-info on the path): same value.
    by_value = {ep.value: ep for ep in found}
    if len(by_value) > 1:
        values = ", ".join(sorted(by_value))
        raise InputError("splattwin_tasks", f"several packages register {ENTRY_POINT_GROUP!r} 'training': {values}")
    (entry_point,) = by_value.values()
    try:
        return entry_point.load()
    except ImportError as error:
        raise InputError("splattwin_tasks", f"{entry_point.value} is registered but does not import: {error}") from None
