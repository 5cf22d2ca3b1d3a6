"""Undoable ``omni.kit.commands`` around the panel's stage edits.

Each command saves the Kit stage's dirty twin layers (the core edits the files, under the twin's lock), takes a
:func:`splattwin.app.undo.snapshot_twin` of every layer, runs one :class:`splattwin.app.panel.PanelController`
action, and on undo restores the snapshot through :func:`splattwin.app.undo.restore_twin`. The core saves through
the same in-process ``Sdf.Layer`` objects Kit composes, so the viewport follows both ways. A failed action leaves
the stage as it was and undo has nothing to do. Every command stores its :class:`ActionResult` in ``result`` for the
panel's message line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import omni.kit.commands
import omni.usd

from splattwin.app.messages import ActionResult, Message
from splattwin.app.panel import PanelController
from splattwin.app.undo import restore_twin, snapshot_twin

__all__ = ["SplatTwinActionCommand", "SplatTwinRecordedEditCommand", "register", "save_dirty_layers", "unregister"]


def save_dirty_layers() -> list[str]:
    """Save every dirty layer of the open stage's layer stack (the core reads the files); returns their ids."""
    stage = omni.usd.get_context().get_stage()
    saved = []
    if stage is None:
        return saved
    for layer in stage.GetLayerStack(includeSessionLayers=False):
        if layer.dirty and not layer.anonymous:
            layer.Save()
            saved.append(layer.identifier)
    return saved


class SplatTwinActionCommand(omni.kit.commands.Command):
    """Run ``PanelController.<action>(*args, **kwargs)`` on the twin at ``stage_path``; undo restores its layers.

    Args:
        stage_path: the twin's root layer file.
        action: a method name of :class:`PanelController` that edits the stage (``import_splat``,
            ``import_mesh``, ``import_robot``, ``unify_frame``, ``identify_mass``, ``import_trajectory``).
        controller: the panel's controller (keeps picked points); None makes one for ``stage_path``.
        args, kwargs: the action's arguments.
    """

    EDITING_ACTIONS = (
        "import_splat",
        "import_mesh",
        "import_robot",
        "unify_frame",
        "identify_mass",
        "import_trajectory",
    )

    def __init__(
        self,
        stage_path: str,
        action: str,
        controller: PanelController | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        if action not in self.EDITING_ACTIONS:
            raise ValueError(f"{action!r} is not an editing action of the SplatTwin panel")
        self._stage_path = Path(stage_path)
        self._controller = controller or PanelController(stage=self._stage_path)
        self._action = action
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self._snapshot: dict[str, str] | None = None
        self.result: ActionResult | None = None

    def do(self) -> ActionResult:
        save_dirty_layers()
        try:
            self._snapshot = snapshot_twin(self._stage_path)
        except Exception as exc:  # noqa: BLE001 (a message in the panel, never an exception dialog)
            self.result = ActionResult(ok=False, messages=[Message("error", f"{self._action}: {exc}")])
            return self.result
        self.result = getattr(self._controller, self._action)(*self._args, **self._kwargs)
        if not self.result.ok:
            self._snapshot = None  # nothing changed: nothing to undo
        return self.result

    def undo(self) -> None:
        if self._snapshot is None:
            return
        save_dirty_layers()
        restore_twin(self._stage_path, self._snapshot)


class SplatTwinRecordedEditCommand(omni.kit.commands.Command):
    """An edit a worker thread already made (identification), put on the undo stack afterwards.

    ``do`` the first time does nothing (the edit is on the stage); redo restores ``after``, undo ``before``.
    """

    def __init__(self, stage_path: str, before: dict[str, str], after: dict[str, str]) -> None:
        self._stage_path = Path(stage_path)
        self._before, self._after = before, after
        self._applied = True

    def do(self) -> None:
        if not self._applied:
            save_dirty_layers()
            restore_twin(self._stage_path, self._after)
        self._applied = True

    def undo(self) -> None:
        save_dirty_layers()
        restore_twin(self._stage_path, self._before)
        self._applied = False


def register() -> None:
    """Register this module's commands (``omni.kit.commands.execute("SplatTwinAction", ...)``)."""
    omni.kit.commands.register_all_commands_in_module(__name__)


def unregister() -> None:
    """Remove this module's commands."""
    omni.kit.commands.unregister_module_commands(__name__)
