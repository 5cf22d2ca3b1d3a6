"""The extension's life cycle (``omni.ext.IExt``): window, menu entry, commands, overlay; nothing left behind.

Split as in Isaac Sim's extension templates: this module owns start-up and shut-down (window, menu, command
registration, subscriptions); :mod:`.ui_builder` builds the widgets and binds them to :mod:`splattwin.app`.
"""

from __future__ import annotations

import carb.settings
import omni.ext
import omni.ui as ui
from omni.kit.menu.utils import MenuItemDescription, add_menu_items, remove_menu_items

from . import commands
from .ui_builder import UIBuilder

__all__ = ["SETTINGS_PREFIX", "WINDOW_TITLE", "SplatTwinExtension"]

WINDOW_TITLE = "SplatTwin"
SETTINGS_PREFIX = "/exts/splattwin_ext"
_MENU = "Window"


class SplatTwinExtension(omni.ext.IExt):
    """Builds the SplatTwin window on start-up and removes everything it made on shut-down."""

    # Defaults so that on_shutdown after a failed on_startup still cleans up what exists.
    _builder: UIBuilder | None = None
    _window: ui.Window | None = None
    _menu_items: list = []  # noqa: RUF012 (replaced per instance, never mutated)

    def on_startup(self, ext_id: str) -> None:
        self._ext_id = ext_id
        settings = carb.settings.get_settings()
        commands.register()
        self._builder = UIBuilder(
            overlay_backend=settings.get(f"{SETTINGS_PREFIX}/overlay_backend") or "cpu",
            train_command=settings.get(f"{SETTINGS_PREFIX}/train_command") or "",
        )
        self._window = ui.Window(WINDOW_TITLE, width=420, height=720, visible=True)
        self._window.set_visibility_changed_fn(self._on_visibility_changed)
        with self._window.frame:
            self._builder.build()
        self._menu_items = [
            MenuItemDescription(name=WINDOW_TITLE, onclick_fn=self._toggle_window, ticked_fn=self._window_visible)
        ]
        add_menu_items(self._menu_items, _MENU)

    def _window_visible(self) -> bool:
        return bool(self._window and self._window.visible)

    def _toggle_window(self) -> None:
        if self._window:
            self._window.visible = not self._window.visible

    def _on_visibility_changed(self, visible: bool) -> None:
        if not visible and self._builder:
            self._builder.pause()

    def on_shutdown(self) -> None:
        if self._menu_items:
            remove_menu_items(self._menu_items, _MENU)
        self._menu_items = []
        if self._builder is not None:
            self._builder.cleanup()  # stops the overlay worker, training run and subscriptions
            self._builder = None
        if self._window is not None:
            self._window.set_visibility_changed_fn(None)
            self._window.destroy()
            self._window = None
        commands.unregister()
