"""The task package's modules behind ``train``, ``play`` and the ``grasp-*`` verbs, found through the entry points it
registers.

The layering is tasks -> core: the core never imports the task package by name. A task package declares, in its
``pyproject.toml``, ``[project.entry-points."splattwin.tasks"]`` with one name per capability: ``training =
"<module>"`` (``TrainConfig``, ``PlayConfig``, ``parse_overrides``, ``train``, ``play``: ``splattwin_tasks.training``)
and ``grasp = "<module>"`` (``parse_overrides``, ``train_policy``, ``load_policy``, ``evaluate``, ``export_onnx``,
``run_study``: ``splattwin_tasks.grasp.pipeline``). :func:`tasks_module` loads one with
:func:`importlib.metadata.entry_points`, so the group is read from the installed metadata: a package installed before
it declared an entry point needs reinstalling (``pip install --no-deps -e tasks``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from types import ModuleType

from splattwin.errors import InputError

__all__ = ["ENTRY_POINT_GROUP", "TASKS_MISSING", "tasks_module", "tasks_training"]

ENTRY_POINT_GROUP = "splattwin.tasks"
_MISSING = (
    f"no task package registers the {ENTRY_POINT_GROUP!r} entry point {{name!r}}: run `pip install -e tasks` "
    "(make does it; an install older than the entry point needs it again)"
)
TASKS_MISSING = _MISSING.format(name="training")
"""The error of a missing ``training`` entry point (the other names' read the same with their name)."""


def tasks_module(name: str) -> ModuleType:
    """The registered task package's module ``name`` (``training``, ``grasp``), or a one-line error saying how to
    install it."""
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise InputError("splattwin_tasks", _MISSING.format(name=name))
    # The same distribution may be found twice (an editable install and an egg-info on the path): same value.
    by_value = {ep.value: ep for ep in found}
    if len(by_value) > 1:
        values = ", ".join(sorted(by_value))
        raise InputError("splattwin_tasks", f"several packages register {ENTRY_POINT_GROUP!r} {name!r}: {values}")
    (entry_point,) = by_value.values()
    try:
        return entry_point.load()
    except ImportError as error:
        raise InputError("splattwin_tasks", f"{entry_point.value} is registered but does not import: {error}") from None


def tasks_training() -> ModuleType:
    """The registered training module (``train`` and ``play``): :func:`tasks_module` of ``training``."""
    return tasks_module("training")
